//! The API's OpenAPI document: generated from the routes, so every documented operation
//! must be routed (none answers "no API endpoint" or 405), and the docs page is served by
//! the dashboard itself.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let document: Value = app.http.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 18, "{:?}", paths.keys());
    for expected in [
        "/api/v1/agents/register",
        "/api/v1/agents/{agent_id}/heartbeat",
        "/api/v1/health",
        "/api/v1/events",
        "/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace("{agent_id}", "no%20such%20agent").replace("{run_id}", "no-such-run");
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            operations += 1;
            // The guard's 403 is documented on every operation.
            assert!(operation["responses"]["403"].is_object(), "{method} {path} documents the guard's 403");
            let response = tokio::time::timeout(
                Duration::from_secs(10),
                app.http
                    .request(method.clone(), app.url(&concrete))
                    .header("content-type", "application/json")
                    .body("{}")
                    .send(),
            )
            .await
            .expect("answered")
            .unwrap();
            assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is routed");
            if response.status() == StatusCode::NOT_FOUND {
                let error = error_of(response).await;
                let message = error["message"].as_str().unwrap_or_default();
                assert!(!message.starts_with("no API endpoint"), "{method} {path} is routed: {error}");
            }
        }
    }
    assert!(operations >= 21, "{operations} operations");
    // The types the answers use are described.
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in ["AgentView", "RunView", "ErrorBody", "SelfRegistration", "HealthHistory"] {
        assert!(schemas.contains_key(name), "{name} in components");
    }
    assert!(schemas["AgentView"]["properties"]["last_heartbeat"].is_object());
}

#[tokio::test]
async fn the_docs_page_is_served_by_the_dashboard_itself() {
    let app = spawn_app().await;
    let page = app.http.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://") && !html.contains("http://"), "no asset from elsewhere: {html}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let response = app.http.get(app.url(&format!("/api/docs/{asset}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let init = app.http.get(app.url("/api/docs/swagger-initializer.js")).send().await.unwrap().text().await.unwrap();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
}

/// Old agents' HTTP library asks for gzip on every call: a heartbeat's 60-byte answer is
/// sent as it is (gzip would cost more CPU than the rest of the request), while a large
/// answer such as this document is compressed.
#[tokio::test]
async fn only_answers_over_a_kibibyte_are_gzipped() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    app.register("small", &agent).await;
    let get = |path: &str| app.http.get(app.url(path)).header("accept-encoding", "gzip, deflate").send();
    let beat = app
        .http
        .post(app.url("/api/v1/agents/small/heartbeat"))
        .header("accept-encoding", "gzip, deflate")
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), StatusCode::OK);
    assert_eq!(beat.headers().get("content-encoding"), None, "a heartbeat's answer is not compressed");
    let body: Value = beat.json().await.expect("plain JSON");
    assert_eq!(body["status"], "ok");

    let document = get("/api/v1/openapi.json").await.unwrap();
    assert_eq!(document.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
}
