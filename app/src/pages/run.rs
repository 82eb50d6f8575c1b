//! `/workflows/{run_id}`: one run, changing by itself while it goes on (pushed by the live
//! stream; polled while the stream is down), with Cancel, Re-run, Edit and re-run, Delete.

use crate::api::{cancel_run, delete_run, rerun, run_detail};
use crate::components::clock::RelativeTime;
use crate::components::json_tree::{JsonSource, JsonTree};
use crate::components::run_status::{cost_text, duration_text, RunStatusBadge};
use crate::error::ErrorCode;
use crate::live::{one_at_a_time, use_live};
use crate::model::events::LiveEvent;
use crate::model::json_preview::{PreviewNode, RunPart};
use crate::model::{percent_encode, RunDetail, RunStatus, RunView};
use crate::pages::not_found::Missing;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::time::Duration;

/// How often a live run is asked for while the event stream is down.
const POLL_MS: u64 = 1000;

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let run_id = Memo::new(move |_| params.read().get("run_id").unwrap_or_default());
    // The run with previews of its documents, never the documents whole: the page costs
    // the same for a 10 MiB output as for a small one.
    let initial = Resource::new(move || run_id.get(), run_detail);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the run…"</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Ok(detail) => view! { <RunDetails detail/> }.into_any(),
                    Err(e) if e.code == ErrorCode::NotFound => view! {
                        <Missing title="Run not found" message=e.message href="/workflows" link="All runs" testid="run-missing"/>
                    }.into_any(),
                    Err(e) => view! {
                        <p class="notice error" role="alert">{format!("Could not load the run: {}", e.message)}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The run as the page shows it, and what an answer of the server changes of it.
#[derive(Clone, Copy)]
struct Shown {
    run: RwSignal<RunView>,
    inputs: RwSignal<PreviewNode>,
    outputs: RwSignal<Option<PreviewNode>>,
    gone: RwSignal<bool>,
    poll_error: RwSignal<Option<String>>,
}

impl Shown {
    fn apply(self, result: Result<RunDetail, crate::error::ApiError>) {
        match result {
            // An answer read before the run ended never takes the end back.
            Ok(fresh) if !fresh.run.status.is_final() && self.run.with_untracked(|r| r.status.is_final()) => {}
            Ok(RunDetail { run, inputs, outputs }) => {
                if self.run.with_untracked(|r| r != &run) {
                    self.run.set(run);
                }
                if self.inputs.with_untracked(|i| i != &inputs) {
                    self.inputs.set(inputs);
                }
                if self.outputs.with_untracked(|o| o != &outputs) {
                    self.outputs.set(outputs);
                }
                self.poll_error.set(None);
            }
            Err(e) if e.code == ErrorCode::NotFound => {
                self.gone.set(true);
                self.poll_error.set(None);
            }
            Err(e) => self.poll_error.set(Some(e.message)),
        }
    }
}

#[component]
fn RunDetails(detail: RunDetail) -> impl IntoView {
    let RunDetail { run, inputs, outputs } = detail;
    let run_id = run.run_id.clone();
    let run = RwSignal::new(run);
    let inputs = RwSignal::new(inputs);
    let outputs = RwSignal::new(outputs);
    let poll_error = RwSignal::new(None::<String>);
    // Deleted elsewhere while shown: polling stops and the page says so.
    let gone = RwSignal::new(false);

    let shown = Shown { run, inputs, outputs, gone, poll_error };
    // Asks for the run as the server has it now: one request at a time, and one asked for
    // meanwhile is sent after it (the answer out may predate what was asked about).
    let fetch = {
        let id = StoredValue::new(run_id.clone());
        let fetch = one_at_a_time(move || run_detail(id.get_value()), move |result| shown.apply(result));
        move || {
            if !gone.get_untracked() {
                fetch();
            }
        }
    };
    // Pushed: a change of status shows at once; the outputs (not in the event: they can
    // be megabytes) are fetched when it ends.
    let live = use_live();
    {
        let id = run_id.clone();
        live.subscribe(move |event| match event {
            LiveEvent::RunUpdated(change) if change.run_id == id => {
                run.update(|r| {
                    r.status = change.status;
                    r.error = change.error.clone();
                    r.started_at = change.started_at.clone();
                    r.finished_at = change.finished_at.clone();
                    r.duration_ms = change.duration_ms;
                });
                if change.status.is_final() {
                    fetch();
                }
            }
            LiveEvent::RunRemoved(removed) if removed.run_id == id => gone.set(true),
            LiveEvent::Resync => fetch(),
            _ => {}
        });
    }
    // Once now, in the browser, for what changed between the page's read and the
    // subscription; then only while the stream is not live and the run goes on.
    Effect::new(move |_| {
        if !run.with_untracked(|r| r.status.is_final()) {
            fetch();
        }
    });
    live.poll_while_down(Duration::from_millis(POLL_MS), move || {
        if !run.with_untracked(|r| r.status.is_final()) {
            fetch();
        }
    });

    let status = Signal::derive(move || run.with(|r| r.status));
    let going = move || !status.get().is_final();

    view! {
        <div class="run-page" data-testid="run-page" data-status=move || status.get().as_str()>
            <div class="run-head">
                <h1>{move || run.with(|r| r.workflow.clone())}</h1>
                <RunStatusBadge status/>
                {move || going().then(|| view! { <span class="muted live-note">"updates live"</span> })}
            </div>
            {move || gone.get().then(|| view! {
                <p class="notice error" role="alert" data-testid="run-gone">"This run was deleted. " <a href="/workflows">"All runs"</a></p>
            })}
            {move || poll_error.get().map(|e| view! {
                <p class="notice error" role="alert">{format!("Showing the last known state: {e}. Retrying.")}</p>
            })}
            <RunActions run/>
            // A cancelled run's explanation, once: the person chose it, so it is not an error.
            {move || (status.get() == RunStatus::Cancelled).then(|| view! {
                <p class="notice warning" role="status" data-testid="run-cancelled">
                    {run.with(|r| r.error.clone()).unwrap_or_else(|| "Cancelled.".into())}
                </p>
            })}
            <RunFacts run/>
            {move || run.with(|r| r.error.clone()).filter(|_| status.get() != RunStatus::Cancelled).map(|error| view! {
                <section class="card error-panel" role="alert" data-testid="run-error">
                    <h2>"Error"</h2>
                    <p>{error}</p>
                    {run.with(|r| (!r.field_errors.is_empty()).then(|| {
                        let items = r.field_errors.iter().map(|f| view! { <li><code>{f.field.clone()}</code>": "{f.message.clone()}</li> }).collect_view();
                        view! { <ul class="field-errors">{items}</ul> }
                    }))}
                </section>
            })}
            <RunDocuments run inputs outputs/>
        </div>
    }
}

/// Cancel, Re-run, Edit and re-run, Delete: each a Leptos `Action`, whose pending state
/// disables the buttons and whose failure is shown under them.
#[component]
fn RunActions(run: RwSignal<RunView>) -> impl IntoView {
    let navigate = use_navigate();
    let error = RwSignal::new(None::<String>);
    let confirming_delete = RwSignal::new(false);
    let cancel = Action::new(|id: &String| cancel_run(id.clone()));
    let again = Action::new(|id: &String| rerun(id.clone()));
    let delete = Action::new(|id: &String| {
        let id = id.clone();
        async move {
            match delete_run(id).await {
                // Already gone is what was asked for.
                Err(e) if e.code != ErrorCode::NotFound => Err(e),
                _ => Ok(()),
            }
        }
    });
    // The answer has the documents whole; the page keeps its previews.
    Effect::new(move |_| match cancel.value().get() {
        Some(Ok(fresh)) => run.set(RunView { inputs: serde_json::Value::Null, outputs: None, ..fresh }),
        Some(Err(e)) => error.set(Some(e.message)),
        None => {}
    });
    Effect::new({
        let navigate = navigate.clone();
        move |_| match again.value().get() {
            Some(Ok(created)) => navigate(&format!("/workflows/{}", created.run_id), Default::default()),
            Some(Err(e)) => error.set(Some(e.message)),
            None => {}
        }
    });
    Effect::new({
        let navigate = navigate.clone();
        move |_| match delete.value().get() {
            Some(Ok(())) => navigate("/workflows", Default::default()),
            Some(Err(e)) => error.set(Some(e.message)),
            None => {}
        }
    });
    let busy = move || cancel.pending().get() || again.pending().get() || delete.pending().get();
    let id = move || run.with_untracked(|r| r.run_id.clone());
    let going = move || !run.with(|r| r.status.is_final());
    let no_agent = move || run.with(|r| r.agent_id.is_empty());
    let edit_href = move || run.with(|r| format!("/orchestrator?execute={}&from={}", r.agent_id, r.run_id));
    let do_rerun = move |_| {
        error.set(None);
        // Secrets are never kept: re-running means entering them again, in the form.
        if run.with_untracked(|r| !r.withheld.is_empty()) {
            navigate(
                &run.with_untracked(|r| format!("/orchestrator?execute={}&from={}", r.agent_id, r.run_id)),
                Default::default(),
            );
        } else {
            again.dispatch(id());
        }
    };
    view! {
        <div class="run-actions actions">
            {move || going().then(|| view! {
                <button type="button" class="warning" disabled=busy
                    on:click=move |_| { error.set(None); cancel.dispatch(id()); }>"Cancel"</button>
            })}
            <button type="button" on:click=do_rerun disabled=move || busy() || no_agent()>"Re-run"</button>
            {move || (!no_agent()).then(|| view! { <a class="button" href=edit_href>"Edit and re-run"</a> })}
            <Show when=move || confirming_delete.get() fallback=move || view! {
                <button type="button" on:click=move |_| confirming_delete.set(true)>"Delete"</button>
            }>
                <span class="confirm">
                    "Delete this run? "
                    <button type="button" class="danger" disabled=busy
                        on:click=move |_| { error.set(None); delete.dispatch(id()); }>"Confirm delete"</button>
                    <button type="button" on:click=move |_| confirming_delete.set(false)>"Keep"</button>
                </span>
            </Show>
        </div>
        {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-testid="run-action-error">{e}</p> })}
    }
}

