//! Every call the dashboard makes to an agent goes through one pooled HTTP client with a
//! timeout and a size limit; answers are classified into precise, human reasons.

use app::model::HealthState;
use app::validation::AgentUrl;
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// The largest /health answer we read; an agent sending more is unhealthy.
const MAX_HEALTH_BODY: usize = 64 * 1024;

/// Statuses that mean "up" across the agents in the field (the original test agent says
/// `alive`, generated agents `healthy`).
const HEALTHY_STATUSES: [&str; 5] = ["alive", "healthy", "ok", "up", "pass"];

#[derive(Clone)]
pub struct AgentClient {
    http: reqwest::Client,
    health_timeout: Duration,
}

/// The result of one health check.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub state: HealthState,
    pub reason: Option<String>,
    pub latency_ms: u64,
    pub checked_at: DateTime<Utc>,
}

impl AgentClient {
    pub fn new(health_timeout: Duration) -> Result<Self, reqwest::Error> {
        // reqwest is built without a bundled crypto provider; ours is ring (shared with sqlx).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("configurable-agents/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(health_timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(4)
            // A redirect is reported, not followed: the registered URL must be the agent.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, health_timeout })
    }

    /// `GET {base}/health`, judged as the agent protocol says.
    pub async fn check_health(&self, base: &AgentUrl) -> Probe {
        let started = Instant::now();
        let verdict = self.fetch_health(base).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (state, reason) = match verdict {
            Ok(()) => (HealthState::Healthy, None),
            Err(reason) => (HealthState::Unhealthy, Some(reason)),
        };
        Probe { state, reason, latency_ms, checked_at: Utc::now() }
    }

    async fn fetch_health(&self, base: &AgentUrl) -> Result<(), String> {
        let timeout = self.health_timeout;
        let call = async {
            let mut response = self
                .http
                .get(base.endpoint("health"))
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| describe_transport_error(&e, timeout))?;
            let status = response.status();
            if !status.is_success() {
                return Err(match status.canonical_reason() {
                    Some(text) => format!("HTTP {} {text}", status.as_u16()),
                    None => format!("HTTP {}", status.as_u16()),
                });
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| describe_transport_error(&e, timeout))? {
                if body.len() + chunk.len() > MAX_HEALTH_BODY {
                    return Err(format!("answer larger than {} KiB", MAX_HEALTH_BODY / 1024));
                }
                body.extend_from_slice(&chunk);
            }
            judge_health_body(&body)
        };
        // One deadline for the whole exchange, body included.
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {}", humantime::format_duration(timeout))),
        }
    }
}

/// Reads a 2xx /health body: JSON with a `status` that means up.
pub fn judge_health_body(body: &[u8]) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "body is not JSON".to_owned())?;
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

/// A short, precise reason for a failed exchange.
fn describe_transport_error(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return "connection refused".into(),
                ConnectionReset => return "connection reset by the agent".into(),
                TimedOut => return format!("timed out after {}", humantime::format_duration(timeout)),
                _ => {}
            }
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return "could not resolve the host name".into();
        }
        source = e.source();
    }
    if error.is_connect() {
        return format!("could not connect: {}", chain(error));
    }
    if error.is_body() || error.is_decode() {
        return format!("the answer broke off: {}", chain(error));
    }
    chain(error)
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

fn truncate(s: &str, max: usize) -> String {
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
        assert_eq!(judge_health_body(b"<html>").unwrap_err(), "body is not JSON");
        assert_eq!(judge_health_body(b"[1]").unwrap_err(), "body is not a JSON object");
        assert!(judge_health_body(b"{}").unwrap_err().contains("no \"status\""));
        assert!(judge_health_body(br#"{"status":1}"#).unwrap_err().contains("not a string"));
    }
}
