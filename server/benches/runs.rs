//! 1,000 runs submitted at once to one agent that answers in 100 ms, with the per-agent
//! limit raised so all may run together: how long until every run is recorded with its
//! outputs, runs per second, and the dashboard's own peak memory and CPU time (it runs
//! as a separate process; the mock agent and the client live in this one). Prints
//! figures; asserts only that every run succeeded.
//!
//!     cargo bench -p server --bench runs          (or ./dev bench)
//!     BENCH_RUNS=1000 BENCH_AGENT_MS=100 BENCH_DB=postgres://… cargo bench -p server --bench runs

#[path = "support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{env, Dashboard};

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runs = env("BENCH_RUNS", 1000) as usize;
    let agent_ms = env("BENCH_AGENT_MS", 100);

    let agent = {
        let router = support::bench_agent().route(
            "/run",
            axum::routing::post(move |axum::Json(inputs): axum::Json<Value>| async move {
                tokio::time::sleep(Duration::from_millis(agent_ms)).await;
                axum::Json(json!({"status": "success", "outputs": {"echo": inputs}}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    };

    let dir = tempfile::tempdir().unwrap();
    let database =
        std::env::var("BENCH_DB").unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let concurrency = runs.max(1).to_string();
    let dashboard = Dashboard::start(&database, &["--run-concurrency", &concurrency]);
    let base = dashboard.base.clone();

    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let registered = http
        .post(format!("{base}/api/v1/agents"))
        .json(&json!({"agent_id": "bench", "agent_name": "Bench", "agent_url": agent}))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success(), "agent registered");
    let idle = dashboard.usage();

    let started = Instant::now();
    let submits = (0..runs).map(|i| {
        let http = http.clone();
        let url = format!("{base}/api/v1/agents/bench/runs");
        async move {
            let r = http.post(url).json(&json!({"inputs": {"topic": format!("t{i}")}})).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 202, "run accepted");
        }
    });
    futures::future::join_all(submits).await;
    let accepted = started.elapsed();

    let count = |status: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http.get(format!("{base}/api/v1/runs?status={status}&limit=1")).send().await.unwrap();
            r.headers()["x-total-count"].to_str().unwrap().parse::<usize>().unwrap()
        }
    };
    loop {
        if count("succeeded").await + count("failed").await >= runs {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            panic!("runs did not finish within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done = started.elapsed();
    let end = dashboard.usage();
    let succeeded = count("succeeded").await;
    let sample: Vec<Value> =
        http.get(format!("{base}/api/v1/runs?limit=1")).send().await.unwrap().json().await.unwrap();
    drop(dashboard);

    println!(
        "{runs} runs submitted at once to one agent answering in {agent_ms} ms (per-agent limit {runs}), database {}",
        if database.starts_with("postgres") { "PostgreSQL" } else { "SQLite" }
    );
    println!("  all accepted (202) after   {:>7.0} ms", accepted.as_secs_f64() * 1e3);
    println!("  all recorded with outputs  {:>7.0} ms  (goal: ≤ 2000 ms)", done.as_secs_f64() * 1e3);
    println!("  throughput                 {:>7.0} runs/s", runs as f64 / done.as_secs_f64());
    println!("  succeeded                  {succeeded} of {runs}; a sample's outputs: {}", sample[0]["outputs"]);
    println!(
        "  dashboard peak RSS         {:>7.1} MB  ({:.1} MB idle before the burst)",
        end.peak_kib as f64 / 1024.0,
        idle.peak_kib as f64 / 1024.0
    );
    println!("  dashboard CPU time         {:>7} ms during the burst", end.cpu_ms.saturating_sub(idle.cpu_ms));
    assert_eq!(succeeded, runs, "every run succeeded");
    assert!(sample[0]["outputs"]["echo"]["topic"].is_string(), "outputs recorded");
}
