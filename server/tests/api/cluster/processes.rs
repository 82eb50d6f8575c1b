//! Dashboards as processes of their own, one killed with SIGKILL.

use super::*;

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
