//! Self-registering agents: the old client's exact HTTP sequence, host rewriting, expiry
//! and revival, the first check's delay, self-preservation, retention, and runs on
//! agents that are gone.

use crate::helpers::*;
use crate::mock_agent::{article_schema, mock_agent, Behaviour};
use axum::routing::get;
use axum::{Json, Router};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `Research Agent é1` as a path segment.
const ODD_ID: &str = "Research Agent é1";

fn encode(id: &str) -> String {
    app::model::percent_encode(id)
}

impl TestApp {
    /// `POST /api/v1/agents/register` with the old client's body.
    pub async fn self_register(&self, body: Value) -> reqwest::Response {
        self.http.post(self.url("/api/v1/agents/register")).json(&body).send().await.expect("request sent")
    }

    /// `POST /agents/{id}/heartbeat` as the old client sends it: no body.
    pub async fn heartbeat(&self, id: &str) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/v1/agents/{}/heartbeat", encode(id))))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn agent(&self, id: &str) -> Value {
        let response = self.get_agent(&encode(id)).await;
        assert_eq!(response.status(), StatusCode::OK, "GET agent {id}");
        response.json().await.unwrap()
    }

    pub async fn registry_health(&self) -> Value {
        self.http.get(self.url("/api/v1/health")).send().await.unwrap().json().await.unwrap()
    }
}

/// The old client's registration of an agent listening at `port` on loopback.
fn old_body(id: &str, port: u16, ttl: u64) -> Value {
    json!({
        "agent_id": id,
        "agent_name": format!("Agent {id}"),
        "host": "127.0.0.1",
        "port": port,
        "ttl_seconds": ttl,
        "metadata": "{\"team\": \"research\"}",
    })
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

/// An agent that counts its health checks.
async fn counted_agent() -> (String, Arc<AtomicUsize>) {
    let checks = Arc::new(AtomicUsize::new(0));
    let counter = checks.clone();
    let router = Router::new().route(
        "/health",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Json(json!({"status": "alive"})) }
        }),
    );
    (serve(router).await, checks)
}

