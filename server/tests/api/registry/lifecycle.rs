//! What happens to self-registered agents after they register: expiry and revival, the
//! restart grace, runs on agents that are gone, self-preservation, retention, and
//! heartbeats racing the purge.

use super::{counted_agent, encode, old_body, port_of};
use crate::helpers::*;
use crate::mock_agent::{article_schema, mock_agent, Behaviour};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test]
async fn a_silent_agent_expires_leaves_the_schedule_and_a_heartbeat_revives_it() {
    let app = spawn_app_with(Duration::from_millis(200)).await;
    let (url, checks) = counted_agent().await;
    let (steady, _) = counted_agent().await;
    app.register("steady", &steady).await;
    assert_eq!(app.self_register(old_body("short", port_of(&url), 1)).await.status(), StatusCode::CREATED);
    let mut events = EventStream::open(&app.address, None).await;

    let expired = eventually(Duration::from_secs(10), || async {
        let agent = app.agent("short").await;
        agent["expired"].as_bool().unwrap().then_some(agent)
    })
    .await
    .expect("expires after its TTL");
    assert_eq!((expired["is_alive"].as_bool(), expired["expiry"].as_str()), (Some(false), Some("ttl")));
    let published = events.next_matching("agent.upserted", Duration::from_secs(5), |e| e["expired"] == true).await;
    assert!(published.is_some(), "the expiry is published");
    let overview: Value = app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
    assert_eq!(overview["summary"]["expired"], 1, "{overview}");
    assert_eq!(overview["summary"]["healthy"], 1, "the expired agent counts as expired only");
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("configurable_agents_agents{state=\"expired\"} 1"), "{metrics}");

    // Not checked while expired: the steady agent's next checks pass, its count stays.
    let before = checks.load(Ordering::SeqCst);
    let mut completed = app.monitor.completed();
    let now = *completed.borrow_and_update();
    tokio::time::timeout(Duration::from_secs(10), completed.wait_for(|n| *n >= now + 5)).await.unwrap().unwrap();
    assert_eq!(checks.load(Ordering::SeqCst), before, "an expired agent is not checked");

    // A heartbeat revives it, written through and checked at once.
    let revived = app.heartbeat("short").await;
    assert_eq!(revived.status(), StatusCode::OK);
    let agent = app.agent("short").await;
    assert_eq!((agent["is_alive"].as_bool(), agent["expired"].as_bool()), (Some(true), Some(false)));
    eventually(Duration::from_secs(5), || async { (checks.load(Ordering::SeqCst) > before).then_some(()) })
        .await
        .expect("checked again once revived");
}

#[tokio::test]
async fn no_agent_expires_sooner_than_its_ttl_after_a_restart_and_pending_heartbeats_are_kept() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    app.self_register(old_body("patient", port_of(&agent), 2)).await;
    let beat: Value = app.heartbeat("patient").await.json().await.unwrap();
    // Stopped within the flush delay: the shutdown stores the pending batch.
    let app = restart(app, |_| {}).await;
    let stored = app.agent("patient").await;
    assert_eq!(stored["last_heartbeat"], beat["last_heartbeat"], "the pending heartbeat was stored at shutdown");

    // Down for longer than its TTL: it still has a whole TTL after the start.
    let mut app = app;
    app.stop_server().await;
    let down_since = std::time::Instant::now();
    eventually(Duration::from_secs(5), || async { (down_since.elapsed() > Duration::from_millis(2500)).then_some(()) })
        .await;
    let app = restart(app, |_| {}).await;
    let started = std::time::Instant::now();
    assert_eq!(app.agent("patient").await["expired"], false, "not expired at the start");
    eventually(Duration::from_secs(10), || async { (app.agent("patient").await["expired"] == true).then_some(()) })
        .await
        .expect("expires a TTL after the start");
    assert!(started.elapsed() >= Duration::from_millis(1900), "expired {:?} after the start", started.elapsed());
}

