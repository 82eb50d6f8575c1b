//! Keeps an agent registered with a configurable-agents dashboard: registers it, sends a
//! heartbeat every third of its TTL (with jitter, so a fleet started together does not
//! beat together), backs off while the dashboard cannot be reached, registers again when
//! the dashboard no longer knows it (404: it was purged, or its database was replaced),
//! and deregisters when told to stop.
//!
//! Unlike the old Python client it retries a failed registration: an agent started
//! before its dashboard is still registered once the dashboard is up.
//!
//! ```no_run
//! # async fn demo() {
//! let agent = registry_client::Agent::at_url("writer", "Writer", "http://127.0.0.1:8002");
//! let client = registry_client::Client::new("http://127.0.0.1:8001/api/v1", agent);
//! // Until Ctrl-C or SIGTERM; then it deregisters.
//! client.run_until(registry_client::shutdown_signal()).await;
//! # }
//! ```

use serde_json::{json, Value};
#[cfg(feature = "announce")]
pub mod announce;

use std::future::Future;
use std::time::Duration;

/// The agent as it registers.
#[derive(Clone, Debug)]
pub struct Agent {
    pub agent_id: String,
    pub agent_name: String,
    /// The base URL the dashboard calls (`/health`, `/schema`, `/run` under it).
    pub agent_url: String,
    /// Without a heartbeat for this long the dashboard marks the agent expired (1–3600 s).
    pub ttl: Duration,
    /// Shown with the agent (a JSON object).
    pub metadata: Value,
}

impl Agent {
    pub fn at_url(agent_id: impl Into<String>, agent_name: impl Into<String>, agent_url: impl Into<String>) -> Self {
        Self {
            agent_id: agent_id.into(),
            agent_name: agent_name.into(),
            agent_url: agent_url.into(),
            ttl: Duration::from_secs(60),
            metadata: json!({}),
        }
    }

    pub fn with_ttl(self, ttl: Duration) -> Self {
        Self { ttl, ..self }
    }

    pub fn with_metadata(self, metadata: Value) -> Self {
        Self { metadata, ..self }
    }

    fn body(&self) -> Value {
        json!({
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "agent_url": self.agent_url,
            "ttl_seconds": self.ttl.as_secs().clamp(1, 3600),
            "metadata": self.metadata,
        })
    }

    /// Between heartbeats: a third of the TTL, so two may be lost before it expires.
    pub fn heartbeat_every(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(200))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the dashboard could not be reached: {0}")]
    Unreachable(String),
    /// Refused for good (a 4xx other than 404): retrying the same request cannot help.
    #[error("the dashboard refused the registration ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the dashboard answered {status}: {message}")]
    Failed { status: u16, message: String },
}

/// What happened, for logs and tests.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Registered,
    Heartbeat,
    /// The dashboard did not know the agent (404) and it registered again.
    Reregistered,
    /// A call failed; the next try is after `retry_in`.
    Trouble {
        reason: String,
        retry_in: Duration,
    },
    Deregistered,
}

pub struct Client {
    http: reqwest::Client,
    /// The registry's base URL, e.g. `http://127.0.0.1:8001/api/v1`.
    registry: String,
    agent: Agent,
    events: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
    /// Also announce the agent over mDNS while it runs (`announcing`).
    #[cfg(feature = "announce")]
    announce: bool,
}

