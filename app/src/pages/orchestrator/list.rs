//! The agent list: one page of agents (search, state filter and page number in the URL),
//! the counts by state on top, rendered by the server with the page. In the browser it
//! follows the live stream: a health event patches its row and the counts in place; a
//! registration or removal elsewhere refetches the page. While the stream is not live
//! the page asks every few seconds instead, and a request that fails says so on the page
//! instead of showing stale state silently.

use super::store::{AgentRow, AgentStore};
use super::REFRESH_INTERVAL_SECS;
use crate::api::{agent_overview, remove_agent};
use crate::components::clock::RelativeTime;
use crate::components::uptime::UptimeBarView;
use crate::error::ErrorCode;
use crate::live::use_live;
use crate::model::events::LiveEvent;
use crate::model::{percent_encode, AgentQuery, HealthState};
use crate::time::now_ms;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use std::time::Duration;

/// Agents on one page.
pub const PAGE_SIZE: u64 = 50;

/// The page's address keeping the list's search, filter and page from the URL's query,
/// with the Execute panel open for `execute` (or closed).
pub fn href_keeping_list(params: &leptos_router::params::ParamsMap, execute: Option<&str>) -> String {
    let state = params.get("state").and_then(|s| HealthState::parse(&s));
    let page = params.get("page").and_then(|n| n.parse::<u64>().ok()).unwrap_or(1);
    let base = list_href(params.get("q").as_deref().filter(|q| !q.trim().is_empty()), state, page);
    match execute {
        Some(id) => format!("{base}{}execute={}", if base.contains('?') { '&' } else { '?' }, percent_encode(id)),
        None => base,
    }
}

/// The page's own address for a search, a state filter and a page number.
fn list_href(q: Option<&str>, state: Option<HealthState>, page: u64) -> String {
    let page = (page > 1).then(|| page.to_string());
    let parts: Vec<String> = [("q", q), ("state", state.map(HealthState::as_str)), ("page", page.as_deref())]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", percent_encode(v))))
        .collect();
    if parts.is_empty() {
        "/orchestrator".to_owned()
    } else {
        format!("/orchestrator?{}", parts.join("&"))
    }
}

