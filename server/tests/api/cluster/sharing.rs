//! Two dashboards in this process on one PostgreSQL: checks split, changes heard, runs
//! cancelled and limited across them, heartbeats anywhere, a lost listening connection.

use super::*;

#[tokio::test]
async fn two_dashboards_check_each_agent_once_and_hear_each_others_changes() {
    if !postgres() {
        return;
    }
    let Pair { a, b, stop_a, stop_b, _database, .. } = pair(|_| {}).await;
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
    assert!(page.contains("2 of 2 dashboards live on this database"), "the page names them");

    // A leaves: B takes every agent at its next renewal, and checks them all. B's streams
    // are told to resync: a dashboard that leaves may have died before telling its last
    // changes.
    stop_a.now().await;
    live_nodes(&b, 1).await;
    b_events
        .next_matching("resync", Duration::from_secs(5), |_| true)
        .await
        .expect("B's stream resyncs once A is counted out");
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
    let Pair { a, b, stop_a, stop_b, _database, .. } = pair(|_| {}).await;
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

#[tokio::test]
async fn an_agents_run_limit_holds_across_dashboards() {
    if !postgres() {
        return;
    }
    let Pair { a, b, stop_a, stop_b, _database, .. } = pair(|s| s.run_concurrency = 1).await;
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
    let Pair { a, b, stop_a, stop_b, _database, .. } = pair(|s| s.self_preservation_max = Duration::from_secs(3)).await;
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
async fn a_lost_listening_connection_reconnects_and_resyncs() {
    if !postgres() {
        return;
    }
    let Pair { a, b, stop_a, stop_b, url, _database } = pair(|_| {}).await;
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

#[tokio::test]
async fn an_agent_that_registers_itself_before_it_listens_is_not_checked_early_by_the_other_dashboard() {
    if !postgres() {
        return;
    }
    let Pair { a, b, stop_a, stop_b, _database, .. } = pair(|_| {}).await;
    // A port held but not listening yet (a connection to it is refused): the agents
    // register through A, as old agents do in their startup hook, and start listening
    // 0.8 s later.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    let mut b_events = EventStream::open(&b, None).await;
    let http = reqwest::Client::new();
    let registering = std::time::Instant::now();
    let answers = futures::future::join_all((0..30).map(|n| {
        http.post(format!("{a}/api/v1/agents/register"))
            .json(&json!({"agent_id": format!("early-{n}"), "agent_name": "early",
                          "agent_url": format!("http://127.0.0.1:{port}/a/{n}"), "ttl_seconds": 60}))
            .send()
    }))
    .await;
    for answer in answers {
        assert_eq!(answer.unwrap().status(), StatusCode::CREATED);
    }
    // Each is first checked 2 s after it registered: listening from here on is in time,
    // as long as registering took clearly less.
    assert!(registering.elapsed() < Duration::from_millis(1_500), "registering took {:?}", registering.elapsed());
    let (router, counts) = counting_agents();
    socket.listen(128).unwrap();
    socket.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(socket.into()).unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    // Every agent is checked, by A or by B, and none was found failing: B, which learns of
    // A's registrations from the database, waits as A does.
    eventually(Duration::from_secs(10), || async { (counts.lock().unwrap().len() == 30).then_some(()) })
        .await
        .expect("every agent is checked once it listens");
    let failing = b_events
        .next_matching("agent.health", Duration::from_millis(1_500), |d| d["health"]["state"] != "healthy")
        .await;
    assert!(failing.is_none(), "an agent was checked before it could listen: {failing:?}");
    let status = live_nodes(&b, 2).await;
    let checked: Vec<u64> =
        status["nodes"].as_array().unwrap().iter().map(|n| n["agents_checked"].as_u64().unwrap()).collect();
    assert!(checked.iter().all(|n| *n > 0), "both dashboards check some of them: {checked:?}");
    stop_a.now().await;
    stop_b.now().await;
}

/// A bulk Re-check asked of one dashboard reaches the agents the other one checks (the
/// relay's `Check` note): with checks an hour apart, every agent is checked at once.
#[tokio::test]
async fn a_recheck_asked_of_one_dashboard_checks_the_agents_the_other_one_checks() {
    if !postgres() {
        return;
    }
    let Pair { a, b, stop_a, stop_b, _database, .. } = pair(|s| s.health_interval = Duration::from_secs(3600)).await;
    live_nodes(&b, 2).await;
    let (base, counts) = counted_agents().await;
    let ids: Vec<String> = (0..12).map(|n| format!("r{n}")).collect();
    for (n, id) in ids.iter().enumerate() {
        register(&a, id, &format!("{base}/a/{n}")).await;
    }
    let status = eventually(Duration::from_secs(10), || async {
        let status = live_nodes(&a, 2).await;
        let checked: Vec<u64> =
            status["nodes"].as_array().unwrap().iter().map(|n| n["agents_checked"].as_u64().unwrap()).collect();
        (checked.iter().sum::<u64>() == 12 && checked.iter().all(|n| *n > 0)).then_some(checked)
    })
    .await
    .expect("each dashboard checks some of the agents");
    // Registration and first checks are over; from here only a re-check checks them.
    counts.lock().unwrap().clear();

    let path = <app::api::CheckAgents as server_fn::ServerFn>::PATH;
    let answer = reqwest::Client::new()
        .post(format!("{a}{path}"))
        .json(&json!({"request": {"agent_ids": ids}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["checking"].as_array().unwrap().len(), 12, "{body}");
    eventually(Duration::from_secs(10), || async {
        let c = counts.lock().unwrap();
        (c.len() == 12).then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!("every agent re-checked, on either dashboard ({status:?} split): {:?}", counts.lock().unwrap())
    });
    stop_a.now().await;
    stop_b.now().await;
}
