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

/// The bundle is served as `./dev site` compressed it (`.br`, `.gz` beside each file) to a
/// browser that takes that, and as it is to one that does not; a file without a
/// compressed copy is compressed on the way.
#[tokio::test]
async fn the_bundle_is_served_precompressed_when_the_browser_takes_it() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let raw = "(function(){})();".repeat(200);
    std::fs::write(pkg.join("configurable_agents.js"), &raw).unwrap();
    std::fs::write(pkg.join("configurable_agents.js.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("configurable_agents.js.gz"), b"gzip bytes").unwrap();
    std::fs::write(pkg.join("other.css"), "body { color: black; }\n".repeat(100)).unwrap();
    let root = site.path().to_owned();
    let app = spawn_app_configured(move |s| s.site_root = Some(root)).await;
    // No decompression on this client: the bytes as they crossed the wire.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: &'static str, encoding: &'static str| {
        let request = client.get(app.url(path)).header("accept-encoding", encoding);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let encoding = response.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(response.headers()["vary"], "accept-encoding", "{path}");
            assert_eq!(response.headers()["cache-control"], "no-cache", "{path}: asked again, never mixed");
            (encoding, response.bytes().await.unwrap().to_vec())
        }
    };
    let js = "/pkg/configurable_agents.js";
    assert_eq!(get(js, "gzip, deflate, br").await, (Some("br".into()), b"brotli bytes".to_vec()));
    assert_eq!(get(js, "gzip").await, (Some("gzip".into()), b"gzip bytes".to_vec()));
    assert_eq!(get(js, "identity").await, (None, raw.into_bytes()));
    let wasm_type = client.get(app.url(js)).header("accept-encoding", "br").send().await.unwrap();
    assert_eq!(wasm_type.headers()["content-type"], "text/javascript", "the type of the file, not of its copy");
    let (encoding, body) = get("/pkg/other.css", "br").await;
    assert_eq!(encoding.as_deref(), Some("br"), "compressed on the way");
    assert!(body.len() < 200, "{} bytes", body.len());
}

/// Dashboards started while another one renders pages (the tests do; so could a process
/// serving several): every page answers. Each dashboard used to list the app's routes
/// itself, which switches resource loading off process-wide for a moment; a page whose
/// resource was first polled in that moment never answered (leptos#4773).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_while_other_dashboards_start() {
    let app = spawn_app().await;
    let rendering = async {
        for _ in 0..300 {
            let answered = tokio::time::timeout(std::time::Duration::from_secs(20), page(&app, "/orchestrator")).await;
            let (status, _) = answered.expect("a page never answered while other dashboards started");
            assert_eq!(status, StatusCode::OK);
        }
    };
    let starting = async {
        for _ in 0..12 {
            drop(spawn_app().await);
        }
    };
    tokio::join!(rendering, starting);
}