/// What is known of the run: who ran it, when, for how long, at what cost.
#[component]
fn RunFacts(run: RwSignal<RunView>) -> impl IntoView {
    let field = move |f: fn(&RunView) -> Option<String>| Signal::derive(move || run.with(f));
    view! {
    <section class="card">
        <dl class="run-facts">
            <dt>"Run ID"</dt><dd><code>{run.with_untracked(|r| r.run_id.clone())}</code></dd>
            <dt>"Agent"</dt>
            <dd>{move || run.with(|r| if r.agent_id.is_empty() {
                view! { <span class="muted">"— (not started by an agent)"</span> }.into_any()
            } else {
                view! {
                    <a href=format!("/agents/{}", percent_encode(&r.agent_id)) title="The agent's page" data-testid="run-agent"><code>{r.agent_id.clone()}</code></a>
                    " · " <a href=format!("/workflows?agent_id={}", percent_encode(&r.agent_id)) class="muted">"its runs"</a>
                }.into_any()
            })}</dd>
            {move || run.with(|r| r.rerun_of.clone()).map(|from| {
                let short: String = from.chars().take(8).collect();
                view! {
                    <dt>"Re-run of"</dt>
                    <dd><a href=format!("/workflows/{from}") title=from.clone() data-testid="rerun-of"><code>{short}</code></a></dd>
                }
            })}
            <dt>"Created"</dt><dd><RelativeTime at=field(|r| Some(r.created_at.clone())) fallback="—"/></dd>
            <dt>"Started"</dt><dd><RelativeTime at=field(|r| r.started_at.clone()) fallback="not yet"/></dd>
            <dt>"Finished"</dt><dd><RelativeTime at=field(|r| r.finished_at.clone()) fallback="not yet"/></dd>
            <dt>"Duration"</dt><dd data-testid="run-duration">{move || run.with(|r| r.duration_ms.map(duration_text).unwrap_or_else(|| "—".into()))}</dd>
            <dt>"Tokens"</dt><dd>{move || run.with(|r| r.total_tokens.map(|t| t.to_string()).unwrap_or_else(|| "—".into()))}</dd>
            <dt>"Cost"</dt><dd>{move || run.with(|r| r.cost_usd.map(cost_text).unwrap_or_else(|| "—".into()))}</dd>
            <dt>"Schema"</dt><dd>{move || run.with(|r| r.schema_hash.clone().map(|h| view! { <code title="hash of the input schema the inputs were checked against">{h}</code> }))}</dd>
        </dl>
    </section>
    }
}

