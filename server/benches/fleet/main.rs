//! The health monitor against a fleet of mock agents in separate processes, each agent on
//! its own loopback address and port (127.0.0.0/8 is all loopback). Like real agents
//! (uvicorn), they close idle connections after 5 s. Some answer at once, some after
//! 200 ms, some are black holes (accept, never answer). The dashboard is the real binary
//! in its own process, so its CPU time and peak memory are measured apart from the
//! fleet's. Prints figures; asserts only that every check landed.
//!
//!     cargo bench -p server --bench fleet                  (or ./dev bench)
//!     BENCH_AGENTS=10000 BENCH_FLEET_PROCS=4 BENCH_SSE_SAMPLES=5 cargo bench -p server --bench fleet
//!     BENCH_SCENARIOS=1,2 …                                 (only these scenarios)
//!     BENCH_ROUNDS=3 BENCH_STEADY_SECONDS=20 …              (scenario 4's rounds and window)
//!     BENCH_DASHBOARD_BIN=path/to/configurable-agents …     (another build of the dashboard)
//!     BENCH_DASHBOARD_ENV=NAME=value,NAME=value …           (environment for the dashboard)
//!
//! Scenarios:
//! 1. all agents healthy and due at once (a start with none checked yet): wall time until
//!    every result is stored; the dashboard's peak RSS, at 1,000 agents and at the full count;
//! 2. the same with 10% slow (200 ms) and 10% black-holed: when the healthy results are
//!    stored, and when the dead ones show `failing` (one 3 s timeout after their checks began);
//! 3. agents going down while the whole fleet is checked on its normal 10 s schedule: from
//!    the start of the check that sees the failure to an SSE client receiving it;
//! 4. the fleet self-registered and heartbeating every 20 s (500 heartbeats a second at
//!    10,000 agents) against the same fleet registered by hand: the first sweep's time and
//!    the dashboard's CPU on the 10 s schedule, as ratios of medians over alternating
//!    rounds (goal: within 10 %);
//! 5. the same self-registered fleet checked only once an hour, so the monitor is quiet:
//!    the dashboard's CPU idle and then heartbeating, and so what one heartbeat costs.

mod agents;
mod heartbeating;
#[path = "../support/mod.rs"]
mod support;

use agents::{address, fleet_child, kind, Kind};
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{env, usage, Child, Dashboard, Usage};

// ---------------------------------------------------------------- the orchestration

struct Fleet {
    procs: Vec<(u64, u64, Child, std::process::ChildStdin)>,
}

impl Fleet {
    fn start(agents: u64, procs: u64, slow_every: u64, hole_every: u64) -> Fleet {
        let per = agents.div_ceil(procs);
        let mut started = Vec::new();
        for p in 0..procs {
            let (start, count) = (p * per, per.min(agents.saturating_sub(p * per)));
            let mut child = Child(
                Command::new(std::env::current_exe().unwrap())
                    .env("FLEET_CHILD", "1")
                    .env("FLEET_START", start.to_string())
                    .env("FLEET_COUNT", count.to_string())
                    .env("FLEET_SLOW_EVERY", slow_every.to_string())
                    .env("FLEET_HOLE_EVERY", hole_every.to_string())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("a fleet process starts"),
            );
            let stdin = child.0.stdin.take().unwrap();
            started.push((start, count, child, stdin));
        }
        for (_, _, child, _) in &mut started {
            let mut line = String::new();
            BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "ready", "a fleet process bound its agents");
        }
        Fleet { procs: started }
    }

    fn down(&mut self, i: u64) {
        for (start, count, _, stdin) in &mut self.procs {
            if (*start..*start + *count).contains(&i) {
                writeln!(stdin, "down {i}").unwrap();
                stdin.flush().unwrap();
            }
        }
    }

    fn cpu_ms(&self) -> u64 {
        self.procs.iter().map(|(_, _, c, _)| usage(c.0.id()).cpu_ms).sum()
    }
}

/// A fresh SQLite database (`name`) holding `agents` agents, none checked yet.
async fn seed(dir: &std::path::Path, name: &str, agents: u64) -> (String, sea_orm::DatabaseConnection) {
    seed_as(dir, name, agents, false).await
}

/// The same, the agents registered by hand or self-registered (TTL 60 s, a heartbeat now).
async fn seed_as(
    dir: &std::path::Path,
    name: &str,
    agents: u64,
    self_registered: bool,
) -> (String, sea_orm::DatabaseConnection) {
    seed_with(dir, name, agents, self_registered.then_some(60), None).await
}

