//! Self-registering agents: the old client's exact HTTP sequence, host rewriting, refusals,
//! the first check's delay, the widened IDs and concurrent registrations. Their lifecycle
//! after registering (expiry, revival, self-preservation, retention, runs on agents that
//! are gone) is in `lifecycle`.

mod lifecycle;

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

pub(super) fn encode(id: &str) -> String {
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
pub(super) fn old_body(id: &str, port: u16, ttl: u64) -> Value {
    json!({
        "agent_id": id,
        "agent_name": format!("Agent {id}"),
        "host": "127.0.0.1",
        "port": port,
        "ttl_seconds": ttl,
        "metadata": "{\"team\": \"research\"}",
    })
}

pub(super) fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

/// An agent that counts its health checks.
pub(super) async fn counted_agent() -> (String, Arc<AtomicUsize>) {
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
