//! Every call the dashboard makes to an agent goes through one pooled HTTP client with a
//! timeout and a size limit, to addresses the network policy allows (`policy`); answers
//! are classified into precise, human reasons.

use app::model::HealthState;
use app::validation::AgentUrl;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

mod closing;
#[cfg(test)]
pub(crate) mod hostile_agents;
#[cfg(test)]
mod hostile_tests;
pub mod outbound;
pub mod policy;
#[cfg(test)]
mod policy_tests;
mod replies;
pub use outbound::Outbound;
pub use policy::{Guard, Lookup, NetworkPolicy, Refusal, SystemLookup};
pub use replies::{judge_job_status, judge_run_answer, JobReply, RunReply};

/// Statuses that mean "up" across the agents in the field (the original test agent says
/// `alive`, generated agents `healthy`).
const HEALTHY_STATUSES: [&str; 5] = ["alive", "healthy", "ok", "up", "pass"];

/// How long one kind of call may take (body included) and how much of its answer is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallLimits {
    pub timeout: Duration,
    pub max_body: usize,
}

/// Limits per kind of call: a health check must be quick and small, a run's answer may
/// be large and slow (its deadline is whatever is left of the run's timeout).
#[derive(Clone, Copy, Debug)]
pub struct ClientLimits {
    pub health: CallLimits,
    pub schema: CallLimits,
    /// Largest `/run` answer read; the deadline is given per call.
    pub run_max_body: usize,
    pub status: CallLimits,
}

impl ClientLimits {
    /// Health checks get `health_timeout` and 64 KiB; schemas 10 s and 1 MiB; run and
    /// job-status answers up to `run_max_body`.
    pub fn new(health_timeout: Duration, run_max_body: usize) -> Self {
        Self {
            health: CallLimits { timeout: health_timeout, max_body: 64 * 1024 },
            schema: CallLimits { timeout: Duration::from_secs(10), max_body: 1024 * 1024 },
            run_max_body,
            status: CallLimits { timeout: Duration::from_secs(30), max_body: run_max_body },
        }
    }
}

#[derive(Clone)]
pub struct AgentClient {
    http: reqwest::Client,
    limits: ClientLimits,
    user_agent: reqwest::header::HeaderValue,
    guard: Guard,
}

/// Why a call brought no answer: the network policy refused the address (the caller may
/// answer 422 and must not fall back to stored data), or the exchange failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0}")]
    Failed(String),
}

impl From<String> for CallError {
    fn from(reason: String) -> Self {
        Self::Failed(reason)
    }
}

/// The result of one health check.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub state: HealthState,
    pub reason: Option<String>,
    /// How long the agent took to answer; none when no answer came (refused, timed out,
    /// reset): a check without an answer has no latency to show.
    pub latency_ms: Option<u64>,
    pub checked_at: DateTime<Utc>,
}

