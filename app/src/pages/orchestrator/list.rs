//! The agent list: rendered by the server with the page, then refreshed in the browser at
//! a fixed interval. A refresh that fails says so on the page instead of showing stale
//! state silently.

use super::store::{AgentRow, AgentStore};
use super::REFRESH_INTERVAL_SECS;
use crate::api::{list_agents, remove_agent};
use crate::components::clock::RelativeTime;
use crate::error::ErrorCode;
use crate::model::HealthState;
use crate::time::now_ms;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;

#[component]
pub fn AgentList(store: AgentStore) -> impl IntoView {
    let initial = Resource::new(|| (), |_| list_agents());
    // The newest request's number, and since when a request has been unanswered.
    let latest = StoredValue::new(0u64);
    let pending_since = StoredValue::new(None::<f64>);
    let interval_ms = REFRESH_INTERVAL_SECS as f64 * 1000.0;

    let refresh = move || {
        let now = now_ms();
        if let Some(since) = pending_since.get_value() {
            // Reported at the second tick after the request (1.5 keeps timer jitter from
            // pushing that to the third).
            if now - since < 1.5 * interval_ms {
                return;
            }
            // A request that never settles must not stop the refreshes silently.
            let waited = ((now - since) / 1000.0) as u64;
            store.set_refresh_error(Some(format!("no answer from the dashboard server for {waited} s")));
        }
        let seq = latest.get_value() + 1;
        latest.set_value(seq);
        pending_since.set_value(Some(now));
        let generation = store.generation();
        spawn_local(async move {
            let result = list_agents().await;
            // Left the page meanwhile, or a newer request superseded this one.
            if latest.is_disposed() || latest.get_value() != seq {
                return;
            }
            pending_since.set_value(None);
            match result {
                // A list read before a local register/remove would undo it: skip it,
                // the next refresh brings the current state.
                Ok(agents) if store.generation() == generation => {
                    store.apply(agents);
                    store.set_refresh_error(None);
                }
                Ok(_) => store.set_refresh_error(None),
                Err(e) => store.set_refresh_error(Some(e.message)),
            }
        });
    };
    Effect::new(move |_| {
        if let Ok(handle) =
            set_interval_with_handle(refresh, Duration::from_secs(REFRESH_INTERVAL_SECS))
        {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <section class="card agents" aria-labelledby="agents-title">
            <div class="card-title">
                <h2 id="agents-title">"Registered agents"</h2>
                <span class="muted">{format!("refreshes every {REFRESH_INTERVAL_SECS} s")}</span>
            </div>
            {move || store.refresh_error().map(|e| view! {
                <p class="notice error" role="alert" data-testid="refresh-error">
                    {format!("Showing the last known state: {e}. Retrying every {REFRESH_INTERVAL_SECS} s.")}
                </p>
            })}
            <Suspense fallback=|| view! { <p class="muted">"Loading agents…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(agents) => {
                            store.apply(agents);
                            store.set_refresh_error(None);
                        }
                        Err(e) => store.set_refresh_error(Some(e.message)),
                    }
                    view! { <AgentTable store/> }
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

/// The table, or the empty state; rendered once the first list is in the store.
#[component]
fn AgentTable(store: AgentStore) -> impl IntoView {
    view! {
        <Show when=move || store.rows().with(Vec::is_empty) && store.refresh_error().is_none()>
            <div class="empty" data-testid="agents-empty">
                <p><strong>"No agents registered yet."</strong></p>
                <p class="muted">
                    "Start the reference agent with " <code>"configurable-agents test-agent"</code>
                    " and register it at " <code>"http://127.0.0.1:8002"</code> "."
                </p>
            </div>
        </Show>
        <Show when=move || store.rows().with(|r| !r.is_empty())>
            <table class="agent-table" data-testid="agent-table">
                <thead>
                    <tr>
                        <th scope="col">"Health"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"URL"</th>
                        <th scope="col">"Last checked"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || store.rows().get() key=|row| row.id.get_value() let:row>
                        <AgentRowView row store/>
                    </For>
                </tbody>
            </table>
        </Show>
    }
    .into_any()
}

#[component]
fn AgentRowView(row: AgentRow, store: AgentStore) -> impl IntoView {
    let data = row.data;
    let agent_id = row.id.get_value();
    let state = Memo::new(move |_| data.with(|d| d.health.state));
    let reason = Memo::new(move |_| data.with(|d| d.health.reason.clone()));
    let checked_at = Signal::derive(move || data.with(|d| d.health.checked_at.clone()));
    let confirming = RwSignal::new(false);
    let row_error = RwSignal::new(None::<String>);

    let remove = Action::new(move |id: &String| {
        let id = id.clone();
        async move { (id.clone(), remove_agent(id).await) }
    });
    Effect::new(move |_| {
        if let Some((id, result)) = remove.value().get() {
            match result {
                Ok(()) => store.remove(&id),
                Err(e) if e.code == ErrorCode::NotFound => store.remove(&id),
                Err(e) => {
                    confirming.set(false);
                    row_error.set(Some(e.message));
                }
            }
        }
    });

    let id_for_confirm = agent_id.clone();
    view! {
        <tr data-agent-id=agent_id.clone() data-health=move || state.get().as_str()>
            <td class="health">
                <span class=move || format!("badge {}", state.get().as_str())>
                    {move || match state.get() {
                        HealthState::Healthy => "● healthy".to_owned(),
                        HealthState::Failing => format!("● {}", data.with(|d| d.health.label())),
                        HealthState::Unhealthy => "● unhealthy".to_owned(),
                        HealthState::Unknown => "○ not checked yet".to_owned(),
                    }}
                </span>
                {move || reason.get().map(|r| view! { <div class="reason" data-testid="health-reason">{r}</div> })}
            </td>
            <td class="who">
                <div class="name">{move || data.with(|d| d.agent_name.clone())}</div>
                <div class="id"><code>{agent_id.clone()}</code></div>
                {move || data.with(|d| d.description().map(str::to_owned)).map(|t| view! { <div class="muted description">{t}</div> })}
            </td>
            <td class="url"><code>{move || data.with(|d| d.agent_url.clone())}</code></td>
            <td class="checked">
                <RelativeTime at=checked_at fallback="never"/>
                {move || data.with(|d| d.health.latency_ms).map(|ms| view! { <div class="muted">{format!("{ms} ms")}</div> })}
            </td>
            <td class="row-actions">
                <a class="button small primary" href=format!("/orchestrator?execute={agent_id}")
                    aria-label=format!("Execute {agent_id}")>"Execute"</a>
                <Show when=move || confirming.get() fallback=move || view! {
                    <button type="button" class="small" on:click=move |_| { row_error.set(None); confirming.set(true) }>"Remove"</button>
                }>
                    <span class="confirm">
                        "Remove this agent? "
                        <button type="button" class="small danger" disabled=move || remove.pending().get()
                            on:click={
                                let id = id_for_confirm.clone();
                                move |_| { remove.dispatch(id.clone()); }
                            }>"Confirm remove"</button>
                        <button type="button" class="small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </span>
                </Show>
                {move || row_error.get().map(|e| view! { <div class="field-error">{e}</div> })}
            </td>
        </tr>
    }
}
