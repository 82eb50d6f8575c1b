//! The server-rendered pages: they render, show the agents, and never render agent text
//! as HTML.

use crate::helpers::*;
use axum::http::StatusCode;
use serde_json::json;

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.http.get(app.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_orchestrator_page_renders_the_form_and_the_agents() {
    let app = spawn_app().await;
    let (status, html) = page(&app, "/orchestrator").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Register an agent"));
    assert!(html.contains("No agents registered yet"));

    let agent = alive_agent().await;
    app.register("visible", &agent).await;
    let (_, html) = page(&app, "/orchestrator").await;
    assert!(html.contains("Agent visible"), "the agent is server-rendered");
    assert!(html.contains(&agent));
}

#[tokio::test]
async fn agent_text_is_escaped_never_rendered_as_html() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    let response = app
        .post_agent(&json!({
            "agent_id": "xss", "agent_name": "<script>alert(1)</script>", "agent_url": agent,
            "metadata": "<img src=x onerror=alert(2)>"
        }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, html) = page(&app, "/orchestrator").await;
    assert!(!html.contains("<script>alert(1)"), "name must be escaped");
    assert!(!html.contains("<img src=x"), "description must be escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn navigation_pages_exist_and_unknown_pages_are_404() {
    let app = spawn_app().await;
    let (status, html) = page(&app, "/workflows").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No runs yet"), "the history is empty");
    let (status, html) = page(&app, "/no-such-page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"));
}
