//! The server keeps health current by itself, without any browser asking.

use crate::helpers::*;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn state_of(app: &TestApp, id: &str) -> Value {
    app.get_agent(id).await.json::<Value>().await.unwrap()["health"].clone()
}

/// The agent's health once its state is `state`, or None after 5 s.
async fn wait_for_state(app: &TestApp, id: &str, state: &str) -> Option<Value> {
    eventually(Duration::from_secs(5), || async {
        let h = state_of(app, id).await;
        (h["state"] == state).then_some(h)
    })
    .await
}

#[tokio::test]
async fn an_agent_that_goes_down_turns_unhealthy_and_recovers() {
    let app = spawn_app_with(Duration::from_millis(200)).await;
    let (url, up) = switchable_agent().await;
    app.register("flappy", &url).await;

    up.store(false, Ordering::SeqCst);
    let down = wait_for_state(&app, "flappy", "unhealthy")
        .await
        .expect("the monitor noticed the agent went down");
    assert_eq!(down["reason"], "HTTP 503 Service Unavailable");
    assert!(down["consecutive_failures"].as_u64().unwrap() >= 1);

    up.store(true, Ordering::SeqCst);
    let back = wait_for_state(&app, "flappy", "healthy")
        .await
        .expect("the monitor noticed the agent came back");
    assert_eq!(back["reason"], Value::Null);
    assert_eq!(back["consecutive_failures"], 0);
}

#[tokio::test]
async fn checked_at_advances_with_every_sweep() {
    let app = spawn_app_with(Duration::from_millis(200)).await;
    let url = alive_agent().await;
    let first = app.register("steady", &url).await["health"]["checked_at"].as_str().unwrap().to_owned();
    let later = eventually(Duration::from_secs(5), || async {
        let h = state_of(&app, "steady").await;
        let at = h["checked_at"].as_str().unwrap().to_owned();
        (at > first).then_some(at)
    })
    .await;
    assert!(later.is_some(), "a sweep re-checked the agent");
}

#[tokio::test]
async fn dead_agents_do_not_slow_the_sweep_down_one_by_one() {
    // 20 agents that never answer, 600 ms timeout each: checked one after another that
    // would take 12 s; concurrently (8 at a time) about 2 s.
    let app = spawn_app_with(Duration::from_millis(300)).await;
    let slow = slow_agent(Duration::from_secs(30)).await;
    for i in 0..20 {
        let response = app
            .post_agent(&serde_json::json!({"agent_id": format!("slow-{i}"), "agent_name": "S", "agent_url": slow, "force": true}))
            .await;
        assert_eq!(response.status(), 201);
    }
    let started = std::time::Instant::now();
    let all_rechecked = eventually(Duration::from_secs(8), || async {
        let list: Vec<Value> = app.list_agents("").await.json().await.unwrap();
        let reasons_ok = list.iter().all(|a| a["health"]["reason"].as_str().is_some_and(|r| r.contains("timed out")));
        let failures_ok = list.iter().all(|a| a["health"]["consecutive_failures"].as_u64().unwrap() >= 2);
        (reasons_ok && failures_ok).then_some(())
    })
    .await;
    assert!(all_rechecked.is_some(), "every agent was re-checked within 8 s ({:?})", started.elapsed());
}
