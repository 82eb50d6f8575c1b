//! The run history and everything around one stored run: filters and cursor pages,
//! idempotency, deletion, retention, the schema endpoint, the server-rendered pages.

use crate::helpers::*;
use crate::mock_agent::*;
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const SOON: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_history_filters_counts_and_pages_with_a_cursor() {
    let (app, _a) = app_with(Behaviour::Echo).await;
    let b = mock_agent(article_schema(), Behaviour::Answer(500, "{}")).await;
    app.register("b", &b.url).await;
    let mut a_runs = Vec::new();
    for i in 0..5 {
        a_runs.push(app.start_run("a", json!({"topic": format!("t{i}")})).await);
    }
    let b_run = app.start_run("b", json!({"topic": "b"})).await;
    for id in a_runs.iter().chain([&b_run]) {
        app.finished_run(id, SOON).await;
    }

    let list = |query: String| {
        let app = &app;
        async move { app.http.get(app.url(&format!("/api/v1/runs{query}"))).send().await.unwrap() }
    };
    let all = list(String::new()).await;
    assert_eq!(all.headers()["x-total-count"], "6");
    let all: Vec<Value> = all.json().await.unwrap();
    assert_eq!(all[0]["run_id"], b_run.as_str(), "newest first");

    let failed: Vec<Value> = list("?status=failed".into()).await.json().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["agent_id"], "b");

    // Page through a's runs two at a time, following Link.
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/runs?agent_id=a&limit=2".to_owned());
    while let Some(path) = next.take() {
        let page = app.http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(page.headers()["x-total-count"], "5");
        next = page.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            l[l.find('<').unwrap() + 1..l.find('>').unwrap()].to_owned()
        });
        let runs: Vec<Value> = page.json().await.unwrap();
        seen.extend(runs.into_iter().map(|r| r["run_id"].as_str().unwrap().to_owned()));
    }
    let mut expected = a_runs.clone();
    expected.reverse();
    assert_eq!(seen, expected, "every run once, newest first");

    let future: Vec<Value> = list("?since=2999-01-01".into()).await.json().await.unwrap();
    assert!(future.is_empty());
    let bad = list("?status=done&limit=0&since=soon".into()).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = error_of(bad).await["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["status", "since", "limit"]);
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_run_for_the_same_request() {
    let (app, agent) = app_with(Behaviour::Echo).await;
    let send = |key: &'static str, topic: &'static str| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/api/v1/agents/a/runs"))
                .header("Idempotency-Key", key)
                .json(&json!({"inputs": {"topic": topic}}))
                .send()
                .await
                .unwrap()
        }
    };
    let first: Value = send("k1", "same").await.json().await.unwrap();
    let again = send("k1", "same").await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["run_id"], first["run_id"]);
    let other = send("k1", "different").await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_of(other).await["fields"][0]["field"], "idempotency_key");
    app.finished_run(first["run_id"].as_str().unwrap(), SOON).await;
    assert_eq!(agent.runs_received(), 1);
}

