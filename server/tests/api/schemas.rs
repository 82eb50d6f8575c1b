//! JSON Schema agents, secret inputs and schema drift through the real HTTP surface.

use crate::helpers::*;
use crate::mock_agent::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const SOON: Duration = Duration::from_secs(10);

/// A LangServe/pydantic-style agent: the whole `/schema` answer is a JSON Schema, with a
/// secret, a nested model behind `$ref` and a pydantic optional.
fn secret_schema() -> Value {
    json!({
        "title": "Deploy", "type": "object", "required": ["service", "api_key"],
        "properties": {
            "service": {"type": "string", "minLength": 2, "pattern": "^[a-z-]+$"},
            "api_key": {"type": "string", "format": "password", "writeOnly": true},
            "replicas": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 10}, {"type": "null"}], "default": null},
            "target": {"$ref": "#/$defs/Target"}
        },
        "$defs": {"Target": {"type": "object", "required": ["region"], "properties": {
            "region": {"enum": ["eu", "us"]}, "token": {"type": "string", "writeOnly": true}}}}
    })
}

async fn app_with_schema(
    schema: Value,
    behaviour: Behaviour,
    configure: impl FnOnce(&mut server::cli::UiSettings),
) -> (TestApp, MockAgent) {
    let app = spawn_app_configured(configure).await;
    let agent = mock_agent(schema, behaviour).await;
    app.register("a", &agent.url).await;
    (app, agent)
}

