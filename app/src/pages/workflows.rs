//! `/workflows`: the run history, newest first, with the old tool's columns. Filters (agent,
//! status, dates) and the page live in the URL, so a view can be shared and survives a
//! reload; the page follows the live stream (and polls while it is down and a run on it
//! is still going).

use crate::api::{list_runs, rerun};
use crate::components::agent_picker::AgentPicker;
use crate::components::clock::RelativeTime;
use crate::components::run_status::{cost_text, duration_text, RunStatusBadge};
use crate::components::submit_form;
use crate::live::{coalesced, use_live};
use crate::model::events::LiveEvent;
use crate::model::{percent_encode, RunPage, RunQuery, RunStatus, RunView};
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::time::Duration;

const PAGE_SIZE: u64 = 50;
/// Polling while the event stream is down.
const REFRESH_MS: u64 = 2000;
const PUSH_DEBOUNCE_MS: u64 = 250;

#[component]
pub fn WorkflowsPage() -> impl IntoView {
    let params = use_query_map();
    let param = move |name: &str| params.with(|p| p.get(name).filter(|v| !v.is_empty()));
    let query = Memo::new(move |_| RunQuery {
        agent_id: param("agent_id"),
        status: param("status"),
        since: param("since"),
        until: param("until"),
        limit: Some(PAGE_SIZE),
        cursor: param("cursor"),
    });
    // Where this page starts in the whole list (for "51–100 of 230").
    let first = Memo::new(move |_| param("n").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0));
    let runs = Resource::new(move || query.get(), list_runs);
    // Re-run from a row: one Action for the page, not one per row. The table is rebuilt
    // whenever runs change (the new run among them), which dropped a row's own action,
    // and the move to the new run with it, when the answer came after the table's
    // refetch (a slow network).
    let navigate = use_navigate();
    let rerun_row = Action::new(|id: &String| {
        let id = id.clone();
        async move { (id.clone(), rerun(id).await) }
    });
    Effect::new(move |_| {
        if let Some((_, Ok(created))) = rerun_row.value().get() {
            navigate(&format!("/workflows/{}", created.run_id), Default::default());
        }
    });

    // Pushed: a run created, changed or deleted anywhere may belong in this view; a
    // burst of them costs one request.
    let live = use_live();
    let refetch_soon = coalesced(Duration::from_millis(PUSH_DEBOUNCE_MS), move || runs.refetch());
    live.subscribe(move |event| match event {
        LiveEvent::RunUpdated(_) | LiveEvent::RunRemoved(_) => refetch_soon(),
        LiveEvent::Resync => runs.refetch(),
        _ => {}
    });
    // While the stream is down: refresh while something on the page is queued or running.
    live.poll_while_down(Duration::from_millis(REFRESH_MS), move || {
        let going =
            runs.with_untracked(|r| matches!(r, Some(Ok(page)) if page.runs.iter().any(|run| !run.status.is_final())));
        if going {
            runs.refetch();
        }
    });

    let selected = move |name: &'static str, value: String| move || param(name).as_deref() == Some(value.as_str());
    // Only the filters that are set go into the URL: not `since=&until=`, and not the
    // empty name and value Leptos's Form adds for the button that submitted (`&=`).
    let only_set: std::sync::Arc<dyn Fn(&leptos::web_sys::FormData)> = std::sync::Arc::new(|data| {
        for name in ["", "agent_id", "status", "since", "until"] {
            if data.get(name).as_string().is_none_or(|v| v.trim().is_empty()) {
                data.delete(name);
            }
        }
    });

    view! {
        <h1>"Workflows"</h1>
        <section class="card">
            <Form method="GET" action="" on_form_data=only_set attr:class="run-filters" attr:data-testid="run-filters">
                <label>"Agent " <AgentPicker current=Signal::derive(move || param("agent_id"))/></label>
                <label>
                    "Status "
                    <select name="status" on:change=submit_form
                        prop:value=move || param("status").unwrap_or_default()>
                        <option value="">"All"</option>
                        {RunStatus::ALL.into_iter().map(|s| view! {
                            <option value=s.as_str() selected=selected("status", s.as_str().to_owned())>{s.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"From " <input type="date" name="since" prop:value=move || param("since").unwrap_or_default()/></label>
                <label>"To " <input type="date" name="until" prop:value=move || param("until").unwrap_or_default()/></label>
                <button type="submit">"Apply"</button>
                <a href="/workflows">"Clear filters"</a>
            </Form>
            <Transition fallback=|| view! { <p class="muted">"Loading runs…"</p> }>
                {move || runs.get().map(|result| match result {
                    Ok(page) => view! { <RunTable page first=first.get() query=query.get() rerun=rerun_row/> }.into_any(),
                    Err(e) => view! { <p class="notice error" role="alert">{format!("Could not load the runs: {}", e.message)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// Re-running a run from its row: its ID in, with the answer out.
type RerunAction = Action<String, (String, Result<crate::model::RunCreated, crate::error::ApiError>)>;

#[component]
fn RunTable(page: RunPage, first: u64, query: RunQuery, rerun: RerunAction) -> impl IntoView {
    if page.runs.is_empty() {
        let filtered =
            query.agent_id.is_some() || query.status.is_some() || query.since.is_some() || query.until.is_some();
        return view! {
            <div class="empty" data-testid="runs-empty">
                <p><strong>{if filtered { "No runs match these filters." } else { "No runs yet." }}</strong></p>
                <p class="muted">"Run an agent's workflow from the " <a href="/orchestrator">"Orchestrator"</a> " page (Execute on its row)."</p>
            </div>
        }
        .into_any();
    }
    let shown = page.runs.len() as u64;
    let next = page.next_cursor.clone().map(|cursor| {
        let next = RunQuery { cursor: Some(cursor), limit: None, ..query.clone() };
        format!("/workflows?{}&n={}", next.to_query_string(), first + shown)
    });
    let rows = page.runs.into_iter().map(|run| view! { <RunRow run rerun/> }).collect_view();
    view! {
        <p class="muted" data-testid="runs-total">{format!("Showing {}–{} of {}", first + 1, first + shown, page.total)}</p>
        <div class="table-scroll">
            <table class="run-table" data-testid="run-table">
                <thead>
                    <tr>
                        <th scope="col">"ID"</th>
                        <th scope="col">"Workflow"</th>
                        <th scope="col">"Agent ID"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Duration"</th>
                        <th scope="col">"Tokens"</th>
                        <th scope="col">"Cost"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {(first > 0).then(|| {
                let newest = RunQuery { cursor: None, limit: None, ..query.clone() };
                view! { <a href=format!("/workflows?{}", newest.to_query_string())>"← Newest"</a> }
            })}
            {next.map(|href| view! { <a href=href data-testid="next-page">"Older →"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn RunRow(run: RunView, rerun: RerunAction) -> impl IntoView {
    let href = format!("/workflows/{}", run.run_id);
    let short: String = run.run_id.chars().take(8).collect();
    let started = run.started_at.clone().or(Some(run.created_at.clone()));
    view! {
        <tr data-run-id=run.run_id.clone() data-status=run.status.as_str() tabindex="-1">
            <td data-label="ID"><a href=href.clone() title=run.run_id.clone()><code>{short}</code></a></td>
            <td data-label="Workflow">{run.workflow.clone()}</td>
            <td data-label="Agent ID">{if run.agent_id.is_empty() { view! { <span class="muted">"—"</span> }.into_any() } else { view! { <code>{run.agent_id.clone()}</code> }.into_any() }}</td>
            <td data-label="Status"><RunStatusBadge status=run.status/></td>
            <td data-label="Started"><RelativeTime at=Signal::stored(started) fallback="—"/></td>
            <td data-label="Duration">{run.duration_ms.map(duration_text).unwrap_or_else(|| "—".into())}</td>
            <td data-label="Tokens">{run.total_tokens.map(|t| t.to_string()).unwrap_or_else(|| "—".into())}</td>
            <td data-label="Cost">{run.cost_usd.map(cost_text).unwrap_or_else(|| "—".into())}</td>
            <td class="row-actions"><a href=href>"View"</a> <RerunButton run=run.clone() rerun/></td>
        </tr>
    }
}

/// Re-run from the history: a new run with the same inputs, then its page. A run with
/// secret inputs (never kept) goes to Edit and re-run to have them entered again.
#[component]
fn RerunButton(run: RunView, rerun: RerunAction) -> impl IntoView {
    if run.agent_id.is_empty() {
        return ().into_any();
    }
    if !run.withheld.is_empty() {
        let edit = format!("/orchestrator?execute={}&from={}", percent_encode(&run.agent_id), run.run_id);
        return view! { <a href=edit title="Its secret inputs were not kept: enter them again">"Re-run…"</a> }
            .into_any();
    }
    let run_id = run.run_id.clone();
    // This row's failure, if the page's last re-run was of this run.
    let error = {
        let id = run_id.clone();
        move || rerun.value().get().and_then(|(of, result)| (of == id).then_some(result)?.err()).map(|e| e.message)
    };
    view! {
        <button type="button" class="small" data-testid="row-rerun" disabled=move || rerun.pending().get()
            on:click=move |_| { rerun.dispatch(run_id.clone()); }>"Re-run"</button>
        {move || error().map(|m| view! { <div class="field-error" role="alert">{m}</div> })}
    }
    .into_any()
}