/// The longest wait between tries while the dashboard cannot be reached.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Client {
    pub fn new(registry: impl Into<String>, agent: Agent) -> Self {
        // reqwest is built without a TLS crypto provider: ring, unless the program chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Self {
            http,
            registry: registry.into().trim_end_matches('/').to_owned(),
            agent,
            events: None,
            #[cfg(feature = "announce")]
            announce: false,
        }
    }

    /// Also announce the agent over mDNS while `run_until` runs (`announce` feature), for
    /// dashboards asked to look for agents on the network. Its URL's host must be an IP
    /// address or a name that resolves.
    #[cfg(feature = "announce")]
    pub fn announcing(self) -> Self {
        Self { announce: true, ..self }
    }

    #[cfg(feature = "announce")]
    fn announcement(&self) -> Option<announce::Announcement> {
        if !self.announce {
            return None;
        }
        let (scheme, address, port, path) = match announce_target(&self.agent.agent_url) {
            Some(target) => target,
            None => {
                tracing::warn!(agent_url = %self.agent.agent_url, "cannot announce: the agent URL's host does not resolve");
                return None;
            }
        };
        match announce::Announcement::start(&self.agent.agent_id, &self.agent.agent_name, scheme, address, port, &path)
        {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!(error = %e, "not announced over mDNS");
                None
            }
        }
    }

    /// Reports what happens on `events` (tests, a status line).
    pub fn with_events(self, events: tokio::sync::mpsc::UnboundedSender<Event>) -> Self {
        Self { events: Some(events), ..self }
    }

    fn report(&self, event: Event) {
        match &event {
            Event::Trouble { reason, retry_in } => {
                tracing::warn!(agent_id = %self.agent.agent_id, %reason, ?retry_in, "registry call failed; retrying")
            }
            Event::Heartbeat => tracing::trace!(agent_id = %self.agent.agent_id, "heartbeat"),
            other => tracing::info!(agent_id = %self.agent.agent_id, event = ?other, "registry"),
        }
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }

    fn agent_path(&self) -> String {
        // The ID as one path segment, whatever it holds.
        let mut encoded = String::new();
        for b in self.agent.agent_id.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                encoded.push(b as char);
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!("{}/agents/{encoded}", self.registry)
    }

    /// Registers once; the stored agent as the dashboard answers it.
    pub async fn register(&self) -> Result<Value, Error> {
        let response = self
            .http
            .post(format!("{}/agents/register", self.registry))
            .json(&self.agent.body())
            .send()
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        answer(response).await
    }

    /// One heartbeat; `Ok(false)` when the dashboard does not know the agent (404).
    pub async fn heartbeat(&self) -> Result<bool, Error> {
        let response = self
            .http
            .post(format!("{}/heartbeat", self.agent_path()))
            .send()
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        answer(response).await.map(|_| true)
    }

    /// Says goodbye: the dashboard keeps the agent, not alive, until it registers again.
    pub async fn deregister(&self) -> Result<(), Error> {
        let response =
            self.http.delete(self.agent_path()).send().await.map_err(|e| Error::Unreachable(e.to_string()))?;
        answer(response).await.map(|_| ())
    }

    /// Registers (retrying until it succeeds), heartbeats until `shutdown` completes,
    /// then deregisters. A registration refused for good (invalid fields) ends it with
    /// that error: retrying the same request cannot help.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        tokio::pin!(shutdown);
        // Withdrawn when this returns (dropped).
        #[cfg(feature = "announce")]
        let _announcement = self.announcement();
        let every = self.agent.heartbeat_every();
        let mut backoff = Duration::from_millis(500);
        let mut registered = false;
        let mut first = true;
        loop {
            let result = if registered {
                match self.heartbeat().await {
                    Ok(true) => {
                        self.report(Event::Heartbeat);
                        Ok(())
                    }
                    Ok(false) => self.register().await.map(|_| self.report(Event::Reregistered)),
                    Err(e) => Err(e),
                }
            } else {
                self.register().await.map(|_| self.report(if first { Event::Registered } else { Event::Reregistered }))
            };
            let wait = match result {
                Ok(()) => {
                    registered = true;
                    first = false;
                    backoff = Duration::from_millis(500);
                    // ±10 %: a fleet started together spreads out.
                    every.mul_f64(0.9 + fastrand::f64() * 0.2)
                }
                Err(e @ Error::Refused { .. }) => return Err(e),
                Err(e) => {
                    let retry_in = backoff.min(every).min(MAX_BACKOFF);
                    self.report(Event::Trouble { reason: e.to_string(), retry_in });
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    retry_in
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut shutdown => break,
            }
        }
        if registered {
            match self.deregister().await {
                Ok(()) => self.report(Event::Deregistered),
                Err(e) => tracing::warn!(agent_id = %self.agent.agent_id, error = %e, "could not deregister"),
            }
        }
        Ok(())
    }
}