#[component]
pub fn AgentList(store: AgentStore) -> impl IntoView {
    let live = use_live();
    let params = use_query_map();
    let q = Memo::new(move |_| params.with(|p| p.get("q").map(|q| q.trim().to_owned()).filter(|q| !q.is_empty())));
    let state = Memo::new(move |_| params.with(|p| p.get("state").and_then(|s| HealthState::parse(&s))));
    let page = Memo::new(move |_| params.with(|p| p.get("page").and_then(|n| n.parse::<u64>().ok())).unwrap_or(1).max(1));
    let query = Memo::new(move |_| AgentQuery {
        q: q.get(),
        state: state.get(),
        limit: Some(PAGE_SIZE),
        offset: Some((page.get() - 1) * PAGE_SIZE),
    });
    // The first view, rendered with the page; later ones (another page, a search, a
    // resync) come from `request`, which patches the same table instead of building a
    // new one.
    let initial = Resource::new(|| (), move |_| agent_overview(query.get_untracked()));

    // The newest request's number, and since when a request has been unanswered.
    let latest = StoredValue::new(0u64);
    let pending_since = StoredValue::new(None::<f64>);
    let interval_ms = REFRESH_INTERVAL_SECS as f64 * 1000.0;

    // Fetches the view for the current query now; an older request still out is ignored.
    let request = move || {
        let seq = latest.get_value() + 1;
        latest.set_value(seq);
        pending_since.set_value(Some(now_ms()));
        let generation = store.generation();
        let asked = query.get_untracked();
        spawn_local(async move {
            let result = agent_overview(asked.clone()).await;
            // Left the page meanwhile, or a newer request superseded this one.
            if latest.is_disposed() || latest.get_value() != seq {
                return;
            }
            pending_since.set_value(None);
            match result {
                // A view read before a local register/remove, or for another page of the
                // list, would undo what is shown: skip it, the next one is current.
                Ok(overview) if store.generation() == generation && query.get_untracked() == asked => {
                    store.apply_overview(overview);
                    store.set_refresh_error(None);
                }
                Ok(_) => store.set_refresh_error(None),
                Err(e) => store.set_refresh_error(Some(e.message)),
            }
        });
    };
    // Polling (while the stream is down): one request at a time, and one that hangs is
    // reported rather than waited on silently.
    let reload = move || {
        if let Some(since) = pending_since.get_value() {
            let now = now_ms();
            // Reported at the second tick after the request (1.5 keeps timer jitter from
            // pushing that to the third).
            if now - since < 1.5 * interval_ms {
                return;
            }
            let waited = ((now - since) / 1000.0) as u64;
            store.set_refresh_error(Some(format!("no answer from the dashboard server for {waited} s")));
        }
        request();
    };
    // Another page, search or filter in the URL.
    Effect::new(move |previous: Option<AgentQuery>| {
        let now = query.get();
        if previous.is_some_and(|p| p != now) {
            request();
        }
        now
    });
    // Bursts of registrations or removals elsewhere cost one request.
    let reload_pending = StoredValue::new(false);
    let reload_soon = move || {
        if !reload_pending.get_value() {
            reload_pending.set_value(true);
            set_timeout(
                move || {
                    if !reload_pending.is_disposed() {
                        reload_pending.set_value(false);
                        request();
                    }
                },
                Duration::from_millis(300),
            );
        }
    };
    live.subscribe(move |event| match event {
        LiveEvent::AgentHealth(change) => {
            // A listed agent changed state: its uptime figure comes with the next view
            // (state changes are rare next to the checks themselves). So does the list
            // when an agent entered or left the state it is filtered by.
            let listed_moved = store.apply_health(change);
            let to = change.health.state;
            let filter_moved = state.get_untracked().is_some_and(|f| {
                change.previous.is_some_and(|from| from != to && (from == f || to == f))
            });
            if listed_moved || filter_moved {
                reload_soon();
            }
        }
        // The counts, and which agents this page holds, may have changed.
        LiveEvent::AgentUpserted(agent) => {
            store.patch(agent);
            reload_soon();
        }
        LiveEvent::AgentRemoved(gone) => {
            store.remove(&gone.agent_id);
            reload_soon();
        }
        LiveEvent::Resync => request(),
        LiveEvent::RunUpdated(_) | LiveEvent::RunRemoved(_) => {}
    });
    // Polling only while the stream is not live.
    Effect::new(move |_| {
        let tick = move || {
            if !live.is_live() {
                reload();
            }
        };
        if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(REFRESH_INTERVAL_SECS)) {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <section class="card agents" aria-labelledby="agents-title">
            <div class="card-title">
                <h2 id="agents-title">"Registered agents"</h2>
                <span class="muted">{move || if live.state() == crate::live::LinkState::Live {
                    "updated as it happens".to_owned()
                } else {
                    format!("refreshes every {REFRESH_INTERVAL_SECS} s")
                }}</span>
            </div>
            {move || store.refresh_error().map(|e| view! {
                <p class="notice error" role="alert" data-testid="refresh-error">
                    {format!("Showing the last known state: {e}. Retrying every {REFRESH_INTERVAL_SECS} s.")}
                </p>
            })}
            <Suspense fallback=|| view! { <p class="muted">"Loading agents…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(overview) => {
                            store.apply_overview(overview);
                            store.set_refresh_error(None);
                        }
                        Err(e) => store.set_refresh_error(Some(e.message)),
                    }
                    // Rendered once the view is in the store, on the server as in the
                    // browser: hydration must find the same counts and pager.
                    view! {
                        <Summary store state/>
                        <Search q/>
                        <AgentTable store filtered=Signal::derive(move || q.get().is_some() || state.get().is_some()) q state page/>
                        <Pager store q state page/>
                    }
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

/// Counts by state, each a link that filters the list to it.
#[component]
fn Summary(store: AgentStore, state: Memo<Option<HealthState>>) -> impl IntoView {
    let item = move |filter: Option<HealthState>, label: &'static str| {
        let count = move || match filter {
            Some(s) => store.summary.with(|c| c.get(s)),
            None => store.summary.with(|c| c.total()),
        };
        let class = filter.map_or("all", HealthState::as_str);
        view! {
            <a class=format!("summary-item {class}") href=list_href(None, filter, 1)
                aria-current=move || (state.get() == filter).then_some("true")
                data-testid=format!("summary-{class}")>
                <span class="count">{count}</span>
                <span class="label">{label}</span>
            </a>
        }
    };
    view! {
        <nav class="summary" aria-label="Agents by state">
            {item(None, "all")}
            {item(Some(HealthState::Healthy), "healthy")}
            {item(Some(HealthState::Failing), "failing")}
            {item(Some(HealthState::Unhealthy), "unhealthy")}
            {item(Some(HealthState::Unknown), "not checked")}
        </nav>
    }
}

/// Search by ID, name or URL; the list follows as you type (the text goes in the URL).
#[component]
fn Search(q: Memo<Option<String>>) -> impl IntoView {
    let navigate = use_navigate();
    let params = use_query_map();
    let typed = StoredValue::new(0u64);
    let go = move |text: String| {
        let state = params.with_untracked(|p| p.get("state").and_then(|s| HealthState::parse(&s)));
        let text = text.trim().to_owned();
        let href = list_href((!text.is_empty()).then_some(text.as_str()), state, 1);
        navigate(&href, NavigateOptions { replace: true, scroll: false, ..Default::default() });
    };
    let on_input = {
        let go = go.clone();
        move |ev: leptos::ev::Event| {
            let text = event_target_value(&ev);
            let n = typed.get_value() + 1;
            typed.set_value(n);
            let go = go.clone();
            // After a pause in typing, not at every key.
            set_timeout(
                move || {
                    if !typed.is_disposed() && typed.get_value() == n {
                        go(text);
                    }
                },
                Duration::from_millis(250),
            );
        }
    };
    view! {
        <form class="agent-search" role="search" on:submit=move |ev| ev.prevent_default()>
            <label for="agent-search" class="visually-hidden">"Search agents"</label>
            <input id="agent-search" type="search" name="q" placeholder="Search by ID, name or URL"
                autocomplete="off" prop:value=move || q.get().unwrap_or_default() on:input=on_input/>
        </form>
    }
}

/// "Showing 51–100 of 230" with Previous / Next.
#[component]
fn Pager(store: AgentStore, q: Memo<Option<String>>, state: Memo<Option<HealthState>>, page: Memo<u64>) -> impl IntoView {
    let pages = move || store.total.get().div_ceil(PAGE_SIZE).max(1);
    let href = move |n: u64| list_href(q.get().as_deref(), state.get(), n);
    view! {
        <Show when=move || { store.total.get() > 0 && store.rows().with(|r| !r.is_empty()) }>
            <div class="pager" data-testid="agent-pager">
                <span class="muted">{move || {
                    let first = (page.get() - 1) * PAGE_SIZE + 1;
                    let last = (page.get() * PAGE_SIZE).min(store.total.get());
                    format!("Showing {first}–{last} of {}", store.total.get())
                }}</span>
                <Show when=move || { page.get() > 1 }>
                    <a class="button small" href=move || href(page.get() - 1) rel="prev">"Previous"</a>
                </Show>
                <Show when=move || { page.get() < pages() }>
                    <a class="button small" href=move || href(page.get() + 1) rel="next">"Next"</a>
                </Show>
            </div>
        </Show>
    }
}

/// The table, or the empty state; rendered once the first view is in the store.
#[component]
fn AgentTable(
    store: AgentStore,
    filtered: Signal<bool>,
    q: Memo<Option<String>>,
    state: Memo<Option<HealthState>>,
    page: Memo<u64>,
) -> impl IntoView {
    view! {
        <Show when=move || store.rows().with(Vec::is_empty) && store.refresh_error().is_none()>
            <Show when=move || !filtered.get() && store.summary.with(|s| s.total()) == 0 && page.get() == 1 fallback=move || {
                let pages = store.total.get().div_ceil(PAGE_SIZE);
                if store.total.get() > 0 && page.get() > pages {
                    view! {
                        <p class="empty muted" data-testid="agents-past-end">
                            {format!("Page {} is past the end of the list. ", page.get())}
                            <a href=list_href(q.get().as_deref(), state.get(), pages)>{format!("Go to page {pages}")}</a>
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
                <thead>
                    <tr>
                        <th scope="col">"Health"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"URL"</th>
                        <th scope="col">"Last 24 h"</th>
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
    let bar = {
        let id = agent_id.clone();
        Memo::new(move |_| store.bars.with(|b| b.get(&id).cloned()))
    };
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
    let detail = format!("/agents/{}", percent_encode(&agent_id));
    let params = use_query_map();
    let execute_href = {
        let id = agent_id.clone();
        move || params.with(|p| href_keeping_list(p, Some(&id)))
    };
    view! {
        <tr data-agent-id=agent_id.clone() data-health=move || state.get().as_str()>
            <td class="health" data-label="Health">
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
            <td class="who" data-label="Agent">
                <div class="name"><a href=detail.clone()>{move || data.with(|d| d.agent_name.clone())}</a></div>
                <div class="id"><code>{agent_id.clone()}</code></div>
                {move || data.with(|d| d.description().map(str::to_owned)).map(|t| view! { <div class="muted description">{t}</div> })}
            </td>
            <td class="url" data-label="URL"><code>{move || data.with(|d| d.agent_url.clone())}</code></td>
            <td class="uptime" data-label="Last 24 h">
                <a href=detail class="uptime-link" aria-label=format!("Health history of {agent_id}")>
                    <UptimeBarView bar=Signal::derive(move || bar.get()) current=Signal::derive(move || state.get())/>
                </a>
            </td>
            <td class="checked" data-label="Last checked">
                <RelativeTime at=checked_at fallback="never"/>
                {move || data.with(|d| d.health.latency_ms).map(|ms| view! { <div class="muted latency">{format!("{ms} ms")}</div> })}
            </td>
            <td class="row-actions">
                <a class="button small primary" href=execute_href aria-label=format!("Execute {agent_id}")>"Execute"</a>
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_search_and_the_filter() {
        assert_eq!(list_href(None, None, 1), "/orchestrator");
        assert_eq!(list_href(Some("a b"), Some(HealthState::Unhealthy), 3), "/orchestrator?q=a%20b&state=unhealthy&page=3");
        assert_eq!(list_href(None, Some(HealthState::Healthy), 1), "/orchestrator?state=healthy");
        let mut params = leptos_router::params::ParamsMap::new();
        params.insert("state", "failing".into());
        params.insert("execute", "old".into());
        assert_eq!(href_keeping_list(&params, Some("a b")), "/orchestrator?state=failing&execute=a%20b");
        assert_eq!(href_keeping_list(&params, None), "/orchestrator?state=failing");
        assert_eq!(href_keeping_list(&leptos_router::params::ParamsMap::new(), Some("x")), "/orchestrator?execute=x");
    }
}