#[tokio::test]
async fn runs_are_refused_for_agents_that_are_gone_and_never_sent() {
    let app = spawn_app().await;
    let agent = mock_agent(article_schema(), Behaviour::Echo).await;
    let body = json!({"agent_id": "gone", "agent_name": "Gone", "agent_url": agent.url, "ttl_seconds": 60});
    assert_eq!(app.self_register(body).await.status(), StatusCode::CREATED);
    app.delete_agent("gone").await;
    let refused = app.create_run("gone", json!({"topic": "x"})).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let message = error_of(refused).await["message"].as_str().unwrap().to_owned();
    assert!(message.contains("deregistered") && message.contains("last heartbeat"), "{message}");
    assert_eq!(agent.runs_received(), 0);
}

#[tokio::test]
async fn a_queued_run_whose_agent_expired_meanwhile_fails_without_being_sent() {
    let app = spawn_app_configured(|s| s.run_concurrency = 1).await;
    let agent = mock_agent(article_schema(), Behaviour::Slow(Duration::from_secs(3))).await;
    let body = json!({"agent_id": "busy", "agent_name": "Busy", "agent_url": agent.url, "ttl_seconds": 1});
    assert_eq!(app.self_register(body).await.status(), StatusCode::CREATED);
    let first = app.start_run("busy", json!({"topic": "first"})).await;
    let second = app.start_run("busy", json!({"topic": "second"})).await;
    let failed = app.finished_run(&second, Duration::from_secs(15)).await;
    assert_eq!(failed["status"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("expired") && error.contains("not sent"), "{error}");
    app.finished_run(&first, Duration::from_secs(15)).await;
    assert_eq!(agent.runs_received(), 1, "only the first run reached the agent");
}

#[tokio::test]
async fn a_mass_silence_pauses_expiry_and_the_pause_ends() {
    let app = spawn_app_configured(|s| {
        s.self_preservation_min = 3;
        s.self_preservation_max = Duration::from_secs(3);
    })
    .await;
    let agent = alive_agent().await;
    for i in 0..4 {
        app.self_register(old_body(&format!("fleet-{i}"), port_of(&agent), 2)).await;
    }
    let mut events = EventStream::open(&app.address, None).await;
    // All four fall silent together: past half their TTL expiry pauses, before any expires.
    let on = events
        .next_matching("registry.self_preservation", Duration::from_secs(10), |e| e["active"] == true)
        .await
        .expect("self-preservation begins");
    assert_eq!((on.json()["silent"].as_u64(), on.json()["alive"].as_u64()), (Some(4), Some(4)));
    let overview: Value = app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
    assert_eq!(overview["self_preservation"]["active"], true);
    assert_eq!(overview["summary"]["expired"], 0, "nothing expires while paused");
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("configurable_agents_self_preservation 1"), "{metrics}");

    // Nobody comes back: after its longest the overdue expire, and it does not restart.
    events
        .next_matching("registry.self_preservation", Duration::from_secs(10), |e| e["active"] == false)
        .await
        .expect("self-preservation ends after its longest");
    eventually(Duration::from_secs(5), || async {
        let o: Value = app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
        (o["summary"]["expired"] == 4).then_some(())
    })
    .await
    .expect("the overdue expire");
    let overview: Value = app.http.get(app.url("/api/v1/overview")).send().await.unwrap().json().await.unwrap();
    assert_eq!(overview["self_preservation"]["active"], false);
}