#[tokio::test]
async fn json_schema_inputs_are_validated_with_per_field_paths() {
    let (app, _agent) = app_with_schema(secret_schema(), Behaviour::Echo, |_| {}).await;
    let schema: Value = app.http.get(app.url("/api/v1/agents/a/schema")).send().await.unwrap().json().await.unwrap();
    assert_eq!(schema["schema"]["workflow"], "Deploy");
    let response = app
        .create_run("a", json!({"service": "Web App", "api_key": "k", "replicas": 11, "target": {"region": "mars"}}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = error_of(response).await;
    let mut fields: Vec<(String, String)> = error["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().to_owned(), f["message"].as_str().unwrap().to_owned()))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            ("/replicas".to_owned(), "Must be at most 10".to_owned()),
            ("/service".to_owned(), "Must be: lowercase letters and - only".to_owned()),
            ("/target/region".to_owned(), "Must be one of: eu, us".to_owned()),
        ]
    );
}

#[tokio::test]
async fn secrets_reach_the_agent_and_are_stored_nowhere() {
    let (app, agent) = app_with_schema(secret_schema(), Behaviour::Echo, |_| {}).await;
    let inputs =
        json!({"service": "web", "api_key": "sk-live-123456", "target": {"region": "eu", "token": "tok-98765"}});
    let run_id = app.start_run("a", inputs.clone()).await;
    let run = app.finished_run(&run_id, SOON).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    // The agent got the real values...
    assert_eq!(agent.mock.received.lock().unwrap()[0], inputs);
    // ...the history has "***", says which were withheld, and the agent's echo of them
    // in its outputs is masked too.
    assert_eq!(run["inputs"], json!({"service": "web", "api_key": "***", "target": {"region": "eu", "token": "***"}}));
    assert_eq!(run["withheld"], json!(["/api_key", "/target/token"]));
    let stored = run.to_string();
    assert!(!stored.contains("sk-live-123456") && !stored.contains("tok-98765"), "{stored}");
    let list = app.http.get(app.url("/api/v1/runs")).send().await.unwrap().text().await.unwrap();
    assert!(!list.contains("sk-live-123456"), "{list}");

    // Re-run cannot send what it does not have: it asks for the secrets again.
    let response = app.http.post(app.url(&format!("/api/v1/runs/{run_id}/rerun"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = error_of(response).await;
    assert!(error["message"].as_str().unwrap().contains("never stored"), "{error}");
    let paths: Vec<&str> = error["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/api_key", "/target/token"]);
    assert_eq!(agent.runs_received(), 1);
}

#[tokio::test]
async fn the_same_request_with_secrets_replays_its_run() {
    let (app, agent) = app_with_schema(secret_schema(), Behaviour::Echo, |_| {}).await;
    let send = |key: &'static str, secret: &'static str| {
        app.http
            .post(app.url("/api/v1/agents/a/runs"))
            .header("idempotency-key", key)
            .json(&json!({"inputs": {"service": "web", "api_key": secret}}))
            .send()
    };
    let first: Value = send("k1", "sk-aaaa").await.unwrap().json().await.unwrap();
    let again: Value = send("k1", "sk-aaaa").await.unwrap().json().await.unwrap();
    assert_eq!(first["run_id"], again["run_id"]);
    let other = send("k1", "sk-aaaa-changed").await.unwrap();
    // Only the secret differs, and the key's hash is taken over what is stored (no
    // oracle for guessing it): the same run comes back, and nothing more is sent.
    assert_eq!(other.status(), StatusCode::ACCEPTED);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["run_id"], first["run_id"]);
    app.finished_run(first["run_id"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(agent.runs_received(), 1, "one run, sent once");
    let runs: Vec<Value> = app.http.get(app.url("/api/v1/runs")).send().await.unwrap().json().await.unwrap();
    assert_eq!(runs.len(), 1);
}

#[tokio::test]
async fn a_queued_run_whose_secrets_a_restart_lost_is_interrupted_not_sent() {
    let (app, agent) =
        app_with_schema(secret_schema(), Behaviour::Slow(Duration::from_millis(1500)), |s| s.run_concurrency = 1).await;
    let busy = app.start_run("a", json!({"service": "one", "api_key": "sk-1111"})).await;
    app.run_in_status(&busy, "running", SOON).await;
    let waiting = app.start_run("a", json!({"service": "two", "api_key": "sk-2222"})).await;
    assert_eq!(app.get_run(&waiting).await["status"], "queued");

    let app = restart(app, |_| {}).await;
    let run = app.get_run(&waiting).await;
    assert_eq!(run["status"], "interrupted", "{run}");
    assert!(run["error"].as_str().unwrap().contains("secret inputs are never stored"), "{run}");
    // Runs are sent in order: once a later one has been answered, "two" would have been sent.
    let later = app.start_run("a", json!({"service": "three", "api_key": "sk-3333"})).await;
    app.finished_run(&later, Duration::from_secs(15)).await;
    let sent: Vec<Value> = agent.mock.received.lock().unwrap().iter().map(|r| r["service"].clone()).collect();
    assert!(sent.contains(&json!("three")) && !sent.contains(&json!("two")), "never sent: {sent:?}");
}

#[tokio::test]
async fn a_run_keeps_the_schema_it_was_validated_against() {
    let (app, agent) = app_with_schema(secret_schema(), Behaviour::Echo, |_| {}).await;
    let run_id = app.start_run("a", json!({"service": "web", "api_key": "sk-123456"})).await;
    let run = app.finished_run(&run_id, SOON).await;
    let kept: Value =
        app.http.get(app.url(&format!("/api/v1/runs/{run_id}/schema"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(kept["schema_hash"], run["schema_hash"]);
    assert_eq!(kept["schema"]["workflow"], "Deploy");

    // The agent changes its schema: the run's schema is still the old one, and the
    // current one has another hash (the 5 s schema cache is bypassed by a new agent ID).
    *agent.mock.schema.lock().unwrap() = json!({"inputs": {"service": {"type": "str", "required": true}}});
    app.register("b", &agent.url).await;
    let response = app.http.get(app.url("/api/v1/agents/b/schema")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "an answer, not an error without a hash");
    let now: Value = response.json().await.unwrap();
    assert!(now["schema_hash"].is_string() && run["schema_hash"].is_string(), "{now}");
    assert_ne!(now["schema_hash"], run["schema_hash"]);
    let again: Value =
        app.http.get(app.url(&format!("/api/v1/runs/{run_id}/schema"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(again, kept);

    let missing = app.http.get(app.url("/api/v1/runs/nope/schema")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// What is stored, read from the database itself: no secret in the run's inputs, outputs,
/// error or field errors, also when the agent echoes it back inside its 422, and a short
/// secret echoed whole is masked too.
#[tokio::test]
async fn no_secret_reaches_the_stored_rows() {
    use sea_orm::EntityTrait;
    let refusal =
        r#"{"detail": [{"loc": ["body", "api_key"], "msg": "key sk-live-999999 is revoked", "type": "value_error"}]}"#;
    let (app, agent) = app_with_schema(secret_schema(), Behaviour::Answer(422, refusal), |_| {}).await;
    let refused = app.start_run("a", json!({"service": "web", "api_key": "sk-live-999999"})).await;
    let run = app.finished_run(&refused, SOON).await;
    assert_eq!(run["status"], "failed");
    assert!(run["field_errors"].to_string().contains("key *** is revoked"), "{run}");

    agent.set(Behaviour::Echo);
    let short = app.start_run("a", json!({"service": "web", "api_key": "k9z"})).await;
    let run = app.finished_run(&short, SOON).await;
    assert_eq!(run["outputs"]["echo"]["api_key"], "***", "a short secret echoed whole is masked");
    assert_eq!(run["outputs"]["echo"]["service"], "web", "nothing else is");

    let db = server::db::connect(&app.database_url).await.unwrap();
    let rows = server::entities::runs::Entity::find().all(db.read()).await.unwrap();
    assert_eq!(rows.len(), 2);
    let stored = format!("{rows:?}");
    assert!(!stored.contains("sk-live-999999") && !stored.contains("k9z"), "{stored}");
    assert!(rows.iter().all(|r| r.inputs["api_key"] == "***"), "{stored}");
}

/// A replaced agent's last published schema does not stand in for its replacement's.
#[tokio::test]
async fn a_replacement_at_another_url_does_not_inherit_the_old_schema() {
    let (app, _agent) = app_with_schema(secret_schema(), Behaviour::Echo, |s| s.schema_reuse = Duration::ZERO).await;
    let known = app.http.get(app.url("/api/v1/agents/a/schema")).send().await.unwrap();
    assert_eq!(known.status(), StatusCode::OK, "fetched, and kept");
    let elsewhere = refused_url().await;
    let replaced = app
        .post_agent(
            &json!({"agent_id": "a", "agent_name": "A", "agent_url": elsewhere, "force": true, "replace": true}),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let now = app.http.get(app.url("/api/v1/agents/a/schema")).send().await.unwrap();
    assert_eq!(now.status(), StatusCode::BAD_GATEWAY, "the new agent cannot say; the old one's is not used");
    assert_eq!(error_of(now).await["code"], "agent_unavailable");
}
