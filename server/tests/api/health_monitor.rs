//! The server keeps health current by itself, without any browser asking: each agent on
//! its own schedule, through a damped state machine with precise reasons, written in
//! batches.

use crate::helpers::*;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use server::entities::health_events;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn state_of(app: &TestApp, id: &str) -> Value {
    app.get_agent(id).await.json::<Value>().await.unwrap()["health"].clone()
}

/// The agent's health once `accept` holds, or None after 5 s.
async fn wait_for(app: &TestApp, id: &str, accept: impl Fn(&Value) -> bool) -> Option<Value> {
    eventually(Duration::from_secs(5), || async {
        let h = state_of(app, id).await;
        accept(&h).then_some(h)
    })
    .await
}

/// The agent's health once its state is `state`, or None after 5 s.
async fn wait_for_state(app: &TestApp, id: &str, state: &str) -> Option<Value> {
    wait_for(app, id, |h| h["state"] == state).await
}

/// How an agent under test answers /health.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Up,
    Http503,
    NotJson,
    Degraded,
    Hang,
}

/// An agent whose /health a test switches between modes; counts the checks it gets.
async fn health_agent() -> (String, Arc<Mutex<Mode>>, Arc<AtomicUsize>) {
    let mode = Arc::new(Mutex::new(Mode::Up));
    let calls = Arc::new(AtomicUsize::new(0));
    let (m, c) = (mode.clone(), calls.clone());
    let url = serve(Router::new().route(
        "/health",
        get(move || {
            let mode = *m.lock().unwrap();
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                match mode {
                    Mode::Up => (StatusCode::OK, r#"{"status":"alive"}"#),
                    Mode::Http503 => (StatusCode::SERVICE_UNAVAILABLE, r#"{"detail":"down"}"#),
                    Mode::NotJson => (StatusCode::OK, "<html>ok</html>"),
                    Mode::Degraded => (StatusCode::OK, r#"{"status":"degraded"}"#),
                    Mode::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        (StatusCode::OK, "")
                    }
                }
            }
        }),
    ))
    .await;
    (url, mode, calls)
}

/// Makes the agent due now and waits until the monitor stored that check.
async fn check_now(app: &TestApp, id: &str) {
    let mut completed = app.monitor.completed();
    let before = *completed.borrow_and_update();
    app.monitor.check_now(Some(vec![id.to_owned()]));
    tokio::time::timeout(Duration::from_secs(5), completed.wait_for(|n| *n > before))
        .await
        .expect("the check was stored within 5 s")
        .unwrap();
}

async fn transitions(app: &TestApp, id: &str) -> Vec<(String, Option<String>)> {
    let db = server::db::connect(&app.database_url).await.unwrap();
    health_events::Entity::find()
        .filter(health_events::Column::AgentId.eq(id))
        .order_by_asc(health_events::Column::Id)
        .all(db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.state, e.reason))
        .collect()
}

#[tokio::test]
async fn an_agent_that_goes_down_turns_unhealthy_and_recovers() {
    let app = spawn_app_with(Duration::from_millis(200)).await;
    let (url, up) = switchable_agent().await;
    app.register("flappy", &url).await;

    up.store(false, Ordering::SeqCst);
    let down = wait_for_state(&app, "flappy", "unhealthy").await.expect("the monitor noticed the agent went down");
    assert_eq!(down["reason"], "HTTP 503 Service Unavailable");
    assert!(down["consecutive_failures"].as_u64().unwrap() >= 1);

    up.store(true, Ordering::SeqCst);
    let back = wait_for_state(&app, "flappy", "healthy").await.expect("the monitor noticed the agent came back");
    assert_eq!(back["reason"], Value::Null);
    assert_eq!(back["consecutive_failures"], 0);
}

