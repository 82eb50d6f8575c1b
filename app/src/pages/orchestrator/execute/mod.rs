//! The Execute panel: opened from an agent's row (`?execute=AGENT`, or with
//! `&from=RUN` to edit and re-run), it loads the agent's schema through the server and
//! shows a form generated from it. Submitting validates in the browser with the same
//! code the server runs, then creates the run and goes to its page.

mod fields;
mod node;
mod raw;

use crate::api::{agent_schema, create_run, get_run};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::model::{CreateRun, SchemaView};
use crate::schema::validate_inputs;
use fields::{root_view, FormContext};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use node::{Build, Node, RowIds};
use serde_json::{Map, Value};
use std::sync::Arc;

#[component]
pub fn ExecutePanel() -> impl IntoView {
    let query = use_query_map();
    let agent = Memo::new(move |_| query.with(|q| q.get("execute").filter(|a| !a.is_empty())));
    let from = Memo::new(move |_| query.with(|q| q.get("from").filter(|r| !r.is_empty())));
    // The panel lives in the browser only: it opens from a click (or a shared link) after
    // the page has become interactive.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    move || {
        let agent = agent.get().filter(|_| hydrated.get())?;
        Some(view! { <Panel agent_id=agent from=from.get()/> })
    }
}

#[component]
fn Panel(agent_id: String, from: Option<String>) -> impl IntoView {
    let id = agent_id.clone();
    let schema = LocalResource::new(move || agent_schema(id.clone()));
    let previous = LocalResource::new(move || {
        let from = from.clone();
        async move {
            match from {
                Some(run_id) => get_run(run_id).await.map(|r| Some(r.inputs)),
                None => Ok(None),
            }
        }
    });
    let title = format!("Run {agent_id}");
    view! {
        <section class="card execute" aria-labelledby="execute-title" data-testid="execute-panel">
            <div class="card-title">
                <h2 id="execute-title">{title}</h2>
                <a href="/orchestrator" aria-label="Close the run form">"Close"</a>
            </div>
            <Suspense fallback=move || view! { <p class="muted" data-testid="schema-loading">"Loading the agent's input schema…"</p> }>
                {move || Suspend::new({
                    let agent_id = agent_id.clone();
                    async move {
                        match (schema.await, previous.await) {
                            (Ok(view), Ok(initial)) => view! { <RunForm agent_id schema=view initial/> }.into_any(),
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

#[component]
fn RunForm(agent_id: String, schema: SchemaView, initial: Option<Value>) -> impl IntoView {
    let model = Arc::new(schema.schema.clone());
    let build = Build { ids: RowIds::new(), schema: model.clone() };
    let ctx = FormContext { errors: RwSignal::new(Vec::new()), build: StoredValue::new(build.clone()), dom_ids: StoredValue::new(0) };
    let root = Node::object(&model.fields, &model.additional, initial.as_ref(), &build);
    let fields = StoredValue::new(root.clone());
    let model = StoredValue::new(model);
    let failure = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    // One key per request: a double submit, or a retry after a lost answer, cannot start
    // the run twice.
    let key = StoredValue::new(new_key());
    let navigate = use_navigate();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let mut errors = Vec::new();
        let inputs = match fields.with_value(|root| root.collect("", &mut errors)) {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        if let Err(more) = model.with_value(|m| validate_inputs(m, &Value::Object(inputs.clone()))) {
            // A field whose text did not even parse is already reported.
            let more: Vec<FieldError> = more.into_iter().filter(|m| !errors.iter().any(|e| e.field == m.field)).collect();
            errors.extend(more);
        }
        failure.set(None);
        ctx.errors.set(errors.clone());
        if !errors.is_empty() {
            return;
        }
        pending.set(true);
        let request = CreateRun { agent_id: agent_id.clone(), inputs, idempotency_key: Some(key.get_value()) };
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let result = create_run(request).await;
            if pending.is_disposed() {
                return;
            }
            pending.set(false);
            match result {
                Ok(created) => navigate(&format!("/workflows/{}", created.run_id), Default::default()),
                Err(e) => {
                    if e.code == ErrorCode::Validation {
                        ctx.errors.set(e.fields.clone());
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
    };

    let count = schema.schema.fields.len();
    let items = root_view(root, ctx);
    let warnings = schema.schema.warnings.clone();
    view! {
        <form class="run-form" on:submit=submit novalidate data-testid="run-form">
            <p class="muted">
                {format!("Workflow {} · ", schema.schema.workflow.clone().unwrap_or_else(|| "(unnamed)".into()))}
                <span title="hash of this input schema">{format!("schema {}", schema.schema_hash)}</span>
            </p>
            {(!warnings.is_empty()).then(|| view! {
                <div class="notice warning" data-testid="schema-warnings">
                    <p>"Parts of this agent's schema cannot be used as given:"</p>
                    <ul>{warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
                </div>
            })}
            {(count == 0 && model.with_value(|m| m.additional.is_any())).then(|| view! { <p class="muted">"This agent takes no inputs."</p> })}
            {items}
            {move || {
                let n = ctx.errors.with(Vec::len);
                (n > 0 && failure.with(Option::is_none)).then(|| view! {
                    <p class="notice error" role="alert" data-testid="run-form-errors">
                        {format!("{n} field{} need{} attention.", if n == 1 { "" } else { "s" }, if n == 1 { "s" } else { "" })}
                    </p>
                })
            }}
            {move || failure.get().map(|e| view! { <p class="notice error" role="alert" data-testid="run-form-errors">{e.message}</p> })}
            <div class="actions">
                <button type="submit" class="primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Starting…" } else { "Run" }}
                </button>
            </div>
        </form>
    }
}

fn new_key() -> String {
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    let random = js_sys::Math::random();
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    let random = 0.5;
    format!("form-{}-{}", crate::time::now_ms() as u64, (random * 1e15) as u64)
}
