//! The Execute panel: opened from an agent's row (`?execute=AGENT`, or with
//! `&from=RUN` to edit and re-run), it loads the agent's schema through the server and
//! shows a form generated from it (or, toggled, the same inputs as raw JSON). Submitting
//! validates in the browser with the same code the server runs, then creates the run and
//! goes to its page. An earlier run's inputs come back without its secrets (never kept),
//! with a notice when the agent's schema changed since; the last inputs sent from this
//! browser (secrets removed) are offered again.

mod drift_notice;
mod editor;
mod entry;
mod fields;
mod focus;
mod node;
mod raw;
mod raw_secrets;

use crate::api::{agent_schema, create_run, get_agent, get_run};
use crate::error::{ApiError, ErrorCode};
use crate::model::{CreateRun, HealthState, HealthView, RunView, SchemaView};
use crate::schema::{secrets, validate_inputs};
use drift_notice::DriftNotice;
use editor::{Editor, RawEditor};
pub use entry::ExecutePanel;
use fields::{root_view, FormContext};
use focus::{focus, focus_first_invalid, keep_focus_inside, keep_focus_off_buttons, later};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use node::{Build, Node, RowIds};
use serde_json::{Map, Value};
use std::sync::Arc;

#[component]
fn Panel(agent_id: String, from: Option<String>) -> impl IntoView {
    let id = agent_id.clone();
    let schema = LocalResource::new(move || agent_schema(id.clone()));
    // Its health as the panel opens, to warn before sending to an agent that is down.
    let agent = {
        let id = agent_id.clone();
        LocalResource::new(move || get_agent(id.clone()))
    };
    let previous = LocalResource::new(move || {
        let from = from.clone();
        async move {
            match from {
                Some(run_id) => get_run(run_id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let title = format!("Run {agent_id}");
    let query = use_query_map();
    let navigate = use_navigate();
    // Escape closes the panel and gives focus back to the row's Execute it came from.
    let close_on_escape = {
        let agent_id = agent_id.clone();
        move |ev: leptos::ev::KeyboardEvent| {
            if ev.key() == "Tab" {
                keep_focus_inside(&ev);
                return;
            }
            // Not while an input method is composing (Escape cancels the composition).
            if ev.key() != "Escape" || ev.is_composing() {
                return;
            }
            ev.prevent_default();
            navigate(&query.with_untracked(|q| super::list::href_keeping_list(|k| q.get(k), None)), Default::default());
            let selector = format!("a[aria-label=\"Execute {agent_id}\"]");
            set_timeout(move || focus(&selector), std::time::Duration::ZERO);
        }
    };
    view! {
        <section class="card execute" aria-labelledby="execute-title" data-testid="execute-panel" on:keydown=close_on_escape>
            <div class="card-title">
                <h2 id="execute-title">{title}</h2>
                <a href=move || query.with(|q| super::list::href_keeping_list(|k| q.get(k), None)) aria-label="Close the run form">"Close"</a>
            </div>
            <Suspense fallback=move || view! { <p class="muted" data-testid="schema-loading">"Loading the agent's input schema…"</p> }>
                {move || Suspend::new({
                    let agent_id = agent_id.clone();
                    async move {
                        match (schema.await, previous.await) {
                            (Ok(view), Ok(earlier)) => {
                                // Not knowing its health must not keep the form from opening.
                                let health = agent.await.ok().map(|a| a.health);
                                view! { <RunForm agent_id schema=view earlier health/> }.into_any()
                            }
                            (Err(e), _) => view! {
                                <div class="notice error" role="alert" data-testid="schema-error">
                                    <p>{e.message}</p>
                                    <button type="button" on:click=move |_| schema.refetch()>"Retry"</button>
                                </div>
                            }.into_any(),
                            (_, Err(e)) => view! {
                                <p class="notice error" role="alert">{format!("Could not load the earlier run's inputs: {}", e.message)}</p>
                            }.into_any(),
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Where the last inputs used with an agent are kept in the browser (secrets removed).
fn last_inputs_key(agent_id: &str) -> String {
    format!("configurable-agents.last-inputs.{agent_id}")
}

/// `inputs` without any secret value: what may be kept in the browser.
fn without_secrets(schema: &crate::schema::InputSchema, inputs: &Map<String, Value>) -> Value {
    let (masked, paths) = secrets::redact(schema, inputs);
    let mut value = Value::Object(masked);
    secrets::replace_at(&mut value, &paths, &Value::Null);
    value
}

#[component]
fn RunForm(
    agent_id: String,
    schema: SchemaView,
    earlier: Option<RunView>,
    health: Option<HealthView>,
) -> impl IntoView {
    let (editor, root, ctx) = opened_editor(&schema, earlier.as_ref());
    let storage_key = last_inputs_key(&agent_id);
    let last = if earlier.is_none() { crate::storage::get(&storage_key) } else { None };
    let starter = Starter::new(editor, storage_key);
    let rerun_of = earlier.as_ref().map(|r| r.run_id.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        starter.start(&agent_id, rerun_of.clone());
    };

    let unhealthy = health.as_ref().is_some_and(|h| h.state == HealthState::Unhealthy);
    // Opening the panel moves focus into it, to its first field.
    Effect::new(move |_| {
        set_timeout(
            || {
                focus("[data-testid=run-form] .field input:not([type=hidden]), [data-testid=run-form] .field select, [data-testid=run-form] .field textarea")
            },
            std::time::Duration::ZERO,
        )
    });
    let takes_nothing = schema.schema.fields.is_empty() && schema.schema.additional.is_any();
    let raw = editor.raw;
    let pending = starter.action.pending();
    view! {
        <form class="run-form" on:submit=submit novalidate data-testid="run-form"
            on:focusout=move |ev| editor.left(ev) on:input=move |_| later(move || editor.revalidate())
            on:change=move |_| later(move || editor.revalidate()) on:mousedown=keep_focus_off_buttons>
            <FormNotices schema earlier health last editor/>
            <div class="form-mode" role="group" aria-label="Edit the inputs as">
                <button type="button" class="small" aria-pressed=move || raw.with(Option::is_none).to_string() on:click=move |_| editor.to_form()>"Form"</button>
                <button type="button" class="small" aria-pressed=move || raw.with(Option::is_some).to_string() on:click=move |_| editor.to_raw() data-testid="raw-toggle">"Raw JSON"</button>
            </div>
            {move || match raw.with(Option::is_some) {
                true => view! { <RawEditor editor/> }.into_any(),
                false => view! {
                    {takes_nothing.then(|| view! { <p class="muted">"This agent takes no inputs."</p> })}
                    {move || root_view(root.get(), ctx)}
                }.into_any(),
            }}
            {move || editor.raw_problem.get().map(|p| view! { <p class="notice error" role="alert" data-testid="raw-problem">{p}</p> })}
            <FormErrors ctx failure=starter.failure/>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Starting…" } else if unhealthy { "Run anyway" } else { "Run" }}
                </button>
            </div>
        </form>
    }
}

/// The form's editor as it opens: empty, or an earlier run's inputs with its withheld
/// secrets cleared (they must be entered again), marked at once where they no longer fit
/// a changed schema.
fn opened_editor(schema: &SchemaView, earlier: Option<&RunView>) -> (Editor, RwSignal<Node>, FormContext) {
    let model = Arc::new(schema.schema.clone());
    let build = Build { ids: RowIds::new(), schema: model.clone() };
    let ctx = FormContext {
        errors: RwSignal::new(Vec::new()),
        build: StoredValue::new(build.clone()),
        dom_ids: StoredValue::new(0),
    };
    let initial = earlier.map(|run| {
        let mut inputs = run.inputs.clone();
        secrets::replace_at(&mut inputs, &run.withheld, &Value::Null);
        inputs
    });
    let root = RwSignal::new(Node::object(&model.fields, &model.additional, initial.as_ref(), &build));
    if let (Some(run), Some(inputs)) = (earlier, &initial) {
        if run.schema_hash.as_deref() != Some(schema.schema_hash.as_str()) {
            if let Err(errs) = validate_inputs(&model, inputs) {
                ctx.errors.set(errs.into_iter().filter(|e| !run.withheld.contains(&e.field)).collect());
            }
        }
    }
    (Editor::new(root, model, ctx), root, ctx)
}

/// Starting the run: one request at a time, under one key per request (a double submit,
/// or a retry after a lost answer, cannot start the run twice); once started, the inputs
/// are kept in the browser (secrets left out) and the run's page opens.
#[derive(Clone, Copy)]
struct Starter {
    editor: Editor,
    action: Action<(CreateRun, Value), (Value, Result<crate::model::RunCreated, ApiError>)>,
    key: StoredValue<String>,
    failure: RwSignal<Option<ApiError>>,
}

impl Starter {
    fn new(editor: Editor, storage_key: String) -> Self {
        let action = Action::new(|(request, kept): &(CreateRun, Value)| {
            let (request, kept) = (request.clone(), kept.clone());
            async move { (kept, create_run(request).await) }
        });
        let key = StoredValue::new(new_key());
        let failure = RwSignal::new(None::<ApiError>);
        let navigate = use_navigate();
        Effect::new(move |_| {
            let Some((kept, result)) = action.value().get() else { return };
            match result {
                Ok(created) => {
                    let saved = serde_json::json!({"saved_at": crate::time::now_ms() as u64, "inputs": kept});
                    crate::storage::set(&storage_key, &saved.to_string());
                    navigate(&format!("/workflows/{}", created.run_id), Default::default())
                }
                Err(e) => {
                    if e.code == ErrorCode::Validation {
                        editor.show_errors(&e.fields);
                    }
                    // A refused request (4xx) may be sent again, changed: it needs a new key.
                    // After a lost answer or a server fault the same key is kept, so
                    // sending again cannot start the run twice.
                    if e.http_status() < 500 {
                        key.set_value(new_key());
                    }
                    failure.set(Some(e));
                }
            }
        });
        Self { editor, action, key, failure }
    }

    fn start(&self, agent_id: &str, rerun_of: Option<String>) {
        if self.action.pending().get_untracked() {
            return;
        }
        self.failure.set(None);
        let Some(inputs) = self.editor.inputs_to_send() else {
            // To the first field in error, once the page shows it marked.
            set_timeout(focus_first_invalid, std::time::Duration::ZERO);
            return;
        };
        let kept = self.editor.model.with_value(|m| without_secrets(m, &inputs));
        let request =
            CreateRun { agent_id: agent_id.to_owned(), inputs, idempotency_key: Some(self.key.get_value()), rerun_of };
        self.action.dispatch((request, kept));
    }
}

/// How many fields need attention, or why the run did not start.
#[component]
fn FormErrors(ctx: FormContext, failure: RwSignal<Option<ApiError>>) -> impl IntoView {
    view! {
        {move || {
            // Fields, not messages: a field with two errors is one field to fix.
            let n = ctx.errors.with(|e| e.iter().map(|e| e.field.as_str()).collect::<std::collections::HashSet<_>>().len());
            (n > 0 && failure.with(Option::is_none)).then(|| view! {
                <p class="notice error" role="alert" data-testid="run-form-errors">
                    {format!("{n} field{} need{} attention.", if n == 1 { "" } else { "s" }, if n == 1 { "s" } else { "" })}
                </p>
            })
        }}
        {move || failure.get().map(|e| view! { <p class="notice error" role="alert" data-testid="run-form-errors">{e.message}</p> })}
    }
}

/// What the form says before its fields: the workflow and schema, the run being edited,
/// the agent being down, the schema's unusable parts, its changes since the run, the
/// secrets to enter again, and the last inputs sent from this browser.
#[component]
fn FormNotices(
    schema: SchemaView,
    earlier: Option<RunView>,
    health: Option<HealthView>,
    last: Option<String>,
    editor: Editor,
) -> impl IntoView {
    let warnings = schema.schema.warnings.clone();
    let withheld = earlier.as_ref().map(|r| r.withheld.clone()).unwrap_or_default();
    let drift = earlier.as_ref().filter(|r| r.schema_hash.as_deref() != Some(schema.schema_hash.as_str())).map(|r| {
        view! { <DriftNotice run=r.clone() current=schema.schema.clone() current_hash=schema.schema_hash.clone()/> }
    });
    let offer_last = last.and_then(|l| {
        let saved: Value = serde_json::from_str(&l).ok()?;
        let inputs = saved.get("inputs")?.clone();
        let at = saved.get("saved_at").and_then(Value::as_f64).unwrap_or(0.0);
        Some((inputs, at))
    });
    view! {
        <p class="muted">
            {format!("Workflow {} · ", schema.schema.workflow.clone().unwrap_or_else(|| "(unnamed)".into()))}
            <span title="hash of this input schema" data-testid="schema-hash">{format!("schema {}", schema.schema_hash)}</span>
        </p>
        {earlier.as_ref().map(|r| {
            let short: String = r.run_id.chars().take(8).collect();
            view! {
                <p class="notice" data-testid="rerun-source">
                    "Editing the inputs of run " <a href=format!("/workflows/{}", r.run_id) title=r.run_id.clone()><code>{short}</code></a>
                    {format!(" ({}, {}).", r.status.label(), crate::time::relative(crate::time::now_ms(), crate::time::parse_rfc3339_ms(&r.created_at).unwrap_or(0.0)))}
                </p>
            }
        })}
        {health.filter(|h| h.state == HealthState::Unhealthy).map(|h| view! {
            <p class="notice warning" role="status" data-testid="agent-unhealthy-warning">
                <strong>"This agent is unhealthy"</strong>
                {format!(" ({}). The run will probably fail; it is sent anyway if you press Run anyway.",
                    h.reason.unwrap_or_else(|| "its last checks failed".into()))}
            </p>
        })}
        {(!warnings.is_empty()).then(|| view! {
            <div class="notice warning" data-testid="schema-warnings">
                <p>"Parts of this agent's schema cannot be used as given:"</p>
                <ul>{warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
            </div>
        })}
        {drift}
        {(!withheld.is_empty()).then(|| view! {
            <p class="notice warning" data-testid="secrets-again">
                {format!("The earlier run's secret input{} never kept: enter {} again: ",
                    if withheld.len() == 1 { " is" } else { "s are" }, if withheld.len() == 1 { "it" } else { "them" })}
                {withheld.iter().map(|p| view! { <code>{p.clone()}</code>" " }).collect_view()}
            </p>
        })}
        {offer_last.map(|(inputs, at)| view! {
            <p class="muted last-inputs">
                <button type="button" class="small" data-testid="use-last-inputs"
                    on:click=move |_| { editor.raw.set(None); editor.refill(&inputs) }>"Use the last inputs"</button>
                {format!(" sent from this browser {} (secrets are never kept)", crate::time::relative(crate::time::now_ms(), at))}
            </p>
        })}
    }
}

fn new_key() -> String {
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    let random = js_sys::Math::random();
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    let random = 0.5;
    format!("form-{}-{}", crate::time::now_ms() as u64, (random * 1e15) as u64)
}
