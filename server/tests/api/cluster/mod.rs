//! Several dashboards on one database: PostgreSQL shares the work between them, SQLite
//! serves one at a time. Here: the SQLite refusal and what every test shares;
//! `sharing` the in-process pairs, `processes` SIGKILL, `nginx` the load balancer.

mod nginx;
mod processes;
mod sharing;

use crate::helpers::*;
use crate::mock_agent::*;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn a_second_dashboard_on_one_sqlite_file_refuses_to_start_and_the_token_command_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("one.db").display());
    let (_address, first) = start(test_settings(url.clone())).await;

    let Err(error) = server::startup::Application::build(test_settings(url.clone())).await else {
        panic!("a second dashboard started on the same SQLite file")
    };
    let error = error.to_string();
    assert!(error.contains("one dashboard at a time") && error.contains("one.db"), "{error}");
    assert!(error.contains(&format!("process {}", std::process::id())), "names the holder: {error}");

    // The token command opens the database beside a running dashboard.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
        .args(["token", "list", "--database-url", &url])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "token list beside a dashboard: {}", String::from_utf8_lossy(&output.stderr));

    // Once the first has stopped, another may start.
    first.now().await;
    let (_address, second) = start(test_settings(url)).await;
    second.now().await;
}

/// Several dashboards share a database only on PostgreSQL.
fn postgres() -> bool {
    // These tests may make requests before any dashboard in this process has installed
    // the TLS provider reqwest needs (the SIGKILL test's dashboards are processes).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let on = std::env::var_os("CA_TEST_POSTGRES").is_some();
    if !on {
        eprintln!("skipped: several dashboards need PostgreSQL (CA_TEST_POSTGRES=1 and TEST_DATABASE_URL)");
    }
    on
}

/// Dashboards that count each other out within a second or two, checking every second.
fn clustered(url: &str) -> server::cli::UiSettings {
    let mut settings = test_settings(url.to_owned());
    settings.node_timeout = Duration::from_secs(2);
    settings.health_interval = Duration::from_secs(1);
    settings
}

/// Two dashboards on one fresh database, `configure` applied to both, once A counts both.
struct Pair {
    a: String,
    b: String,
    stop_a: Stop,
    stop_b: Stop,
    url: String,
    _database: TestDatabase,
}

async fn pair(configure: impl Fn(&mut server::cli::UiSettings)) -> Pair {
    let (url, _database) = test_database().await;
    let settings = || {
        let mut settings = clustered(&url);
        configure(&mut settings);
        settings
    };
    let (a, stop_a) = start(settings()).await;
    let (b, stop_b) = start(settings()).await;
    live_nodes(&a, 2).await;
    Pair { a, b, stop_a, stop_b, url, _database }
}

/// Agents at `{base}/a/{n}`, one server counting the health checks of each.
async fn counted_agents() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let (router, counts) = counting_agents();
    (serve(router).await, counts)
}

/// The router of `counted_agents`, to serve where a test chooses.
fn counting_agents() -> (Router, Arc<Mutex<HashMap<String, u32>>>) {
    let counts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let router = Router::new()
        .route(
            "/a/{n}/health",
            get(|State(c): State<Arc<Mutex<HashMap<String, u32>>>>, Path(n): Path<String>| async move {
                *c.lock().unwrap().entry(n).or_default() += 1;
                Json(json!({"status": "alive"}))
            }),
        )
        .with_state(counts.clone());
    (router, counts)
}

/// Registers an agent by hand through `dashboard`.
async fn register(dashboard: &str, id: &str, agent_url: &str) {
    let answer = reqwest::Client::new()
        .post(format!("{dashboard}/api/v1/agents"))
        .json(&json!({"agent_id": id, "agent_name": id, "agent_url": agent_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED, "{}", answer.text().await.unwrap());
}

/// Starts a run of `agent` through `dashboard`; its ID.
async fn start_run(dashboard: &str, agent: &str, topic: &str) -> String {
    let created: Value = reqwest::Client::new()
        .post(format!("{dashboard}/api/v1/agents/{agent}/runs"))
        .json(&json!({"inputs": {"topic": topic}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["run_id"].as_str().unwrap_or_else(|| panic!("a run was created: {created}")).to_owned()
}

async fn status(address: &str) -> Value {
    reqwest::get(format!("{address}/api/v1/status")).await.unwrap().json().await.unwrap()
}

/// Waits until `address` counts `n` live dashboards.
async fn live_nodes(address: &str, n: usize) -> Value {
    eventually(Duration::from_secs(10), || async {
        let status = status(address).await;
        let live = status["nodes"].as_array().unwrap().iter().filter(|n| n["live"] == true).count();
        (live == n).then_some(status)
    })
    .await
    .unwrap_or_else(|| panic!("{address} counts {n} live dashboards within 10 s"))
}