#[tokio::test]
async fn heartbeats_that_recover_end_the_pause_and_a_small_fleet_never_pauses() {
    let app = spawn_app_configured(|s| s.self_preservation_min = 3).await;
    let agent = alive_agent().await;
    for i in 0..4 {
        app.self_register(old_body(&format!("f{i}"), port_of(&agent), 2)).await;
    }
    let mut events = EventStream::open(&app.address, None).await;
    events
        .next_matching("registry.self_preservation", Duration::from_secs(10), |e| e["active"] == true)
        .await
        .expect("paused");
    // They heartbeat again, every third of their TTL as real agents do, until the pause
    // ends: a single heartbeat leaves them silent again 2 s later, and on a loaded machine
    // the decision may come after that.
    let (http, address) = (app.http.clone(), app.address.clone());
    let beating = tokio::spawn(async move {
        loop {
            for i in 0..4 {
                let beat = http.post(format!("{address}/api/v1/agents/f{i}/heartbeat")).send().await.unwrap();
                assert!(beat.status().is_success());
            }
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
    });
    let ended =
        events.next_matching("registry.self_preservation", Duration::from_secs(10), |e| e["active"] == false).await;
    beating.abort();
    ended.expect("heartbeats recovered: the pause ends");
    assert!(app.list_agents("?state=expired").await.json::<Value>().await.unwrap().as_array().unwrap().is_empty());

    // Two agents (below the floor of 3) fall silent: they simply expire.
    let small = spawn_app_configured(|s| s.self_preservation_min = 3).await;
    for i in 0..2 {
        small.self_register(old_body(&format!("s{i}"), port_of(&agent), 1)).await;
    }
    eventually(Duration::from_secs(10), || async {
        let expired: Value = small.list_agents("?state=expired").await.json().await.unwrap();
        (expired.as_array().unwrap().len() == 2).then_some(())
    })
    .await
    .expect("a fleet below the floor expires as usual");
}

#[tokio::test]
async fn long_expired_agents_are_purged_with_retention_unless_revived() {
    let app = spawn_app_configured(|s| s.expired_retention = Some(Duration::from_secs(1))).await;
    let agent = alive_agent().await;
    app.self_register(old_body("old", port_of(&agent), 1)).await;
    app.self_register(old_body("kept", port_of(&agent), 3600)).await;
    eventually(Duration::from_secs(15), || async {
        (app.get_agent("old").await.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await
    .expect("purged after expiry + retention");
    assert_eq!(app.get_agent("kept").await.status(), StatusCode::OK);
    assert_eq!(app.heartbeat("old").await.status(), StatusCode::NOT_FOUND, "a purged agent must register again");
}

#[tokio::test]
async fn a_manual_agent_records_heartbeats_and_never_expires() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    app.register("manual", &agent).await;
    let beat = app.heartbeat("manual").await;
    assert_eq!(beat.status(), StatusCode::OK);
    let at = beat.json::<Value>().await.unwrap()["last_heartbeat"].clone();
    let stored = eventually(Duration::from_secs(5), || async {
        let a = app.agent("manual").await;
        (a["last_heartbeat"] == at).then_some(a)
    })
    .await
    .expect("the heartbeat is stored within the flush delay");
    assert_eq!((stored["ttl_seconds"].as_u64(), stored["expired"].as_bool()), (None, Some(false)));
    // DELETE of a manual agent deletes it for good.
    assert_eq!(app.delete_agent("manual").await.json::<Value>().await.unwrap()["status"], "deleted");
}

#[tokio::test]
async fn heartbeats_racing_the_retention_purge_never_leave_a_half_state() {
    let app = spawn_app_configured(|s| {
        s.expired_retention = Some(Duration::from_secs(1));
        // Twenty agents silent together would pause expiry (self-preservation).
        s.self_preservation_min = 1000;
    })
    .await;
    let agent = alive_agent().await;
    let ids: Vec<String> = (0..20).map(|i| format!("racer-{i}")).collect();
    for id in &ids {
        app.self_register(old_body(id, port_of(&agent), 1)).await;
    }
    // None alive any more: each expired, perhaps purged already.
    eventually(Duration::from_secs(10), || async {
        let alive: Value = app.list_agents("?include_dead=false").await.json().await.unwrap();
        alive.as_array().unwrap().is_empty().then_some(())
    })
    .await
    .expect("all expired");
    // Heartbeats spread over the time the purge comes: each one either revives its agent
    // (200, and the agent is there and alive) or finds it purged (404, and it is gone).
    let (mut revived, mut purged) = (0, 0);
    for id in &ids {
        let status = app.heartbeat(id).await.status();
        let stored = app.get_agent(&encode(id)).await;
        match status {
            StatusCode::OK => {
                assert_eq!(
                    stored.status(),
                    StatusCode::OK,
                    "{id}: a heartbeat answered 200 revives an agent that exists"
                );
                let agent: Value = stored.json().await.unwrap();
                assert_eq!(agent["is_alive"], true, "{id}: {agent}");
                revived += 1;
            }
            StatusCode::NOT_FOUND => {
                assert_eq!(stored.status(), StatusCode::NOT_FOUND, "{id}: refused because it is gone");
                purged += 1;
            }
            other => panic!("{id}: heartbeat answered {other}"),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    eprintln!("heartbeats racing the purge: {revived} revived, {purged} found purged");
    assert_eq!(revived + purged, ids.len());
}
