//! Scenarios 4 and 5: the fleet self-registered and heartbeating, against the same fleet
//! registered by hand; and what one heartbeat costs the dashboard, against a request that
//! does nothing and a bare axum server.

use super::support::{env, Child, Dashboard};
use super::{count, mib, seed_as, seed_with, until, Fleet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Scenario 4 (see the crate's comment).
pub async fn self_vs_manual(dir: &tempfile::TempDir, agents: u64, procs: u64) {
    // 4. The same fleet self-registered and heartbeating every 20 s, against manual agents.
    // The steady CPU of one run varies by ±20 % from run to run on this machine (the
    // checks open 1,000 connections a second, and the fleet shares the two cores), so
    // the modes alternate over BENCH_ROUNDS rounds, the order swapped each round, and
    // the ratio is taken of the medians.
    let window = Duration::from_secs(env("BENCH_STEADY_SECONDS", 20));
    let rounds = env("BENCH_ROUNDS", 3).max(1);
    let (mut manual, mut self_) = (Vec::new(), Vec::new());
    println!(
        "4. {agents} agents, manual vs self-registered and heartbeating every 20 s ({} heartbeats/s), {rounds} rounds:",
        agents / 20
    );
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

/// Scenario 5 (see the crate's comment).
pub async fn heartbeat_cost(dir: &tempfile::TempDir, agents: u64, procs: u64) {
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
        "5. {agents} self-registered agents checked once an hour (the monitor quiet), {} requests/s: a heartbeat costs the dashboard {:.0} µs of CPU, a request that does nothing {:.0} µs; to a bare axum server {:.0} µs (medians of {rounds})",
        agents / 20,
        median(beats),
        median(floors),
        median(bares)
    );
    drop(dashboard);
    drop(fleet);
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
