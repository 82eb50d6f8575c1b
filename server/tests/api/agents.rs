//! /api/v1/agents: register, update, refusals and their reasons, force, validation, list,
//! get, delete.

use crate::helpers::*;
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn registering_a_healthy_agent_stores_it_whole() {
    let app = spawn_app().await;
    let agent = alive_agent().await;

    let response = app
        .post_agent(&json!({
            "agent_id": "writer", "agent_name": "Writer", "agent_url": format!("{agent}/"),
            "metadata": {"team": "research"}
        }))
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["agent_id"], "writer");
    assert_eq!(body["agent_name"], "Writer");
    assert_eq!(body["agent_url"], agent, "trailing slash trimmed, rest kept");
    assert_eq!(body["source"], "manual");
    assert_eq!(body["metadata"], json!({"team": "research"}));
    assert_eq!(body["health"]["state"], "healthy");
    assert_eq!(body["health"]["reason"], Value::Null);
    assert!(body["health"]["latency_ms"].is_u64());
    let registered_at = body["registered_at"].as_str().unwrap();
    assert!(registered_at.ends_with('Z') && registered_at.contains('T'), "RFC 3339 UTC: {registered_at}");
    assert!(body["health"]["checked_at"].as_str().unwrap().ends_with('Z'));

    let stored: Value = app.get_agent("writer").await.json().await.unwrap();
    assert_eq!(stored, body);
}

#[tokio::test]
async fn generated_agents_saying_healthy_are_healthy() {
    let app = spawn_app().await;
    let agent = healthy_agent().await;
    let body = app.register("generated", &agent).await;
    assert_eq!(body["health"]["state"], "healthy");
}

#[tokio::test]
async fn a_url_with_a_path_prefix_is_kept_and_used() {
    let app = spawn_app().await;
    let base = serve(axum::Router::new().nest("/agents/writer", server::test_agent::router("p"))).await;
    let url = format!("{base}/agents/writer");
    let body = app.register("prefixed", &url).await;
    assert_eq!(body["agent_url"], url);
    assert_eq!(body["health"]["state"], "healthy", "/health was asked under the prefix");
}

#[tokio::test]
async fn registering_a_taken_id_is_refused_naming_its_agent_unless_replace_is_confirmed() {
    let app = spawn_app().await;
    let first = alive_agent().await;
    let second = healthy_agent().await;
    let created = app.register("same", &first).await;

    // Another URL, or another name, under the same ID: refused, nothing changed.
    for (name, url) in [("Renamed", second.as_str()), ("Agent same", second.as_str()), ("Renamed", first.as_str())] {
        let response = app.post_agent(&json!({"agent_id": "same", "agent_name": name, "agent_url": url})).await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{name} at {url}");
        let error = error_of(response).await;
        assert_eq!(error["code"], "conflict");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("'Agent same'") && message.contains(&first),
            "names the holder and its URL: {message}"
        );
        assert!(message.contains("replace"), "says how to replace it: {message}");
        assert_eq!(error["fields"][0]["field"], "agent_id", "the form marks the ID");
        assert_eq!(error["reason"], format!("'Agent same' at {first}"), "the holder alone, for a form's own words");
    }
    let unchanged: Value = app.get_agent("same").await.json().await.unwrap();
    assert_eq!(unchanged, created, "a refused registration changes nothing");

    // The same ID, URL and name again is harmless.
    let again = app.post_agent(&json!({"agent_id": "same", "agent_name": "Agent same", "agent_url": first})).await;
    assert_eq!(again.status(), StatusCode::OK);

    let response = app
        .post_agent(&json!({
            "agent_id": "same", "agent_name": "Renamed", "agent_url": second, "metadata": "now plain text",
            "replace": true
        }))
        .await;

    assert_eq!(response.status(), StatusCode::OK, "a replacement answers 200, not 201");
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["agent_name"], "Renamed");
    assert_eq!(updated["agent_url"], second);
    assert_eq!(updated["metadata"], json!({"description": "now plain text"}));
    assert_eq!(updated["registered_at"], created["registered_at"], "first registration time kept");
    let list: Vec<Value> = app.list_agents("").await.json().await.unwrap();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn metadata_sent_as_a_json_string_becomes_an_object() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    let response = app
        .post_agent(
            &json!({"agent_id": "old", "agent_name": "Old", "agent_url": agent, "metadata": "{\"version\": \"1.2\"}"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["metadata"], json!({"version": "1.2"}));
}

async fn assert_refused(app: &TestApp, url: &str, expected_reason: &str) {
    let response = app.post_agent(&json!({"agent_id": "bad", "agent_name": "Bad", "agent_url": url})).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "for {expected_reason}");
    let error = error_of(response).await;
    assert_eq!(error["code"], "health_check_failed");
    let reason = error["reason"].as_str().unwrap();
    assert!(reason.contains(expected_reason), "reason {reason:?} should say {expected_reason:?}");
    assert!(error["message"].as_str().unwrap().contains(expected_reason));
    assert_eq!(app.get_agent("bad").await.status(), StatusCode::NOT_FOUND, "nothing stored");
}

