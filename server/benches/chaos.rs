//! The chaos run: three dashboards on one PostgreSQL behind docs/nginx.conf, 1,000 agents
//! (half registered by hand, half self-registered and heartbeating), 2,000 runs submitted
//! through nginx at 50 a second, and one dashboard killed with SIGKILL every 20 s and
//! started again at once, for 2 minutes. It prints what was lost, what ran twice, what
//! was left undone, the longest gap in any agent's checks and how late events reached a
//! client of the dashboard that is never killed. Not part of `./dev test`.
//!
//!     ./dev bench chaos        (BENCH_DATABASE_URL or TEST_DATABASE_URL: a PostgreSQL
//!                               server where it may create a database; nginx installed)
//!     BENCH_AGENTS=1000 BENCH_RUNS=2000 BENCH_RATE=50 BENCH_SECONDS=120 BENCH_KILL_EVERY=20 …
//!
//! The agents are one server in this process (`/a/{n}/health`, `/schema`, `/run`,
//! `/status/{job}`): it notes every check, and counts each run by a value unique to it
//! in its inputs (an agent never sees the idempotency key), so a run sent twice shows.
//! Every tenth agent answers runs as an async job that completes a second later (taken
//! over and followed by another dashboard when its own dies); the others answer in
//! 200 ms (a call in flight when its dashboard dies is `interrupted`, never resent).

#[path = "support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{drop_database, env, fresh_database, Dashboard};

/// Health interval and node timeout of the dashboards: a killed dashboard's agents must
/// be checked again within their sum (and a second's slack).
const INTERVAL: Duration = Duration::from_secs(2);
const NODE_TIMEOUT: Duration = Duration::from_secs(4);
/// Self-registered agents' TTL and heartbeat period (a third of it, as real agents).
const TTL_SECONDS: u64 = 10;
const HEARTBEAT_EVERY: Duration = Duration::from_millis(3_300);
const SYNC_ANSWER: Duration = Duration::from_millis(200);
const JOB_TAKES: Duration = Duration::from_secs(1);

/// What the agents saw.
#[derive(Default)]
struct Seen {
    /// Each agent's checks, in order.
    checks: Vec<Mutex<Vec<Instant>>>,
    /// Each run's unique value: how often /run was called with it.
    runs: Mutex<HashMap<String, u32>>,
    /// Each run's unique value: when the agent answered with its result (sync answer, or
    /// the first `completed` status of its job).
    answered: Mutex<HashMap<String, Instant>>,
    /// Jobs: when each completes.
    jobs: Mutex<HashMap<String, Instant>>,
}

/// What the client of the surviving dashboard saw.
#[derive(Default)]
struct Heard {
    /// A run's first event, and its first event with a final status.
    first: HashMap<String, Instant>,
    finished: HashMap<String, Instant>,
    /// An agent's first `agent.upserted`.
    upserted: HashMap<String, Instant>,
    /// Self-registered agents published as expired (they never stopped heartbeating).
    expired: std::collections::HashSet<String>,
    /// `resync` events after the first (the stream was told it had missed something).
    resyncs: u64,
    reconnects: u64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(admin) = support::postgres() else {
        println!("chaos bench: needs PostgreSQL (BENCH_DATABASE_URL=postgres://USER@HOST/DB); not run");
        return;
    };
    let Some(nginx) = support::nginx::binary() else {
        println!("chaos bench: needs nginx (apt-get install nginx; ./dev bench chaos installs it); not run");
        return;
    };
    let agents = env("BENCH_AGENTS", 1000) as usize;
    let runs = env("BENCH_RUNS", 2000) as usize;
    let rate = env("BENCH_RATE", 50).max(1);
    let seconds = env("BENCH_SECONDS", 120);
    let kill_every = Duration::from_secs(env("BENCH_KILL_EVERY", 20).max(1));
    let manual = (agents / 2).max(1);

    let seen = Arc::new(Seen { checks: (0..agents).map(|_| Mutex::default()).collect(), ..Default::default() });
    let agent_base = serve_agents(seen.clone()).await;
    let (database, name) = fresh_database(&admin).await;