#[tokio::test]
async fn the_old_clients_sequence_works_unchanged_and_loses_nothing() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    let port = port_of(&agent);

    // Registered in its startup hook: string metadata, a TTL.
    let response = app.self_register(old_body("writer", port, 60)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: Value = response.json().await.unwrap();
    assert_eq!(stored["agent_url"], format!("http://127.0.0.1:{port}"));
    assert_eq!((stored["host"].as_str(), stored["port"].as_u64()), (Some("127.0.0.1"), Some(port as u64)));
    assert_eq!(stored["ttl_seconds"], 60);
    assert_eq!(stored["source"], "self_registered");
    assert_eq!(stored["metadata"], json!({"team": "research"}), "metadata is an object in our answers");
    assert_eq!((stored["is_alive"].as_bool(), stored["expired"].as_bool()), (Some(true), Some(false)));
    assert!(stored["last_heartbeat"].is_string(), "a registration counts as a heartbeat");

    // Heartbeats: no body, whatever content type.
    let beat = app
        .http
        .post(app.url("/api/v1/agents/writer/heartbeat"))
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), StatusCode::OK);
    let beat: Value = beat.json().await.unwrap();
    assert_eq!(beat["status"], "ok");
    let last = beat["last_heartbeat"].as_str().unwrap().to_owned();
    assert!(app.heartbeat("writer").await.status().is_success());

    // The old registry's list, single agent and health.
    let listed: Value = app.list_agents("?include_dead=False").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(app.registry_health().await, json!({"status": "healthy", "registered_agents": 1, "active_agents": 1}));

    // Shutdown: it deregisters; it stays listed with its history, not alive.
    let gone = app.delete_agent("writer").await;
    assert_eq!(gone.status(), StatusCode::OK);
    assert_eq!(gone.json::<Value>().await.unwrap(), json!({"status": "deregistered", "agent_id": "writer"}));
    let kept = app.agent("writer").await;
    assert_eq!((kept["is_alive"].as_bool(), kept["expired"].as_bool()), (Some(false), Some(true)));
    assert_eq!(kept["expiry"], "deregistered");
    assert!(kept["last_heartbeat"].as_str().unwrap() >= last.as_str());
    assert_eq!(app.registry_health().await["active_agents"], 0);
    let alive_only: Value = app.list_agents("?include_dead=false").await.json().await.unwrap();
    assert_eq!(alive_only, json!([]));
    let expired: Value = app.list_agents("?state=expired").await.json().await.unwrap();
    assert_eq!(expired.as_array().unwrap().len(), 1);
    let history: Value =
        app.http.get(app.url("/api/v1/agents/writer/history")).send().await.unwrap().json().await.unwrap();
    assert!(history.get("uptime").is_some() || history.is_object(), "history kept: {history}");

    // A heartbeat now is refused, saying to register again.
    let refused = app.heartbeat("writer").await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(error_of(refused).await["message"].as_str().unwrap().contains("Register it again"));

    // The next start registers again: the same agent, alive, at the same URL.
    let again = app.self_register(old_body("writer", port, 60)).await;
    assert_eq!(again.status(), StatusCode::OK, "known ID: an update");
    let again: Value = again.json().await.unwrap();
    assert_eq!((again["is_alive"].as_bool(), again["expired"].as_bool()), (Some(true), Some(false)));
    assert_eq!(again["registered_at"], stored["registered_at"]);
    assert!(app.heartbeat("writer").await.status().is_success());

    // Purge deletes for good.
    let purged = app.http.delete(app.url("/api/v1/agents/writer?purge=true")).send().await.unwrap();
    assert_eq!(purged.json::<Value>().await.unwrap()["status"], "deleted");
    assert_eq!(app.get_agent("writer").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.heartbeat("writer").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hosts_are_rewritten_to_where_the_agent_can_be_reached() {
    let app = spawn_app().await;
    let listening =
        app.self_register(json!({"agent_id": "anywhere", "agent_name": "A", "host": "0.0.0.0", "port": 8123})).await;
    assert_eq!(listening.status(), StatusCode::CREATED);
    let listening: Value = listening.json().await.unwrap();
    assert_eq!(listening["agent_url"], "http://127.0.0.1:8123", "the address it registered from");
    assert_eq!(listening["ttl_seconds"], 60, "the old default");
    assert!(listening["address_note"].as_str().unwrap().contains("0.0.0.0"));

    let whole = app
        .self_register(
            json!({"agent_id": "behind-proxy", "agent_name": "B", "agent_url": "https://127.0.0.1:8443/agents/b/",
                              "metadata": {"k": 1}}),
        )
        .await;
    let whole: Value = whole.json().await.unwrap();
    assert_eq!(whole["agent_url"], "https://127.0.0.1:8443/agents/b", "https and the prefix kept");
    assert_eq!((whole["port"].as_u64(), whole["metadata"]["k"].as_u64()), (Some(8443), Some(1)));
    assert!(whole["address_note"].is_null());

    let v6 = app.self_register(json!({"agent_id": "six", "agent_name": "S", "host": "::1", "port": 9})).await;
    assert_eq!(v6.json::<Value>().await.unwrap()["agent_url"], "http://[::1]:9", "IPv6 bracketed");

    let text = app
        .self_register(json!({"agent_id": "t", "agent_name": "T", "host": "localhost", "port": 9,
                              "metadata": "{not json"}))
        .await;
    assert_eq!(text.json::<Value>().await.unwrap()["metadata"], json!({"description": "{not json"}));
}

#[tokio::test]
async fn every_invalid_field_is_refused_by_name_and_counted() {
    let app = spawn_app().await;
    let base = json!({"agent_id": "ok", "agent_name": "x", "host": "127.0.0.1", "port": 8000});
    let with = |k: &str, v: Value| {
        let mut body = base.clone();
        body[k] = v;
        body
    };
    let cases = [
        (with("agent_id", json!("a/b")), "agent_id"),
        (with("agent_id", json!("x".repeat(256))), "agent_id"),
        (with("agent_id", json!("register")), "agent_id"),
        (with("agent_id", json!(7)), "agent_id"),
        (with("port", json!(0)), "port"),
        (with("port", json!(65536)), "port"),
        (with("port", json!("eighty")), "port"),
        (with("ttl_seconds", json!(0)), "ttl_seconds"),
        (with("ttl_seconds", json!(3601)), "ttl_seconds"),
        (with("host", json!("bad host")), "host"),
        (with("host", json!("")), "host"),
        (with("metadata", json!([1])), "metadata"),
        (with("agent_url", json!("ftp://x")), "agent_url"),
    ];
    for (body, field) in &cases {
        let response = app.self_register(body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error = error_of(response).await;
        assert!(error["fields"].as_array().unwrap().iter().any(|f| f["field"] == *field), "{body}: {error}");
    }
    let no_json = app.http.post(app.url("/api/v1/agents/register")).body("{").send().await.unwrap();
    assert_eq!(no_json.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Lenient where the old registry was: digits in a string are a number; a long name is cut.
    let lenient = app
        .self_register(
            json!({"agent_id": " spaced ", "agent_name": "n".repeat(500), "host": "127.0.0.1", "port": "8000"}),
        )
        .await;
    assert_eq!(lenient.status(), StatusCode::CREATED);
    let lenient: Value = lenient.json().await.unwrap();
    assert_eq!(lenient["agent_id"], " spaced ", "kept exactly as sent");
    assert_eq!(lenient["agent_name"].as_str().unwrap().chars().count(), app::validation::MAX_NAME_LEN);

    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for (field, n) in [("agent_id", 4), ("port", 3), ("ttl_seconds", 2), ("host", 2), ("body", 1)] {
        let line = format!("configurable_agents_refused_registrations_total{{field=\"{field}\"}} {n}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_silent_agent_expires_leaves_the_schedule_and_a_heartbeat_revives_it() {
    let app = spawn_app_with(Duration::from_millis(200)).await;
    let (url, checks) = counted_agent().await;
    let (steady, _) = counted_agent().await;
    app.register("steady", &steady).await;
    assert_eq!(app.self_register(old_body("short", port_of(&url), 1)).await.status(), StatusCode::CREATED);
    let mut events = EventStream::open(&app.address, None).await;

    let expired = eventually(Duration::from_secs(10), || async {
        let agent = app.agent("short").await;
        agent["expired"].as_bool().unwrap().then_some(agent)
    })
    .await
    .expect("expires after its TTL");
    assert_eq!((expired["is_alive"].as_bool(), expired["expiry"].as_str()), (Some(false), Some("ttl")));
    let published = events.next_matching("agent.upserted", Duration::from_secs(5), |e| e["expired"] == true).await;
    assert!(published.is_some(), "the expiry is published");
    let overview: Value = app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
    assert_eq!(overview["summary"]["expired"], 1, "{overview}");
    assert_eq!(overview["summary"]["healthy"], 1, "the expired agent counts as expired only");
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("configurable_agents_agents{state=\"expired\"} 1"), "{metrics}");

    // Not checked while expired: the steady agent's next checks pass, its count stays.
    let before = checks.load(Ordering::SeqCst);
    let mut completed = app.monitor.completed();
    let now = *completed.borrow_and_update();
    tokio::time::timeout(Duration::from_secs(10), completed.wait_for(|n| *n >= now + 5)).await.unwrap().unwrap();
    assert_eq!(checks.load(Ordering::SeqCst), before, "an expired agent is not checked");

    // A heartbeat revives it, written through and checked at once.
    let revived = app.heartbeat("short").await;
    assert_eq!(revived.status(), StatusCode::OK);
    let agent = app.agent("short").await;
    assert_eq!((agent["is_alive"].as_bool(), agent["expired"].as_bool()), (Some(true), Some(false)));
    eventually(Duration::from_secs(5), || async { (checks.load(Ordering::SeqCst) > before).then_some(()) })
        .await
        .expect("checked again once revived");
}

#[tokio::test]
async fn a_self_registered_agent_is_first_checked_after_it_has_had_time_to_listen() {
    let app = spawn_app_with(Duration::from_millis(300)).await;
    // A free port, listened on only a second after the registration.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let response = app.self_register(old_body("late", port, 60)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: Value = response.json().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, server::test_agent::router("late")).await });

    let healthy = eventually(Duration::from_secs(10), || async {
        let agent = app.agent("late").await;
        (agent["health"]["state"] == "healthy").then_some(agent)
    })
    .await
    .expect("healthy once it listens");
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let waited = at(&healthy["health"]["checked_at"]) - at(&registered["registered_at"]);
    assert!(waited >= chrono::Duration::milliseconds(1900), "first checked {waited} after registering");
    let history: Value =
        app.http.get(app.url("/api/v1/agents/late/history")).send().await.unwrap().json().await.unwrap();
    let text = history.to_string();
    assert!(!text.contains("\"failing\"") && !text.contains("\"unhealthy\""), "never shown down: {text}");
}

#[tokio::test]
async fn no_agent_expires_sooner_than_its_ttl_after_a_restart_and_pending_heartbeats_are_kept() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    app.self_register(old_body("patient", port_of(&agent), 2)).await;
    let beat: Value = app.heartbeat("patient").await.json().await.unwrap();
    // Stopped within the flush delay: the shutdown stores the pending batch.
    let app = restart(app, |_| {}).await;
    let stored = app.agent("patient").await;
    assert_eq!(stored["last_heartbeat"], beat["last_heartbeat"], "the pending heartbeat was stored at shutdown");

    // Down for longer than its TTL: it still has a whole TTL after the start.
    let mut app = app;
    app.stop_server().await;
    let down_since = std::time::Instant::now();
    eventually(Duration::from_secs(5), || async { (down_since.elapsed() > Duration::from_millis(2500)).then_some(()) })
        .await;
    let app = restart(app, |_| {}).await;
    let started = std::time::Instant::now();
    assert_eq!(app.agent("patient").await["expired"], false, "not expired at the start");
    eventually(Duration::from_secs(10), || async { (app.agent("patient").await["expired"] == true).then_some(()) })
        .await
        .expect("expires a TTL after the start");
    assert!(started.elapsed() >= Duration::from_millis(1900), "expired {:?} after the start", started.elapsed());
}

#[tokio::test]
async fn runs_are_refused_for_agents_that_are_gone_and_never_sent() {
    let app = spawn_app().await;
    let agent = mock_agent(article_schema(), Behaviour::Echo).await;
    let body = json!({"agent_id": "gone", "agent_name": "Gone", "agent_url": agent.url, "ttl_seconds": 60});
    assert_eq!(app.self_register(body).await.status(), StatusCode::CREATED);
    app.delete_agent("gone").await;
    let refused = app.create_run("gone", json!({"topic": "x"})).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let message = error_of(refused).await["message"].as_str().unwrap().to_owned();
    assert!(message.contains("deregistered") && message.contains("last heartbeat"), "{message}");
    assert_eq!(agent.runs_received(), 0);
}

#[tokio::test]
async fn a_queued_run_whose_agent_expired_meanwhile_fails_without_being_sent() {
    let app = spawn_app_configured(|s| s.run_concurrency = 1).await;
    let agent = mock_agent(article_schema(), Behaviour::Slow(Duration::from_secs(3))).await;
    let body = json!({"agent_id": "busy", "agent_name": "Busy", "agent_url": agent.url, "ttl_seconds": 1});
    assert_eq!(app.self_register(body).await.status(), StatusCode::CREATED);
    let first = app.start_run("busy", json!({"topic": "first"})).await;
    let second = app.start_run("busy", json!({"topic": "second"})).await;
    let failed = app.finished_run(&second, Duration::from_secs(15)).await;
    assert_eq!(failed["status"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("expired") && error.contains("not sent"), "{error}");
    app.finished_run(&first, Duration::from_secs(15)).await;
    assert_eq!(agent.runs_received(), 1, "only the first run reached the agent");
}

#[tokio::test]
async fn an_id_with_a_space_and_an_accent_works_through_every_route() {
    let app = spawn_app().await;
    let agent = mock_agent(article_schema(), Behaviour::Echo).await;
    let body = json!({"agent_id": ODD_ID, "agent_name": "Research", "agent_url": agent.url});
    assert_eq!(app.self_register(body).await.status(), StatusCode::CREATED);
    let path = encode(ODD_ID);
    assert_eq!(app.agent(ODD_ID).await["agent_id"], ODD_ID);
    for tail in ["/schema", "/history"] {
        let response = app.http.get(app.url(&format!("/api/v1/agents/{path}{tail}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{tail}");
    }
    assert!(app.heartbeat(ODD_ID).await.status().is_success());
    let run = app.start_run(&path, json!({"topic": "t"})).await;
    let done = app.finished_run(&run, Duration::from_secs(10)).await;
    assert_eq!((done["status"].as_str(), done["agent_id"].as_str()), (Some("succeeded"), Some(ODD_ID)));
    let runs: Value =
        app.http.get(app.url(&format!("/api/v1/runs?agent_id={path}"))).send().await.unwrap().json().await.unwrap();
    assert!(runs.to_string().contains(ODD_ID), "{runs}");
    let page = app.http.get(app.url(&format!("/agents/{path}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(ODD_ID));
    let purged = app.http.delete(app.url(&format!("/api/v1/agents/{path}?purge=1"))).send().await.unwrap();
    assert_eq!(purged.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_registrations_of_one_id_create_it_once() {
    let app = spawn_app().await;
    let bodies = (0..8).map(|i| old_body("racer", 9000 + i, 60));
    let answers = futures::future::join_all(bodies.map(|b| app.self_register(b))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 201), "{statuses:?}");
    let listed: Value = app.list_agents("").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_mass_silence_pauses_expiry_and_the_pause_ends() {
    let app = spawn_app_configured(|s| {
        s.self_preservation_min = 3;
        s.self_preservation_max = Duration::from_secs(3);
    })
    .await;
    let agent = alive_agent().await;
    for i in 0..4 {
        app.self_register(old_body(&format!("fleet-{i}"), port_of(&agent), 2)).await;
    }
    let mut events = EventStream::open(&app.address, None).await;
    // All four fall silent together: past half their TTL expiry pauses, before any expires.
    let on = events
        .next_matching("registry.self_preservation", Duration::from_secs(10), |e| e["active"] == true)
        .await
        .expect("self-preservation begins");
    assert_eq!((on.json()["silent"].as_u64(), on.json()["alive"].as_u64()), (Some(4), Some(4)));
    let overview: Value = app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
    assert_eq!(overview["self_preservation"]["active"], true);
    assert_eq!(overview["summary"]["expired"], 0, "nothing expires while paused");
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("configurable_agents_self_preservation 1"), "{metrics}");

    // Nobody comes back: after its longest the overdue expire, and it does not restart.
    events
        .next_matching("registry.self_preservation", Duration::from_secs(10), |e| e["active"] == false)
        .await
        .expect("self-preservation ends after its longest");
    eventually(Duration::from_secs(5), || async {
        let o: Value = app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
        (o["summary"]["expired"] == 4).then_some(())
    })
    .await
    .expect("the overdue expire");
    let overview: Value = app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
    assert_eq!(overview["self_preservation"]["active"], false);
}

#[tokio::test]
async fn heartbeats_that_recover_end_the_pause_and_a_small_fleet_never_pauses() {
    let app = spawn_app_configured(|s| s.self_preservation_min = 3).await;
    let agent = alive_agent().await;
    for i in 0..4 {
        app.self_register(old_body(&format!("f{i}"), port_of(&agent), 2)).await;
    }
    let mut events = EventStream::open(&app.address, None).await;
    events
        .next_matching("registry.self_preservation", Duration::from_secs(10), |e| e["active"] == true)
        .await
        .expect("paused");
    for i in 0..4 {
        assert!(app.heartbeat(&format!("f{i}")).await.status().is_success());
    }
    events
        .next_matching("registry.self_preservation", Duration::from_secs(5), |e| e["active"] == false)
        .await
        .expect("heartbeats recovered: the pause ends");
    assert!(app.list_agents("?state=expired").await.json::<Value>().await.unwrap().as_array().unwrap().is_empty());

    // Two agents (below the floor of 3) fall silent: they simply expire.
    let small = spawn_app_configured(|s| s.self_preservation_min = 3).await;
    for i in 0..2 {
        small.self_register(old_body(&format!("s{i}"), port_of(&agent), 1)).await;
    }
    eventually(Duration::from_secs(10), || async {
        let expired: Value = small.list_agents("?state=expired").await.json().await.unwrap();
        (expired.as_array().unwrap().len() == 2).then_some(())
    })
    .await
    .expect("a fleet below the floor expires as usual");
}

#[tokio::test]
async fn long_expired_agents_are_purged_with_retention_unless_revived() {
    let app = spawn_app_configured(|s| s.expired_retention = Some(Duration::from_secs(1))).await;
    let agent = alive_agent().await;
    app.self_register(old_body("old", port_of(&agent), 1)).await;
    app.self_register(old_body("kept", port_of(&agent), 3600)).await;
    eventually(Duration::from_secs(15), || async {
        (app.get_agent("old").await.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await
    .expect("purged after expiry + retention");
    assert_eq!(app.get_agent("kept").await.status(), StatusCode::OK);
    assert_eq!(app.heartbeat("old").await.status(), StatusCode::NOT_FOUND, "a purged agent must register again");
}

#[tokio::test]
async fn a_manual_agent_records_heartbeats_and_never_expires() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    app.register("manual", &agent).await;
    let beat = app.heartbeat("manual").await;
    assert_eq!(beat.status(), StatusCode::OK);
    let at = beat.json::<Value>().await.unwrap()["last_heartbeat"].clone();
    let stored = eventually(Duration::from_secs(5), || async {
        let a = app.agent("manual").await;
        (a["last_heartbeat"] == at).then_some(a)
    })
    .await
    .expect("the heartbeat is stored within the flush delay");
    assert_eq!((stored["ttl_seconds"].as_u64(), stored["expired"].as_bool()), (None, Some(false)));
    // DELETE of a manual agent deletes it for good.
    assert_eq!(app.delete_agent("manual").await.json::<Value>().await.unwrap()["status"], "deleted");
}

#[tokio::test]
async fn heartbeats_racing_the_retention_purge_never_leave_a_half_state() {
    let app = spawn_app_configured(|s| {
        s.expired_retention = Some(Duration::from_secs(1));
        // Twenty agents silent together would pause expiry (self-preservation).
        s.self_preservation_min = 1000;
    })
    .await;
    let agent = alive_agent().await;
    let ids: Vec<String> = (0..20).map(|i| format!("racer-{i}")).collect();
    for id in &ids {
        app.self_register(old_body(id, port_of(&agent), 1)).await;
    }
    // None alive any more: each expired, perhaps purged already.
    eventually(Duration::from_secs(10), || async {
        let alive: Value = app.list_agents("?include_dead=false").await.json().await.unwrap();
        alive.as_array().unwrap().is_empty().then_some(())
    })
    .await
    .expect("all expired");
    // Heartbeats spread over the time the purge comes: each one either revives its agent
    // (200, and the agent is there and alive) or finds it purged (404, and it is gone).
    let (mut revived, mut purged) = (0, 0);
    for id in &ids {
        let status = app.heartbeat(id).await.status();
        let stored = app.get_agent(&encode(id)).await;
        match status {
            StatusCode::OK => {
                assert_eq!(
                    stored.status(),
                    StatusCode::OK,
                    "{id}: a heartbeat answered 200 revives an agent that exists"
                );
                let agent: Value = stored.json().await.unwrap();
                assert_eq!(agent["is_alive"], true, "{id}: {agent}");
                revived += 1;
            }
            StatusCode::NOT_FOUND => {
                assert_eq!(stored.status(), StatusCode::NOT_FOUND, "{id}: refused because it is gone");
                purged += 1;
            }
            other => panic!("{id}: heartbeat answered {other}"),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    eprintln!("heartbeats racing the purge: {revived} revived, {purged} found purged");
    assert_eq!(revived + purged, ids.len());
}