/// An agent's answer, read whole within its limits.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl AgentClient {
    pub fn new(limits: ClientLimits, guard: Guard) -> Result<Self, reqwest::Error> {
        // reqwest is built without a bundled crypto provider; ours is ring (shared with sqlx).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let user_agent =
            reqwest::header::HeaderValue::from_static(concat!("configurable-agents/", env!("CARGO_PKG_VERSION")));
        let http = reqwest::Client::builder()
            .user_agent(user_agent.clone())
            .connect_timeout(limits.health.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(32)
            // A redirect is reported, not followed: the registered URL must be the agent.
            .redirect(reqwest::redirect::Policy::none())
            // HTTP_PROXY and the like are ignored: through a proxy the policy would judge
            // the proxy's address, not the agent's (and the proxy would reach anything).
            .no_proxy()
            // Names resolve to allowed addresses only; IP literals skip the resolver and
            // are screened before each call.
            .dns_resolver(guard.clone())
            .build()?;
        Ok(Self { http, limits, user_agent, guard })
    }

    pub fn policy(&self) -> &NetworkPolicy {
        &self.guard.policy
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Before registering `base`: refused when its address is (an IP literal refused, or a
    /// name with `--deny-agent-names`, or a name whose every address is refused). A name
    /// that does not resolve passes: the health check says so.
    pub async fn admit(&self, base: &AgentUrl) -> Result<(), Refusal> {
        let Ok(url) = url::Url::parse(base.as_str()) else { return Ok(()) };
        let Some(host) = url.host() else { return Ok(()) };
        let lookup = self.guard.resolve(&host, url.port_or_known_default().unwrap_or(80));
        match tokio::time::timeout(self.limits.health.timeout, lookup).await {
            Ok(Err(policy::Resolved::Refused(refusal))) => Err(refusal),
            _ => Ok(()),
        }
    }

    /// The policy's verdict on `base`'s host before reqwest sends to it (IP literals skip
    /// the resolver, where names are judged).
    fn screen(&self, base: &AgentUrl) -> Result<(), CallError> {
        match url::Url::parse(base.as_str()) {
            Ok(url) => match url.host() {
                Some(host) => Ok(self.guard.policy.screen(&host)?),
                None => Err(CallError::Failed("the agent URL has no host".into())),
            },
            Err(e) => Err(CallError::Failed(format!("invalid URL: {e}"))),
        }
    }

    /// `GET {base}/health`, judged as the agent protocol says.
    /// `keep_connection`: leave the connection in the pool for the next check; otherwise
    /// it is closed after the answer (`Connection: close`). Every call sends `outbound`,
    /// the agent's own headers, which the caller gives only for the URL they were set for.
    pub async fn check_health(&self, base: &AgentUrl, outbound: &Outbound, keep_connection: bool) -> Probe {
        let started = Instant::now();
        let endpoint = base.endpoint("health");
        let answer = if !keep_connection && endpoint.starts_with("http://") {
            match url::Url::parse(&endpoint) {
                Ok(url) => closing::get(&url, &self.user_agent, &self.guard, self.limits.health, outbound).await,
                Err(e) => Err(CallError::Failed(format!("invalid URL: {e}"))),
            }
        } else {
            let mut request = outbound.apply(self.http.get(endpoint));
            if !keep_connection {
                request = request.header(reqwest::header::CONNECTION, "close");
            }
            self.exchange(base, request, self.limits.health).await
        };
        let latency_ms = answer.is_ok().then(|| started.elapsed().as_millis() as u64);
        let verdict = answer.map_err(|e| e.to_string()).and_then(|answer| {
            require_success(&answer)?;
            judge_health_body(&answer.body)
        });
        let (state, reason) = match verdict {
            Ok(()) => (HealthState::Healthy, None),
            // The reason is shown and stored: a gateway echoing a header gets it masked.
            Err(reason) => (HealthState::Unhealthy, Some(outbound.mask(reason))),
        };
        Probe { state, reason, latency_ms, checked_at: Utc::now() }
    }

    /// `GET {base}/schema`: the JSON body of a 2xx answer.
    pub async fn fetch_schema(&self, base: &AgentUrl, outbound: &Outbound) -> Result<serde_json::Value, CallError> {
        let request = outbound.apply(self.http.get(base.endpoint("schema")));
        let answer = self.exchange(base, request, self.limits.schema).await?;
        require_success(&answer)?;
        serde_json::from_slice(&answer.body).map_err(|e| CallError::Failed(not_json("its /schema answer", &e)))
    }

    /// `POST {base}/run` with the inputs object itself; `timeout` is what is left of the run's.
    pub async fn start_run(
        &self,
        base: &AgentUrl,
        outbound: &Outbound,
        inputs: &serde_json::Value,
        timeout: Duration,
    ) -> Result<Answer, CallError> {
        let limits = CallLimits { timeout, max_body: self.limits.run_max_body };
        self.exchange(base, outbound.apply(self.http.post(base.endpoint("run")).json(inputs)), limits).await
    }

    /// `GET {base}/status/{job_id}`.
    pub async fn job_status(
        &self,
        base: &AgentUrl,
        outbound: &Outbound,
        job_id: &str,
        timeout: Duration,
    ) -> Result<Answer, CallError> {
        let limits =
            CallLimits { timeout: timeout.min(self.limits.status.timeout), max_body: self.limits.status.max_body };
        let url = base.endpoint(&format!("status/{}", app::model::percent_encode(job_id)));
        self.exchange(base, outbound.apply(self.http.get(url)), limits).await
    }

    /// Sends `request` (to `base`) and reads the whole answer under one deadline (body
    /// included) and a size cap; a failure comes back as a short, precise reason.
    async fn exchange(
        &self,
        base: &AgentUrl,
        request: reqwest::RequestBuilder,
        limits: CallLimits,
    ) -> Result<Answer, CallError> {
        self.screen(base)?;
        let timeout = limits.timeout;
        let call = async {
            let mut response = request
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| describe_transport_error(&e, timeout))?;
            let status = response.status();
            if let Some(length) = response.content_length() {
                if length as usize > limits.max_body {
                    return Err(too_large(limits.max_body).into());
                }
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| describe_transport_error(&e, timeout))? {
                if body.len() + chunk.len() > limits.max_body {
                    return Err(too_large(limits.max_body).into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Answer { status, body })
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(timeout).into()),
        }
    }
}

/// "HTTP 503 Service Unavailable" for a non-2xx answer.
pub fn require_success(answer: &Answer) -> Result<(), String> {
    if answer.status.is_success() {
        Ok(())
    } else {
        Err(status_text(answer.status))
    }
}

pub fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(text) => format!("HTTP {} {text}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

fn too_large(max: usize) -> String {
    if max >= 1024 * 1024 && max.is_multiple_of(1024 * 1024) {
        format!("answer larger than {} MiB", max / (1024 * 1024))
    } else {
        format!("answer larger than {} KiB", max / 1024)
    }
}

/// Why an answer did not parse, precisely: an agent nesting arrays 100,000 deep (which
/// serde_json refuses at 128 levels rather than overflow the stack) is not "not JSON".
pub fn not_json(what: &str, error: &serde_json::Error) -> String {
    let text = error.to_string();
    if text.starts_with("recursion limit exceeded") {
        format!("{what} nests deeper than 128 levels (line {}, column {})", error.line(), error.column())
    } else if error.is_eof() {
        format!("{what} is not JSON: it ends too early")
    } else {
        format!("{what} is not JSON (line {}, column {})", error.line(), error.column())
    }
}

/// Reads a 2xx /health body: JSON with a `status` that means up.
pub fn judge_health_body(body: &[u8]) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| not_json("body", &e))?;
    let Some(object) = value.as_object() else {
        return Err("body is not a JSON object".into());
    };
    match object.get("status") {
        Some(serde_json::Value::String(status)) => {
            if HEALTHY_STATUSES.iter().any(|h| status.eq_ignore_ascii_case(h)) {
                Ok(())
            } else {
                Err(format!("status {:?}", truncate(status, 80)))
            }
        }
        Some(other) => Err(format!("status is not a string: {}", truncate(&other.to_string(), 80))),
        None => Err("no \"status\" field in the answer".into()),
    }
}

/// A short, precise reason for a failed exchange (or the policy's refusal, from the
/// resolver).
fn describe_transport_error(error: &reqwest::Error, timeout: Duration) -> CallError {
    if let Some(refusal) = refusal_in(error) {
        return CallError::Refused(refusal);
    }
    CallError::Failed(describe_failure(error, timeout))
}

fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        source = e.source();
    }
    None
}

