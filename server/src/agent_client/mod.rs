//! Every call the dashboard makes to an agent goes through one pooled HTTP client with a
//! timeout and a size limit, to addresses the network policy allows (`policy`); answers
//! are classified into precise, human reasons.

use app::model::HealthState;
use app::validation::AgentUrl;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

mod closing;
pub mod guard;
#[cfg(test)]
pub(crate) mod hostile_agents;
#[cfg(test)]
mod hostile_tests;
pub mod outbound;
pub mod policy;
#[cfg(test)]
mod policy_tests;
mod reasons;
mod replies;
pub use guard::{Guard, Lookup, SystemLookup};
pub use outbound::Outbound;
pub use policy::{NetworkPolicy, Refusal};
use reasons::{chain, describe_io_chain, describe_transport_error, timed_out, too_large};
pub use reasons::{judge_health_body, not_json, require_success, status_text, truncate};
pub use replies::{judge_job_status, judge_run_answer, JobReply, RunReply};

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
            Ok(Err(guard::Resolved::Refused(refusal))) => Err(refusal),
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

    /// `GET {base}/{path}` once, on a connection of its own for `http://` (discovery's
    /// probes: most addresses are asked once, a pool would only hold their sockets), under
    /// the network policy like every call; the answer whatever its status.
    pub async fn get_once(
        &self,
        base: &AgentUrl,
        path: &str,
        limits: CallLimits,
        outbound: &Outbound,
    ) -> Result<Answer, CallError> {
        let endpoint = base.endpoint(path);
        if endpoint.starts_with("http://") {
            let url = url::Url::parse(&endpoint).map_err(|e| CallError::Failed(format!("invalid URL: {e}")))?;
            closing::get(&url, &self.user_agent, &self.guard, limits, outbound).await
        } else {
            let request = outbound.apply(self.http.get(endpoint).header(reqwest::header::CONNECTION, "close"));
            self.exchange(base, request, limits).await
        }
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
