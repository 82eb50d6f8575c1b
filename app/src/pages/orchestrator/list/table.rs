//! The table of agents (or the empty state), one keyed row per agent: its state and
//! reason, name, URL, uptime bar, last check and actions.

use super::super::store::{AgentRow, AgentStore};
use super::bulk::{SelectAll, Selection};
use super::controls::{href_keeping_list, keeping_panel, list_href, PAGE_SIZE};
use crate::api::remove_agent;
use crate::components::clock::{LastChecked, RelativeTime};
use crate::components::copy::CopyButton;
use crate::components::uptime::UptimeBarView;
use crate::components::url_text::UrlText;
use crate::error::ErrorCode;
use crate::model::{percent_encode, AgentState, Expiry, HealthState, ListedAgent};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

/// The table, or the empty state; rendered once the first view is in the store.
#[component]
pub(super) fn AgentTable(
    store: AgentStore,
    selection: Selection,
    filtered: Signal<bool>,
    q: Memo<Option<String>>,
    state: Memo<Option<AgentState>>,
    page: Memo<u64>,
) -> impl IntoView {
    let params = use_query_map();
    let removal = Removal::new(store);
    view! {
        <Show when=move || store.rows().with(Vec::is_empty) && store.refresh_error().is_none()>
            <Show when=move || !filtered.get() && store.summary.with(|s| s.total()) == 0 && page.get() == 1 fallback=move || {
                let pages = store.total.get().div_ceil(PAGE_SIZE);
                if store.total.get() > 0 && page.get() > pages {
                    view! {
                        <p class="empty muted" data-testid="agents-past-end">
                            {format!("Page {} is past the end of the list. ", page.get())}
                            <a href=params.with(|p| keeping_panel(list_href(q.get().as_deref(), state.get(), pages), |k| p.get(k)))>{format!("Go to page {pages}")}</a>
                        </p>
                    }.into_any()
                } else {
                    view! { <p class="empty muted" data-testid="agents-none-match">"No agents match this search or filter."</p> }.into_any()
                }
            }>
                <div class="empty" data-testid="agents-empty">
                    <p><strong>"No agents registered yet."</strong></p>
                    <p class="muted">
                        "Start the reference agent with " <code>"configurable-agents test-agent"</code>
                        " and register it at " <code>"http://127.0.0.1:8002"</code> "."
                    </p>
                </div>
            </Show>
        </Show>
        <Show when=move || store.rows().with(|r| !r.is_empty())>
            <table class="agent-table" data-testid="agent-table">
                // Fixed widths for the columns whose text changes with the agent's state, so
                // the table keeps its width as states change.
                <colgroup>
                    <col class="col-select"/><col class="col-health"/><col class="col-agent"/><col class="col-url"/>
                    <col class="col-uptime"/><col class="col-checked"/><col class="col-actions"/>
                </colgroup>
                <thead>
                    <tr>
                        <th scope="col" class="select"><SelectAll store selection/></th>
                        <th scope="col">"Health"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"URL"</th>
                        <th scope="col">"Last 24 h"</th>
                        <th scope="col" title="When each agent was last checked, and how long its answer took">"Last checked"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || store.rows().get() key=|row| row.id.get_value() let:row>
                        <AgentRowView row store selection removal params/>
                    </For>
                </tbody>
            </table>
        </Show>
    }
    .into_any()
}

