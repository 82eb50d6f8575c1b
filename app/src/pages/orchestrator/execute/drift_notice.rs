//! The notice on Edit and re-run when the agent's schema changed since the run.

use crate::api::run_schema;
use crate::error::FieldError;
use crate::model::RunView;
use crate::schema::{drift, secrets, validate_inputs};
use leptos::prelude::*;
use serde_json::Value;

/// Edit and re-run of a run validated against another schema than the agent's current
/// one: what changed, and which of its inputs no longer fit.
#[component]
pub(super) fn DriftNotice(run: RunView, current: crate::schema::InputSchema, current_hash: String) -> impl IntoView {
    let run_id = run.run_id.clone();
    let old = LocalResource::new(move || run_schema(run_id.clone()));
    let mut inputs = run.inputs.clone();
    secrets::replace_at(&mut inputs, &run.withheld, &Value::Null);
    // Withheld secrets are asked for anyway; their absence is not drift.
    let misfits: Vec<FieldError> = match validate_inputs(&current, &inputs) {
        Ok(_) => Vec::new(),
        Err(errs) => errs.into_iter().filter(|e| !run.withheld.contains(&e.field)).collect(),
    };
    let was = run.schema_hash.clone().unwrap_or_else(|| "unknown".into());
    let current = StoredValue::new(current);
    view! {
        <div class="notice warning drift" data-testid="schema-drift">
            <p><strong>"The agent's input schema changed since this run"</strong>{format!(" (schema {was} → {current_hash}).")}</p>
            <Suspense fallback=|| view! { <p class="muted">"Comparing the schemas…"</p> }>
                {move || Suspend::new(async move {
                    match old.await {
                        Ok(Some(old)) => {
                            let d = current.with_value(|c| drift::diff(&old, c));
                            let list = |title: &'static str, items: Vec<String>, id: &'static str| (!items.is_empty()).then(|| view! {
                                <p data-testid=id>{title}" "{items.into_iter().map(|p| view! { <code>{p}</code>" " }).collect_view()}</p>
                            });
                            view! {
                                {list("Added:", d.added.clone(), "drift-added")}
                                {list("Removed:", d.removed.clone(), "drift-removed")}
                                {(!d.changed.is_empty()).then(|| view! {
                                    <p data-testid="drift-changed">"Changed: "
                                        {d.changed.iter().map(|(p, what)| view! { <code>{p.clone()}</code>{format!(" ({what}) ")} }).collect_view()}
                                    </p>
                                })}
                                {d.is_empty().then(|| view! { <p>"No field was added, removed or changed (only descriptions or defaults)."</p> })}
                            }.into_any()
                        }
                        Ok(None) => view! { <p>"The schema this run used was not kept, so the differences cannot be listed."</p> }.into_any(),
                        Err(e) => view! { <p>{format!("Could not load the schema this run used: {}", e.message)}</p> }.into_any(),
                    }
                })}
            </Suspense>
            {if misfits.is_empty() {
                view! { <p>"Its inputs still fit the current schema."</p> }.into_any()
            } else {
                view! {
                    <p>"These inputs no longer fit:"</p>
                    <ul class="field-errors" data-testid="drift-misfits">
                        {misfits.into_iter().map(|e| view! { <li><code>{e.field}</code>": "{e.message}</li> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
    }
}