#[tokio::test]
async fn every_kind_of_failure_has_its_own_reason() {
    let app = spawn_app_configured(|s| s.unhealthy_after = 2).await;
    let (url, mode, _) = health_agent().await;
    app.register("a", &url).await;
    let refused = refused_url().await;
    let cases = [
        (Mode::Http503, "HTTP 503 Service Unavailable"),
        (Mode::NotJson, "body is not JSON (line 1, column 1)"),
        (Mode::Degraded, "status \"degraded\""),
        (Mode::Hang, "timed out after 600ms"),
    ];
    for (m, reason) in cases {
        *mode.lock().unwrap() = m;
        check_now(&app, "a").await;
        let h = state_of(&app, "a").await;
        assert_eq!((h["state"].as_str(), h["reason"].as_str()), (Some("failing"), Some(reason)), "{m:?}: {h}");
        check_now(&app, "a").await;
        let h = state_of(&app, "a").await;
        assert_eq!(h["state"], "unhealthy", "{m:?}: two failures in a row: {h}");
        assert_eq!(h["consecutive_failures"], 2);
        *mode.lock().unwrap() = Mode::Up;
        check_now(&app, "a").await;
        assert_eq!(state_of(&app, "a").await["state"], "healthy");
    }
    // Nothing listening at all.
    let response =
        app.post_agent(&json!({"agent_id": "gone", "agent_name": "G", "agent_url": refused, "force": true})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    check_now(&app, "gone").await;
    let h = state_of(&app, "gone").await;
    assert_eq!((h["state"].as_str(), h["reason"].as_str()), (Some("unhealthy"), Some("connection refused")));
}

#[tokio::test]
async fn one_lost_check_shows_failing_at_once_without_calling_the_agent_down() {
    let app = spawn_app_configured(|s| s.unhealthy_after = 3).await;
    let (url, mode, _) = health_agent().await;
    app.register("steady", &url).await;

    *mode.lock().unwrap() = Mode::Http503;
    check_now(&app, "steady").await;
    let h = state_of(&app, "steady").await;
    assert_eq!(h["state"], "failing", "the first failure is shown at once: {h}");
    assert_eq!((h["consecutive_failures"].as_u64(), h["unhealthy_after"].as_u64()), (Some(1), Some(3)));
    check_now(&app, "steady").await;
    assert_eq!(state_of(&app, "steady").await["state"], "failing", "2 of 3");
    *mode.lock().unwrap() = Mode::Up;
    check_now(&app, "steady").await;
    assert_eq!(state_of(&app, "steady").await["state"], "healthy");

    // Kept: the registration, the failure with its reason, the recovery; not every check.
    let kept = transitions(&app, "steady").await;
    let expected = [
        ("healthy".to_owned(), None),
        ("failing".to_owned(), Some("HTTP 503 Service Unavailable".to_owned())),
        ("healthy".to_owned(), None),
    ];
    assert_eq!(kept, expected);

    // The history reads them back, with the uptime bar they make.
    let history: Value =
        app.http.get(app.url("/api/v1/agents/steady/history?hours=24")).send().await.unwrap().json().await.unwrap();
    assert_eq!(history["changes"].as_array().unwrap().len(), 3, "{history}");
    assert_eq!(history["segments"].as_array().unwrap().len(), 48);
    // Failing is down for uptime (the damping is for alerts): under 100 %, not 0.
    let uptime = history["uptime"].as_f64().unwrap();
    assert!(uptime > 0.0 && uptime < 1.0, "the failing stretch counts as down: {uptime}");
    let healthy: f64 = history["segments"].as_array().unwrap().iter().map(|s| s["healthy_ms"].as_f64().unwrap()).sum();
    let failing: f64 = history["segments"].as_array().unwrap().iter().map(|s| s["failing_ms"].as_f64().unwrap()).sum();
    assert!(failing > 0.0 && (uptime - healthy / (healthy + failing)).abs() < 1e-9, "{history}");
    let bad = app.http.get(app.url("/api/v1/agents/steady/history?hours=0")).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app.http.get(app.url("/api/v1/agents/nobody/history")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_rounds_checks_are_written_in_a_few_batches() {
    let app = spawn_app().await;
    let url = alive_agent().await;
    for i in 0..40 {
        app.register(&format!("agent-{i}"), &url).await;
    }
    let mut completed = app.monitor.completed();
    let mut batches = app.monitor.batches();
    let (done_before, batches_before) = (*completed.borrow_and_update(), *batches.borrow_and_update());
    app.monitor.check_now(None);
    tokio::time::timeout(Duration::from_secs(10), completed.wait_for(|n| *n >= done_before + 40))
        .await
        .expect("all 40 checks stored")
        .unwrap();
    let used = *batches.borrow() - batches_before;
    assert!(used <= 5, "40 unchanged checks in {used} transactions (one each would be 40)");
}

#[tokio::test]
async fn registration_and_removal_reach_the_monitor_at_once() {
    // A 1 s interval: a new agent is checked within about a second and a half of its
    // registration (not at some later sweep), and not at all once removed.
    let app = spawn_app_with(Duration::from_secs(1)).await;
    let (url, _, calls) = health_agent().await;
    app.register("new", &url).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the registration's own check");
    let checked =
        eventually(Duration::from_secs(3), || async { (calls.load(Ordering::SeqCst) >= 2).then_some(()) }).await;
    assert!(checked.is_some(), "the monitor scheduled the new agent at once");

    assert_eq!(app.delete_agent("new").await.status(), StatusCode::OK);
    // A witness on the same 1 s schedule: once it has had a check of the monitor's, any
    // check of the removed agent begun before the removal has arrived; once it has had
    // two more, a whole interval has passed, so the removed agent's slot too.
    let (witness, _, witness_calls) = health_agent().await;
    app.register("witness", &witness).await;
    let checked = |n: usize| {
        let witness_calls = witness_calls.clone();
        eventually(Duration::from_secs(10), move || {
            let done = witness_calls.load(Ordering::SeqCst) >= n;
            async move { done.then_some(()) }
        })
    };
    checked(2).await.expect("the witness is checked");
    let after_removal = calls.load(Ordering::SeqCst);
    checked(4).await.expect("the witness is checked twice more");
    assert_eq!(calls.load(Ordering::SeqCst), after_removal, "no checks after removal");
}

#[tokio::test]
async fn an_agent_removed_while_its_check_runs_stays_removed() {
    let app = spawn_app_configured(|s| s.unhealthy_after = 2).await;
    let (url, mode, calls) = health_agent().await;
    app.register("brief", &url).await;
    let mut events = EventStream::open(&app.address, None).await;
    *mode.lock().unwrap() = Mode::Hang; // the check stays open until its timeout (600 ms)
    app.monitor.check_now(Some(vec!["brief".into()]));
    assert!(eventually(Duration::from_secs(2), || async { (calls.load(Ordering::SeqCst) >= 2).then_some(()) })
        .await
        .is_some());
    assert_eq!(app.delete_agent("brief").await.status(), StatusCode::OK);
    // Its check times out after the removal (600 ms): nothing of it may come back. The
    // check's end is seen in /metrics (a check counted as unhealthy).
    eventually(Duration::from_secs(5), || async {
        let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .any(|l| {
                l.starts_with("configurable_agents_health_checks_total{outcome=\"unhealthy\"}") && !l.ends_with(" 0")
            })
            .then_some(())
    })
    .await
    .expect("the hanging check timed out");
    assert_eq!(app.get_agent("brief").await.status(), StatusCode::NOT_FOUND);
    assert!(transitions(&app, "brief").await.is_empty(), "its history went with it");
    let removed = events.next_matching("agent.removed", Duration::from_secs(2), |d| d["agent_id"] == "brief").await;
    assert!(removed.is_some());
    let late = events.next_matching("agent.health", Duration::from_millis(500), |d| d["agent_id"] == "brief").await;
    assert!(late.is_none(), "no health event after the removal: {late:?}");
}

#[tokio::test]
async fn dead_agents_do_not_hold_up_live_ones() {
    // 20 agents that never answer (600 ms timeout) and one live agent, checked together:
    // the live one's result lands long before the dead ones time out.
    let app = spawn_app_configured(|s| {
        s.unhealthy_after = 2;
        s.health_concurrency = 64;
    })
    .await;
    let slow = slow_agent(Duration::from_secs(30)).await;
    let registrations = (0..20).map(|i| {
        app.post_agent_owned(
            json!({"agent_id": format!("slow-{i}"), "agent_name": "S", "agent_url": slow, "force": true}),
        )
    });
    for response in futures::future::join_all(registrations).await {
        assert_eq!(response.status(), 201);
    }
    let (url, mode, _) = health_agent().await;
    app.register("live", &url).await;
    *mode.lock().unwrap() = Mode::Http503;
    app.monitor.check_now(None);
    let live = wait_for_state(&app, "live", "failing").await.expect("the live agent's check landed");
    // Landed before the dead ones' checks ended: none of them has had its second failure
    // (a timeout) stored yet.
    let list: Vec<Value> = app.list_agents("").await.json().await.unwrap();
    let dead_done = list
        .iter()
        .filter(|a| a["agent_id"].as_str().unwrap().starts_with("slow-") && a["health"]["state"] == "unhealthy")
        .count();
    assert_eq!(dead_done, 0, "the live result waited for no dead agent: {live}");
    let all_dead = eventually(Duration::from_secs(5), || async {
        let list: Vec<Value> = app.list_agents("").await.json().await.unwrap();
        list.iter()
            .filter(|a| a["agent_id"].as_str().unwrap().starts_with("slow-"))
            .all(|a| {
                a["health"]["state"] == "unhealthy"
                    && a["health"]["reason"].as_str().is_some_and(|r| r.contains("timed out"))
            })
            .then_some(())
    })
    .await;
    assert!(all_dead.is_some(), "every dead agent was checked concurrently");
}

/// An agent that notes the `Connection` header of every health check.
async fn header_noting_agent() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let noted = seen.clone();
    let router = Router::new().route(
        "/health",
        get(move |headers: axum::http::HeaderMap| {
            let noted = noted.clone();
            async move {
                let connection = headers.get("connection").and_then(|v| v.to_str().ok()).map(str::to_owned);
                noted.lock().unwrap().push(connection);
                axum::Json(json!({ "status": "alive" }))
            }
        }),
    );
    (serve(router).await, seen)
}

#[tokio::test]
async fn a_connection_is_kept_only_when_the_next_check_comes_before_agents_close_idle_ones() {
    // Every 10 s: an agent (uvicorn) would have closed it after 5 s; it is closed at once.
    let (url, seen) = header_noting_agent().await;
    let app = spawn_app_with(Duration::from_secs(10)).await;
    app.register("rare", &url).await;
    check_now(&app, "rare").await;
    // The registration's check, the one asked for, and perhaps its first slot (its offset
    // inside the 10 s may fall within the test): every one asks to close.
    let rare = seen.lock().unwrap().clone();
    assert!(rare.len() >= 2 && rare.iter().all(|c| c.as_deref() == Some("close")), "registration and check: {rare:?}");

    // Every second: kept for the next check.
    let (url, seen) = header_noting_agent().await;
    let app = spawn_app_with(Duration::from_secs(1)).await;
    app.register("often", &url).await;
    check_now(&app, "often").await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&Some("close".to_owned())), "a registration's one-off check");
    assert_eq!(seen.get(1), Some(&None), "the monitor's: {seen:?}");
}

/// An agent whose health does not change is checked on every slot, but its result is
/// pushed to pages at most every `--health-refresh` (30 s; 1 s here).
#[tokio::test]
async fn unchanged_results_are_pushed_at_most_every_refresh() {
    let app = spawn_app_configured(|s| {
        s.health_interval = Duration::from_millis(200);
        s.health_refresh = Duration::from_secs(1);
    })
    .await;
    let (url, _, calls) = health_agent().await;
    let mut events = EventStream::open(&app.address, None).await;
    app.register("steady", &url).await;
    let mut pushed = Vec::new();
    while pushed.len() < 3 {
        events
            .next_matching("agent.health", Duration::from_secs(10), |d| d["agent_id"] == "steady")
            .await
            .expect("an unchanged result is still pushed now and then");
        pushed.push(tokio::time::Instant::now());
    }
    let checks = calls.load(Ordering::SeqCst);
    for pair in pushed.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(900), "pushed again after {gap:?}");
    }
    // Meanwhile it was checked on its 200 ms slots, several times per push.
    assert!(checks >= 6, "{checks} checks");
}