    // Three dashboards on ports fixed for the run, so that nginx finds a restarted one.
    let ports: Vec<u16> =
        (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).collect();
    let start = {
        let database = database.clone();
        let (interval, timeout) = (format!("{}s", INTERVAL.as_secs()), format!("{}s", NODE_TIMEOUT.as_secs()));
        move |port: u16| {
            let args = ["--health-interval", &interval, "--node-timeout", &timeout];
            let args =
                [&args[..], &["--allow-agent-network", "127.0.0.0/8", "--trusted-proxy", "127.0.0.1/32"]].concat();
            Dashboard::start_on(port, &database, &args, &[])
        }
    };
    let mut dashboards: Vec<Dashboard> = ports.iter().map(|p| start(*p)).collect();
    let survivor = dashboards.pop().unwrap();
    let (front, nginx) = start_nginx(nginx, &ports).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    wait_live(&http, &survivor.base, 3).await;
    let heard = Arc::new(Mutex::new(Heard::default()));
    tokio::spawn(listen(survivor.base.clone(), heard.clone()));
    println!(
        "chaos: 3 dashboards behind docs/nginx.conf on one PostgreSQL; {agents} agents ({manual} registered, {} \
         self-registered and heartbeating every {:.1} s, TTL {TTL_SECONDS} s); {runs} runs at {rate}/s; a dashboard \
         killed (SIGKILL) and started again every {} s for {seconds} s; health every {} s, node timeout {} s",
        agents - manual,
        HEARTBEAT_EVERY.as_secs_f64(),
        kill_every.as_secs(),
        INTERVAL.as_secs(),
        NODE_TIMEOUT.as_secs()
    );

    let began = Instant::now();
    let until = began + Duration::from_secs(seconds);
    // The killer, on a thread of its own (starting a dashboard waits for it): the first
    // two dashboards in turn, the first a quarter period in (during the registrations),
    // then every period. The third is never killed: its event stream is the one measured.
    let killer = std::thread::spawn(move || {
        let mut kills: Vec<(Instant, Duration)> = Vec::new();
        let mut at = began + kill_every / 4;
        let mut victim = 0;
        while at < until {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            let killed = Instant::now();
            // Dropping a Dashboard sends SIGKILL and reaps it.
            drop(dashboards.remove(victim));
            dashboards.insert(victim, start(ports[victim]));
            kills.push((killed, killed.elapsed()));
            victim = 1 - victim;
            at += kill_every;
        }
        (dashboards, kills)
    });

