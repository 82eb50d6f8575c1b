//! Requests from other sites, and requests naming a Host we do not serve, are refused
//! before they reach any handler (REST and server functions alike).

use crate::helpers::*;
use axum::http::StatusCode;
use serde_json::{json, Value};

fn agent_body(id: &str, url: &str) -> Value {
    json!({"agent_id": id, "agent_name": "X", "agent_url": url})
}

#[tokio::test]
async fn state_changes_from_another_site_are_refused() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    let post = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut request = app.http.post(app.url("/api/v1/agents")).json(&agent_body("x", &agent));
        if let Some(o) = origin {
            request = request.header("origin", o);
        }
        if let Some(s) = site {
            request = request.header("sec-fetch-site", s);
        }
        request.send()
    };
    for (origin, site) in [(Some("http://evil.example"), None), (None, Some("cross-site")), (Some("null"), None)] {
        let response = post(origin, site).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "forbidden");
    }
    // The SPA's own server function, posted by another site's page. The same request
    // from the dashboard's own origin succeeds, so the 403 is the guard's doing.
    let server_fn = app.url(<app::api::RegisterAgentCall as server_fn::ServerFn>::PATH);
    let call = |origin: String, id: &str| {
        app.http
            .post(server_fn.clone())
            .header("origin", origin)
            .json(&json!({"request": agent_body(id, &agent)}))
            .send()
    };
    let forged = call("http://evil.example".into(), "forged").await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get_agent("forged").await.status(), StatusCode::NOT_FOUND, "nothing was stored");
    let own = call(app.address.clone(), "via-server-fn").await.unwrap();
    assert_eq!(own.status(), StatusCode::OK, "{}", own.text().await.unwrap());
    app.delete_agent("via-server-fn").await;
    let list: Vec<Value> = app.list_agents("").await.json().await.unwrap();
    assert!(list.is_empty(), "nothing was stored");

    // The dashboard's own pages, and clients without Origin (curl), are served.
    let origin = app.address.clone();
    let response = app
        .http
        .post(app.url("/api/v1/agents"))
        .header("origin", origin)
        .json(&agent_body("own", &agent))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.post_agent(&agent_body("curl", &agent)).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn only_expected_host_names_are_answered() {
    let app = spawn_app().await;
    let get = |host: &'static str| app.http.get(app.url("/api/v1/agents")).header("host", host).send();
    let foreign = get("evil.example:8001").await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let error: Value = foreign.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("--allowed-host evil.example"));
    for host in ["localhost:8001", "127.0.0.1", "[::1]:9"] {
        assert_eq!(get(host).await.unwrap().status(), StatusCode::OK, "{host}");
    }

    let named = spawn_app_configured(|s| s.allowed_hosts = vec!["dash.example.org".into()]).await;
    let response = named.http.get(named.url("/orchestrator")).header("host", "dash.example.org").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Without an admin token the dashboard listens on loopback only: another address is
/// refused before anything is bound, saying why and what to do instead.
#[tokio::test]
async fn a_non_loopback_host_is_refused_at_start() {
    let (url, _database) = test_database().await;
    for host in ["0.0.0.0", "::", "192.0.2.1"] {
        let mut settings = test_settings(url.clone());
        settings.host = host.parse().unwrap();
        let refused = server::startup::Application::build(settings).await.err().expect("refused");
        let message = refused.to_string();
        assert!(message.contains(&format!("refusing to listen on {host}")), "{message}");
        assert!(message.contains("loopback") && message.contains("token init-admin"), "{message}");
    }
}
