//! Several dashboards on one PostgreSQL: health checks a second and heartbeats a second
//! with 1, 2 and 3 dashboards, and each dashboard's CPU per 1,000 of them. They all share
//! this machine's cores (with PostgreSQL, the agents and the load), so the totals say
//! little about more machines; the CPU per 1,000 checks per dashboard is the figure that
//! does: how much of a machine each share costs, and whether splitting adds overhead.
//!
//!     BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p server --bench cluster
//!     BENCH_AGENTS=2000 BENCH_SECONDS=10 …        (agents, each checked every second; the window)
//!
//! Without BENCH_DATABASE_URL (or TEST_DATABASE_URL) it says it needs PostgreSQL and stops.

#[path = "support/mod.rs"]
mod support;

use sea_orm::EntityTrait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{drop_database, env, fresh_database, Dashboard};

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(admin) = support::postgres() else {
        println!("cluster bench: needs PostgreSQL (BENCH_DATABASE_URL=postgres://USER@HOST/DB); not run");
        return;
    };
    let agents = env("BENCH_AGENTS", 2000);
    let seconds = env("BENCH_SECONDS", 10);
    // One server answers every agent's /health at /a/{n}/health.
    let router = axum::Router::new()
        .route("/a/{n}/health", axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "alive"})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();

    println!("{agents} self-registered agents, each checked every second, on 1 to 3 dashboards sharing one PostgreSQL");
    for n in 1..=3usize {
        let (url, name) = fresh_database(&admin).await;
        let start = |n: usize| -> Vec<Dashboard> {
            (0..n)
                .map(|_| {
                    Dashboard::start(
                        &url,
                        &["--health-interval", "1s", "--node-timeout", "2s", "--allow-agent-network", "127.0.0.0/8"],
                    )
                })
                .collect()
        };
        // What a dashboard costs with no agent at all (renewals, the relay's pings, timers):
        // paid once per dashboard, so it weighs more per check the more dashboards share
        // the agents.
        let idle = {
            let dashboards = start(n);
            tokio::time::sleep(Duration::from_secs(2)).await;
            let before: Vec<u64> = dashboards.iter().map(|d| d.usage().cpu_ms).collect();
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            let spent: u64 = dashboards.iter().zip(&before).map(|(d, b)| d.usage().cpu_ms - b).sum();
            spent as f64 / n as f64 / seconds as f64
        };
        seed(&url, agents, &base).await;
        let dashboards = start(n);
        // Until they have split the agents between them.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status: serde_json::Value =
                http.get(format!("{}/api/v1/status", dashboards[0].base)).send().await.unwrap().json().await.unwrap();
            let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
            let checked: u64 =
                nodes.iter().filter(|n| n["live"] == true).map(|n| n["agents_checked"].as_u64().unwrap_or(0)).sum();
            if nodes.iter().filter(|n| n["live"] == true).count() == n && checked == agents {
                break;
            }
            assert!(Instant::now() < deadline, "{n} dashboards did not split {agents} agents within 30 s: {status}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;

        // Checks: as the dashboards count them, over the window.
        let before: Vec<(u64, u64)> = measure(&http, &dashboards).await;
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let after = measure(&http, &dashboards).await;
        let checks: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a.0 - b.0).collect();
        let cpu: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a.1 - b.1).collect();
        let total: u64 = checks.iter().sum();
        let net: Vec<u64> = cpu.iter().map(|c| c.saturating_sub((idle * seconds as f64) as u64)).collect();
        println!(
            "  {n} dashboard{}: {:.0} checks/s (offered {agents}/s); CPU per 1,000 checks, each: {} ({} without \
             the {idle:.0} ms/s a dashboard spends with no agent)",
            if n == 1 { "" } else { "s" },
            total as f64 / seconds as f64,
            per_thousand(&cpu, &checks),
            per_thousand(&net, &checks)
        );

        // Heartbeats: 64 at a time, spread over the dashboards, for the window.
        let before = measure(&http, &dashboards).await;
        let sent = Arc::new(AtomicU64::new(0));
        let per: Vec<Arc<AtomicU64>> = (0..n).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let until = Instant::now() + Duration::from_secs(seconds);
        let mut load = Vec::new();
        for worker in 0..64u64 {
            let (http, sent, per) = (http.clone(), sent.clone(), per.clone());
            let bases: Vec<String> = dashboards.iter().map(|d| d.base.clone()).collect();
            load.push(tokio::spawn(async move {
                let mut i = worker;
                while Instant::now() < until {
                    let d = (i as usize) % bases.len();
                    let ok = http
                        .post(format!("{}/api/v1/agents/agent-{}/heartbeat", bases[d], i % agents))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    if ok {
                        sent.fetch_add(1, Ordering::Relaxed);
                        per[d].fetch_add(1, Ordering::Relaxed);
                    }
                    i += 64;
                }
            }));
        }
        for l in load {
            l.await.unwrap();
        }
        let after = measure(&http, &dashboards).await;
        let beats: Vec<u64> = per.iter().map(|p| p.load(Ordering::Relaxed)).collect();
        let cpu: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a.1 - b.1).collect();
        println!(
            "  {n} dashboard{}: {:.0} heartbeats/s (checks going on); CPU per 1,000 heartbeats and checks, each: {}",
            if n == 1 { "" } else { "s" },
            sent.load(Ordering::Relaxed) as f64 / seconds as f64,
            per_thousand(
                &cpu,
                &beats.iter().zip(after.iter().zip(&before)).map(|(b, (a, z))| b + a.0 - z.0).collect::<Vec<_>>()
            )
        );
        drop(dashboards);
        drop_database(&admin, &name).await;
    }
}

/// Each dashboard's checks so far (its /metrics) and its CPU time so far (ms).
async fn measure(http: &reqwest::Client, dashboards: &[Dashboard]) -> Vec<(u64, u64)> {
    let mut all = Vec::new();
    for d in dashboards {
        let text = http.get(format!("{}/metrics", d.base)).send().await.unwrap().text().await.unwrap();
        let checks: f64 = text
            .lines()
            .filter(|l| l.starts_with("configurable_agents_health_checks_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        all.push((checks as u64, d.usage().cpu_ms));
    }
    all
}

fn per_thousand(cpu_ms: &[u64], work: &[u64]) -> String {
    cpu_ms
        .iter()
        .zip(work)
        .map(|(c, w)| if *w == 0 { "-".to_owned() } else { format!("{:.0} ms", *c as f64 * 1000.0 / *w as f64) })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `agents` self-registered agents (TTL 60 s, a heartbeat now) at `{base}/a/{i}`.
async fn seed(url: &str, agents: u64, base: &str) {
    use app::model::AgentSource;
    use sea_orm::ActiveValue::Set;
    use server::entities::agents;
    let db = server::db::connect(url).await.unwrap();
    let now = chrono::Utc::now();
    let rows: Vec<agents::ActiveModel> = (0..agents)
        .map(|i| agents::ActiveModel {
            ttl_seconds: Set(Some(60)),
            last_heartbeat_at: Set(Some(now)),
            ..agents::ActiveModel::new_agent(
                format!("agent-{i}"),
                format!("Agent {i}"),
                format!("{base}/a/{i}"),
                AgentSource::SelfRegistered,
                serde_json::json!({}),
                now,
            )
        })
        .collect();
    for chunk in rows.chunks(1000) {
        agents::Entity::insert_many(chunk.to_vec()).exec_without_returning(db.write()).await.unwrap();
    }
}
