//! The live event stream (`GET /api/v1/events`) and `/metrics`.

use crate::helpers::*;
use crate::mock_agent::*;
use axum::http::StatusCode;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

const SOON: Duration = Duration::from_secs(5);

#[tokio::test]
async fn changes_are_pushed_as_they_are_committed() {
    let app = spawn_app_configured(|s| s.unhealthy_after = 2).await;
    let mut events = EventStream::open(&app.address, None).await;
    let first = events.next(SOON).await.expect("a first event");
    assert_eq!(first.event, "resync", "a new client refetches its view once: {first:?}");
    assert!(first.id.is_some());

    let (url, up) = switchable_agent().await;
    app.register("pushed", &url).await;
    let upserted = events.next_matching("agent.upserted", SOON, |d| d["agent_id"] == "pushed").await.unwrap();
    assert_eq!(upserted.json()["health"]["state"], "healthy");
    assert_eq!(upserted.json()["agent_url"], url);

    up.store(false, Ordering::SeqCst);
    app.monitor.check_now(Some(vec!["pushed".into()]));
    let failing = events.next_matching("agent.health", SOON, |d| d["agent_id"] == "pushed").await.unwrap();
    let health = &failing.json()["health"];
    assert_eq!(
        (health["state"].as_str(), health["reason"].as_str()),
        (Some("failing"), Some("HTTP 503 Service Unavailable"))
    );
    assert_eq!(health["consecutive_failures"], 1);
    assert_eq!(failing.json()["previous"], "healthy");
    // Every agent's counts ride along, versioned: a page keeps the newest it has seen.
    assert_eq!(
        failing.json()["summary"],
        json!({ "healthy": 0, "failing": 1, "unhealthy": 0, "unknown": 0, "expired": 0 })
    );
    let version = failing.json()["summary_version"].as_u64().unwrap();
    let overview: serde_json::Value =
        app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
    assert!(overview["summary_version"].as_u64().unwrap() >= version, "{overview}");
    assert_eq!(overview["summary"], failing.json()["summary"]);

    assert_eq!(app.delete_agent("pushed").await.status(), StatusCode::OK);
    events.next_matching("agent.removed", SOON, |d| d["agent_id"] == "pushed").await.expect("agent.removed");

    // Ids only go up.
    let (a, b) = (first.id.unwrap(), failing.id.unwrap());
    let seq = |id: &str| id.rsplit_once('-').unwrap().1.parse::<u64>().unwrap();
    assert!(seq(&b) > seq(&a));
}

#[tokio::test]
async fn a_run_is_followed_to_its_end_by_push() {
    let (app, agent) = app_with(Behaviour::Slow(Duration::from_millis(300))).await;
    let mut events = EventStream::open(&app.address, None).await;
    let run_id = app.start_run("a", json!({"topic": "push"})).await;
    let mut seen = Vec::new();
    while let Some(e) = events.next_matching("run.updated", SOON, |d| d["run_id"] == run_id.as_str()).await {
        let status = e.json()["status"].as_str().unwrap().to_owned();
        assert!(e.json().get("inputs").is_none(), "no inputs or outputs on the stream");
        seen.push(status.clone());
        if status == "succeeded" {
            break;
        }
    }
    assert_eq!(seen.first().map(String::as_str), Some("queued"), "{seen:?}");
    assert!(seen.contains(&"running".to_owned()), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("succeeded"), "{seen:?}");
    assert_eq!(agent.runs_received(), 1);
}

#[tokio::test]
async fn a_client_resumes_exactly_where_it_left_off() {
    let app = spawn_app().await;
    let url = alive_agent().await;
    let mut events = EventStream::open(&app.address, None).await;
    events.next(SOON).await.expect("resync");
    app.register("one", &url).await;
    let last = events.next_matching("agent.upserted", SOON, |_| true).await.unwrap().id.unwrap();
    drop(events);

    // Missed while disconnected.
    app.register("two", &url).await;
    app.register("three", &url).await;
    assert_eq!(app.delete_agent("one").await.status(), StatusCode::OK);

    let mut resumed = EventStream::open(&app.address, Some(&last)).await;
    let mut got = Vec::new();
    while let Some(e) = resumed.next(Duration::from_millis(700)).await {
        got.push((e.event.clone(), e.json()["agent_id"].as_str().unwrap_or_default().to_owned()));
    }
    let expected = [
        ("agent.upserted".to_owned(), "two".to_owned()),
        ("agent.upserted".to_owned(), "three".to_owned()),
        ("agent.removed".to_owned(), "one".to_owned()),
    ];
    assert_eq!(got, expected, "exactly what was missed, in order, without a resync");

    // The same through the query parameter (a page opening a new EventSource).
    let response = reqwest::get(app.url(&format!("/api/v1/events?last_event_id={last}"))).await.unwrap();
    let mut by_query = EventStream::from_response(response);
    let mut again = Vec::new();
    for _ in 0..expected.len() {
        let e = by_query.next(SOON).await.expect("every missed event, resumed by ?last_event_id=");
        again.push((e.event.clone(), e.json()["agent_id"].as_str().unwrap_or_default().to_owned()));
    }
    assert_eq!(again, expected);
}

