//! Per-agent outbound headers: an agent behind a gateway that wants `Authorization`. They
//! are sent on every call (health checks on their own connection, `/schema`, `/run` and
//! `/status` through the pooled client), only to the URL they were set for, answered by
//! name only, and an agent echoing one back gets it masked.

use crate::helpers::*;
use crate::mock_agent::{article_schema, mock_agent_wrapped, Behaviour, MockAgent};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "Bearer gateway-s3cret-value";

/// Every request the gateway saw: its path and whether it carried the right header.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

/// A mock agent behind a gateway that answers 401 without `Authorization: SECRET`.
async fn gated_agent(behaviour: Behaviour) -> (MockAgent, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let agent = mock_agent_wrapped(article_schema(), behaviour, move |router| {
        router.layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            let log = log.clone();
            async move {
                let ok = request.headers().get("authorization").is_some_and(|v| v == SECRET);
                log.lock().unwrap().push((request.uri().path().to_owned(), ok));
                if ok {
                    next.run(request).await
                } else {
                    (StatusCode::UNAUTHORIZED, "the gateway wants a token").into_response()
                }
            }
        }))
    })
    .await;
    (agent, seen)
}

fn paths(seen: &Seen, authorised: bool) -> Vec<String> {
    seen.lock().unwrap().iter().filter(|(_, ok)| *ok == authorised).map(|(p, _)| p.clone()).collect()
}