fn describe_failure(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return timed_out(timeout);
    }
    if let Some(known) = describe_io_chain(error, timeout) {
        return known;
    }
    if error.is_connect() {
        return format!("could not connect: {}", chain(error));
    }
    if error.is_body() || error.is_decode() {
        return format!("the answer broke off: {}", chain(error));
    }
    chain(error)
}

/// "timed out after 3s"
fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(timeout))
}

/// The reason for the failures every client names the same way: refused, reset, timed
/// out, unresolvable (found anywhere in the error's chain of causes).
fn describe_io_chain(error: &(dyn std::error::Error + 'static), timeout: Duration) -> Option<String> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return Some("connection refused".into()),
                ConnectionReset | ConnectionAborted => return Some("connection reset by the agent".into()),
                TimedOut => return Some(timed_out(timeout)),
                _ => {}
            }
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return Some("could not resolve the host name".into());
        }
        source = e.source();
    }
    None
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_bodies_are_judged_like_the_protocol_says() {
        assert!(judge_health_body(br#"{"status":"alive","agent_id":"x"}"#).is_ok());
        assert!(judge_health_body(br#"{"status":"HEALTHY"}"#).is_ok());
        assert!(judge_health_body(br#"{"status":"ok"}"#).is_ok());
        assert_eq!(judge_health_body(br#"{"status":"starting"}"#).unwrap_err(), "status \"starting\"");
        assert_eq!(judge_health_body(b"<html>").unwrap_err(), "body is not JSON (line 1, column 1)");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            judge_health_body(deep.as_bytes()).unwrap_err(),
            "body nests deeper than 128 levels (line 1, column 128)"
        );
        assert_eq!(judge_health_body(b"{\"status\": \"al").unwrap_err(), "body is not JSON: it ends too early");
        assert_eq!(judge_health_body(b"[1]").unwrap_err(), "body is not a JSON object");
        assert!(judge_health_body(b"{}").unwrap_err().contains("no \"status\""));
        assert!(judge_health_body(br#"{"status":1}"#).unwrap_err().contains("not a string"));
    }

    #[test]
    fn sizes_are_named_in_their_unit() {
        assert_eq!(too_large(10 * 1024 * 1024), "answer larger than 10 MiB");
        assert_eq!(too_large(64 * 1024), "answer larger than 64 KiB");
    }
}
