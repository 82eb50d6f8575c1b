//! `/agents/{agent_id}`: one agent's health over time: its state now (changing by push),
//! the uptime bar and figure for the last day or week, its latency as a chart, and the
//! timeline of state changes with their reasons.

use crate::api::{agent_history, get_agent};
use crate::components::clock::{LastChecked, RelativeTime};
use crate::components::latency_chart::LatencyChart;
use crate::components::uptime::{raise_newest, uptime_text};
use crate::error::ErrorCode;
use crate::live::{one_at_a_time, use_live};
use crate::model::events::LiveEvent;
use crate::model::{percent_encode, AgentView, Expiry, HealthChange, HealthHistory, HealthState};
use crate::pages::not_found::Missing;
use crate::time::parse_rfc3339_ms;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::time::Duration;

/// The two windows offered: a day and a week (what latency rollups keep by default).
const WINDOWS: [(u32, &str); 2] = [(24, "24 hours"), (168, "7 days")];
/// How often the agent is asked for while the event stream is down.
const POLL_SECS: u64 = 5;

#[component]
pub fn AgentPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let agent_id = Memo::new(move |_| params.read().get("agent_id").unwrap_or_default());
    let hours = Memo::new(move |_| {
        let asked = query.read().get("hours").and_then(|h| h.parse::<u32>().ok());
        asked.filter(|h| WINDOWS.iter().any(|(w, _)| w == h)).unwrap_or(24)
    });
    let agent = Resource::new(move || agent_id.get(), get_agent);
    let history = Resource::new(move || (agent_id.get(), hours.get()), |(id, h)| agent_history(id, h));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the agent…"</p> }>
            {move || Suspend::new(async move {
                match agent.await {
                    Ok(found) => view! { <AgentDetails agent=found history hours/> }.into_any(),
                    Err(e) if e.code == ErrorCode::NotFound => {
                        view! {
                            <Missing title="Agent not found" message=e.message href="/orchestrator" link="All agents" testid="agent-missing"/>
                        }.into_any()
                    }
                    Err(e) => view! {
                        <p class="notice error" role="alert">{format!("Could not load the agent: {}", e.message)}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// What the page follows of one agent: its view, whether it is gone, and why the last
/// request failed.
#[derive(Clone, Copy)]
struct Followed {
    data: RwSignal<AgentView>,
    history: Resource<Result<HealthHistory, crate::error::ApiError>>,
    gone: RwSignal<bool>,
    fetch_error: RwSignal<Option<String>>,
}

impl Followed {
    /// The answer to asking for the agent again.
    fn apply(self, result: Result<AgentView, crate::error::ApiError>) {
        match result {
            Ok(fresh) => self.take(fresh),
            Err(e) if e.code == ErrorCode::NotFound => self.gone.set(true),
            Err(e) => self.fetch_error.set(Some(e.message)),
        }
    }

    /// An answer: a pushed check newer than it stays; a new state refetches the history.
    fn take(self, mut fresh: AgentView) {
        self.data.with_untracked(|d| {
            if d.health.checked_at > fresh.health.checked_at {
                fresh.health = d.health.clone();
            }
        });
        if self.data.with_untracked(|d| d != &fresh) {
            if fresh.health.state != self.data.with_untracked(|d| d.health.state) {
                self.history.refetch();
            }
            self.data.set(fresh);
        }
        self.fetch_error.set(None);
    }

    /// The agent's events on the live stream, and polling while it is down.
    fn follow_live(self, id: String, fetch: impl Fn() + Copy + 'static) {
        let live = use_live();
        let (data, history) = (self.data, self.history);
        live.subscribe(move |event| match event {
            LiveEvent::AgentHealth(change) if change.agent_id == id => {
                let moved = data.with_untracked(|d| d.health.state != change.health.state);
                data.update(|d| d.health = change.health.clone());
                // A new state is a new entry in the timeline and a new end of the bar.
                if moved {
                    history.refetch();
                }
            }
            LiveEvent::AgentUpserted(fresh) if fresh.agent_id == id => data.set(fresh.clone()),
            LiveEvent::AgentRemoved(removed) if removed.agent_id == id => self.gone.set(true),
            LiveEvent::Resync => {
                fetch();
                history.refetch();
            }
            _ => {}
        });
        live.poll_while_down(Duration::from_secs(POLL_SECS), fetch);
    }
}

#[component]
fn AgentDetails(
    agent: AgentView,
    history: Resource<Result<HealthHistory, crate::error::ApiError>>,
    hours: Memo<u32>,
) -> impl IntoView {
    let agent_id = agent.agent_id.clone();
    let followed =
        Followed { data: RwSignal::new(agent), history, gone: RwSignal::new(false), fetch_error: RwSignal::new(None) };
    let fetch = {
        let id = StoredValue::new(agent_id.clone());
        let fetch = one_at_a_time(move || get_agent(id.get_value()), move |result| followed.apply(result));
        move || {
            if !followed.gone.get_untracked() {
                fetch();
            }
        }
    };
    followed.follow_live(agent_id.clone(), fetch);
    let Followed { data, gone, fetch_error, .. } = followed;

    let state = Memo::new(move |_| data.with(|d| d.health.state));
    let window_href = {
        let id = percent_encode(&agent_id);
        move |h: u32| format!("/agents/{id}?hours={h}")
    };
    view! {
        <div class="agent-page" data-testid="agent-page" data-health=move || state.get().as_str()>
            <p class="crumbs"><a href="/orchestrator">"Agents"</a>" / "<code>{agent_id.clone()}</code></p>
            <div class="run-head">
                <h1>{move || data.with(|d| d.agent_name.clone())}</h1>
                <span class=move || format!("badge {}", state.get().as_str()) data-testid="agent-health">
                    {move || data.with(|d| d.health.label())}
                </span>
                {move || data.with(|d| d.expired.then_some(d.expiry)).map(|why| view! {
                    <span class="badge expired" data-testid="agent-expired">
                        {if why == Some(Expiry::Deregistered) { "deregistered" } else { "expired" }}
                    </span>
                })}
                <a class="button small primary" href=format!("/orchestrator?execute={}", percent_encode(&agent_id))>"Execute"</a>
                <a class="button small" href=format!("/workflows?agent_id={}", percent_encode(&agent_id))>"Runs"</a>
            </div>
            {move || gone.get().then(|| view! {
                <p class="notice error" role="alert" data-testid="agent-gone">"This agent was removed. " <a href="/orchestrator">"All agents"</a></p>
            })}
            {move || fetch_error.get().map(|e| view! {
                <p class="notice error" role="alert">{format!("Showing the last known state: {e}. Retrying every {POLL_SECS} s.")}</p>
            })}
            <AgentFacts data/>
            <nav class="window-choice" aria-label="Period">
                {WINDOWS.iter().map(|(h, label)| {
                    let h = *h;
                    view! { <a href=window_href(h) aria-current=move || (hours.get() == h).then_some("true")>{*label}</a> }
                }).collect_view()}
            </nav>
            <Transition fallback=|| view! { <p class="muted">"Loading the history…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(h) => view! { <HistoryView history=h current=data.with_untracked(|d| d.health.state)/> }.into_any(),
                        Err(e) => view! { <p class="notice error" role="alert">{format!("Could not load the health history: {}", e.message)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

/// The agent's state, latency, schedule, address, heartbeats and origin.
#[component]
fn AgentFacts(data: RwSignal<AgentView>) -> impl IntoView {
    let field = move |f: fn(&AgentView) -> Option<String>| Signal::derive(move || data.with(f));
    view! {
        <section class="card">
            <dl class="run-facts">
                <dt>"State"</dt>
                <dd>{move || data.with(|d| d.health.label())}
                    {move || data.with(|d| d.health.reason.clone()).map(|r| view! { <div class="reason" data-testid="agent-reason">{r}</div> })}
                </dd>
                <dt>"Latency"</dt><dd>{move || data.with(|d| d.health.latency_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "—".into()))}</dd>
                <dt>"Last checked"</dt><dd><LastChecked at=field(|d| d.health.checked_at.clone()) interval_seconds=Signal::derive(move || data.with(|d| d.health.interval_seconds))/></dd>
                <dt>"Checked every"</dt><dd>{move || data.with(|d| format!("{} s, unhealthy after {} failures in a row", d.health.interval_seconds, d.health.unhealthy_after))}</dd>
                <dt>"URL"</dt><dd class="url"><code>{move || data.with(|d| d.agent_url.clone())}</code>
                    {move || data.with(|d| d.address_note.clone()).map(|n| view! { <div class="reason" data-testid="address-note">{n}</div> })}
                </dd>
                {move || data.with(|d| d.ttl_seconds.is_some() || d.last_heartbeat.is_some()).then(|| view! {
                    <dt>"Heartbeats"</dt>
                    <dd data-testid="agent-liveness">
                        {move || data.with(|d| match (d.expired, d.expiry) {
                            (true, Some(Expiry::Deregistered)) => "deregistered, last heartbeat ".to_owned(),
                            (true, _) => "expired, last heartbeat ".to_owned(),
                            (false, _) => "last heartbeat ".to_owned(),
                        })}
                        <RelativeTime at=field(|d| d.last_heartbeat.clone()) fallback="never"/>
                        {move || data.with(|d| d.ttl_seconds.map(|t| format!(" (expires after {t} s without one)")))}
                    </dd>
                })}
                <dt>"Registered"</dt><dd><RelativeTime at=field(|d| Some(d.registered_at.clone())) fallback="—"/>{move || data.with(|d| format!(" ({})", d.source.as_str().replace('_', " ")))}</dd>
            </dl>
        </section>
    }
}

#[component]
fn HistoryView(history: HealthHistory, current: HealthState) -> impl IntoView {
    let from = parse_rfc3339_ms(&history.from).unwrap_or(0.0);
    let to = parse_rfc3339_ms(&history.to).unwrap_or(from);
    let count = history.segments.len();
    let hours = ((to - from) / 3_600_000.0).round();
    let states = raise_newest(history.segments.iter().map(|s| s.dominant()).collect(), current);
    let blocks = history
        .segments
        .iter()
        .zip(states)
        .map(|(s, state)| {
            let title = format!("{}: up {}", crate::time::relative(to, s.start_ms as f64), uptime_text(s.uptime()));
            view! { <span class=format!("block {}", state.as_str()) title=title></span> }
        })
        .collect_view();
    let mut changes: Vec<HealthChange> = history.changes.clone();
    changes.reverse();
    let none = changes.is_empty();
    let before = history.initial.clone();
    view! {
        <section class="card" data-testid="agent-uptime">
            <h2>"Uptime"</h2>
            <p class="uptime-headline"><strong data-testid="uptime-figure">{uptime_text(history.uptime)}</strong>
                {format!(" of the checked time over the last {hours} h ({count} blocks, oldest on the left)")}</p>
            <div class="uptime-bar wide"><span class="blocks">{blocks}</span></div>
        </section>
        <section class="card">
            <h2>"Latency"</h2>
            <LatencyChart buckets=history.latency.clone() from_ms=from to_ms=to bucket_ms=history.bucket_seconds as f64 * 1000.0/>
        </section>
        <section class="card">
            <h2>"State changes"</h2>
            <ol class="timeline" data-testid="health-timeline">
                {changes.into_iter().map(|c| view! { <TimelineItem change=c/> }).collect_view()}
            </ol>
            {none.then(|| view! { <p class="muted">"No state changes in this period."</p> })}
            {before.map(|b| view! {
                <p class="muted">{format!("Before it: {}", state_name(b.state))}
                    {b.reason.map(|r| format!(" ({r})"))}", since "<RelativeTime at=Signal::derive(move || Some(b.at.clone())) fallback="—"/></p>
            })}
        </section>
    }
}

fn state_name(state: HealthState) -> &'static str {
    match state {
        HealthState::Unknown => "not checked",
        other => other.as_str(),
    }
}

#[component]
fn TimelineItem(change: HealthChange) -> impl IntoView {
    let at = change.at.clone();
    // "2026-12-02 02:40:12 UTC": the stored instant, readable.
    let exact = format!("{} UTC", at.get(..19).unwrap_or(&at).replace('T', " "));
    view! {
        <li class=format!("change {}", change.state.as_str()) data-state=change.state.as_str()>
            <span class=format!("badge {}", change.state.as_str())>{state_name(change.state)}</span>
            <RelativeTime at=Signal::derive(move || Some(at.clone())) fallback="—"/>
            <span class="muted exact">{exact}</span>
            {change.reason.map(|r| view! { <span class="reason">{r}</span> })}
        </li>
    }
}
