//! Does a hostile agent slow the dashboard for everyone else? The p99 latency of
//! `GET /api/v1/agents` (50 well-behaved agents listed) with and without five hostile
//! agents being called: one drips its body a byte at a time, one sends an endless chunked
//! body, one a gigabyte without a length, one JSON nested 20,000 deep, one holds the
//! connection open without answering. They are checked every second (their own interval)
//! and their `/schema` is asked every second meanwhile. (They run in this process, on a
//! thread of their own: on a 2-core machine the garbage they pump still takes CPU that
//! real hostile agents, elsewhere, would not.) Rounds alternate calm and hostile;
//! the goal is hostile p99 within 1.2× of calm. Prints figures, asserts nothing.
//!
//!     cargo bench -p server --bench hostile                (or ./dev bench)
//!     BENCH_REQUESTS=6000 BENCH_CONCURRENCY=4 BENCH_ROUNDS=3 …

// Shared with the tests, which use all of it.
#[allow(dead_code)]
#[path = "../src/agent_client/hostile_agents.rs"]
mod hostile_agents;
#[path = "support/mod.rs"]
mod support;

use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env, Dashboard};
use tokio::net::TcpListener;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `requests` lists over `concurrency` connections; the latencies, sorted.
async fn measure(http: &reqwest::Client, base: &str, requests: u64, concurrency: u64) -> Vec<Duration> {
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let http = http.clone();
        let url = format!("{base}/api/v1/agents");
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::new();
            for _ in 0..requests / concurrency {
                let started = Instant::now();
                let response = http.get(&url).send().await.unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
                took.push(started.elapsed());
            }
            took
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let requests = env("BENCH_REQUESTS", 6000);
    let concurrency = env("BENCH_CONCURRENCY", 4);
    let rounds = env("BENCH_ROUNDS", 3);
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("hostile.db").display());

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let good = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server::test_agent::router("bench")).await });
    let dashboard = Dashboard::start(&database, &["--allow-agent-network", "127.0.0.0/8"]);
    let http = reqwest::Client::new();
    let agents = format!("{}/api/v1/agents", dashboard.base);
    for i in 0..50 {
        let body = json!({"agent_id": format!("good-{i:02}"), "agent_name": "Good", "agent_url": good});
        assert!(http.post(&agents).json(&body).send().await.unwrap().status().is_success());
    }
    // On a runtime of their own, on its own thread: the load generator's latencies must
    // not include the time this process spends pumping garbage.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let agents_rt = runtime.handle().clone();
    std::thread::spawn(move || runtime.block_on(std::future::pending::<()>()));
    use hostile_agents::*;
    let hostile_urls = [
        ("drip", serve_on(&agents_rt, drip).await),
        ("endless", serve_on(&agents_rt, endless).await),
        ("gigabyte", serve_on(&agents_rt, gigabyte).await),
        ("nested", serve_on(&agents_rt, nested).await),
        ("held", serve_on(&agents_rt, held).await),
    ];
    measure(&http, &dashboard.base, 200, concurrency).await; // warm-up

    println!("GET /api/v1/agents: {requests} requests over {concurrency} connections a round, p50 / p99 (ms)");
    let (mut calm_p99, mut hostile_p99) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let calm = measure(&http, &dashboard.base, requests, concurrency).await;
        let cpu_before = dashboard.usage().cpu_ms;
        // The hostile agents join (checked every second) and their schemas are asked.
        for (name, url) in &hostile_urls {
            let body = json!({"agent_id": format!("hostile-{name}"), "agent_name": name, "agent_url": url,
                              "force": true, "replace": true, "health_interval": 1.0});
            let status = http.post(&agents).json(&body).send().await.unwrap().status();
            assert!(status.is_success(), "{name}: {status}");
        }
        let asking = Arc::new(AtomicBool::new(true));
        let mut askers = Vec::new();
        for (name, _) in &hostile_urls {
            let (http, asking) = (http.clone(), asking.clone());
            let url = format!("{agents}/hostile-{name}/schema");
            // As a person opening Execute on it every second would.
            askers.push(tokio::spawn(async move {
                while asking.load(Ordering::Relaxed) {
                    let _ = http.get(&url).send().await.map(|r| r.status());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }));
        }
        let started = Instant::now();
        let under_attack = measure(&http, &dashboard.base, requests, concurrency).await;
        let cpu = dashboard.usage().cpu_ms - cpu_before;
        asking.store(false, Ordering::Relaxed);
        for a in askers {
            let _ = a.await;
        }
        for (name, _) in &hostile_urls {
            http.delete(format!("{agents}/hostile-{name}")).send().await.unwrap();
        }
        let (c50, c99) = (percentile(&calm, 0.5), percentile(&calm, 0.99));
        let (h50, h99) = (percentile(&under_attack, 0.5), percentile(&under_attack, 0.99));
        println!(
            "  round {round}: calm {:.2} / {:.2}   hostile {:.2} / {:.2}   ({:.2}× at p99; the dashboard used {:.0} % of a core meanwhile)",
            c50.as_secs_f64() * 1e3,
            c99.as_secs_f64() * 1e3,
            h50.as_secs_f64() * 1e3,
            h99.as_secs_f64() * 1e3,
            h99.as_secs_f64() / c99.as_secs_f64(),
            cpu as f64 / started.elapsed().as_millis().max(1) as f64 * 100.0,
        );
        calm_p99.push(c99);
        hostile_p99.push(h99);
    }
    calm_p99.sort();
    hostile_p99.sort();
    let (c, h) = (calm_p99[calm_p99.len() / 2], hostile_p99[hostile_p99.len() / 2]);
    println!(
        "median p99: calm {:.2} ms, hostile {:.2} ms: {:.2}× (goal ≤ 1.2×)",
        c.as_secs_f64() * 1e3,
        h.as_secs_f64() * 1e3,
        h.as_secs_f64() / c.as_secs_f64()
    );
}