/// The inputs and the outputs, each a tree that loads what is opened (never the
/// documents whole: they can be megabytes).
#[component]
fn RunDocuments(
    run: RwSignal<RunView>,
    inputs: RwSignal<PreviewNode>,
    outputs: RwSignal<Option<PreviewNode>>,
) -> impl IntoView {
    let going = move || !run.with(|r| r.status.is_final());
    let source = move |part| JsonSource { run_id: run.with_untracked(|r| r.run_id.clone()), part };
    view! {
    <div class="run-io">
        <section class="card" data-testid="run-inputs">
            <h2>"Inputs"</h2>
            {move || run.with(|r| (!r.withheld.is_empty()).then(|| {
                let n = r.withheld.len();
                view! {
                    <p class="muted" data-testid="run-withheld">
                        {format!("{n} secret input{} went to the agent and {} not kept (shown as ***): ", if n == 1 { "" } else { "s" }, if n == 1 { "is" } else { "are" })}
                        {r.withheld.iter().map(|p| view! { <code>{p.clone()}</code>" " }).collect_view()}
                    </p>
                }
            }))}
            {move || view! { <JsonTree source=source(RunPart::Inputs) preview=inputs.get() label="the inputs"/> }}
        </section>
        <section class="card" data-testid="run-outputs">
            <h2>"Outputs"</h2>
            {move || match outputs.get() {
                Some(outputs) => view! { <JsonTree source=source(RunPart::Outputs) preview=outputs label="the outputs"/> }.into_any(),
                None if going() => view! { <p class="muted">"Waiting for the agent…"</p> }.into_any(),
                None => view! { <p class="muted">"No outputs."</p> }.into_any(),
            }}
        </section>
    </div>
    }
}
