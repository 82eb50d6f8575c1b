//! The Execute panel: opened from an agent's row (`?execute=AGENT`, or with
//! `&from=RUN` to edit and re-run), it loads the agent's schema through the server and
//! shows a form generated from it (or, toggled, the same inputs as raw JSON). Submitting
//! validates in the browser with the same code the server runs, then creates the run and
//! goes to its page. An earlier run's inputs come back without its secrets (never kept),
//! with a notice when the agent's schema changed since; the last inputs sent from this
//! browser (secrets removed) are offered again.

mod drift_notice;
mod entry;
mod fields;
mod focus;
mod node;
mod raw;
mod raw_secrets;

use crate::api::{agent_schema, create_run, get_agent, get_run};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::model::{CreateRun, HealthState, HealthView, RunView, SchemaView};
use crate::schema::{secrets, validate_inputs};
use drift_notice::DriftNotice;
pub use entry::ExecutePanel;
use fields::{root_view, FormContext};
use focus::{focus, focus_first_invalid, keep_focus_inside, keep_focus_off_buttons, later};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use node::{Build, Node, RowIds};
use raw_secrets::{list_item, KeptSecret};
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
    let model = Arc::new(schema.schema.clone());
    let build = Build { ids: RowIds::new(), schema: model.clone() };
    let ctx = FormContext {
        errors: RwSignal::new(Vec::new()),
        build: StoredValue::new(build.clone()),
        dom_ids: StoredValue::new(0),
    };
    // An earlier run's inputs, its withheld secrets cleared: they must be entered again.
    let initial = earlier.as_ref().map(|run| {
        let mut inputs = run.inputs.clone();
        secrets::replace_at(&mut inputs, &run.withheld, &Value::Null);
        inputs
    });
    let root = RwSignal::new(Node::object(&model.fields, &model.additional, initial.as_ref(), &build));
    // Inputs of an earlier run that no longer fit a changed schema are marked at once.
    if let (Some(run), Some(inputs)) = (&earlier, &initial) {
        if run.schema_hash.as_deref() != Some(schema.schema_hash.as_str()) {
            if let Err(errs) = validate_inputs(&model, inputs) {
                ctx.errors.set(errs.into_iter().filter(|e| !run.withheld.contains(&e.field)).collect());
            }
        }
    }
    // `Some(text)` while the inputs are edited as raw JSON.
    let raw = RwSignal::new(None::<String>);
    let raw_problem = RwSignal::new(None::<String>);
    let raw_errors = RwSignal::new(Vec::<(Option<usize>, FieldError)>::new());
    let model = StoredValue::new(model);
    let failure = RwSignal::new(None::<ApiError>);
    // Starting the run, with the inputs to remember (secrets left out) once it starts.
    let start = Action::new(|(request, kept): &(CreateRun, Value)| {
        let (request, kept) = (request.clone(), kept.clone());
        async move { (kept, create_run(request).await) }
    });
    let pending = start.pending();
    // One key per request: a double submit, or a retry after a lost answer, cannot start
    // the run twice.
    let key = StoredValue::new(new_key());
    let navigate = use_navigate();
    let rerun_of = earlier.as_ref().map(|r| r.run_id.clone());
    let storage_key = last_inputs_key(&agent_id);
    let last = StoredValue::new(if earlier.is_none() { crate::storage::get(&storage_key) } else { None });

    // The form's values as the inputs object, with what could not even be read as typed.
    let collect = move || -> (Map<String, Value>, Vec<FieldError>) {
        let mut errors = Vec::new();
        let inputs = match root.with_untracked(|r| r.collect("", &mut errors)) {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        (inputs, errors)
    };
    let refill = move |value: &Value| {
        let b = ctx.build.get_value();
        model.with_value(|m| root.set(Node::object(&m.fields, &m.additional, Some(value), &b)));
        ctx.errors.set(Vec::new());
    };
    // Secrets typed in the form, kept here while the inputs are shown as raw JSON, which
    // shows them as "***"; a "***" left in place there means "the value typed before".
    let kept_secrets = StoredValue::new(Vec::<KeptSecret>::new());
    // A "***" stands for the secret typed before only where it still is: at the same
    // path, and, inside a list, in the same item (deleting an item must not hand one
    // item's secret to the next). Any other "***" at a secret's place is an error.
    let unmask = move |map: Map<String, Value>| -> (Map<String, Value>, Vec<FieldError>) {
        let mut value = Value::Object(map);
        for kept in kept_secrets.get_value() {
            let same_item = kept.item.as_ref().is_none_or(|(at, was)| value.pointer(at) == Some(was));
            if let Some(slot) = value.pointer_mut(&kept.path).filter(|v| v.as_str() == Some(secrets::MASK)) {
                if same_item {
                    *slot = kept.value;
                }
            }
        }
        let map = match value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let (_, paths) = model.with_value(|m| secrets::redact(m, &map));
        let whole = Value::Object(map);
        let errors = paths
            .into_iter()
            .filter(|p| whole.pointer(p).and_then(Value::as_str) == Some(secrets::MASK))
            .map(|p| FieldError::new(&p, "Enter this secret again: raw JSON shows secrets as ***"))
            .collect();
        let Value::Object(map) = whole else { unreachable!("built from a map above") };
        (map, errors)
    };
    let to_raw = move |_| {
        let (inputs, errors) = collect();
        raw_problem.set((!errors.is_empty()).then(|| {
            format!(
                "{} value(s) could not be read as typed and are left out: {}",
                errors.len(),
                errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>().join(", ")
            )
        }));
        raw_errors.set(Vec::new());
        let (masked, paths) = model.with_value(|m| secrets::redact(m, &inputs));
        let typed = Value::Object(inputs);
        let shown = Value::Object(masked.clone());
        kept_secrets.set_value(
            paths
                .iter()
                .filter_map(|p| {
                    let item = list_item(&shown, p).and_then(|at| shown.pointer(&at).cloned().map(|was| (at, was)));
                    typed.pointer(p).map(|v| KeptSecret { path: p.clone(), value: v.clone(), item })
                })
                .collect(),
        );
        raw.set(Some(serde_json::to_string_pretty(&Value::Object(masked)).unwrap_or_else(|_| "{}".into())));
    };
    let to_form = move |_| {
        let Some(text) = raw.get_untracked() else { return };
        match raw::parse(&text) {
            Ok(map) => {
                // A "***" that stands for nothing is not kept as a password: the field is
                // emptied and marked, to be typed again.
                let (map, lost) = unmask(map);
                let mut value = Value::Object(map);
                for e in &lost {
                    if let Some(slot) = value.pointer_mut(&e.field) {
                        *slot = Value::Null;
                    }
                }
                refill(&value);
                ctx.errors.set(lost);
                raw.set(None);
                raw_problem.set(None);
                raw_errors.set(Vec::new());
            }
            Err(e) => raw_problem.set(Some(format!("Fix the JSON to go back to the form. {e}"))),
        }
    };

    // Errors follow the person's fixes: a field's once it has been left, every field's
    // once Run was pressed (or an earlier run's inputs were found not to fit).
    let submitted = StoredValue::new(ctx.errors.with_untracked(|e| !e.is_empty()));
    let touched = StoredValue::new(std::collections::HashSet::<String>::new());
    let revalidate = move || {
        // Run later than the event (see `later`): the panel may have closed meanwhile.
        if raw.is_disposed() || submitted.is_disposed() || ctx.errors.is_disposed() {
            return;
        }
        if raw.with_untracked(Option::is_some) || (!submitted.get_value() && touched.with_value(|t| t.is_empty())) {
            return; // raw JSON is checked on Run; nothing was left or sent yet
        }
        let (inputs, mut errors) = collect();
        if let Err(more) = model.with_value(|m| validate_inputs(m, &Value::Object(inputs))) {
            let more: Vec<FieldError> =
                more.into_iter().filter(|m| !errors.iter().any(|e| e.field == m.field)).collect();
            errors.extend(more);
        }
        if !submitted.get_value() {
            let shown = |field: &str| {
                touched.with_value(|t| t.iter().any(|p| field == p || field.starts_with(&format!("{p}/"))))
            };
            errors.retain(|e| shown(&e.field));
        }
        if ctx.errors.with_untracked(|e| e != &errors) {
            ctx.errors.set(errors);
        }
    };
    let left_field = move |ev: leptos::ev::FocusEvent| {
        use leptos::wasm_bindgen::JsCast;
        let path = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
            .and_then(|el| el.closest("[data-path]").ok().flatten())
            .and_then(|el| el.get_attribute("data-path"));
        if let Some(path) = path.filter(|p| !p.is_empty() && !touched.is_disposed()) {
            touched.update_value(|t| {
                t.insert(path);
            });
            revalidate();
        }
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        submitted.set_value(true);
        let (inputs, mut errors) = match raw.get_untracked() {
            Some(text) => match raw::parse(&text) {
                Ok(map) => unmask(map),
                Err(e) => {
                    raw_problem.set(Some(e));
                    return;
                }
            },
            None => collect(),
        };
        raw_problem.set(None);
        if let Err(more) = model.with_value(|m| validate_inputs(m, &Value::Object(inputs.clone()))) {
            // A field whose text did not even parse is already reported.
            let more: Vec<FieldError> =
                more.into_iter().filter(|m| !errors.iter().any(|e| e.field == m.field)).collect();
            errors.extend(more);
        }
        failure.set(None);
        ctx.errors.set(errors.clone());
        if let Some(text) = raw.get_untracked() {
            raw_errors.set(by_line(raw::with_lines(&text, &errors)));
        }
        if !errors.is_empty() {
            // To the first field in error, once the page shows it marked.
            set_timeout(focus_first_invalid, std::time::Duration::ZERO);
            return;
        }
        let kept = model.with_value(|m| without_secrets(m, &inputs));
        let request = CreateRun {
            agent_id: agent_id.clone(),
            inputs,
            idempotency_key: Some(key.get_value()),
            rerun_of: rerun_of.clone(),
        };
        start.dispatch((request, kept));
    };
    Effect::new(move |_| {
        let Some((kept, result)) = start.value().get() else { return };
        match result {
            Ok(created) => {
                let saved = serde_json::json!({"saved_at": crate::time::now_ms() as u64, "inputs": kept});
                crate::storage::set(&storage_key, &saved.to_string());
                navigate(&format!("/workflows/{}", created.run_id), Default::default())
            }
            Err(e) => {
                if e.code == ErrorCode::Validation {
                    ctx.errors.set(e.fields.clone());
                    if let Some(text) = raw.get_untracked() {
                        raw_errors.set(by_line(raw::with_lines(&text, &e.fields)));
                    }
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

    let down = health.filter(|h| h.state == HealthState::Unhealthy);
    let unhealthy = down.is_some();
    // Opening the panel moves focus into it, to its first field.
    Effect::new(move |_| {
        set_timeout(
            || {
                focus("[data-testid=run-form] .field input:not([type=hidden]), [data-testid=run-form] .field select, [data-testid=run-form] .field textarea")
            },
            std::time::Duration::ZERO,
        )
    });
    let count = schema.schema.fields.len();
    let warnings = schema.schema.warnings.clone();
    let withheld = earlier.as_ref().map(|r| r.withheld.clone()).unwrap_or_default();
    let drift = earlier.as_ref().filter(|r| r.schema_hash.as_deref() != Some(schema.schema_hash.as_str())).map(|r| {
        view! { <DriftNotice run=r.clone() current=schema.schema.clone() current_hash=schema.schema_hash.clone()/> }
    });
    let offer_last = last.with_value(|l| {
        let saved: Value = serde_json::from_str(l.as_deref()?).ok()?;
        let inputs = saved.get("inputs")?.clone();
        let at = saved.get("saved_at").and_then(Value::as_f64).unwrap_or(0.0);
        Some((inputs, at))
    });
    view! {
        <form class="run-form" on:submit=submit novalidate data-testid="run-form"
            on:focusout=left_field on:input=move |_| later(revalidate) on:change=move |_| later(revalidate)
            on:mousedown=keep_focus_off_buttons>
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
            {down.map(|h| view! {
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
                        on:click=move |_| { raw.set(None); refill(&inputs) }>"Use the last inputs"</button>
                    {format!(" sent from this browser {} (secrets are never kept)", crate::time::relative(crate::time::now_ms(), at))}
                </p>
            })}
            <div class="form-mode" role="group" aria-label="Edit the inputs as">
                <button type="button" class="small" aria-pressed=move || raw.with(Option::is_none).to_string() on:click=to_form>"Form"</button>
                <button type="button" class="small" aria-pressed=move || raw.with(Option::is_some).to_string() on:click=to_raw data-testid="raw-toggle">"Raw JSON"</button>
            </div>
            {move || match raw.get() {
                Some(_) => view! {
                    <label class="visually-hidden" for="raw-inputs">"Inputs as JSON"</label>
                    <textarea id="raw-inputs" class="json-input raw" rows="14" spellcheck="false" data-testid="raw-inputs"
                        prop:value=move || raw.get().unwrap_or_default()
                        on:input=move |ev| raw.set(Some(event_target_value(&ev)))></textarea>
                    {move || (!raw_errors.with(Vec::is_empty)).then(|| view! {
                        <ul class="field-errors" data-testid="raw-errors">
                            {raw_errors.get().into_iter().map(|(line, e)| view! {
                                <li>{line.map(|l| format!("Line {l}: ")).unwrap_or_default()}<code>{e.field}</code>": "{e.message}</li>
                            }).collect_view()}
                        </ul>
                    })}
                }.into_any(),
                None => view! {
                    {(count == 0 && model.with_value(|m| m.additional.is_any())).then(|| view! { <p class="muted">"This agent takes no inputs."</p> })}
                    {move || root_view(root.get(), ctx)}
                }.into_any(),
            }}
            {move || raw_problem.get().map(|p| view! { <p class="notice error" role="alert" data-testid="raw-problem">{p}</p> })}
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
            <div class="actions">
                <button type="submit" class="primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Starting…" } else if unhealthy { "Run anyway" } else { "Run" }}
                </button>
            </div>
        </form>
    }
}

/// Errors in the order of the text (those without a line last).
fn by_line(mut errors: Vec<(Option<usize>, FieldError)>) -> Vec<(Option<usize>, FieldError)> {
    errors.sort_by_key(|(line, _)| line.unwrap_or(usize::MAX));
    errors
}

fn new_key() -> String {
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    let random = js_sys::Math::random();
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    let random = 0.5;
    format!("form-{}-{}", crate::time::now_ms() as u64, (random * 1e15) as u64)
}