async fn names(app: &TestApp, id: &str) -> Value {
    let response = app.http.get(app.url(&format!("/api/v1/agents/{id}/outbound-headers"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn headers_go_with_every_call_and_are_never_shown() {
    let app = spawn_app().await;
    let (agent, seen) = gated_agent(Behaviour::Async { polls: 1 }).await;

    let without = app.post_agent(&json!({"agent_id": "g", "agent_name": "G", "agent_url": agent.url})).await;
    assert_eq!(without.status(), StatusCode::BAD_GATEWAY, "the gateway refuses the check without the header");

    let with = app
        .post_agent(&json!({"agent_id": "g", "agent_name": "G", "agent_url": agent.url,
                            "outbound_headers": {"Authorization": SECRET}}))
        .await;
    assert_eq!(with.status(), StatusCode::CREATED);
    let text = with.text().await.unwrap();
    assert!(!text.contains("s3cret") && !text.contains("outbound"), "echoed: {text}");
    for path in ["/api/v1/agents/g", "/api/v1/agents", "/api/v1/overview", "/orchestrator", "/agents/g"] {
        let body = app.http.get(app.url(path)).send().await.unwrap().text().await.unwrap();
        assert!(!body.contains("s3cret"), "{path} shows the value");
    }
    assert_eq!(names(&app, "g").await, json!({"agent_id": "g", "agent_url": agent.url, "names": ["authorization"]}));

    let schema = app.http.get(app.url("/api/v1/agents/g/schema")).send().await.unwrap();
    assert_eq!(schema.status(), 200, "/schema through the gateway");
    // The agent echoes its inputs; one of them happens to be the header's value.
    let run_id = app.start_run("g", json!({"topic": SECRET})).await;
    let run = app.finished_run(&run_id, Duration::from_secs(10)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["outputs"]["echo"]["topic"], "***", "an echo of the header's value is masked: {run}");

    let authorised = paths(&seen, true);
    for path in ["/health", "/schema", "/run"] {
        assert!(authorised.iter().any(|p| p == path), "{path} not sent with the header: {authorised:?}");
    }
    assert!(authorised.iter().any(|p| p.starts_with("/status/")), "/status not sent with it: {authorised:?}");
    assert_eq!(paths(&seen, false), ["/health"], "only the first registration went without");

    // Set again by PUT (a rotated credential): the monitor checks at once with it.
    let checked = authorised.iter().filter(|p| *p == "/health").count();
    let put = app
        .http
        .put(app.url("/api/v1/agents/g/outbound-headers"))
        .json(&json!({"authorization": SECRET, "X-Team": "ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let answer: Value = put.json().await.unwrap();
    assert_eq!(answer["names"], json!(["authorization", "x-team"]));
    let again = eventually(Duration::from_secs(5), || async {
        let n = paths(&seen, true).iter().filter(|p| *p == "/health").count();
        (n > checked).then_some(n)
    })
    .await;
    assert!(again.is_some(), "the monitor did not check again with the new headers");
    assert_eq!(paths(&seen, false), ["/health"]);
}

#[tokio::test]
async fn headers_go_only_to_the_url_they_were_set_for() {
    let app = spawn_app().await;
    let (first, first_seen) = gated_agent(Behaviour::Echo).await;
    let (second, second_seen) = gated_agent(Behaviour::Echo).await;
    let register = |url: &str, headers: Option<Value>| {
        let mut body = json!({"agent_id": "m", "agent_name": "M", "agent_url": url, "replace": true, "force": true});
        if let Some(h) = headers {
            body["outbound_headers"] = h;
        }
        body
    };
    assert_eq!(app.post_agent(&register(&first.url, Some(json!({"Authorization": SECRET})))).await.status(), 201);
    // The same URL again without headers keeps them.
    assert_eq!(app.post_agent(&register(&first.url, None)).await.status(), 200);
    assert_eq!(paths(&first_seen, false), Vec::<String>::new(), "both checks carried the header");

    // Moved: the new URL's check goes without, and so does everything after.
    let moved = app.post_agent(&register(&second.url, None)).await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["health"]["state"], "unhealthy", "the gateway refused it: {moved}");
    assert_eq!(paths(&second_seen, true), Vec::<String>::new(), "the header followed the agent to a new URL");
    assert_eq!(names(&app, "m").await["names"], json!([]));
    // And back: they are gone, not waiting.
    app.post_agent(&register(&first.url, None)).await;
    assert_eq!(paths(&first_seen, false), ["/health"]);
    assert_eq!(names(&app, "m").await["names"], json!([]));
}

#[tokio::test]
async fn bad_headers_are_refused_by_name_without_their_values() {
    let app = spawn_app().await;
    let agent = crate::mock_agent::mock_agent(article_schema(), Behaviour::Echo).await;
    app.register("h", &agent.url).await;
    let put = |body: Value| {
        let request = app.http.put(app.url("/api/v1/agents/h/outbound-headers")).json(&body);
        async move { request.send().await.unwrap() }
    };
    let many: serde_json::Map<String, Value> = (0..17).map(|i| (format!("x-{i}"), json!("v"))).collect();
    for (body, field, says) in [
        (json!({"Host": "evil.example"}), "outbound_headers.Host", "set by the dashboard"),
        (json!({"Connection": "evil"}), "outbound_headers.Connection", "hop-by-hop"),
        (json!({"X-A": "a\r\nEvil: 1"}), "outbound_headers.X-A", "line break"),
        (json!({"Bad Name": "evil"}), "outbound_headers.Bad Name", "not a header name"),
        (json!({"X-A": 5}), "outbound_headers.X-A", "must be a string"),
        (json!({"X-Big": "e".repeat(9000)}), "outbound_headers", "8 KiB"),
        (Value::Object(many), "outbound_headers", "at most 16"),
        (json!(["evil"]), "outbound_headers", "an object"),
    ] {
        let response = put(body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let error = error_of(response).await;
        let text = error.to_string();
        assert_eq!(error["fields"][0]["field"], field, "{text}");
        assert!(error["fields"][0]["message"].as_str().unwrap().contains(says), "{text}");
        assert!(!text.contains("evil") && !text.contains("eeee"), "the value is echoed: {text}");
    }
    // The same rules at registration.
    let refused = app
        .post_agent(&json!({"agent_id": "h2", "agent_name": "H", "agent_url": agent.url,
                            "outbound_headers": {"Transfer-Encoding": "chunked"}}))
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_of(refused).await["fields"][0]["field"], "outbound_headers.Transfer-Encoding");
    let missing = app.http.put(app.url("/api/v1/agents/nobody/outbound-headers")).json(&json!({})).send().await;
    assert_eq!(missing.unwrap().status(), 404);
}
