//! Agents that attack the dashboard, on both transports (`closing` for health checks on
//! their own connection, reqwest for kept connections, `/schema`, `/run`, `/status`):
//! every call ends within its deadline, reads no more than its cap, and says why.

use super::hostile_agents::{self as agents, serve};
use super::*;

const TIMEOUT: Duration = Duration::from_millis(600);
/// What each call may take at most, its deadline and a margin for a loaded machine.
const WITHIN: Duration = Duration::from_millis(2500);

async fn hostile(behaviour: agents::Behaviour) -> AgentUrl {
    AgentUrl::parse(&serve(behaviour).await).unwrap()
}

fn client() -> AgentClient {
    // Health: 64 KiB; schema 1 MiB (its deadline is 10 s: calls below get TIMEOUT through
    // the health timeout, and the schema's cap ends the endless bodies); run/status 4 KiB.
    let mut limits = ClientLimits::new(TIMEOUT, 4 * 1024);
    limits.schema.timeout = TIMEOUT;
    limits.status.timeout = TIMEOUT;
    AgentClient::new(limits, Guard::default()).unwrap()
}

/// The reason of every kind of call to `base`, each timed: the closing health check, the
/// kept-connection health check, `/schema`, `/run`, `/status`.
async fn every_call(base: &AgentUrl) -> Vec<(&'static str, String)> {
    let client = client();
    let none = Outbound::none();
    let mut reasons = Vec::new();
    let timed = |what: &'static str, started: Instant, reason: String| {
        let took = started.elapsed();
        assert!(took < WITHIN, "{what} took {took:?}: {reason}");
        (what, reason)
    };
    let started = Instant::now();
    let p = client.check_health(base, &none, false).await;
    reasons.push(timed("closing health", started, p.reason.unwrap_or_default()));
    let started = Instant::now();
    let p = client.check_health(base, &none, true).await;
    reasons.push(timed("pooled health", started, p.reason.unwrap_or_default()));
    let started = Instant::now();
    let r = client.fetch_schema(base, &none).await.map(drop).map_err(|e| e.to_string());
    reasons.push(timed("schema", started, r.err().unwrap_or_default()));
    let started = Instant::now();
    let r = client.start_run(base, &none, &serde_json::json!({}), TIMEOUT).await.map(drop).map_err(|e| e.to_string());
    reasons.push(timed("run", started, r.err().unwrap_or_default()));
    let started = Instant::now();
    let r = client.job_status(base, &none, "j", TIMEOUT).await.map(drop).map_err(|e| e.to_string());
    reasons.push(timed("status", started, r.err().unwrap_or_default()));
    reasons
}

fn assert_all(reasons: &[(&'static str, String)], expected: impl Fn(&str, &str) -> bool) {
    for (what, reason) in reasons {
        assert!(expected(what, reason), "{what}: {reason:?} (all: {reasons:?})");
    }
}

#[tokio::test]
async fn a_byte_drip_times_out() {
    let base = hostile(agents::drip).await;
    let reasons = every_call(&base).await;
    assert_all(&reasons, |what, reason| {
        // A declared 100 kB is over the run and health caps before a byte is read.
        reason == "timed out after 600ms" || (what != "schema" && reason.starts_with("answer larger than"))
    });
    assert!(reasons.iter().any(|(_, r)| r == "timed out after 600ms"), "{reasons:?}");
}

#[tokio::test]
async fn a_drip_of_headers_times_out() {
    let base = hostile(agents::header_drip).await;
    assert_all(&every_call(&base).await, |_, reason| reason == "timed out after 600ms");
}

#[tokio::test]
async fn an_endless_chunked_body_stops_at_the_cap() {
    let base = hostile(agents::endless).await;
    assert_all(&every_call(&base).await, |what, reason| match what {
        "schema" => reason == "answer larger than 1 MiB",
        "run" | "status" => reason == "answer larger than 4 KiB",
        _ => reason == "answer larger than 64 KiB",
    });
}

#[tokio::test]
async fn a_gigabyte_declared_is_refused_before_reading() {
    // A client that waited for the body would time out instead.
    let base = hostile(agents::gigabyte_declared).await;
    assert_all(&every_call(&base).await, |_, reason| reason.starts_with("answer larger than"));
}

#[tokio::test]
async fn a_gigabyte_undeclared_stops_at_the_cap() {
    let base = hostile(agents::gigabyte).await;
    assert_all(&every_call(&base).await, |_, reason| reason.starts_with("answer larger than"));
}

#[tokio::test]
async fn deep_nesting_is_named_not_called_unreadable() {
    let base = hostile(agents::nested).await;
    let client = client();
    let none = Outbound::none();
    for keep in [false, true] {
        let reason = client.check_health(&base, &none, keep).await.reason.unwrap();
        assert_eq!(reason, "body nests deeper than 128 levels (line 1, column 128)");
    }
    let reason = client.fetch_schema(&base, &none).await.unwrap_err().to_string();
    assert_eq!(reason, "its /schema answer nests deeper than 128 levels (line 1, column 128)");
    let mut limits = ClientLimits::new(TIMEOUT, 64 * 1024);
    limits.status.timeout = TIMEOUT;
    let big = AgentClient::new(limits, Guard::default()).unwrap();
    let answer = big.start_run(&base, &none, &serde_json::json!({}), TIMEOUT).await.unwrap();
    match judge_run_answer(&answer) {
        RunReply::Failed { error, .. } => {
            assert_eq!(error, "the agent's answer nests deeper than 128 levels (line 1, column 128)")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_connection_held_open_without_an_answer_times_out() {
    let base = hostile(agents::held).await;
    assert_all(&every_call(&base).await, |_, reason| reason == "timed out after 600ms");
    // An answer without a length on a connection the agent never closes: read to a close
    // that never comes, so the deadline ends it.
    let base = hostile(agents::held_after_answer).await;
    assert_all(&every_call(&base).await, |_, reason| reason == "timed out after 600ms");
}
