//! Several dashboards on one database: PostgreSQL shares the work between them, SQLite
//! serves one at a time.

use crate::helpers::*;
use crate::mock_agent::*;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn a_second_dashboard_on_one_sqlite_file_refuses_to_start_and_the_token_command_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("one.db").display());
    let (_address, first) = start(test_settings(url.clone())).await;

    let Err(error) = server::startup::Application::build(test_settings(url.clone())).await else {
        panic!("a second dashboard started on the same SQLite file")
    };
    let error = error.to_string();
    assert!(error.contains("one dashboard at a time") && error.contains("one.db"), "{error}");
    assert!(error.contains(&format!("process {}", std::process::id())), "names the holder: {error}");

    // The token command opens the database beside a running dashboard.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
        .args(["token", "list", "--database-url", &url])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "token list beside a dashboard: {}", String::from_utf8_lossy(&output.stderr));

    // Once the first has stopped, another may start.
    first.now().await;
    let (_address, second) = start(test_settings(url)).await;
    second.now().await;
}

/// Several dashboards share a database only on PostgreSQL.
fn postgres() -> bool {
    // These tests may make requests before any dashboard in this process has installed
    // the TLS provider reqwest needs (the SIGKILL test's dashboards are processes).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let on = std::env::var_os("CA_TEST_POSTGRES").is_some();
    if !on {
        eprintln!("skipped: several dashboards need PostgreSQL (CA_TEST_POSTGRES=1 and TEST_DATABASE_URL)");
    }
    on
}

/// Dashboards that count each other out within a second or two, checking every second.
fn clustered(url: &str) -> server::cli::UiSettings {
    let mut settings = test_settings(url.to_owned());
    settings.node_timeout = Duration::from_secs(2);
    settings.health_interval = Duration::from_secs(1);
    settings
}

/// Agents at `{base}/a/{n}`, one server counting the health checks of each.
async fn counted_agents() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let counts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let router = Router::new()
        .route(
            "/a/{n}/health",
            get(|State(c): State<Arc<Mutex<HashMap<String, u32>>>>, Path(n): Path<String>| async move {
                *c.lock().unwrap().entry(n).or_default() += 1;
                Json(json!({"status": "alive"}))
            }),
        )
        .with_state(counts.clone());
    (serve(router).await, counts)
}