/// The scheme, address, port and path prefix to announce for an agent URL.
#[cfg(feature = "announce")]
fn announce_target(agent_url: &str) -> Option<(&'static str, std::net::IpAddr, u16, String)> {
    use std::net::ToSocketAddrs;
    let (scheme, rest) = agent_url.split_once("://")?;
    let (authority, path) = rest.split_once('/').map_or((rest, String::new()), |(a, p)| (a, format!("/{p}")));
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("https") { ("https", 443) } else { ("http", 80) };
    let with_port =
        if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) && !authority.ends_with(']') {
            authority.to_owned()
        } else {
            format!("{authority}:{default_port}")
        };
    let address = with_port.to_socket_addrs().ok()?.next()?;
    Some((scheme, address.ip(), address.port(), path.trim_end_matches('/').to_owned()))
}

async fn answer(response: reqwest::Response) -> Result<Value, Error> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = body["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| body.to_string());
    let status = status.as_u16();
    Err(if (400..500).contains(&status) && status != 404 && status != 408 && status != 429 {
        Error::Refused { status, message }
    } else {
        Error::Failed { status, message }
    })
}

/// Completes on Ctrl-C, or SIGTERM on Unix.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::{delete, post};
    use axum::{Json, Router};
    use std::sync::{Arc, Mutex};

    /// A registry that forgets the agent after its first heartbeat and fails the first
    /// registration.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<String>>,
    }

    async fn register(State(f): State<Arc<Fake>>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
        let mut calls = f.calls.lock().unwrap();
        calls.push(format!("register {}", body["agent_id"].as_str().unwrap()));
        if calls.len() == 1 {
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": {"message": "starting"}})));
        }
        (StatusCode::CREATED, Json(body))
    }

    async fn heartbeat(State(f): State<Arc<Fake>>) -> StatusCode {
        let mut calls = f.calls.lock().unwrap();
        calls.push("heartbeat".into());
        if calls.iter().filter(|c| *c == "heartbeat").count() == 1 {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        }
    }

    async fn goodbye(State(f): State<Arc<Fake>>) -> Json<Value> {
        f.calls.lock().unwrap().push("delete".into());
        Json(json!({"status": "deregistered"}))
    }

    #[tokio::test]
    async fn registers_through_failures_registers_again_on_404_and_deregisters_at_the_end() {
        let fake = Arc::new(Fake::default());
        let router = Router::new()
            .route("/api/v1/agents/register", post(register))
            .route("/api/v1/agents/{id}/heartbeat", post(heartbeat))
            .route("/api/v1/agents/{id}", delete(goodbye))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registry = format!("http://{}/api/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });

        let agent = Agent::at_url("a b", "A", "http://127.0.0.1:1").with_ttl(Duration::from_millis(900));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(Client::new(registry, agent).with_events(tx).run_until(async {
            let _ = stopped.await;
        }));
        let mut seen = Vec::new();
        while seen.iter().filter(|e| **e == Event::Heartbeat).count() < 2 {
            let event = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
            seen.push(event);
        }
        let _ = stop.send(());
        run.await.unwrap().unwrap();
        assert!(matches!(seen[0], Event::Trouble { .. }), "{seen:?}");
        assert_eq!(seen[1], Event::Registered);
        assert_eq!(seen[2], Event::Reregistered, "after the 404");
        let calls = fake.calls.lock().unwrap().clone();
        assert_eq!(&calls[..4], ["register a b", "register a b", "heartbeat", "register a b"]);
        assert_eq!(calls.last().unwrap(), "delete");
    }

    #[tokio::test]
    async fn a_registration_refused_for_good_ends_with_the_reason() {
        let router = Router::new().route(
            "/api/v1/agents/register",
            post(|| async {
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({"error": {"message": "port must be between 1 and 65535"}})),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registry = format!("http://{}/api/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let agent = Agent::at_url("a", "A", "http://127.0.0.1:1");
        let error = Client::new(registry, agent).run_until(std::future::pending()).await.unwrap_err();
        assert!(error.to_string().contains("port must be"), "{error}");
    }
}