#[tokio::test]
async fn after_a_restart_an_old_event_id_gets_a_resync_not_a_gap() {
    let app = spawn_app().await;
    let url = alive_agent().await;
    let mut events = EventStream::open(&app.address, None).await;
    app.register("before", &url).await;
    let last = events.next_matching("agent.upserted", SOON, |_| true).await.unwrap().id.unwrap();

    let app = restart(app, |_| {}).await;
    // The old stream ended with the old process (ended, not merely quiet).
    assert!(events.ends_within(Duration::from_secs(5)).await, "the stream ended at shutdown");
    app.register("after", &url).await;
    let mut events = EventStream::open(&app.address, Some(&last)).await;
    let first = events.next(SOON).await.unwrap();
    assert_eq!(first.event, "resync", "{first:?}");
    // Resuming from the resync's id is seamless.
    let id = first.id.unwrap();
    app.register("later", &url).await;
    let mut again = EventStream::open(&app.address, Some(&id)).await;
    let next = again.next(SOON).await.unwrap();
    assert_eq!((next.event.as_str(), next.json()["agent_id"].as_str()), ("agent.upserted", Some("later")));
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_promised_series() {
    let app = spawn_app().await;
    let url = alive_agent().await;
    app.register("m", &url).await;
    app.monitor.check_now(None);
    let _stream = EventStream::open(&app.address, None).await;
    let _ = app.list_agents("").await;
    let samples = eventually(SOON, || async {
        let response = reqwest::get(app.url("/metrics")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
        let samples = parse_exposition(&response.text().await.unwrap());
        samples.iter().any(|(n, _, _)| n == "configurable_agents_health_checks_total").then_some(samples)
    })
    .await
    .expect("a check was counted");
    let value =
        |name: &str, labels: &str| samples.iter().find(|(n, l, _)| n == name && l == labels).map(|(_, _, v)| *v);
    assert_eq!(value("configurable_agents_agents", r#"state="healthy""#), Some(1.0));
    assert_eq!(value("configurable_agents_agents", r#"state="unhealthy""#), Some(0.0));
    assert_eq!(value("configurable_agents_event_stream_clients", ""), Some(1.0));
    assert_eq!(value("configurable_agents_runs", r#"status="queued""#), Some(0.0));
    assert!(value("configurable_agents_health_checks_total", r#"outcome="healthy""#).unwrap() >= 1.0);
    assert!(samples
        .iter()
        .any(|(n, l, _)| n == "configurable_agents_health_check_duration_seconds_bucket" && l.contains("le=")));
    assert!(
        value("configurable_agents_http_requests_total", r#"method="GET",route="/api/v1/agents",status="200""#)
            .unwrap()
            >= 1.0,
        "requests counted by route pattern: {samples:?}"
    );
    let routes: HashSet<&str> = samples
        .iter()
        .filter(|(n, _, _)| n.starts_with("configurable_agents_http"))
        .map(|(_, l, _)| l.as_str())
        .collect();
    assert!(routes.iter().all(|l| !l.contains("route=\"/api/v1/agents/m\"")), "no series per agent: {routes:?}");
}

/// Parses the OpenMetrics/Prometheus text format strictly enough to catch a malformed
/// exposition: every sample belongs to a declared family, values are numbers, `# EOF` ends it.
fn parse_exposition(text: &str) -> Vec<(String, String, f64)> {
    let mut families = HashSet::new();
    let mut samples = Vec::new();
    let lines = text.lines();
    let mut ended = false;
    for line in lines {
        assert!(!ended, "nothing after # EOF");
        if line == "# EOF" {
            ended = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "unknown", "info", "stateset", "gaugehistogram"]
                    .contains(&kind),
                "{line}"
            );
            families.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line {line:?}");
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("labels close")),
            None => (series, ""),
        };
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{name}");
        let family_declared = families.iter().any(|f| {
            name == f
                || name
                    .strip_prefix(f.as_str())
                    .is_some_and(|s| ["_total", "_bucket", "_sum", "_count", "_created"].contains(&s))
        });
        assert!(family_declared, "{name} has no # TYPE");
        samples.push((name.to_owned(), labels.to_owned(), value));
    }
    assert!(ended, "the exposition ends with # EOF");
    samples
}

#[tokio::test]
async fn a_quiet_stream_pings_so_that_a_dead_connection_can_be_told_apart() {
    let app = spawn_app().await;
    let mut events = EventStream::open(&app.address, None).await;
    assert_eq!(events.next(SOON).await.expect("resync").event, "resync");
    // Nothing happens: the next thing on the stream is a ping, 15 s after it opened.
    let ping = events.next(Duration::from_secs(20)).await.expect("a ping within 15 s");
    assert_eq!(ping.event, "ping", "{ping:?}");
    assert!(ping.id.is_none(), "a ping moves no resume point: {ping:?}");
}
