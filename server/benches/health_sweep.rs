//! How long one health sweep of a mixed fleet takes: the monitor's concurrent sweep
//! against the same sweep one agent at a time (what the original tool did, inside every
//! browser's poll). Prints figures and their ratio; asserts nothing about time.
//!
//!     cargo bench -p server --bench health_sweep            (or ./dev bench)
//!     BENCH_HEALTHY=100 BENCH_REFUSED=40 BENCH_BLACKHOLE=20 BENCH_TIMEOUT_MS=1000 …

use app::model::{AgentSource, HealthState, RegisterAgent};
use app::validation::validate_registration;
use server::agent_client::{AgentClient, ClientLimits, Probe};
use server::health::HealthMonitor;
use server::registry::store;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.to_owned()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let healthy = env("BENCH_HEALTHY", 100);
    let refused = env("BENCH_REFUSED", 40);
    let blackhole = env("BENCH_BLACKHOLE", 20);
    let timeout = Duration::from_millis(env("BENCH_TIMEOUT_MS", 1000));
    let concurrency = env("BENCH_CONCURRENCY", 64) as usize;

    let alive = serve(server::test_agent::router("bench")).await;
    // Accepts the connection, never answers: the worst case, a full timeout each.
    let hole = serve(axum::Router::new().route(
        "/health",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            ""
        }),
    ))
    .await;
    let nobody = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };

    let dir = tempfile::tempdir().unwrap();
    let db = server::db::connect(&format!("sqlite://{}", dir.path().join("bench.db").display())).await.unwrap();
    let placeholder = Probe { state: HealthState::Unknown, reason: None, latency_ms: 0, checked_at: chrono::Utc::now() };
    let fleet = [(healthy, &alive), (refused, &nobody), (blackhole, &hole)];
    let mut n = 0;
    for (count, url) in fleet {
        for _ in 0..count {
            n += 1;
            let valid = validate_registration(&RegisterAgent {
                agent_id: format!("agent-{n}"),
                agent_name: format!("Agent {n}"),
                agent_url: url.to_string(),
                ..Default::default()
            })
            .unwrap();
            store::upsert(db.write(), &valid, AgentSource::Manual, &placeholder).await.unwrap();
        }
    }

    let client = AgentClient::new(ClientLimits::new(timeout, 10 * 1024 * 1024)).unwrap();
    let rss_before = rss_kib();
    let concurrent = HealthMonitor::new(db.clone(), client.clone(), Duration::from_secs(3600), concurrency);
    let _warm = concurrent.sweep().await.unwrap();
    let started = Instant::now();
    let report = concurrent.sweep().await.unwrap();
    let fast = started.elapsed();
    let rss_after = rss_kib();

    let sequential = HealthMonitor::new(db.clone(), client, Duration::from_secs(3600), 1);
    let started = Instant::now();
    let seq_report = sequential.sweep().await.unwrap();
    let slow = started.elapsed();

    println!("health sweep of {n} agents ({healthy} healthy, {refused} refused, {blackhole} never answering), timeout {timeout:?}");
    println!("  concurrent (≤{concurrency} at a time): {:>8.0} ms  ({} healthy of {})", fast.as_secs_f64() * 1e3, report.healthy, report.checked);
    println!("  one at a time (old behaviour):    {:>8.0} ms  ({} healthy of {})", slow.as_secs_f64() * 1e3, seq_report.healthy, seq_report.checked);
    println!("  speed-up: {:.1}x", slow.as_secs_f64() / fast.as_secs_f64());
    println!("  resident memory: {} KiB before the sweep, {} KiB after", rss_before, rss_after);
}