#[component]
fn AgentRowView(
    row: AgentRow,
    store: AgentStore,
    selection: Selection,
    removal: Removal,
    params: Memo<ParamsMap>,
) -> impl IntoView {
    let data = row.data;
    let agent_id = row.id.get_value();
    let state = Memo::new(move |_| data.with(|d| d.health.state));
    // Expired or deregistered: shown instead of the health it last had.
    let expiry = Memo::new(move |_| data.with(|d| d.expired));
    let checked_at = Signal::derive(move || data.with(|d| d.health.checked_at.clone()));
    let bar = {
        let id = agent_id.clone();
        Memo::new(move |_| store.bars.with(|b| b.get(&id).cloned()))
    };
    let detail = format!("/agents/{}", percent_encode(&agent_id));
    view! {
        // Focusable by script (j/k, components/shortcuts.rs), not in the Tab order.
        <tr data-agent-id=agent_id.clone() tabindex="-1"
            data-health=move || if expiry.get().is_some() { "expired" } else { state.get().as_str() }>
            <td class="select">
                <input type="checkbox" aria-label=format!("Choose {agent_id}") prop:checked={
                    let id = agent_id.clone();
                    move || selection.is_chosen(&id)
                } on:click={
                    let id = agent_id.clone();
                    move |ev: leptos::ev::MouseEvent| selection.set(store, &id, event_target_checked(&ev), ev.shift_key())
                }/>
            </td>
            <td class="health">
                <HealthCell data expiry state/>
            </td>
            <td class="who">
                <div class="name"><a href=detail.clone() title=move || data.with(|d| d.agent_name.clone())>{move || data.with(|d| d.agent_name.clone())}</a></div>
                <div class="id"><code>{agent_id.clone()}</code></div>
                {move || data.with(|d| d.description.clone()).map(|t| view! { <div class="muted description">{t}</div> })}
            </td>
            <td class="url">
                <UrlText url=Signal::derive(move || data.with(|d| d.agent_url.clone()))/>
                <CopyButton text=Signal::derive(move || data.with(|d| d.agent_url.clone())) label=format!("Copy the URL of {agent_id}")/>
            </td>
            <td class="uptime">
                <a href=detail class="uptime-link" aria-label=format!("Health history of {agent_id}")>
                    <UptimeBarView bar=Signal::derive(move || bar.get()) current=Signal::derive(move || state.get())/>
                </a>
            </td>
            <td class="checked">
                <LastChecked at=checked_at interval_seconds=Signal::derive(move || data.with(|d| d.health.interval_seconds))/>
                // No answer has no latency: "—", never "0 ms".
                {move || data.with(|d| d.health.checked_at.is_some().then_some(d.health.latency_ms)).map(|ms| view! {
                    <div class="muted latency" title=ms.is_none().then_some("no answer")>
                        {ms.map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms"))}
                    </div>
                })}
            </td>
            <RowActions agent_id=agent_id.clone() removal params/>
        </tr>
    }
}

/// The agent's state and why, or that it expired (shown instead of the health it last had).
#[component]
fn HealthCell(data: RwSignal<ListedAgent>, expiry: Memo<Option<Expiry>>, state: Memo<HealthState>) -> impl IntoView {
    let reason = Memo::new(move |_| data.with(|d| d.health.reason.clone()));
    let last_heartbeat = Signal::derive(move || data.with(|d| d.last_heartbeat.clone()));
    move || match expiry.get() {
        Some(why) => view! {
            <span class="badge expired">{match why {
                Expiry::Ttl => "○ expired",
                Expiry::Deregistered => "○ deregistered",
            }}</span>
            <div class="reason muted" data-testid="expiry">
                "last heartbeat " <RelativeTime at=last_heartbeat fallback="never"/>
            </div>
        }
        .into_any(),
        None => view! {
            <span class=move || format!("badge {}", state.get().as_str())>
                {move || match state.get() {
                    HealthState::Healthy => "● healthy".to_owned(),
                    HealthState::Failing => format!("● {}", data.with(|d| d.health.label())),
                    HealthState::Unhealthy => "● unhealthy".to_owned(),
                    HealthState::Unknown => "○ not checked yet".to_owned(),
                }}
            </span>
            {move || reason.get().map(|r| view! { <div class="reason" data-testid="health-reason">{r}</div> })}
        }
        .into_any(),
    }
}

/// Removing one agent from its row, for the whole table: one action, the row asking to
/// confirm (one at a time) and the last failure with its row. Each row had its own action,
/// two signals and an effect: 50 rows a page, each built on the server and hydrated.
#[derive(Clone, Copy)]
struct Removal {
    asking: RwSignal<Option<String>>,
    failed: RwSignal<Option<(String, String)>>,
    action: Action<String, ()>,
}

impl Removal {
    fn new(store: AgentStore) -> Self {
        let asking = RwSignal::new(None::<String>);
        let failed = RwSignal::new(None::<(String, String)>);
        // The outcome is applied by the action itself: two rows removed at once each get
        // theirs (an action's `value` keeps only the last).
        let action = Action::new(move |id: &String| {
            let id = id.clone();
            async move {
                let result = remove_agent(id.clone()).await;
                // Left the page meanwhile: nothing is shown to update.
                if asking.is_disposed() {
                    return;
                }
                match result {
                    Ok(()) => store.remove(&id),
                    // Gone already (removed elsewhere meanwhile): gone all the same.
                    Err(e) if e.code == ErrorCode::NotFound => store.remove(&id),
                    Err(e) => {
                        if asking.get_untracked().as_deref() == Some(id.as_str()) {
                            asking.set(None);
                        }
                        failed.set(Some((id, e.message)));
                    }
                }
            }
        });
        Self { asking, failed, action }
    }

    /// Whether this row asks "Remove this agent?" (tracked).
    fn is_asking(&self, id: &str) -> bool {
        self.asking.with(|a| a.as_deref() == Some(id))
    }

    /// Why this row's last removal failed (tracked).
    fn failure(&self, id: &str) -> Option<String> {
        self.failed.with(|f| f.as_ref().filter(|(of, _)| of == id).map(|(_, e)| e.clone()))
    }

    /// This row asks to confirm, its last failure cleared.
    fn ask(&self, id: &str) {
        if self.failed.with_untracked(|f| f.as_ref().is_some_and(|(of, _)| of == id)) {
            self.failed.set(None);
        }
        self.asking.set(Some(id.to_owned()));
    }

    /// Whether this row's removal is on its way (tracked).
    fn in_flight(&self, id: &str) -> bool {
        self.action.input().with(|i| i.as_deref() == Some(id))
    }
}

/// Execute, and Remove asked once on the row.
#[component]
fn RowActions(agent_id: String, removal: Removal, params: Memo<ParamsMap>) -> impl IntoView {
    let execute_href = {
        let id = agent_id.clone();
        move || params.with(|p| href_keeping_list(|k| p.get(k), Some(&id)))
    };
    let id = StoredValue::new(agent_id.clone());
    view! {
        <td class="row-actions">
            <a class="button small primary" href=execute_href aria-label=format!("Execute {agent_id}")>"Execute"</a>
            <Show when=move || id.with_value(|id| removal.is_asking(id)) fallback=move || view! {
                <button type="button" class="small" on:click=move |_| id.with_value(|id| removal.ask(id))>"Remove"</button>
            }>
                <span class="confirm">
                    "Remove this agent? "
                    <button type="button" class="small danger"
                        disabled=move || id.with_value(|id| removal.in_flight(id))
                        on:click=move |_| { removal.action.dispatch(id.get_value()); }>"Confirm remove"</button>
                    <button type="button" class="small" on:click=move |_| removal.asking.set(None)>"Cancel"</button>
                </span>
            </Show>
            {move || id.with_value(|id| removal.failure(id)).map(|e| view! { <div class="field-error">{e}</div> })}
        </td>
    }
}
