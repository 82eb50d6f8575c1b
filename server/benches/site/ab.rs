//! `BENCH_SITE_AB`: this build of the dashboard against another, side by side (see
//! main.rs for why two runs of the whole benchmark cannot compare them).

use super::support::{self, Dashboard};
use super::{ms, seed};
use std::path::Path;
use std::time::Instant;

/// This build against `other`: `/orchestrator`'s median time on each, asked in turn.
pub async fn ab(site: &Path, other: &str, agents: u64, runs: u64, requests: usize) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        async move { axum::serve(listener, axum::Router::new().nest("/a/{n}", support::bench_agent())).await },
    );
    let dir = tempfile::tempdir().unwrap();
    let this =
        std::env::var("BENCH_DASHBOARD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_configurable-agents").to_owned());
    let args = ["--site-root", site.to_str().unwrap(), "--health-interval", "1h", "--health-timeout", "2s"];
    let mut dashboards = Vec::new();
    for (i, binary) in [this.as_str(), other].into_iter().enumerate() {
        let url = format!("sqlite://{}", dir.path().join(format!("ab-{i}.db")).display());
        seed(&url, agents, runs, &agent_base).await;
        dashboards.push(Dashboard::start_binary(binary, 0, &url, &args, &[]));
    }
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |base: String| {
        let request = client.get(format!("{base}/orchestrator")).header("accept-encoding", "br");
        async move {
            let started = Instant::now();
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "/orchestrator answered {}", response.status());
            response.bytes().await.unwrap();
            started.elapsed()
        }
    };
    let mut times = [Vec::with_capacity(requests), Vec::with_capacity(requests)];
    // A tenth first, unrecorded: connections, caches, the allocator's pools.
    for round in 0..requests + requests / 10 {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let took = get(dashboards[i].base.clone()).await;
            if round >= requests / 10 {
                times[i].push(took);
            }
        }
    }
    println!("/orchestrator at {agents} agents, {requests} requests each, in turn:");
    for (i, binary) in [this.as_str(), other].into_iter().enumerate() {
        let t = &mut times[i];
        t.sort();
        let at = |q: usize| ms(t[t.len() * q / 4]);
        println!("  {binary}: median {:.3} ms (quartiles {:.3}–{:.3})", at(2), at(1), at(3));
    }
    let (a, b) = (times[0][requests / 2], times[1][requests / 2]);
    println!("  the other build takes {:.3}× this one's time", b.as_secs_f64() / a.as_secs_f64());
}
