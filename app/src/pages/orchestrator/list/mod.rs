//! The agent list: one page of agents (search, state filter and page number in the URL),
//! the counts by state on top, rendered by the server with the page. In the browser it
//! follows the live stream: a health event patches its row and the counts in place; a
//! registration or removal elsewhere refetches the page. While the stream is not live
//! the page asks every few seconds instead, and a request that fails says so on the page
//! instead of showing stale state silently. `controls` holds the counts, the search and
//! the pager; `table` the rows.

mod bulk;
mod carried;
mod controls;
mod table;

use super::store::AgentStore;
use super::REFRESH_INTERVAL_SECS;
use crate::api::agent_overview;
use crate::live::{coalesced, use_live, Live};
use crate::model::events::LiveEvent;
use crate::model::{AgentQuery, AgentState};
use crate::time::now_ms;
use bulk::{BulkBar, Selection};
pub use controls::href_keeping_list;
use controls::{Pager, Search, Summary, PAGE_SIZE};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use std::time::Duration;
use table::AgentTable;

#[component]
pub fn AgentList(store: AgentStore) -> impl IntoView {
    let live = use_live();
    let params = use_query_map();
    let q = Memo::new(move |_| params.with(|p| p.get("q").map(|q| q.trim().to_owned()).filter(|q| !q.is_empty())));
    let state = Memo::new(move |_| params.with(|p| p.get("state").and_then(|s| AgentState::parse(&s))));
    let page =
        Memo::new(move |_| params.with(|p| p.get("page").and_then(|n| n.parse::<u64>().ok())).unwrap_or(1).max(1));
    let query = Memo::new(move |_| AgentQuery {
        q: q.get(),
        state: state.get(),
        limit: Some(PAGE_SIZE),
        offset: Some((page.get() - 1) * PAGE_SIZE),
        include_dead: None,
    });
    // The first view, rendered with the page; later ones (another page, a search, a
    // resync) come from `request`, which patches the same table instead of building a
    // new one.
    let selection = Selection::new(store);
    // Carried to the browser compactly (`carried`): it sits in the page beside its rows.
    let initial = Resource::new(
        || (),
        move |_| {
            let asked = query.get_untracked();
            async move { agent_overview(asked).await.map(carried::Carried) }
        },
    );

    let (request, reload) = list_requests(store, query);
    // Another page, search or filter in the URL.
    Effect::new(move |previous: Option<AgentQuery>| {
        let now = query.get();
        if previous.is_some_and(|p| p != now) {
            request();
        }
        now
    });
    follow_live(live, store, state, request);
    live.poll_while_down(Duration::from_secs(REFRESH_INTERVAL_SECS), reload);

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
            <ListNotices store/>
            <Suspense fallback=|| view! { <p class="muted">"Loading agents…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(carried::Carried(overview)) => {
                            store.apply_overview(overview);
                            store.set_refresh_error(None);
                        }
                        Err(e) => store.set_refresh_error(Some(e.message)),
                    }
                    // Rendered once the view is in the store, on the server as in the
                    // browser: hydration must find the same counts and pager.
                    view! {
                        <Dashboards nodes=store.nodes/>
                        <Summary store q state/>
                        <Search q/>
                        <BulkBar store selection/>
                        <AgentTable store selection filtered=Signal::derive(move || q.get().is_some() || state.get().is_some()) q state page/>
                        <Pager store q state page/>
                    }
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

/// The dashboards sharing the database, when there are several: which one answered, and
/// how many agents each checks.
#[component]
fn Dashboards(nodes: RwSignal<Vec<crate::model::NodeStatus>>) -> impl IntoView {
    move || {
        nodes.with(|nodes| {
            (nodes.len() > 1).then(|| {
                let live = nodes.iter().filter(|n| n.live).count();
                let parts: Vec<String> = nodes
                    .iter()
                    .map(|n| match (n.live, n.this) {
                        (true, true) => format!("{} (this one, checks {})", n.address, n.agents_checked),
                        (true, false) => format!("{} (checks {})", n.address, n.agents_checked),
                        (false, _) => format!("{} (gone)", n.address),
                    })
                    .collect();
                view! {
                    <p class="muted" data-testid="dashboards">
                        {format!(
                            "{live} of {} dashboards live on this database: {}",
                            nodes.len(),
                            parts.join(" · "),
                        )}
                    </p>
                }
            })
        })
    }
}

/// Fetches the view for the list's query: `request` now (an older request still out is
/// ignored), `reload` for polling (one request at a time, and one that hangs is
/// reported rather than waited on silently).
fn list_requests(
    store: AgentStore,
    query: Memo<AgentQuery>,
) -> (impl Fn() + Copy + 'static, impl Fn() + Copy + 'static) {
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
    (request, reload)
}

/// The live stream's events for the list: health patches rows and counts in place;
/// registrations and removals elsewhere refetch the page (bursts cost one request).
fn follow_live(live: Live, store: AgentStore, state: Memo<Option<AgentState>>, request: impl Fn() + Copy + 'static) {
    let reload_soon = coalesced(Duration::from_millis(300), request);
    live.subscribe(move |event| match event {
        LiveEvent::AgentHealth(change) => {
            // A listed agent changed state: its uptime figure comes with the next view
            // (state changes are rare next to the checks themselves). So does the list
            // when an agent entered or left the state it is filtered by.
            let listed_moved = store.apply_health(change);
            let to = change.health.state;
            let filter_moved = state.get_untracked().is_some_and(|f| {
                change
                    .previous
                    .is_some_and(|from| from != to && (AgentState::from(from) == f || AgentState::from(to) == f))
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
        LiveEvent::SelfPreservation(p) => store.set_preservation(p.clone()),
        LiveEvent::RunUpdated(_) | LiveEvent::RunRemoved(_) => {}
    });
}

/// Why the list may be stale: expiry paused (self-preservation), or the last refresh failed.
#[component]
fn ListNotices(store: AgentStore) -> impl IntoView {
    view! {
    {move || store.self_preservation.with(|p| p.active.then(|| view! {
        <p class="notice warning" role="status" data-testid="self-preservation">
            {format!(
                "Expiry is paused: {} of {} self-registered agents stopped heartbeating together, which looks \
                 like a network problem on the dashboard's side rather than {} agents gone at once. They stay \
                 listed as they were until their heartbeats resume, or for at most the self-preservation time.",
                p.silent, p.alive, p.silent
            )}
        </p>
    }))}
    {move || store.refresh_error().map(|e| view! {
        <p class="notice error" role="alert" data-testid="refresh-error">
            {format!("Showing the last known state: {e}. Retrying every {REFRESH_INTERVAL_SECS} s.")}
        </p>
    })}
    }
}