#[tokio::test]
async fn unhealthy_agents_are_refused_with_the_precise_reason() {
    let app = spawn_app().await;
    assert_refused(&app, &refused_url().await, "connection refused").await;
    assert_refused(&app, &slow_agent(Duration::from_secs(5)).await, "timed out").await;
    assert_refused(&app, &agent_answering(StatusCode::SERVICE_UNAVAILABLE, "{}").await, "HTTP 503 Service Unavailable")
        .await;
    assert_refused(&app, &agent_answering(StatusCode::OK, "<html>up</html>").await, "body is not JSON").await;
    assert_refused(&app, &agent_answering(StatusCode::OK, r#"{"status":"starting"}"#).await, "status \"starting\"")
        .await;
    let list: Vec<Value> = app.list_agents("").await.json().await.unwrap();
    assert!(list.is_empty());
}

#[tokio::test]
async fn register_anyway_stores_an_unhealthy_agent_with_its_reason() {
    let app = spawn_app().await;
    let url = refused_url().await;
    let response =
        app.post_agent(&json!({"agent_id": "later", "agent_name": "Later", "agent_url": url, "force": true})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["health"]["state"], "unhealthy");
    assert_eq!(body["health"]["reason"], "connection refused");
    assert_eq!(body["health"]["consecutive_failures"], 1);
    assert_eq!(body["health"]["latency_ms"], Value::Null, "no answer, no latency (not 0 ms)");

    // An agent that answered, though badly, has a latency.
    let answering = agent_answering(StatusCode::SERVICE_UNAVAILABLE, "{}").await;
    let response =
        app.post_agent(&json!({"agent_id": "503", "agent_name": "Busy", "agent_url": answering, "force": true})).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["health"]["reason"], "HTTP 503 Service Unavailable");
    assert!(body["health"]["latency_ms"].is_u64(), "{body}");
}

#[tokio::test]
async fn invalid_input_is_refused_naming_each_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({"agent_id": "", "agent_name": "x", "agent_url": "http://127.0.0.1:1"}), "agent_id"),
        (json!({"agent_id": "..", "agent_name": "x", "agent_url": "http://127.0.0.1:1"}), "agent_id"),
        (json!({"agent_id": "register", "agent_name": "x", "agent_url": "http://127.0.0.1:1"}), "agent_id"),
        (json!({"agent_id": "a/b", "agent_name": "x", "agent_url": "http://127.0.0.1:1"}), "agent_id"),
        (json!({"agent_id": "x".repeat(256), "agent_name": "x", "agent_url": "http://127.0.0.1:1"}), "agent_id"),
        (json!({"agent_id": "ok", "agent_name": "  ", "agent_url": "http://127.0.0.1:1"}), "agent_name"),
        (json!({"agent_id": "ok", "agent_name": "x", "agent_url": "ftp://example.org"}), "agent_url"),
        (json!({"agent_id": "ok", "agent_name": "x", "agent_url": "localhost:8002"}), "agent_url"),
        (json!({"agent_id": "ok", "agent_name": "x", "agent_url": "http://127.0.0.1:1", "metadata": [1]}), "metadata"),
        (
            json!({"agent_id": "ok", "agent_name": "x", "agent_url": "http://127.0.0.1:1", "metadata": "{\"a\": }"}),
            "metadata",
        ),
        (json!({"agent_id": 7, "agent_name": "x", "agent_url": "http://127.0.0.1:1"}), "agent_id"),
        (json!({"agent_id": "ok", "agent_name": "x", "agent_url": "http://127.0.0.1:1", "force": "yes"}), "force"),
        (json!({"agent_name": "x", "agent_url": "http://127.0.0.1:1"}), "agent_id"),
    ];
    for (body, field) in cases {
        let response = app.post_agent(&body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error = error_of(response).await;
        assert_eq!(error["code"], "validation");
        let fields = error["fields"].as_array().unwrap();
        assert!(fields.iter().any(|f| f["field"] == field), "{body} should name {field}: {error}");
        assert!(error["message"].as_str().unwrap().contains(field));
    }
}

