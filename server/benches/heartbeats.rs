//! Heartbeats at full speed: 1,000 self-registered agents, heartbeats sent over 64 kept-
//! alive connections as fast as they are answered for 20 s, while the health monitor
//! checks the agents (all at one reference agent in this process). The dashboard is the
//! real binary in its own process, so its CPU and memory are its own. Counted: 2xx
//! answers only. Afterwards every agent's last answered heartbeat must be the one stored
//! (the book is flushed at most a second late). Prints figures; the goal is ≥ 20,000/s on
//! SQLite (the old Python registry does about 650/s on this machine), with access control
//! off and on (then each connection's agents registered and beating with an agent token
//! of their own: the token lookup, its cache and the ownership check on every heartbeat).
//!
//!     cargo bench -p server --bench heartbeats             (or ./dev bench)
//!     BENCH_AGENTS=1000 BENCH_CONNECTIONS=64 BENCH_SECONDS=20 …
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test …   (PostgreSQL too)

#[path = "support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env, Dashboard};

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// The admin token of the runs with access control on.
const ADMIN: &str = "ca_bench-admin-token-0123456789abcdef0123456789abcdef";

async fn run(label: &str, database: &str, agents: u64, connections: u64, seconds: u64, tokens: bool) {
    // The agent every registration points at: the monitor checks all of them meanwhile.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server::test_agent::router("bench")).await });

    let env: &[(&str, &str)] = if tokens { &[("CA_ADMIN_TOKEN", ADMIN)] } else { &[] };
    let dashboard = Dashboard::start_with_env(database, &[], env);
    // One agent token per connection: worker w registers and beats agents w, w + n, …
    let mut bearers: Vec<Option<String>> = vec![None; connections as usize];
    if tokens {
        let db = server::db::connect(database).await.unwrap();
        for (w, bearer) in bearers.iter_mut().enumerate() {
            let token = server::access::tokens::create(
                &db,
                &format!("bench-{w}"),
                server::access::Scope::Agent,
                &server::access::Binding::Any,
            )
            .await
            .unwrap();
            *bearer = Some(format!("Bearer {token}"));
        }
    }
    let bearers = Arc::new(bearers);
    let registry = format!("{}/api/v1", dashboard.base);
    let http = reqwest::Client::new();
    let ids: Vec<String> = (0..agents).map(|i| format!("agent {i}")).collect();
    for (c, chunk) in ids.chunks(64).enumerate() {
        let sends = chunk.iter().enumerate().map(|(k, id)| {
            let mut request = http
                .post(format!("{registry}/agents/register"))
                .json(&json!({"agent_id": id, "agent_name": id, "agent_url": agent_url, "ttl_seconds": 60}));
            if let Some(bearer) = &bearers[(c * 64 + k) % connections as usize] {
                request = request.header("authorization", bearer);
            }
            request.send()
        });
        for answer in futures::future::join_all(sends).await {
            assert!(answer.unwrap().status().is_success(), "registered");
        }
    }
    let paths: Arc<Vec<String>> = Arc::new(
        ids.iter().map(|id| format!("{registry}/agents/{}/heartbeat", app::model::percent_encode(id))).collect(),
    );

    let before = dashboard.usage();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for w in 0..connections {
        let paths = paths.clone();
        let bearer = bearers[w as usize].clone();
        workers.push(tokio::spawn(async move {
            // One connection per worker, kept alive.
            let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut last: HashMap<usize, String> = HashMap::new();
            let (mut ok, mut failed) = (0u64, 0u64);
            // Its own agents: worker w beats agents w, w + connections, …
            let mine: Vec<usize> = (w as usize..paths.len()).step_by(connections as usize).collect();
            let mut k = 0;
            while Instant::now() < until {
                let i = mine[k % mine.len()];
                k += 1;
                let sent = Instant::now();
                // As the old client's Python HTTP library sends it.
                let mut request = http.post(&paths[i]).header("accept-encoding", "gzip, deflate");
                if let Some(bearer) = &bearer {
                    request = request.header("authorization", bearer);
                }
                match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or_default();
                        latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if let Some(at) = body["last_heartbeat"].as_str() {
                            last.insert(i, at.to_owned());
                        }
                        ok += 1;
                    }
                    _ => failed += 1,
                }
            }
            (ok, failed, latencies, last)
        }));
    }
    let (mut ok, mut failed, mut latencies, mut last) = (0, 0, Vec::new(), HashMap::new());
    for worker in workers {
        let (o, f, l, seen) = worker.await.unwrap();
        ok += o;
        failed += f;
        latencies.extend(l);
        for (i, at) in seen {
            // Workers beat disjoint agents: at most one answer per agent is the last.
            last.insert(i, at);
        }
    }
    let wall = started.elapsed();
    let after = dashboard.usage();
    latencies.sort_unstable();

    // Every agent's last answered heartbeat is the one stored, within the flush delay.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stored_ok = loop {
        let listed: Value = http
            .get(format!("{registry}/agents?limit=1000"))
            .header("authorization", format!("Bearer {ADMIN}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stored: HashMap<&str, &str> = listed
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| Some((a["agent_id"].as_str()?, a["last_heartbeat"].as_str()?)))
            .collect();
        let matching = last.iter().filter(|(i, at)| stored.get(ids[**i].as_str()) == Some(&at.as_str())).count();
        if matching == last.len() || Instant::now() > deadline {
            break matching;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let rate = ok as f64 / wall.as_secs_f64();
    let cpu = (after.cpu_ms - before.cpu_ms) as f64 / wall.as_millis() as f64;
    println!(
        "{label}: {rate:.0} heartbeats/s ({:.1}x the old registry's ~650/s), {ok} answered 2xx, {failed} not, \
         p50 {:.2} ms, p99 {:.2} ms; dashboard CPU {:.0} % of one core, peak RSS {:.1} MiB; \
         last heartbeat stored for {stored_ok} of {} agents",
        rate / 650.0,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        cpu * 100.0,
        after.peak_kib as f64 / 1024.0,
        last.len(),
    );
    assert_eq!(stored_ok, last.len(), "every agent's last answered heartbeat is stored");
    drop(dashboard);
}

/// A fresh PostgreSQL database on the server of `admin_url`; its URL.
async fn postgres_database(admin_url: &str) -> Option<String> {
    use sea_orm::{ConnectionTrait, Database};
    let admin = Database::connect(admin_url).await.ok()?;
    let name = format!("bench_heartbeats_{}", std::process::id());
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\"")).await.ok()?;
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.ok()?;
    let (base, _) = admin_url.rsplit_once('/')?;
    Some(format!("{base}/{name}"))
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs bench targets with `--bench`-less args: only a real
    // `cargo bench` measures.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // reqwest is built without a TLS provider (see server::agent_client).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let agents = env("BENCH_AGENTS", 1000);
    let connections = env("BENCH_CONNECTIONS", 64);
    let seconds = env("BENCH_SECONDS", 20);
    println!("heartbeats: {agents} agents, {connections} connections, {seconds} s, the monitor checking every 10 s");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("heartbeats.db").display());
    run("SQLite", &sqlite, agents, connections, seconds, false).await;
    let sqlite = format!("sqlite://{}", dir.path().join("heartbeats-tokens.db").display());
    run("SQLite, agent tokens", &sqlite, agents, connections, seconds, true).await;
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) => match postgres_database(&admin).await {
            Some(url) => {
                run("PostgreSQL", &url, agents, connections, seconds, false).await;
                if let Ok(admin) = sea_orm::Database::connect(&admin).await {
                    use sea_orm::ConnectionTrait;
                    let name = url.rsplit('/').next().unwrap_or_default();
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                }
            }
            None => println!("PostgreSQL: skipped (cannot create a database at TEST_DATABASE_URL)"),
        },
        Err(_) => println!("PostgreSQL: skipped (TEST_DATABASE_URL is not set)"),
    }
}