/// Registers an agent by hand through `dashboard`.
async fn register(dashboard: &str, id: &str, agent_url: &str) {
    let answer = reqwest::Client::new()
        .post(format!("{dashboard}/api/v1/agents"))
        .json(&json!({"agent_id": id, "agent_name": id, "agent_url": agent_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED, "{}", answer.text().await.unwrap());
}

/// Starts a run of `agent` through `dashboard`; its ID.
async fn start_run(dashboard: &str, agent: &str, topic: &str) -> String {
    let created: Value = reqwest::Client::new()
        .post(format!("{dashboard}/api/v1/agents/{agent}/runs"))
        .json(&json!({"inputs": {"topic": topic}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["run_id"].as_str().unwrap_or_else(|| panic!("a run was created: {created}")).to_owned()
}

async fn status(address: &str) -> Value {
    reqwest::get(format!("{address}/api/v1/status")).await.unwrap().json().await.unwrap()
}

/// Waits until `address` counts `n` live dashboards.
async fn live_nodes(address: &str, n: usize) -> Value {
    eventually(Duration::from_secs(10), || async {
        let status = status(address).await;
        let live = status["nodes"].as_array().unwrap().iter().filter(|n| n["live"] == true).count();
        (live == n).then_some(status)
    })
    .await
    .unwrap_or_else(|| panic!("{address} counts {n} live dashboards within 10 s"))
}

#[tokio::test]
async fn two_dashboards_check_each_agent_once_and_hear_each_others_changes() {
    if !postgres() {
        return;
    }
    let (url, _database) = test_database().await;
    let (a, stop_a) = start(clustered(&url)).await;
    let (b, stop_b) = start(clustered(&url)).await;
    live_nodes(&a, 2).await;
    live_nodes(&b, 2).await;
    let mut b_events = EventStream::open(&b, None).await;

    // Registered through A, heard on B's stream and in B's list.
    let (base, counts) = counted_agents().await;
    for n in 0..30 {
        register(&a, &format!("c{n}"), &format!("{base}/a/{n}")).await;
    }
    b_events
        .next_matching("agent.upserted", Duration::from_secs(5), |d| d["agent_id"] == "c29")
        .await
        .expect("B hears of A's registration");
    let listed: Vec<Value> = reqwest::get(format!("{b}/api/v1/agents")).await.unwrap().json().await.unwrap();
    assert_eq!(listed.len(), 30);

    // Each agent is checked by one of them: once a second, not twice.
    counts.lock().unwrap().clear();
    let started = std::time::Instant::now();
    eventually(Duration::from_secs(15), || async {
        let c = counts.lock().unwrap();
        (c.len() == 30 && c.values().all(|n| *n >= 4)).then_some(())
    })
    .await
    .expect("every agent checked four times");
    let most = *counts.lock().unwrap().values().max().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(most <= 6, "an agent was checked {most} times in {seconds:.1} s at 1 s: checked by both");

    // Each says how many it checks; together, all of them.
    let status = live_nodes(&a, 2).await;
    let checked: Vec<u64> =
        status["nodes"].as_array().unwrap().iter().map(|n| n["agents_checked"].as_u64().unwrap()).collect();
    assert_eq!(checked.iter().sum::<u64>(), 30, "{checked:?}");
    assert!(checked.iter().all(|n| *n > 0), "both check some: {checked:?}");

    // B's counts include the agents A checks, and its page names both dashboards.
    let overview: Value = reqwest::get(format!("{b}/api/v1/overview")).await.unwrap().json().await.unwrap();
    assert_eq!(overview["summary"]["healthy"], 30, "{}", overview["summary"]);
    let nodes = overview["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert_eq!((nodes[0]["this"].as_bool(), nodes[1]["this"].as_bool()), (Some(true), Some(false)));
    let page = reqwest::get(format!("{b}/orchestrator")).await.unwrap().text().await.unwrap();
    assert!(page.contains("2 dashboards share this database"), "the page names them");

    // A leaves: B takes every agent at its next renewal, and checks them all.
    stop_a.now().await;
    live_nodes(&b, 1).await;
    counts.lock().unwrap().clear();
    eventually(Duration::from_secs(10), || async {
        let c = counts.lock().unwrap();
        (c.len() == 30 && c.values().all(|n| *n >= 2)).then_some(())
    })
    .await
    .expect("B checks every agent once A has left");
    stop_b.now().await;
}

#[tokio::test]
async fn a_run_started_on_one_dashboard_is_cancelled_on_the_other() {
    if !postgres() {
        return;
    }
    let (url, _database) = test_database().await;
    let (a, stop_a) = start(clustered(&url)).await;
    let (b, stop_b) = start(clustered(&url)).await;
    let agent = mock_agent(article_schema(), Behaviour::Slow(Duration::from_secs(20))).await;
    let http = reqwest::Client::new();
    register(&a, "slow", &agent.url).await;
    let mut a_events = EventStream::open(&a, None).await;
    let run_id = start_run(&a, "slow", "t").await;
    eventually(Duration::from_secs(5), || async {
        (agent.mock.in_flight.load(std::sync::atomic::Ordering::SeqCst) == 1).then_some(())
    })
    .await
    .expect("the agent is called");

    let cancelled = http.post(format!("{b}/api/v1/runs/{run_id}/cancel")).send().await.unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    a_events
        .next_matching("run.updated", Duration::from_secs(5), |d| {
            d["run_id"] == run_id.as_str() && d["status"] == "cancelled"
        })
        .await
        .expect("A's stream hears of B's cancel");
    // A dropped its call to the agent.
    eventually(Duration::from_secs(5), || async {
        (agent.mock.in_flight.load(std::sync::atomic::Ordering::SeqCst) == 0).then_some(())
    })
    .await
    .expect("A stops the call that B cancelled");
    let run: Value = reqwest::get(format!("{a}/api/v1/runs/{run_id}")).await.unwrap().json().await.unwrap();
    assert_eq!(run["status"], "cancelled");
    stop_a.now().await;
    stop_b.now().await;
}

/// A dashboard as a process of its own, so that it can be killed with SIGKILL.
struct Process {
    child: tokio::process::Child,
    address: String,
}

impl Process {
    async fn start(database_url: &str, extra: &[&str]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
            .args(["ui", "--port", "0", "--database-url", database_url, "--leptos-config", "none.toml"])
            .args(["--node-timeout", "2s", "--health-interval", "1s", "--health-timeout", "1s"])
            .args(["--allow-agent-network", "127.0.0.0/8", "--unhealthy-after", "1"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .env_remove("CA_ADMIN_TOKEN")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the dashboard binary starts");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the dashboard starts within 20 s")
            .unwrap()
            .expect("the dashboard prints its URL");
        let address = line.trim().rsplit_once(' ').unwrap().1.trim_end_matches("/orchestrator").to_owned();
        Self { child, address }
    }

    /// SIGKILL: no shutdown, no goodbye; its row stays until it is stale.
    async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

#[tokio::test]
async fn a_killed_dashboards_agents_and_runs_are_taken_over_by_the_others() {
    if !postgres() {
        return;
    }
    let (url, _database) = test_database().await;
    let mut a = Process::start(&url, &[]).await;
    let b = Process::start(&url, &[]).await;
    let c = Process::start(&url, &[]).await;
    live_nodes(&a.address, 3).await;
    let (base, counts) = counted_agents().await;
    for n in 0..30 {
        register(&a.address, &format!("c{n}"), &format!("{base}/a/{n}")).await;
    }
    let sync = mock_agent(article_schema(), Behaviour::Slow(Duration::from_secs(30))).await;
    let job = mock_agent(article_schema(), Behaviour::AsyncFor(Duration::from_secs(5))).await;
    register(&a.address, "sync", &sync.url).await;
    register(&a.address, "job", &job.url).await;
    // Every dashboard checks a share of the agents.
    let status = eventually(Duration::from_secs(10), || async {
        let status = status(&a.address).await;
        let checked: Vec<u64> =
            status["nodes"].as_array().unwrap().iter().map(|n| n["agents_checked"].as_u64().unwrap()).collect();
        (checked.len() == 3 && checked.iter().sum::<u64>() == 32).then_some(checked)
    })
    .await
    .expect("the three dashboards say they check 32 agents together");
    assert!(status.iter().all(|n| *n > 0), "each checks some: {status:?}");

    // Runs carried out by A: a synchronous call in flight, and an async job being polled.
    let sync_run = start_run(&a.address, "sync", "t").await;
    let job_run = start_run(&a.address, "job", "t").await;
    eventually(Duration::from_secs(10), || async {
        let called = sync.mock.in_flight.load(std::sync::atomic::Ordering::SeqCst) == 1;
        let polled = job.mock.status_calls.load(std::sync::atomic::Ordering::SeqCst) > 0;
        (called && polled).then_some(())
    })
    .await
    .expect("A calls the agent and polls the job");

    a.kill().await;
    let killed = std::time::Instant::now();
    counts.lock().unwrap().clear();
    let run = |id: String| {
        let b = b.address.clone();
        async move { reqwest::get(format!("{b}/api/v1/runs/{id}")).await.unwrap().json::<Value>().await.unwrap() }
    };
    // Its agents are checked again within the node timeout (2 s) and an interval (1 s),
    // with a renewal (0.4 s) and a second of slack.
    eventually(Duration::from_millis(4_400), || async {
        let c = counts.lock().unwrap();
        (c.len() == 30).then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!("not every agent was checked within 4.4 s of the kill: {:?}", counts.lock().unwrap().len())
    });
    let rechecked = killed.elapsed();
    // Its in-flight synchronous call is interrupted, not sent again; its job finishes elsewhere.
    let interrupted = eventually(Duration::from_secs(10), || async {
        let r = run(sync_run.clone()).await;
        (r["status"] == "interrupted").then_some(r)
    })
    .await
    .expect("the call A had in flight is interrupted");
    assert!(interrupted["error"].as_str().unwrap().contains("not sent again"), "{interrupted}");
    let finished = eventually(Duration::from_secs(15), || async {
        let r = run(job_run.clone()).await;
        (r["status"] == "succeeded").then_some(r)
    })
    .await
    .expect("A's async job is followed to its end by another dashboard");
    assert_eq!(finished["outputs"], json!({"echo": {"topic": "t"}}));
    assert_eq!(sync.runs_received(), 1, "the synchronous call was sent once");
    assert_eq!(job.runs_received(), 1, "the job was started once");
    // The other two count A out and share its agents.
    let status = live_nodes(&c.address, 2).await;
    let checked: u64 = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["live"] == true)
        .map(|n| n["agents_checked"].as_u64().unwrap())
        .sum();
    assert_eq!(checked, 32);
    eprintln!("after SIGKILL: every agent checked again within {rechecked:?}");
    drop(b);
}

#[tokio::test]
async fn an_agents_run_limit_holds_across_dashboards() {
    if !postgres() {
        return;
    }
    let (url, _database) = test_database().await;
    let settings = |s: &mut server::cli::UiSettings| s.run_concurrency = 1;
    let mut one = clustered(&url);
    settings(&mut one);
    let mut two = clustered(&url);
    settings(&mut two);
    let (a, stop_a) = start(one).await;
    let (b, stop_b) = start(two).await;
    let agent = mock_agent(article_schema(), Behaviour::Slow(Duration::from_millis(400))).await;
    register(&a, "one-at-a-time", &agent.url).await;
    let mut runs = Vec::new();
    for n in 0..6 {
        let dashboard = if n % 2 == 0 { &a } else { &b };
        runs.push(start_run(dashboard, "one-at-a-time", &format!("t{n}")).await);
    }
    for id in &runs {
        let done = eventually(Duration::from_secs(20), || async {
            let r: Value = reqwest::get(format!("{a}/api/v1/runs/{id}")).await.unwrap().json().await.unwrap();
            (r["status"] == "succeeded").then_some(r)
        })
        .await;
        assert!(done.is_some(), "run {id} succeeds");
    }
    assert_eq!(agent.runs_received(), 6);
    assert_eq!(agent.mock.max_in_flight.load(std::sync::atomic::Ordering::SeqCst), 1, "one at a time, across both");
    stop_a.now().await;
    stop_b.now().await;
}

#[tokio::test]
async fn heartbeats_sent_to_another_dashboard_keep_an_agent_alive_and_silence_still_expires_it() {
    if !postgres() {
        return;
    }
    let (url, _database) = test_database().await;
    let paused_at_most = |url: &str| {
        let mut settings = clustered(url);
        settings.self_preservation_max = Duration::from_secs(3);
        settings
    };
    let (a, stop_a) = start(paused_at_most(&url)).await;
    let (b, stop_b) = start(paused_at_most(&url)).await;
    live_nodes(&a, 2).await;
    let (base, _counts) = counted_agents().await;
    let http = reqwest::Client::new();
    let ids: Vec<String> = (0..12).map(|n| format!("beating-{n}")).collect();
    for (n, id) in ids.iter().enumerate() {
        let answer = http
            .post(format!("{a}/api/v1/agents/register"))
            .json(&json!({"agent_id": id, "agent_name": id, "agent_url": format!("{base}/a/{n}"), "ttl_seconds": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        // At once on the other dashboard: its book learns the agent from the row.
        let beat = http.post(format!("{b}/api/v1/agents/{id}/heartbeat")).send().await.unwrap();
        assert_eq!(beat.status(), StatusCode::OK, "{id}: {}", beat.text().await.unwrap());
    }
    // Heartbeats only to B, every third of the TTL, for three TTLs: the agents A decides
    // about do not expire.
    let mut a_events = EventStream::open(&a, None).await;
    let beating = std::time::Instant::now();
    while beating.elapsed() < Duration::from_secs(6) {
        for id in &ids {
            let beat = http.post(format!("{b}/api/v1/agents/{id}/heartbeat")).send().await.unwrap();
            assert_eq!(beat.status(), StatusCode::OK);
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let listed: Vec<Value> = reqwest::get(format!("{a}/api/v1/agents")).await.unwrap().json().await.unwrap();
    let expired: Vec<&Value> = listed.iter().filter(|a| a["expired"] == true).collect();
    assert!(expired.is_empty(), "expired though they beat on B: {expired:?}");
    assert!(
        a_events.next_matching("agent.upserted", Duration::from_millis(100), |d| d["expired"] == true).await.is_none(),
        "A published no expiry"
    );
    // All twelve fall silent together: one dashboard decides to pause expiry (the holder
    // of the deciding lock), and both say so.
    let silent = std::time::Instant::now();
    for dashboard in [&a, &b] {
        let paused = eventually(Duration::from_secs(5), || async {
            let status = status(dashboard).await;
            (status["self_preservation"]["active"] == true).then_some(status)
        })
        .await;
        assert!(paused.is_some(), "{dashboard} says expiry is paused");
    }
    // After the longest pause (3 s), each expires on its owner.
    let all_expired = eventually(Duration::from_secs(10), || async {
        let listed: Vec<Value> = reqwest::get(format!("{b}/api/v1/agents")).await.unwrap().json().await.unwrap();
        listed.iter().all(|a| a["expired"] == true).then_some(())
    })
    .await;
    assert!(all_expired.is_some(), "every silent agent expired after the pause");
    eprintln!("silent agents paused, then expired within {:?}", silent.elapsed());
    stop_a.now().await;
    stop_b.now().await;
}

#[tokio::test]
async fn nginx_in_front_of_two_dashboards() {
    if !postgres() {
        return;
    }
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| std::path::Path::new(p).exists());
    let nginx = nginx.expect("nginx is installed (./dev test installs Debian's nginx for this test)");
    let (url, _database) = test_database().await;
    let behind_nginx = |url: &str| {
        let mut settings = clustered(url);
        settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        settings
    };
    let (a, stop_a) = start(behind_nginx(&url)).await;
    let (b, stop_b) = start(behind_nginx(&url)).await;
    live_nodes(&a, 2).await;

    // docs/nginx.conf as written, with the test's ports.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let site = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/nginx.conf")).unwrap();
    for expected in ["server 127.0.0.1:8001", "server 127.0.0.1:8002", "listen 127.0.0.1:8080"] {
        assert!(site.contains(expected), "docs/nginx.conf has {expected:?}");
    }
    let site = site
        .replace("server 127.0.0.1:8001", &format!("server {}", a.trim_start_matches("http://")))
        .replace("server 127.0.0.1:8002", &format!("server {}", b.trim_start_matches("http://")))
        .replace("listen 127.0.0.1:8080", &format!("listen 127.0.0.1:{port}"));
    std::fs::write(dir.path().join("site.conf"), site).unwrap();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
             include {d}/site.conf; }}\n"
        ),
    )
    .unwrap();
    let _nginx = tokio::process::Command::new(nginx)
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
        .kill_on_drop(true)
        .spawn()
        .expect("nginx starts");
    let front = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Both dashboards answer through it.
    let answered = eventually(Duration::from_secs(10), || async {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..6 {
            let status: Value = http.get(format!("{front}/api/v1/status")).send().await.ok()?.json().await.ok()?;
            let this = status["nodes"].as_array()?.iter().find(|n| n["this"] == true)?["node_id"].clone();
            seen.insert(this.to_string());
        }
        (seen.len() == 2).then_some(())
    })
    .await;
    assert!(answered.is_some(), "nginx passes requests to both dashboards");

    // Events pass through as they come, whichever dashboard the change was made on.
    let mut events = EventStream::open(&front, None).await;
    for (dashboard, id) in [(&a, "through-a"), (&b, "through-b")] {
        register(dashboard, id, &mock_agent(article_schema(), Behaviour::Echo).await.url).await;
        events
            .next_matching("agent.upserted", Duration::from_secs(2), |d| d["agent_id"] == id)
            .await
            .unwrap_or_else(|| panic!("{id} reaches the stream through nginx within 2 s"));
    }

    // A self-registration from 127.0.0.7 through nginx: the address the dashboard writes
    // for 0.0.0.0 is the agent's (X-Forwarded-For, believed from the trusted nginx), not nginx's.
    let agent_side =
        reqwest::Client::builder().local_address("127.0.0.7".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let registered: Value = agent_side
        .post(format!("{front}/api/v1/agents/register"))
        .json(&json!({"agent_id": "behind", "agent_name": "behind", "agent_url": "http://0.0.0.0:9123", "ttl_seconds": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(registered["agent_url"], "http://127.0.0.7:9123", "{registered}");
    stop_a.now().await;
    stop_b.now().await;
}

#[tokio::test]
async fn a_lost_listening_connection_reconnects_and_resyncs() {
    if !postgres() {
        return;
    }
    let (url, _database) = test_database().await;
    let (a, stop_a) = start(clustered(&url)).await;
    let (b, stop_b) = start(clustered(&url)).await;
    live_nodes(&a, 2).await;
    let mut events = EventStream::open(&a, None).await;
    events.next(Duration::from_secs(5)).await.expect("the first event (resync)");

    // PostgreSQL ends every listening connection (a restart, a network cut).
    use sea_orm::ConnectionTrait;
    let admin = sea_orm::Database::connect(&url).await.unwrap();
    admin
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
    // A's browsers refetch (what was said meanwhile is lost), and what follows arrives.
    events.next_matching("resync", Duration::from_secs(10), |_| true).await.expect("A's stream is told to refetch");
    register(&b, "after-the-gap", &mock_agent(article_schema(), Behaviour::Echo).await.url).await;
    events
        .next_matching("agent.upserted", Duration::from_secs(5), |d| d["agent_id"] == "after-the-gap")
        .await
        .expect("B's change reaches A's stream after A listens again");
    stop_a.now().await;
    stop_b.now().await;
}