#[tokio::test]
async fn malformed_bodies_get_a_json_400() {
    let app = spawn_app().await;
    let not_json = app
        .http
        .post(app.url("/api/v1/agents"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(not_json).await["code"], "bad_request");

    let no_type = app.http.post(app.url("/api/v1/agents")).body("{}").send().await.unwrap();
    assert_eq!(no_type.status(), StatusCode::BAD_REQUEST);
    assert!(error_of(no_type).await["message"].as_str().unwrap().contains("Content-Type"));

    let array = app.post_agent(&json!([1, 2])).await;
    assert_eq!(array.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn list_filters_pages_and_counts() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    for id in ["beta", "alpha", "gamma"] {
        app.register(id, &agent).await;
    }

    let all = app.list_agents("").await;
    assert_eq!(all.headers()["x-total-count"], "3");
    let all: Vec<Value> = all.json().await.unwrap();
    let ids: Vec<_> = all.iter().map(|a| a["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["alpha", "beta", "gamma"], "ordered by name");

    let page = app.list_agents("?limit=1&offset=1").await;
    assert_eq!(page.headers()["x-total-count"], "3");
    let page: Vec<Value> = page.json().await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["agent_id"], "beta");

    let found = app.list_agents("?q=GAM").await;
    assert_eq!(found.headers()["x-total-count"], "1");
    let found: Vec<Value> = found.json().await.unwrap();
    assert_eq!(found[0]["agent_id"], "gamma");

    let none: Vec<Value> = app.list_agents("?q=%25").await.json().await.unwrap();
    assert!(none.is_empty(), "% is matched literally");

    for bad in ["?limit=0", "?limit=abc", "?offset=-1", "?limit=100000", "?offset=9223372036854775808"] {
        let response = app.list_agents(bad).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(error_of(response).await["code"], "validation");
    }
}

#[tokio::test]
async fn get_and_delete_answer_404_for_unknown_agents() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    app.register("doomed", &agent).await;

    let response = app.delete_agent("doomed").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "deleted", "agent_id": "doomed"}));

    for response in [app.get_agent("doomed").await, app.delete_agent("doomed").await, app.get_agent("..%2f").await] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_of(response).await["code"], "not_found");
    }
    let list: Vec<Value> = app.list_agents("").await.json().await.unwrap();
    assert!(list.is_empty());
}

#[tokio::test]
async fn unknown_api_paths_answer_json_404() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(response).await["code"], "not_found");
}

#[tokio::test]
async fn wrong_methods_huge_bodies_and_bad_ids_get_json_errors() {
    let app = spawn_app().await;
    let put = app.http.put(app.url("/api/v1/agents")).json(&json!({})).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_of(put).await["code"], "method_not_allowed");

    let huge = json!({"agent_id": "big", "agent_name": "x", "agent_url": "http://127.0.0.1:1",
                      "metadata": "x".repeat(2 * 1024 * 1024)});
    let response = app.post_agent(&huge).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(response).await["code"], "payload_too_large");

    let bad_id = app.get_agent("%FF").await;
    assert_eq!(bad_id.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(bad_id).await["code"], "not_found");
}

#[tokio::test]
async fn simultaneous_registrations_of_one_id_create_it_once() {
    // A busy monitor writes at the same time; neither side may fail.
    let app = spawn_app_with(Duration::from_millis(100)).await;
    let agent = alive_agent().await;
    let requests =
        (0..8).map(|_| app.post_agent_owned(json!({"agent_id": "raced", "agent_name": "Same", "agent_url": agent})));
    let statuses: Vec<StatusCode> = futures::future::join_all(requests).await.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 7, "{statuses:?}");
    let list: Vec<Value> = app.list_agents("").await.json().await.unwrap();
    assert_eq!(list.len(), 1);

    // Eight different agents racing for one new ID: one gets it, none replaces it
    // unasked, though all passed the early check before any was stored.
    let requests = (0..8).map(|i| {
        app.post_agent_owned(json!({"agent_id": "contested", "agent_name": format!("Try {i}"), "agent_url": agent}))
    });
    let responses = futures::future::join_all(requests).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 7, "{statuses:?}");
    let winner = responses.into_iter().find(|r| r.status() == StatusCode::CREATED).unwrap();
    let winner: Value = winner.json().await.unwrap();
    let stored: Value = app.get_agent("contested").await.json().await.unwrap();
    assert_eq!(stored["agent_name"], winner["agent_name"], "the first one stays");
}