/// The same: self-registered with this TTL when there is one, checked every `interval_ms`
/// (None: the dashboard's interval, 10 s).
async fn seed_with(
    dir: &std::path::Path,
    name: &str,
    agents: u64,
    ttl: Option<i32>,
    interval_ms: Option<i64>,
) -> (String, sea_orm::DatabaseConnection) {
    let self_registered = ttl.is_some();
    use app::model::AgentSource;
    use sea_orm::ActiveValue::Set;
    use server::entities::agents;
    let url = format!("sqlite://{}", dir.join(format!("{name}-{agents}.db")).display());
    let db = server::db::connect(&url).await.unwrap();
    let now = chrono::Utc::now();
    let rows: Vec<agents::ActiveModel> = (0..agents)
        .map(|i| {
            let source = if self_registered { AgentSource::SelfRegistered } else { AgentSource::Manual };
            agents::ActiveModel {
                ttl_seconds: Set(ttl),
                last_heartbeat_at: Set(self_registered.then_some(now)),
                health_interval_ms: Set(interval_ms),
                ..agents::ActiveModel::new_agent(
                    format!("agent-{i}"),
                    format!("Agent {i}"),
                    format!("http://{}", address(i)),
                    source,
                    serde_json::json!({}),
                    now,
                )
            }
        })
        .collect();
    for chunk in rows.chunks(1000) {
        agents::Entity::insert_many(chunk.to_vec()).exec_without_returning(db.write()).await.unwrap();
    }
    let reader = sea_orm::Database::connect(&url).await.unwrap();
    (url, reader)
}

async fn count(db: &sea_orm::DatabaseConnection, condition: &str) -> u64 {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT count(*) AS n FROM agents WHERE {condition}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() as u64
}

