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
        // 4. The same fleet self-registered and heartbeating every 20 s, against manual agents.
        // The steady CPU of one run varies by ±20 % from run to run on this machine (the
        // checks open 1,000 connections a second, and the fleet shares the two cores), so
        // the modes alternate over BENCH_ROUNDS rounds, the order swapped each round, and
        // the ratio is taken of the medians.
        let window = Duration::from_secs(env("BENCH_STEADY_SECONDS", 20));
        let rounds = env("BENCH_ROUNDS", 3).max(1);
        let (mut manual, mut self_) = (Vec::new(), Vec::new());
        println!("4. {agents} agents, manual vs self-registered and heartbeating every 20 s (500 heartbeats/s), {rounds} rounds:");
        for round in 0..rounds {
            let order = if round % 2 == 0 { [false, true] } else { [true, false] };
            for self_registered in order {
                let figures = steady(dir.path(), agents, procs, self_registered, window, round).await;
                println!(
                    "   round {}: {:<6} all checked in {:.0} ms from the start; on the 10 s schedule CPU {:.1}% of one core over {:.0} s, {:.0} context switches/s; peak RSS {:.1} MiB{}",
                    round + 1,
                    if self_registered { "self" } else { "manual" },
                    figures.first.as_secs_f64() * 1e3,
                    figures.cpu * 100.0,
                    window.as_secs_f64(),
                    figures.switches,
                    mib(figures.peak),
                    figures.note
                );
                if self_registered { &mut self_ } else { &mut manual }.push(figures);
            }
        }
        let median = |all: &[Steady], f: fn(&Steady) -> f64| {
            let mut v: Vec<f64> = all.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let first = |s: &Steady| s.first.as_secs_f64();
        let cpu = |s: &Steady| s.cpu;
        println!(
            "   medians: manual CPU {:.1}%, self {:.1}% of one core; first sweep {:.0} / {:.0} ms",
            median(&manual, cpu) * 100.0,
            median(&self_, cpu) * 100.0,
            median(&manual, first) * 1e3,
            median(&self_, first) * 1e3
        );
        println!(
            "   self-registered / manual (medians): first sweep {:.2}x, steady CPU {:.2}x (goal: within 1.10x)",
            median(&self_, first) / median(&manual, first),
            median(&self_, cpu) / median(&manual, cpu)
        );
    }
    if scenario(5) {
        // 5. What heartbeats alone cost: the self-registered fleet checked once an hour, so
        // after the first sweep the monitor is quiet; the dashboard's CPU idle, then with
        // every agent heartbeating once per 20 s.
        let window = Duration::from_secs(env("BENCH_STEADY_SECONDS", 20));
        let (url, reader) = seed_with(dir.path(), "quiet", agents, Some(600), Some(3_600_000)).await;
        let fleet = Fleet::start(agents, procs, 0, 0);
        let started = Instant::now();
        let dashboard = Dashboard::start(&url, &[]);
        until(&reader, "health_state = 'healthy'", agents, started, Duration::from_secs(60))
            .await
            .expect("every agent checked");
        // Idle, heartbeating, and the same requests to an unknown endpoint (the same
        // middleware, no registry work: the floor any request costs) alternate
        // BENCH_ROUNDS times; medians are reported (one window varies by ±10 %).
        // And once more to a bare axum server (the reference agent, same build, no
        // middleware): what a request costs any Rust server on this machine.
        let bare = {
            let mut child = Child(
                Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
                    .args(["test-agent", "--port", "0"])
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("the reference agent starts"),
            );
            let mut line = String::new();
            BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
            let base = line.trim().rsplit_once(' ').map(|(_, url)| url.to_owned()).expect("it prints its URL");
            Dashboard { child, base }
        };
        let rounds = env("BENCH_ROUNDS", 3).max(1);
        let (mut beats, mut floors, mut bares) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let beat = request_cost(&dashboard, agents, "heartbeat", window).await;
            let floor = request_cost(&dashboard, agents, "no-such-endpoint", window).await;
            let bare = request_cost(&bare, agents, "no-such-endpoint", window).await;
            println!(
                "   a heartbeat {:.0} µs, {:.2} context switches ({:.0}/s answered); a request to an unknown endpoint {:.0} µs, {:.2} switches; to a bare axum server {:.0} µs, {:.2} switches",
                beat.0, beat.1, beat.2, floor.0, floor.1, bare.0, bare.1
            );
            beats.push(beat.0);
            floors.push(floor.0);
            bares.push(bare.0);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "5. {agents} self-registered agents checked once an hour (the monitor quiet), 500 requests/s: a heartbeat costs the dashboard {:.0} µs of CPU, a request that does nothing {:.0} µs; to a bare axum server {:.0} µs (medians of {rounds})",
            median(beats),
            median(floors),
            median(bares)
        );
        drop(dashboard);
        drop(fleet);
    }
}