    // Registrations through nginx at 100 a second: the first half by hand, the rest
    // self-registered, each then heartbeating until the end. A request that fails (its
    // dashboard killed under it) is sent again, as a client would.
    let registered: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let failures = Arc::new(Failures::default());
    let mut registering = Vec::new();
    for n in 0..agents {
        tokio::time::sleep_until((began + Duration::from_millis(10 * n as u64)).into()).await;
        let (http, front, url) = (http.clone(), front.clone(), format!("{agent_base}/a/{n}"));
        let (registered, failures) = (registered.clone(), failures.clone());
        registering.push(tokio::spawn(async move {
            let id = format!("agent-{n}");
            let (path, body) = if n < manual {
                ("agents", json!({"agent_id": id, "agent_name": id, "agent_url": url}))
            } else {
                (
                    "agents/register",
                    json!({"agent_id": id, "agent_name": id, "agent_url": url, "ttl_seconds": TTL_SECONDS}),
                )
            };
            let request = || http.post(format!("{front}/api/v1/{path}")).json(&body);
            if !send_until_answered(request, &failures.registrations).await {
                return;
            }
            registered.lock().unwrap().insert(n, Instant::now());
            if n < manual {
                return;
            }
            let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
            beat.tick().await;
            while Instant::now() < until {
                beat.tick().await;
                match http.post(format!("{front}/api/v1/agents/{id}/heartbeat")).send().await {
                    Ok(r) if r.status().is_success() => failures.beats_ok.fetch_add(1, Ordering::Relaxed),
                    Ok(r) if r.status() == 404 => failures.beats_unknown.fetch_add(1, Ordering::Relaxed),
                    _ => failures.beats_failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let registrations_done = began.elapsed();

    // Runs through nginx at `rate` a second, over the agents registered by hand, each
    // with a unique value in its inputs and an idempotency key, sent again on a failure.
    let accepted: Arc<Mutex<HashMap<String, (String, Instant)>>> = Arc::default();
    let runs_began = Instant::now();
    let mut submitting = Vec::new();
    for i in 0..runs {
        tokio::time::sleep_until((runs_began + Duration::from_secs_f64(i as f64 / rate as f64)).into()).await;
        let (http, front, accepted, failures) = (http.clone(), front.clone(), accepted.clone(), failures.clone());
        submitting.push(tokio::spawn(async move {
            let (unique, agent) = (format!("u{i}"), i % manual);
            let request = || {
                http.post(format!("{front}/api/v1/agents/agent-{agent}/runs"))
                    .header("idempotency-key", format!("chaos-{i}"))
                    .json(&json!({"inputs": {"topic": unique}}))
            };
            let mut tries = 0;
            while tries < 60 {
                tries += 1;
                match request().send().await {
                    Ok(r) if r.status() == 202 => {
                        let at = Instant::now();
                        let run: Value = r.json().await.unwrap_or_default();
                        let id = run["run_id"].as_str().unwrap_or_default().to_owned();
                        accepted.lock().unwrap().insert(unique, (id, at));
                        return;
                    }
                    Ok(r) if r.status().is_client_error() => {
                        let text = r.text().await.unwrap_or_default();
                        failures.refused.lock().unwrap().push(format!("{unique}: {text}"));
                        return;
                    }
                    _ => failures.runs_retried.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }));
    }
    for s in submitting {
        let _ = s.await;
    }
    let runs_submitted = runs_began.elapsed();
    tokio::time::sleep_until(until.into()).await;
    for r in registering {
        let _ = r.await;
    }
    let (dashboards, kills) = tokio::task::spawn_blocking(move || killer.join().unwrap()).await.unwrap();
    let ended = Instant::now();

    // Every run to its end: none queued or running, within a minute.
    let mut left = usize::MAX;
    for _ in 0..600 {
        left = count(&http, &front, "queued,running").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settled = ended.elapsed();

    // What became of each registration and each run.
    let registered = registered.lock().unwrap().clone();
    let mut lost = Vec::new();
    for n in registered.keys() {
        let agent: Option<Value> = async {
            http.get(format!("{front}/api/v1/agents/agent-{n}"))
                .send()
                .await
                .ok()?
                .error_for_status()
                .ok()?
                .json()
                .await
                .ok()
        }
        .await;
        match agent {
            Some(a) if a["expired"] != true => {}
            other => lost.push(format!("agent-{n}: {}", other.map_or("not found".into(), |a| a["expiry"].to_string()))),
        }
    }
    let accepted = accepted.lock().unwrap().clone();
    let sent = seen.runs.lock().unwrap().clone();
    let mut statuses: HashMap<String, usize> = HashMap::new();
    let mut wrong = Vec::new();
    for (unique, (id, _)) in &accepted {
        let run: Value = match http.get(format!("{front}/api/v1/runs/{id}")).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        let status = run["status"].as_str().unwrap_or("missing").to_owned();
        let times = sent.get(unique).copied().unwrap_or(0);
        // A run that succeeded was sent exactly once; any that is over was sent at most once.
        if (status == "succeeded" && times != 1) || times > 1 {
            wrong.push(format!("{unique} ({id}): {status}, sent {times} times"));
        }
        *statuses.entry(status).or_default() += 1;
    }
    let twice = sent.values().filter(|n| **n > 1).count();

    // Checks: after each kill, how long until each agent already checked before it is
    // checked again (bound: the node timeout, a renewal and an interval); the longest gap
    // between two checks of an agent (that bound, plus up to an interval before the kill);
    // and the most checks of one agent within one interval (goal: at most 2).
    let bound = NODE_TIMEOUT + NODE_TIMEOUT / 5 + INTERVAL;
    let (mut rechecked, mut late, mut longest, mut stale) = (Duration::ZERO, 0, Duration::ZERO, 0);
    let (mut most_in_interval, mut crowded) = (0, Vec::new());
    for (agent, checks) in seen.checks.iter().enumerate() {
        let checks = checks.lock().unwrap();
        let Some(last) = checks.last() else {
            stale += 1;
            continue;
        };
        for (killed, _) in &kills {
            if checks[0] < *killed {
                let again = checks.iter().find(|c| *c > killed).map_or(until - *killed, |c| *c - *killed);
                rechecked = rechecked.max(again);
                late += usize::from(again > bound);
            }
        }
        let mut gaps: Vec<Duration> = checks.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.push(until.saturating_duration_since(*last));
        longest = longest.max(gaps.iter().copied().max().unwrap_or_default());
        stale += usize::from(until.saturating_duration_since(*last) > bound);
        // Windows a little shorter than the interval: two checks at consecutive slots can
        // land less than an interval apart (each starts a few ms late, by varying amounts).
        let mut from = 0;
        for to in 0..checks.len() {
            while checks[to] - checks[from] >= INTERVAL - Duration::from_millis(200) {
                from += 1;
            }
            most_in_interval = most_in_interval.max(to - from + 1);
            if to - from + 1 > 2 {
                crowded.push((agent, checks[from..=to].to_vec()));
            }
        }
    }
    // When the crowded intervals were: their checks, in seconds after the kill before them.
    let crowded: Vec<String> = crowded
        .iter()
        .take(5)
        .map(|(agent, checks)| {
            let after = |at: Instant| match kills.iter().rev().find(|(k, _)| *k < at) {
                Some((k, _)) => format!("{:.2}", (at - *k).as_secs_f64()),
                None => format!("{:.2} in", (at - began).as_secs_f64()),
            };
            let times: Vec<String> = checks.iter().map(|c| after(*c)).collect();
            format!("agent-{agent}: {} s after a kill", times.join(", "))
        })
        .collect();

    // Events at the surviving dashboard's client.
    let heard = std::mem::take(&mut *heard.lock().unwrap());
    let answered = seen.answered.lock().unwrap().clone();
    let mut finished_delays = Vec::new();
    let mut created_delays = Vec::new();
    let mut unheard = 0;
    for (unique, (id, at)) in &accepted {
        match heard.first.get(id) {
            Some(t) => created_delays.push(t.saturating_duration_since(*at)),
            None => unheard += 1,
        }
        if let (Some(answer), Some(t)) = (answered.get(unique), heard.finished.get(id)) {
            finished_delays.push(t.saturating_duration_since(*answer));
        }
    }
    let mut registration_delays: Vec<Duration> = registered
        .iter()
        .filter_map(|(n, at)| Some(heard.upserted.get(&format!("agent-{n}"))?.saturating_duration_since(*at)))
        .collect();
    let expired: Vec<&String> = heard.expired.iter().collect();

    println!(
        "  registrations: {} answered 2xx of {agents} (requests sent again after a failure: {}), done after {:.1} s",
        registered.len(),
        failures.registrations.load(Ordering::Relaxed),
        registrations_done.as_secs_f64()
    );
    println!("  registrations answered 2xx and then lost: {} (goal 0){}", lost.len(), sample(&lost));
    println!(
        "  heartbeats: {} answered ok, {} answered 404 (unknown agent), {} failed (killed under them); \
         self-registered agents published as expired while heartbeating: {} (goal 0){}",
        failures.beats_ok.load(Ordering::Relaxed),
        failures.beats_unknown.load(Ordering::Relaxed),
        failures.beats_failed.load(Ordering::Relaxed),
        expired.len(),
        sample(&expired)
    );
    let refused = failures.refused.lock().unwrap().clone();
    println!(
        "  runs: {} accepted (202) of {runs} in {:.1} s (requests sent again after a failure: {}; refused: {}{})",
        accepted.len(),
        runs_submitted.as_secs_f64(),
        failures.runs_retried.load(Ordering::Relaxed),
        refused.len(),
        sample(&refused)
    );
    let mut by_status: Vec<_> = statuses.into_iter().collect();
    by_status.sort();
    println!(
        "  runs by status at the end: {}",
        by_status.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(", ")
    );
    println!(
        "  runs run twice: {twice} (goal 0); runs whose record disagrees with the agent: {}{}",
        wrong.len(),
        sample(&wrong)
    );
    println!("  runs left queued or running {:.1} s after the chaos: {left} (goal 0)", settled.as_secs_f64());
    println!(
        "  checks: every agent checked again within {:.2} s of each kill (bound: node timeout + a renewal + an \
         interval = {:.1} s; agents later: {late}); longest gap between two checks of an agent {:.2} s; agents \
         never checked again {stale} (goal 0); most checks of one agent within {:.1} s {most_in_interval} (goal \
         ≤ 2){}",
        rechecked.as_secs_f64(),
        bound.as_secs_f64(),
        longest.as_secs_f64(),
        (INTERVAL - Duration::from_millis(200)).as_secs_f64(),
        sample(&crowded)
    );
    finished_delays.sort();
    created_delays.sort();
    registration_delays.sort();
    println!(
        "  events at a client of the surviving dashboard: run finished (from the agent's answer) {}; run created (from \
         the 202) {}; registration (from its answer) {}; runs never heard of {unheard}; resyncs {}, reconnects {}",
        percentiles(&finished_delays),
        percentiles(&created_delays),
        percentiles(&registration_delays),
        heard.resyncs,
        heard.reconnects
    );
    println!(
        "  kills: {}; each dashboard serving again after {}",
        kills.len(),
        kills.iter().map(|(_, d)| format!("{:.1} s", d.as_secs_f64())).collect::<Vec<_>>().join(", ")
    );
    drop(dashboards);
    drop(survivor);
    drop(nginx);
    drop_database(&admin, &name).await;
}

#[derive(Default)]
struct Failures {
    registrations: AtomicU64,
    beats_ok: AtomicU64,
    beats_unknown: AtomicU64,
    beats_failed: AtomicU64,
    runs_retried: AtomicU64,
    refused: Mutex<Vec<String>>,
}

/// Sends until a 2xx (true) or a 4xx (false), counting the failures, for at most 30 s.
async fn send_until_answered(request: impl Fn() -> reqwest::RequestBuilder, failures: &AtomicU64) -> bool {
    for _ in 0..120 {
        match request().send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().is_client_error() => {
                println!("  refused: {} {}", r.status(), r.text().await.unwrap_or_default());
                return false;
            }
            _ => failures.fetch_add(1, Ordering::Relaxed),
        };
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

fn sample<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = items.iter().take(3).map(|i| i.to_string()).collect();
    format!(" (e.g. {})", shown.join("; "))
}

fn percentiles(sorted: &[Duration]) -> String {
    if sorted.is_empty() {
        return "none".into();
    }
    let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    format!("p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (n={})", at(0.5), at(0.99), at(1.0), sorted.len())
}

/// Runs with these statuses, through `front`.
async fn count(http: &reqwest::Client, front: &str, status: &str) -> usize {
    let Ok(r) = http.get(format!("{front}/api/v1/runs?status={status}&limit=1")).send().await else {
        return usize::MAX;
    };
    r.headers().get("x-total-count").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(usize::MAX)
}

/// The agents: one server for all, each at `/a/{n}`.
async fn serve_agents(seen: Arc<Seen>) -> String {
    use axum::extract::{Path, State};
    use axum::routing::{get, post};
    async fn health(State(seen): State<Arc<Seen>>, Path(n): Path<usize>) -> axum::Json<Value> {
        if let Some(checks) = seen.checks.get(n) {
            checks.lock().unwrap().push(Instant::now());
        }
        axum::Json(json!({"status": "alive"}))
    }
    async fn schema() -> axum::Json<Value> {
        axum::Json(json!({"workflow": "chaos", "inputs": {"topic": {"type": "str", "required": true}}}))
    }
    async fn run(
        State(seen): State<Arc<Seen>>,
        Path(n): Path<usize>,
        axum::Json(inputs): axum::Json<Value>,
    ) -> axum::Json<Value> {
        let unique = inputs["topic"].as_str().unwrap_or_default().to_owned();
        *seen.runs.lock().unwrap().entry(unique.clone()).or_default() += 1;
        if n % 10 == 0 {
            seen.jobs.lock().unwrap().insert(unique.clone(), Instant::now() + JOB_TAKES);
            return axum::Json(json!({"status": "async", "job_id": unique}));
        }
        tokio::time::sleep(SYNC_ANSWER).await;
        seen.answered.lock().unwrap().entry(unique.clone()).or_insert_with(Instant::now);
        axum::Json(json!({"status": "success", "outputs": {"echo": unique}}))
    }
    async fn status(State(seen): State<Arc<Seen>>, Path((_, job)): Path<(usize, String)>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let Some(done) = seen.jobs.lock().unwrap().get(&job).copied() else {
            return (axum::http::StatusCode::NOT_FOUND, "unknown job").into_response();
        };
        if Instant::now() < done {
            return axum::Json(json!({"job_id": job, "status": "running"})).into_response();
        }
        seen.answered.lock().unwrap().entry(job.clone()).or_insert_with(Instant::now);
        axum::Json(json!({"job_id": job, "status": "completed", "outputs": {"echo": job}})).into_response()
    }
    let router = axum::Router::new()
        .route("/a/{n}/health", get(health))
        .route("/a/{n}/schema", get(schema))
        .route("/a/{n}/run", post(run))
        .route("/a/{n}/status/{job}", get(status))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// nginx with docs/nginx.conf as written, its upstreams the three dashboards' ports.
async fn start_nginx(nginx: &str, ports: &[u16]) -> (String, (tempfile::TempDir, support::Child)) {
    let dir = tempfile::tempdir().unwrap();
    let upstreams: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let port = support::nginx::configure(dir.path(), &upstreams);
    // Killed and reaped when dropped, on every way out.
    let child = support::Child(support::nginx::command(nginx, dir.path()).spawn().expect("nginx starts"));
    let front = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{front}/api/v1/status")).await.is_ok_and(|r| r.status().is_success()) {
            return (front, (dir, child));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nginx did not answer within 10 s");
}

/// Until `n` dashboards are live.
async fn wait_live(http: &reqwest::Client, base: &str, n: usize) {
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/api/v1/status")).send().await {
            let status: Value = r.json().await.unwrap_or_default();
            let live = status["nodes"].as_array().map_or(0, |a| a.iter().filter(|n| n["live"] == true).count());
            if live == n {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} dashboards were not live within 30 s");
}

/// The surviving dashboard's event stream, read as a browser would (reconnecting with
/// `Last-Event-ID` if it ends), noting when each event came.
async fn listen(base: String, heard: Arc<Mutex<Heard>>) {
    let http = reqwest::Client::new();
    let mut last_id: Option<String> = None;
    loop {
        let mut request = http.get(format!("{base}/api/v1/events")).header("accept", "text/event-stream");
        if let Some(id) = &last_id {
            request = request.header("last-event-id", id);
            heard.lock().unwrap().reconnects += 1;
        }
        let Ok(mut response) = request.send().await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut buffer = String::new();
        let mut first_resync = last_id.is_none();
        while let Ok(Some(chunk)) = response.chunk().await {
            let now = Instant::now();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let (mut name, mut data, mut id) = ("", String::new(), None);
                for line in event.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    }
                }
                if id.is_some() {
                    last_id = id;
                }
                let data: Value = serde_json::from_str(&data).unwrap_or_default();
                let mut heard = heard.lock().unwrap();
                match name {
                    "run.updated" => {
                        let run = data["run_id"].as_str().unwrap_or_default().to_owned();
                        let done = !matches!(data["status"].as_str(), Some("queued" | "running"));
                        if done {
                            heard.finished.entry(run.clone()).or_insert(now);
                        }
                        heard.first.entry(run).or_insert(now);
                    }
                    "agent.upserted" => {
                        let agent = data["agent_id"].as_str().unwrap_or_default().to_owned();
                        if data["expired"] == true {
                            heard.expired.insert(agent.clone());
                        }
                        heard.upserted.entry(agent).or_insert(now);
                    }
                    "resync" if first_resync => first_resync = false,
                    "resync" => heard.resyncs += 1,
                    _ => {}
                }
            }
        }
    }
}