/// Polls until `condition` holds for `n` agents; the time it took from `since`. Each poll
/// scans the table (~1 ms at 10,000 agents) on the cores the dashboard needs, so it polls
/// every 20 ms until 90 % are there, then every 2 ms.
async fn until(
    db: &sea_orm::DatabaseConnection,
    condition: &str,
    n: u64,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    loop {
        let have = count(db, condition).await;
        if have >= n {
            return Some(since.elapsed());
        }
        if since.elapsed() > limit {
            return None;
        }
        let pause = if have * 10 >= n * 9 { 2 } else { 20 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Whether scenario `n` is to run (BENCH_SCENARIOS, default all).
fn scenario(n: u32) -> bool {
    std::env::var("BENCH_SCENARIOS").map_or(true, |list| list.split(',').any(|s| s.trim() == n.to_string()))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Megabytes (10^6), the goal's unit.
fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// Scenario 1 at `agents`: (wall time, peak RSS KiB, dashboard CPU ms, fleet CPU ms,
/// time until the dashboard served).
async fn all_due_at_once(
    dir: &std::path::Path,
    name: &str,
    agents: u64,
    procs: u64,
) -> (Duration, u64, u64, u64, Duration) {
    let (url, reader) = seed(dir, name, agents).await;
    let fleet = Fleet::start(agents, procs, 0, 0);
    let fleet_cpu = fleet.cpu_ms();
    let started = Instant::now();
    let dashboard = Dashboard::start(&url, &[]);
    let serving = started.elapsed();
    let Some(took) = until(&reader, "health_state = 'healthy'", agents, started, Duration::from_secs(60)).await else {
        panic!(
            "not every agent was healthy within 60 s: {} of {agents}",
            count(&reader, "health_state = 'healthy'").await
        );
    };
    let used = dashboard.usage();
    (took, used.peak_kib, used.cpu_ms, fleet.cpu_ms() - fleet_cpu, serving)
}

async fn run() {
    let agents = env("BENCH_AGENTS", 10_000);
    let procs = env("BENCH_FLEET_PROCS", 4).max(2);
    let samples = env("BENCH_SSE_SAMPLES", 5);
    let dir = tempfile::tempdir().unwrap();
    println!("fleet: {agents} agents in {procs} processes, each on its own 127.x.y.z address and port");

    if scenario(1) {
        // 1. Healthy, all due at once.
        let small = agents.min(1000);
        let (t_small, rss_small, _, _, _) = all_due_at_once(dir.path(), "small", small, procs).await;
        let (t, rss, cpu, fleet_cpu, serving) = all_due_at_once(dir.path(), "healthy", agents, procs).await;
        println!("1. {agents} healthy agents all due at once (from the dashboard's start, loading them included):");
        println!(
            "   all checked and stored in {:.0} ms (goal ≤ 1000 ms); {small} agents: {:.0} ms",
            t.as_secs_f64() * 1e3,
            t_small.as_secs_f64() * 1e3
        );
        println!("   of which {:.0} ms until the dashboard served", serving.as_secs_f64() * 1e3);
        println!("   dashboard CPU {cpu} ms, fleet CPU {fleet_cpu} ms");
        let beyond = match agents.checked_sub(small).filter(|n| *n > 0) {
            Some(n) => {
                format!("; {:.2} MiB per 1,000 agents beyond", mib(rss.saturating_sub(rss_small)) / (n as f64 / 1000.0))
            }
            None => String::new(),
        };
        println!(
            "   dashboard peak RSS {:.1} MB = {:.1} MiB (goal ≤ 80 MB); at {small} agents {:.1} MiB{beyond}",
            mb(rss),
            mib(rss),
            mib(rss_small)
        );
    }
    if scenario(2) {
        // 2. 10% slow, 10% black holes.
        let (url, reader) = seed(dir.path(), "mixed", agents).await;
        let fleet = Fleet::start(agents, procs, 10, 10);
        let holes = (0..agents).filter(|i| kind(*i, 10, 10) == Kind::BlackHole).count() as u64;
        let started = Instant::now();
        let dashboard = Dashboard::start(&url, &[]);
        let slow = (0..agents).filter(|i| kind(*i, 10, 10) == Kind::Slow).count() as u64;
        // The agents that answer at once (not the 200 ms ones): `agent-{i}` with i % 10 ≠ 2.
        let fast = until(
            &reader,
            "health_state = 'healthy' AND CAST(substr(agent_id, 7) AS INTEGER) % 10 != 2",
            agents - holes - slow,
            started,
            Duration::from_secs(60),
        )
        .await
        .expect("fast ones stored");
        let healthy = until(&reader, "health_state = 'healthy'", agents - holes, started, Duration::from_secs(60))
            .await
            .expect("healthy ones stored");
        let cpu = dashboard.usage().cpu_ms;
        let dead = until(&reader, "health_state = 'failing'", holes, started, Duration::from_secs(60))
            .await
            .expect("dead ones failing");
        println!("2. {agents} agents due at once, {slow} slow (200 ms), {holes} black-holed (timeout 3 s):");
        println!(
            "   every healthy result stored after {:.0} ms (goal ≤ 1000 ms); those answering at once after {:.0} ms",
            healthy.as_secs_f64() * 1e3,
            fast.as_secs_f64() * 1e3
        );
        println!("   dashboard CPU until then {cpu} ms");
        println!(
            "   every dead agent `failing` after {:.0} ms (one timeout after their checks began)",
            dead.as_secs_f64() * 1e3
        );
        println!("   dashboard peak RSS {:.1} MiB (no goal)", mib(dashboard.usage().peak_kib));
        drop(dashboard);
        drop(fleet);
    }
    if scenario(3) {
        // 3. Down → SSE, under the normal schedule of the whole (healthy) fleet.
        let (url, reader) = seed(dir.path(), "down", agents).await;
        let mut fleet = Fleet::start(agents, procs, 0, 0);
        let started = Instant::now();
        let dashboard = Dashboard::start(&url, &[]);
        until(&reader, "health_state = 'healthy'", agents, started, Duration::from_secs(60))
            .await
            .expect("all healthy");
        // The steady state starts after the first checks of all (scenario 1 measures those).
        let (steady_since, steady_cpu) = (Instant::now(), dashboard.usage().cpu_ms);
        let http = reqwest::Client::new();
        let mut stream = http.get(format!("{}/api/v1/events", dashboard.base)).send().await.unwrap();
        let mut buffer = String::new();
        let mut delays = Vec::new();
        for s in 0..samples {
            let victim = (s * 7919 + 13) % agents;
            let id = format!("agent-{victim}");
            fleet.down(victim);
            let deadline = Instant::now() + Duration::from_secs(25);
            'wait: while Instant::now() < deadline {
                let chunk = tokio::time::timeout(Duration::from_secs(25), stream.chunk())
                    .await
                    .ok()
                    .and_then(|c| c.ok())
                    .flatten();
                let Some(chunk) = chunk else { break };
                let received = chrono::Utc::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if !frame.contains("event: agent.health") {
                        continue;
                    }
                    let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
                    let event: serde_json::Value = serde_json::from_str(data).unwrap();
                    if event["agent_id"] == id.as_str() && event["health"]["state"] == "failing" {
                        let checked: chrono::DateTime<chrono::Utc> =
                            event["health"]["checked_at"].as_str().unwrap().parse().unwrap();
                        // A downed mock agent answers 503, so the check has a latency.
                        let probe_ms = event["health"]["latency_ms"].as_u64().expect("a 503 is an answer") as i64;
                        let after_check = (received - checked).num_milliseconds();
                        delays.push((probe_ms + after_check, probe_ms, after_check));
                        break 'wait;
                    }
                }
            }
        }
        assert_eq!(delays.len() as u64, samples, "every downed agent was pushed");
        println!("3. an agent goes down while {agents} are checked every 10 s: from the start of the check that sees it to an SSE client");
        for (total, probe, after) in &delays {
            println!("   {total} ms = check {probe} ms + {after} ms to the browser (goal: + ≤ 100 ms)");
        }
        let Usage { rss_kib: rss_now, cpu_ms: cpu, .. } = dashboard.usage();
        println!(
            "   dashboard on the 10 s schedule ({} checks a second, one event stream): RSS {:.1} MiB, CPU {:.0}% of one core over {:.0} s",
            agents / 10,
            mib(rss_now),
            (cpu - steady_cpu) as f64 / steady_since.elapsed().as_millis() as f64 * 100.0,
            steady_since.elapsed().as_secs_f64()
        );
        drop(stream);
    }
    if scenario(4) {
        heartbeating::self_vs_manual(&dir, agents, procs).await;
    }
    if scenario(5) {
        heartbeating::heartbeat_cost(&dir, agents, procs).await;
    }
}

fn main() {
    if std::env::var_os("FLEET_CHILD").is_some() {
        // One thread per fleet process, as a uvicorn worker is one asyncio loop.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(fleet_child());
    } else {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        runtime.block_on(run());
    }
}