/// What one request sent to every agent's `…/agents/{id}/{leaf}` once per 20 s costs the
/// dashboard over what it spends idle: (µs of CPU, context switches, requests answered a
/// second).
async fn request_cost(dashboard: &Dashboard, agents: u64, leaf: &'static str, window: Duration) -> (f64, f64, f64) {
    let (before, since) = (dashboard.usage(), Instant::now());
    tokio::time::sleep(window).await;
    let (after, idle_seconds) = (dashboard.usage(), since.elapsed().as_secs_f64());
    let idle_cpu = (after.cpu_ms - before.cpu_ms) as f64 / idle_seconds;
    let idle_switches = (after.switches - before.switches) as f64 / idle_seconds;
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sending = tokio::spawn(requests(dashboard.base.clone(), agents, leaf, answered.clone()));
    // The first second opens the connections: measured after it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (before, since, answered_before) =
        (dashboard.usage(), Instant::now(), answered.load(std::sync::atomic::Ordering::Relaxed));
    tokio::time::sleep(window).await;
    let (after, seconds) = (dashboard.usage(), since.elapsed().as_secs_f64());
    let n = (answered.load(std::sync::atomic::Ordering::Relaxed) - answered_before).max(1) as f64;
    sending.abort();
    let cpu = (after.cpu_ms - before.cpu_ms) as f64 / seconds;
    let switches = (after.switches - before.switches) as f64 / seconds;
    ((cpu - idle_cpu) * seconds * 1e3 / n, (switches - idle_switches) * seconds / n, n / seconds)
}

/// One run of scenario 4.
struct Steady {
    first: Duration,
    cpu: f64,
    peak: u64,
    /// Context switches a second.
    switches: f64,
    note: String,
}

async fn steady(
    dir: &std::path::Path,
    agents: u64,
    procs: u64,
    self_registered: bool,
    window: Duration,
    round: u64,
) -> Steady {
    let name = format!("{}{round}", if self_registered { "self" } else { "manual" });
    let (url, reader) = seed_as(dir, &name, agents, self_registered).await;
    let fleet = Fleet::start(agents, procs, 0, 0);
    let started = Instant::now();
    let dashboard = Dashboard::start(&url, &[]);
    // Heartbeats as old agents send them: every agent once per 20 s, spread evenly.
    let beating = self_registered.then(|| tokio::spawn(heartbeats(dashboard.base.clone(), agents)));
    let first = until(&reader, "health_state = 'healthy'", agents, started, Duration::from_secs(60))
        .await
        .expect("every agent checked");
    let before = dashboard.usage();
    let since = Instant::now();
    tokio::time::sleep(window).await;
    let after = dashboard.usage();
    let seconds = since.elapsed().as_secs_f64();
    let (peak, cpu) = (after.peak_kib, (after.cpu_ms - before.cpu_ms) as f64 / 1e3 / seconds);
    let switches = (after.switches - before.switches) as f64 / seconds;
    let note = match beating {
        Some(task) => {
            task.abort();
            let expired = count(&reader, "expired_at IS NOT NULL").await;
            assert_eq!(expired, 0, "no heartbeating agent expired");
            // Seeded with a heartbeat at their registration: a later one is a stored beat.
            let stored = count(&reader, "last_heartbeat_at > registered_at").await;
            format!(", a heartbeat stored for {stored} agents, none expired")
        }
        None => String::new(),
    };
    drop(dashboard);
    drop(fleet);
    Steady { first, cpu, peak, switches, note }
}

/// Sends every agent's heartbeat once per 20 s, spread evenly, over 8 connections, until
/// aborted.
async fn heartbeats(base: String, agents: u64) {
    requests(base, agents, "heartbeat", Default::default()).await
}

/// Sends `POST …/agents/agent-{i}/{leaf}` for every agent once per 20 s, spread evenly,
/// over 8 connections, until aborted, counting the answers (2xx for heartbeats, any for
/// other leaves).
async fn requests(
    base: String,
    agents: u64,
    leaf: &'static str,
    answered: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    let every = Duration::from_secs(20).as_secs_f64() / agents as f64;
    // Aborting this task drops the set, which aborts the workers.
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..8u64 {
        let base = base.clone();
        let answered = answered.clone();
        workers.spawn(async move {
            let http = reqwest::Client::new();
            let start = Instant::now();
            let mut k = 0u64;
            loop {
                let i = (w + 8 * k) % agents;
                // Agent i's beat is due at i·every within each 20 s round.
                let round = (w + 8 * k) / agents;
                let due = Duration::from_secs_f64((round as f64 * agents as f64 + i as f64) * every);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
                // As the old client's Python HTTP library sends it.
                let sent = http
                    .post(format!("{base}/api/v1/agents/agent-{i}/{leaf}"))
                    .header("accept-encoding", "gzip, deflate")
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success() || leaf != "heartbeat") {
                    answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                k += 1;
            }
        });
    }
    while workers.join_next().await.is_some() {}
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
