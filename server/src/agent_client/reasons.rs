//! The reasons a call to an agent gives: precise and short, because a person reads them
//! on the page (`connection refused`, `timed out after 3s`, `HTTP 503 Service
//! Unavailable`, `body nests deeper than 128 levels`), and how a health answer is judged.

use super::{Answer, CallError, Refusal};
use reqwest::StatusCode;
use std::time::Duration;

/// Statuses that mean "up" across the agents in the field (the original test agent says
/// `alive`, generated agents `healthy`).
const HEALTHY_STATUSES: [&str; 5] = ["alive", "healthy", "ok", "up", "pass"];

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

pub(super) fn too_large(max: usize) -> String {
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
pub(super) fn describe_transport_error(error: &reqwest::Error, timeout: Duration) -> CallError {
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
pub(super) fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(timeout))
}

/// The reason for the failures every client names the same way: refused, reset, timed
/// out, unresolvable (found anywhere in the error's chain of causes).
pub(super) fn describe_io_chain(error: &(dyn std::error::Error + 'static), timeout: Duration) -> Option<String> {
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

pub(super) fn chain(error: &dyn std::error::Error) -> String {
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
