//! `GET /api/v1/events`: the live event stream (Server-Sent Events), and `GET /metrics`.
//!
//! A client resumes with the `Last-Event-ID` header (browsers send it when an EventSource
//! reconnects by itself) or the `last_event_id` query parameter (a page that opens a new
//! EventSource cannot set headers). See `crate::events` for when it gets `resync`.

use crate::access::{AccessControl, Principal};
use crate::events::Published;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event, Sse};
use axum::response::IntoResponse;
use futures::stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A `ping` event this often keeps proxies from closing an idle stream and lets the page
/// tell a quiet stream from a dead connection (it cannot see comment lines).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// What a browser waits before reconnecting by itself (the page's own backoff governs).
const RETRY: Duration = Duration::from_secs(2);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this event (as the `Last-Event-ID` header does).
    last_event_id: Option<String>,
    /// Only these events (with `resync` and `ping`): `runs` (`run.*`) or `agents`
    /// (`agent.*`, `registry.*`). A command-line follower of one run does not need every
    /// health result of the fleet.
    only: Option<Topic>,
}

#[derive(Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Runs,
    Agents,
}

impl Topic {
    fn wants(only: Option<Topic>, name: &str) -> bool {
        match only {
            None => true,
            Some(Topic::Runs) => name.starts_with("run."),
            Some(Topic::Agents) => name.starts_with("agent.") || name.starts_with("registry."),
        }
    }
}

/// One event of the stream as the SSE format frames it (docs/api.md, "Live events").
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct StreamEvent {
    /// The kind: `agent.upserted`, `run.updated`, …, `resync`, `ping`.
    event: Option<String>,
    /// Resume after it with `Last-Event-ID`.
    id: Option<String>,
    /// The event's JSON.
    data: String,
    /// Milliseconds the browser waits before reconnecting.
    retry: Option<u32>,
}

/// The live event stream (Server-Sent Events): `agent.upserted`, `agent.removed`,
/// `agent.health`, `registry.self_preservation`, `run.updated`, `run.removed`, `resync`,
/// and `ping` every 15 s; `docs/api.md` gives each event's data.
#[utoipa::path(get, path = "/events", tag = "live", params(EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses((status = 200, content_type = "text/event-stream", description = "events, as they happen", body = StreamEvent)))]
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    principal: Principal,
    Query(query): Query<EventsQuery>,
) -> axum::response::Response {
    // A stream opened with a sign-in ends with it (signed out, expired, token revoked):
    // the bus itself closes only at shutdown. Bearer tokens are checked the same way.
    let credentials = match principal {
        // The same order as the access middleware's: a bearer token first.
        Principal::Token(_) => super::access::bearer(&headers)
            .map(Recheck::Bearer)
            .or_else(|| super::access::session_cookie(&headers).map(Recheck::Session)),
        _ => None,
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id)
        .filter(|id| !id.trim().is_empty());
    let subscription = state.bus.subscribe(last.as_deref());
    let first: Vec<Event> = subscription
        .resync
        .then(|| resync(&subscription.resync_id))
        .into_iter()
        .chain(subscription.replay.iter().filter(|e| Topic::wants(query.only, e.name)).map(to_sse))
        .collect();
    let streaming = Streaming {
        first: first.into_iter(),
        only: query.only,
        live: subscription.live,
        closed: subscription.closed,
        bus: state.bus.clone(),
        ping: tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE),
        recheck: credentials.map(|c| (state.access.clone(), c)),
        rechecks: tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK),
        _guard: subscription.guard,
    };
    let events = stream::unfold(streaming, |mut s| async move {
        if let Some(event) = s.first.next() {
            return Some((Ok::<_, Infallible>(event), s));
        }
        loop {
            if *s.closed.borrow() {
                return None;
            }
            tokio::select! {
                received = s.live.recv() => return match received {
                    Ok(event) if !Topic::wants(s.only, event.name) => continue,
                    Ok(event) => Some((Ok(to_sse(&event)), s)),
                    // Too slow to keep up: what it missed is gone from the channel, so it
                    // refetches its view instead of silently missing changes.
                    Err(RecvError::Lagged(_)) => {
                        let id = s.bus.latest_id();
                        Some((Ok(resync(&id)), s))
                    }
                    Err(RecvError::Closed) => None,
                },
                // The server is stopping: end the stream so shutdown does not wait on it.
                _ = s.closed.changed() => return None,
                _ = s.ping.tick() => {
                    return Some((Ok(Event::default().event(app::model::events::PING).data("{}")), s));
                }
                _ = s.rechecks.tick(), if s.recheck.is_some() => {
                    let (access, credentials) = s.recheck.as_ref().expect("checked by the branch's condition");
                    // Boxed: inline, the lookup's state (~2.4 KB) was part of every open
                    // stream, signed in or not (benches/streams.rs).
                    if !Box::pin(credentials.valid(access)).await {
                        return None;
                    }
                }
            }
        }
    });
    let mut response = Sse::new(events).into_response();
    // Proxies (nginx) must pass events on as they come.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// How often a stream checks that its credentials still hold (cheap: `access` caches
/// them for `access::FRESH_FOR`, so the database is asked at most that often).
const RECHECK: Duration = Duration::from_secs(1);

/// The credentials a stream was opened with.
enum Recheck {
    Session(String),
    Bearer(String),
}

impl Recheck {
    async fn valid(&self, access: &AccessControl) -> bool {
        // A database error keeps the stream: the next check decides.
        match self {
            Recheck::Session(cookie) => access.session(cookie).await.map_or(true, |s| s.is_some()),
            Recheck::Bearer(secret) => access.token(secret).await.map_or(true, |t| t.is_some()),
        }
    }
}

struct Streaming {
    only: Option<Topic>,
    recheck: Option<(AccessControl, Recheck)>,
    rechecks: tokio::time::Interval,
    first: std::vec::IntoIter<Event>,
    live: tokio::sync::broadcast::Receiver<Arc<Published>>,
    closed: tokio::sync::watch::Receiver<bool>,
    bus: crate::events::EventBus,
    ping: tokio::time::Interval,
    _guard: crate::events::ClientGuard,
}

fn resync(id: &str) -> Event {
    Event::default().event(app::model::events::RESYNC).id(id).data("{}").retry(RETRY)
}

fn to_sse(e: &Arc<Published>) -> Event {
    Event::default().event(e.name).id(e.id.clone()).data(e.data.clone())
}

/// The dashboard's figures for Prometheus (OpenMetrics text): agents by state, runs by
/// status, health checks, requests by route, refused registrations, self-preservation.
#[utoipa::path(get, path = "/metrics", tag = "live",
    responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let runs = state.runs.counts_by_status().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not count runs for /metrics");
        Vec::new()
    });
    if state.access.is_on() {
        state.metrics.set_tokenless_agents(state.access.tokenless().len());
    }
    let text = state.metrics.render(&state.monitor.counts(), &runs, state.bus.clients());
    ([(header::CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE))], text)
}