#[tokio::test]
async fn runs_can_be_deleted_and_unknown_runs_are_404() {
    let (app, _agent) = app_with(Behaviour::Echo).await;
    let run_id = app.start_run("a", json!({"topic": "x"})).await;
    app.finished_run(&run_id, SOON).await;
    let deleted = app.http.delete(app.url(&format!("/api/v1/runs/{run_id}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    for path in [format!("/api/v1/runs/{run_id}"), "/api/v1/runs/not%20a%20run".into(), "/api/v1/runs/%FF".into()] {
        let response = app.http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let error = error_of(response).await;
        assert_eq!(error["code"], "not_found");
        assert!(!error["message"].as_str().unwrap().contains("agent"), "a run is not an agent: {error}");
    }
}

#[tokio::test]
async fn the_schema_endpoint_answers_the_normalised_schema() {
    let (app, agent) = app_with_settings(Behaviour::Echo, |s| s.schema_reuse = Duration::from_millis(300)).await;
    let response = app.http.get(app.url("/api/v1/agents/a/schema")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["agent_id"], "a");
    assert_eq!(view["schema"]["workflow"], "article_writer");
    let names: Vec<&str> =
        view["schema"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "topic", "in the agent's order");
    assert_eq!(view["schema"]["fields"][0]["kind"]["kind"], "text");

    // A changed schema is seen once the reuse window (--schema-reuse, 5 s; 300 ms here)
    // has passed, with another hash.
    *agent.mock.schema.lock().unwrap() = json!({"inputs": {"n": {"type": "int", "required": true}}});
    let changed = eventually(SOON, || async {
        let response = app.http.get(app.url("/api/v1/agents/a/schema")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let now: Value = response.json().await.unwrap();
        (now["schema_hash"] != view["schema_hash"]).then_some(now)
    })
    .await
    .expect("the changed schema is seen after the reuse window");
    assert_eq!(changed["schema"]["fields"][0]["name"], "n");
}

#[tokio::test]
async fn the_run_pages_render_on_the_server() {
    let (app, _agent) = app_with(Behaviour::Echo).await;
    let run_id = app.start_run("a", json!({"topic": "<b>bold</b>"})).await;
    app.finished_run(&run_id, SOON).await;
    let page = app.http.get(app.url(&format!("/workflows/{run_id}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("article_writer") && html.contains("succeeded"));
    assert!(!html.contains("<b>bold</b>"), "inputs are text, never HTML");
    let history = app.http.get(app.url("/workflows?agent_id=a")).send().await.unwrap().text().await.unwrap();
    assert!(history.contains(&run_id[..8]), "the history lists the run");
    let missing = app.http.get(app.url("/workflows/00000000-0000-0000-0000-000000000000")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn retention_removes_old_finished_runs_only() {
    let (app, agent) = app_with_settings(Behaviour::Echo, |s| s.run_retention = Some(Duration::from_secs(1))).await;
    let run_id = app.start_run("a", json!({"topic": "old"})).await;
    app.finished_run(&run_id, SOON).await;
    agent.set(Behaviour::Slow(Duration::from_secs(8)));
    let live = app.start_run("a", json!({"topic": "still going"})).await;
    let gone = eventually(SOON, || async {
        let r = app.http.get(app.url(&format!("/api/v1/runs/{run_id}"))).send().await.unwrap();
        (r.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(gone.is_some(), "a finished run older than the retention is deleted");
    // A run that finishes after the live one started, deleted in its turn: a retention
    // pass has run while the live one was going, and kept it.
    let other = mock_agent(article_schema(), Behaviour::Echo).await;
    app.register("b", &other.url).await;
    let later = app.start_run("b", json!({"topic": "later"})).await;
    app.finished_run(&later, SOON).await;
    let purged = eventually(SOON, || async {
        let r = app.http.get(app.url(&format!("/api/v1/runs/{later}"))).send().await.unwrap();
        (r.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(purged.is_some(), "the later run is deleted too");
    assert_eq!(app.get_run(&live).await["status"], "running", "a live run is kept");
}

#[tokio::test]
async fn an_agent_that_cannot_give_its_schema_is_a_clear_502() {
    let app = spawn_app().await;
    let nobody = refused_url().await;
    let stored =
        app.post_agent(&json!({"agent_id": "gone", "agent_name": "Gone", "agent_url": nobody, "force": true})).await;
    assert_eq!(stored.status(), StatusCode::CREATED);
    for response in [
        app.http.get(app.url("/api/v1/agents/gone/schema")).send().await.unwrap(),
        app.create_run("gone", json!({"topic": "x"})).await,
    ] {
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        let error = error_of(response).await;
        assert_eq!(error["code"], "agent_unavailable");
        assert_eq!(error["reason"], "connection refused");
        assert!(error["message"].as_str().unwrap().starts_with("Could not get the agent's input schema"));
    }
}

#[tokio::test]
async fn the_last_published_schema_is_used_when_the_agent_cannot_give_one() {
    let (app, agent) = app_with_settings(Behaviour::Echo, |s| s.schema_reuse = Duration::ZERO).await;
    let first = app.start_run("a", json!({"topic": "x"})).await;
    let hash = app.finished_run(&first, SOON).await["schema_hash"].clone();
    *agent.mock.schema.lock().unwrap() = json!(5); // not a schema at all (asked anew: no reuse)
    let refused = app.create_run("a", json!({})).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "still checked against the stored schema");
    let second = app.start_run("a", json!({"topic": "y"})).await;
    assert_eq!(app.finished_run(&second, SOON).await["schema_hash"], hash);
}

/// A stored value this dashboard does not know (a hand edit, a newer version's row) never
/// takes a list down and is never passed off as a known one: the row says what it holds.
#[tokio::test]
async fn unknown_stored_states_are_shown_for_what_they_are() {
    use sea_orm::ConnectionTrait;
    let (app, _agent) = app_with(Behaviour::Echo).await;
    let run_id = app.start_run("a", json!({"topic": "x"})).await;
    app.finished_run(&run_id, SOON).await;
    let db = server::db::connect(&app.database_url).await.unwrap();
    db.write().execute_unprepared("UPDATE agents SET health_state = 'sleepy', source = 'teleported'").await.unwrap();
    db.write().execute_unprepared("UPDATE runs SET status = 'paused'").await.unwrap();

    let agents = app.list_agents("").await;
    assert_eq!(agents.status(), StatusCode::OK, "the list still answers");
    let agents: Vec<Value> = agents.json().await.unwrap();
    assert_eq!(agents[0]["health"]["state"], "unknown");
    let reason = agents[0]["health"]["reason"].as_str().unwrap();
    assert!(reason.contains("\"sleepy\"") && reason.contains("not one this dashboard knows"), "{reason}");
    let overview = app.http.get(app.url("/api/v1/overview")).send().await.unwrap();
    assert_eq!(overview.status(), StatusCode::OK);

    let runs = app.http.get(app.url("/api/v1/runs")).send().await.unwrap();
    assert_eq!(runs.status(), StatusCode::OK);
    let runs: Vec<Value> = runs.json().await.unwrap();
    assert_eq!(runs[0]["status"], "failed");
    assert!(runs[0]["error"].as_str().unwrap().contains("\"paused\""), "{}", runs[0]);
    let page = app.http.get(app.url(&format!("/workflows/{run_id}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}
