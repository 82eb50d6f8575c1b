//! The list's bulk actions, through the server functions the page calls: remove many
//! agents at once, and check many now.

use crate::helpers::*;
use crate::mock_agent::{article_schema, mock_agent, Behaviour};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A server function's refusal: the `ApiError` itself (the REST API wraps it in `error`).
async fn refusal(response: reqwest::Response) -> Value {
    response.json().await.expect("errors are JSON")
}

async fn call<F: server_fn::ServerFn>(app: &TestApp, ids: &[&str]) -> reqwest::Response {
    app.http.post(app.url(F::PATH)).json(&json!({"request": {"agent_ids": ids}})).send().await.unwrap()
}

#[tokio::test]
async fn many_agents_are_removed_at_once_and_each_is_accounted_for() {
    let app = spawn_app().await;
    let agent = mock_agent(article_schema(), Behaviour::Echo).await;
    for id in ["a", "b", "c"] {
        app.register(id, &agent.url).await;
    }
    let run_id = app.start_run("a", json!({"topic": "kept"})).await;
    app.finished_run(&run_id, Duration::from_secs(10)).await;

    let response = call::<app::api::RemoveAgents>(&app, &["a", "b", "nobody", "a"]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"removed": ["a", "b"], "already_gone": ["nobody"], "failed": []}), "a repeat counts once");

    for (id, status) in [("a", 404), ("b", 404), ("c", 200)] {
        assert_eq!(app.get_agent(id).await.status(), status, "{id}");
    }
    // Removal purges the agent, not its runs: they stay in the history.
    assert_eq!(app.get_run(&run_id).await["agent_id"], "a");
}

#[tokio::test]
async fn a_bulk_request_is_refused_whole_when_it_names_no_agent_too_many_or_a_bad_id() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    app.register("kept", &agent).await;

    let empty = call::<app::api::RemoveAgents>(&app, &[]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refusal(empty).await["fields"][0]["field"], "agent_ids");

    let bad = call::<app::api::CheckAgents>(&app, &["kept", "a/b"]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = refusal(bad).await;
    assert_eq!(error["fields"][0]["field"], "agent_ids[1]", "{error}");

    let many: Vec<String> = (0..=app::model::BULK_MAX).map(|i| format!("kept{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let refused = call::<app::api::RemoveAgents>(&app, &many).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refusal(refused).await["fields"][0]["message"].as_str().unwrap().contains("at most 1000"));
    assert_eq!(app.get_agent("kept").await.status(), 200, "nothing was removed");
}

/// Checks come every hour here: an agent that went down is seen at once only because it
/// was asked for.
#[tokio::test]
async fn agents_are_checked_now_when_asked() {
    let app = spawn_app_with(Duration::from_secs(3600)).await;
    let (url, up) = switchable_agent().await;
    app.register("flaky", &url).await;
    app.register("steady", &alive_agent().await).await;
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let registered = app
        .self_register(json!({"agent_id": "left", "agent_name": "Left", "host": "127.0.0.1", "port": port,
            "ttl_seconds": 60}))
        .await;
    assert!(registered.status().is_success(), "{}", registered.status());
    assert_eq!(app.delete_agent("left").await.status(), StatusCode::OK, "deregistered, kept");
    up.store(false, Ordering::SeqCst);

    let response = call::<app::api::CheckAgents>(&app, &["flaky", "steady", "ghost", "left"]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checking"], json!(["flaky", "steady"]));
    assert_eq!(body["skipped"][0], json!({"agent_id": "ghost", "reason": "not registered"}));
    assert_eq!(body["skipped"][1]["agent_id"], "left");
    assert!(body["skipped"][1]["reason"].as_str().unwrap().starts_with("expired"), "{body}");

    let failing = eventually(Duration::from_secs(10), || async {
        let agent: Value = app.get_agent("flaky").await.json().await.unwrap();
        (agent["health"]["state"] != "healthy").then_some(agent)
    })
    .await
    .expect("the agent is checked at once, not in an hour");
    assert!(failing["health"]["reason"].as_str().unwrap().contains("503"), "{failing}");
}
