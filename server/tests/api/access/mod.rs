//! Access control through the real HTTP surface: with an admin token every route needs
//! credentials (walked from the OpenAPI document, Leptos' routes and the server
//! functions' registry, since axum cannot list its routes), scopes and agent ownership
//! hold, the path token of old agents is never logged, revocation binds within seconds,
//! and sign-in sessions end their event streams when they end (`sessions.rs`); the
//! `token` command (`command.rs`); `--trusted-proxy` (`proxy.rs`).

mod command;
mod proxy;
mod sessions;

use crate::helpers::*;
use reqwest::header::{AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::access::tokens::{self, Binding, Scope};
use std::time::Duration;

pub const ADMIN: &str = "ca_test-admin-token-0123456789abcdef0123456789abcdef";
const SOON: Duration = Duration::from_secs(5);

pub async fn guarded_app(configure: impl FnOnce(&mut server::cli::UiSettings)) -> TestApp {
    spawn_app_configured(|s| {
        s.admin_token = Some(ADMIN.into());
        configure(s);
    })
    .await
}

/// A client that follows no redirects (a 303 to sign-in is the answer under test).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub async fn db(app: &TestApp) -> server::db::Db {
    server::db::connect(&app.database_url).await.unwrap()
}

pub async fn token(app: &TestApp, name: &str, scope: Scope, binding: Binding) -> String {
    tokens::create(&db(app).await, name, scope, &binding).await.unwrap()
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern.replace("{agent_id}", "a").replace("{run_id}", "00000000-0000-4000-8000-000000000000")
}

#[tokio::test]
async fn every_route_needs_credentials() {
    let app = guarded_app(|_| {}).await;
    let http = client();
    let document: Value = http
        .get(app.url("/api/v1/openapi.json"))
        .header(AUTHORIZATION, bearer(ADMIN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut walked = 0;
    for (pattern, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let path = concrete(pattern);
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = http.request(method.clone(), app.url(&path)).send().await.unwrap();
            walked += 1;
            match (method.as_str(), pattern.as_str()) {
                // Open to anyone: the old registry's health (status only) and signing in.
                ("GET", "/api/v1/health") => {
                    assert_eq!(response.status(), 200);
                    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "healthy"}));
                }
                ("POST", "/api/v1/session") => assert_eq!(response.status(), 400, "no token given"),
                _ => {
                    assert_eq!(response.status(), 401, "{method} {path}");
                    assert_eq!(response.headers()[WWW_AUTHENTICATE], r#"Bearer realm="configurable-agents""#);
                    let error = error_of(response).await;
                    assert_eq!(error["code"], "unauthorized", "{method} {path}: {error}");
                }
            }
        }
    }
    assert!(walked >= 20, "walked {walked} operations");

    // Pages send the browser to sign in, and back afterwards.
    let pages = leptos_axum::generate_route_list(app::App);
    assert!(pages.len() >= 5);
    for page in pages {
        let path = concrete(page.path());
        let response = http.get(app.url(&path)).send().await.unwrap();
        if path == "/sign-in" {
            assert_eq!(response.status(), 200);
            continue;
        }
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        assert_eq!(location, format!("/sign-in?next={}", app::model::percent_encode(&path)));
    }
    // Server functions answer 401 in the one error body.
    let mut functions = 0;
    for (path, method) in server_fn::axum::server_fn_paths() {
        let response = http.request(method, app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        functions += 1;
    }
    assert!(functions >= 5, "{functions} server functions");
    // The rest: the metrics, an unknown endpoint; the API docs page and an unknown page
    // are pages.
    for path in ["/metrics", "/api/v1/nothing-here", "/api/v1/t/ca_x/agents"] {
        let status = http.get(app.url(path)).send().await.unwrap().status();
        assert!(status == 401 || (path.contains("/t/") && status == 404), "{path}: {status}");
    }
    for path in ["/api/docs/", "/no-such-page"] {
        assert_eq!(http.get(app.url(path)).send().await.unwrap().status(), StatusCode::SEE_OTHER, "{path}");
    }
}

#[tokio::test]
async fn tokens_open_what_their_scope_allows() {
    let app = guarded_app(|_| {}).await;
    let http = client();
    let metrics = token(&app, "prometheus", Scope::Metrics, Binding::Any).await;
    let agent = token(&app, "agents", Scope::Agent, Binding::Any).await;
    let get = |path: &'static str, token: String| {
        let request = http.get(app.url(path)).header(AUTHORIZATION, bearer(&token));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(get("/api/v1/agents", ADMIN.into()).await.status(), 200);
    assert_eq!(get("/orchestrator", ADMIN.into()).await.status(), 200);
    assert_eq!(get("/metrics", metrics.clone()).await.status(), 200);
    let refused = get("/api/v1/agents", metrics.clone()).await;
    assert_eq!(refused.status(), 403);
    assert!(error_of(refused).await["message"].as_str().unwrap().contains("prometheus, scope metrics"));
    for path in ["/api/v1/agents", "/api/v1/runs", "/metrics", "/api/v1/events", "/orchestrator"] {
        assert_eq!(get(path, agent.clone()).await.status(), 403, "an agent token on {path}");
    }
    let session: Value = get("/api/v1/session", agent.clone()).await.json().await.unwrap();
    assert_eq!(session, json!({"access_control": true, "token": "agents", "scope": "agent"}));
    // A token that is not one.
    let wrong = get("/api/v1/agents", "ca_not-a-token".into()).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers()[WWW_AUTHENTICATE].to_str().unwrap().contains(r#"error="invalid_token""#));
    // With credentials the old registry's health tells the counts.
    let health: Value = get("/api/v1/health", agent).await.json().await.unwrap();
    assert_eq!(health["registered_agents"], 0);
}

async fn register(app: &TestApp, token: Option<&str>, id: &str) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/api/v1/agents/register"))
        .json(&json!({"agent_id": id, "host": "127.0.0.1", "port": 9, "ttl_seconds": 60}));
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, bearer(token));
    }
    request.send().await.unwrap()
}

async fn heartbeat(app: &TestApp, token: Option<&str>, id: &str) -> reqwest::Response {
    let mut request = app.http.post(app.url(&format!("/api/v1/agents/{id}/heartbeat")));
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, bearer(token));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_agent_token_keeps_to_its_own_agents() {
    let app = guarded_app(|_| {}).await;
    let team_a = token(&app, "team-a", Scope::Agent, Binding::Prefix("team-a-".into())).await;
    let other = token(&app, "other", Scope::Agent, Binding::Any).await;

    assert_eq!(register(&app, Some(&team_a), "team-a-writer").await.status(), 201);
    let outside = register(&app, Some(&team_a), "team-b-writer").await;
    assert_eq!(outside.status(), 403);
    let message = error_of(outside).await["message"].as_str().unwrap().to_owned();
    assert!(message.contains("agent IDs starting with \"team-a-\""), "{message}");
    let taken = register(&app, Some(&other), "team-a-writer").await;
    assert_eq!(taken.status(), 403);
    assert!(error_of(taken).await["message"].as_str().unwrap().contains("belongs to another token"));

    assert_eq!(heartbeat(&app, Some(&team_a), "team-a-writer").await.status(), 200);
    assert_eq!(heartbeat(&app, Some(&other), "team-a-writer").await.status(), 403);
    let plain = heartbeat(&app, None, "team-a-writer").await;
    assert_eq!(plain.status(), 401);

    // An agent registered by hand is never an agent token's.
    let manual = alive_agent().await;
    let response = app
        .http
        .post(app.url("/api/v1/agents"))
        .header(AUTHORIZATION, bearer(ADMIN))
        .json(&json!({"agent_id": "by-hand", "agent_name": "By hand", "agent_url": manual}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let takeover = register(&app, Some(&other), "by-hand").await;
    assert_eq!(takeover.status(), 403);
    assert!(error_of(takeover).await["message"].as_str().unwrap().contains("registered by an admin"));
    let delete = |id: &'static str, token: String, query: &'static str| {
        let request =
            app.http.delete(app.url(&format!("/api/v1/agents/{id}{query}"))).header(AUTHORIZATION, bearer(&token));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(delete("by-hand", other.clone(), "").await.status(), 403);
    assert_eq!(delete("team-a-writer", other.clone(), "").await.status(), 403);
    assert_eq!(delete("team-a-writer", team_a.clone(), "?purge=true").await.status(), 403, "only admins purge");
    let gone = delete("team-a-writer", team_a.clone(), "").await;
    assert_eq!(gone.status(), 200);
    assert_eq!(gone.json::<Value>().await.unwrap()["status"], "deregistered");
    // It registers again with its token; the admin could take it, the others cannot.
    assert_eq!(register(&app, Some(&team_a), "team-a-writer").await.status(), 200);
    assert_eq!(register(&app, Some(ADMIN), "team-a-writer").await.status(), 200);
    assert_eq!(heartbeat(&app, Some(&team_a), "team-a-writer").await.status(), 200, "still team-a's");
}

#[tokio::test]
async fn agents_from_before_tokens_are_claimed_by_the_first_token_and_open_registration_keeps_the_rest() {
    // Registered while access control was off: nobody owns it.
    let app = spawn_app().await;
    assert_eq!(register(&app, None, "old-agent").await.status(), 201);
    assert_eq!(register(&app, None, "moving-agent").await.status(), 201);
    let app = restart(app, |s| {
        s.admin_token = Some(ADMIN.into());
        s.open_registration = true;
    })
    .await;
    let token = token(&app, "fleet", Scope::Agent, Binding::Any).await;
    // Still heartbeating on plain /api/v1 while it moves: allowed, it is nobody's.
    assert_eq!(heartbeat(&app, None, "old-agent").await.status(), 200);
    assert_eq!(register(&app, Some(&token), "old-agent").await.status(), 200, "claimed");
    // Claimed: a tokenless caller can no longer keep it alive or take it back.
    assert_eq!(heartbeat(&app, None, "old-agent").await.status(), 403);
    assert_eq!(register(&app, None, "old-agent").await.status(), 403);
    assert_eq!(heartbeat(&app, Some(&token), "old-agent").await.status(), 200);
    assert_eq!(register(&app, None, "moving-agent").await.status(), 200, "open registration keeps the rest");

    // Without --open-registration, the tokenless heartbeats are refused and counted.
    let app = restart(app, |s| s.admin_token = Some(ADMIN.into())).await;
    assert_eq!(heartbeat(&app, None, "moving-agent").await.status(), 401);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .header(AUTHORIZATION, bearer(ADMIN))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("configurable_agents_tokenless_heartbeats_total 1"), "{metrics}");
    assert!(metrics.contains("configurable_agents_tokenless_agents 1"), "{metrics}");
}

/// The real binary in its own process, logging at debug to stderr (captured): tracing's
/// per-thread subscribers cannot be trusted to see every log line in a test process
/// where other tests run at once.
#[tokio::test]
async fn old_agents_put_the_token_in_the_url_and_it_is_never_logged() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    // reqwest is built without a TLS provider; the in-process dashboards install it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (database_url, _database) = test_database().await;
    let db = server::db::connect(&database_url).await.unwrap();
    let token = tokens::create(&db, "old-fleet", Scope::Agent, &Binding::Any).await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
        .args(["ui", "--port", "0", "--database-url", &database_url, "--leptos-config", "none.toml"])
        .env("CA_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().rsplit_once(' ').unwrap().1.trim_end_matches("/orchestrator").to_owned();

    let http = client();
    let base = format!("{address}/api/v1/t/{token}");
    let registered = http
        .post(format!("{base}/agents/register"))
        .json(&json!({"agent_id": "old", "host": "127.0.0.1", "port": 9}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    assert_eq!(http.post(format!("{base}/agents/old/heartbeat")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{base}/health")).send().await.unwrap().status(), 200);
    // Only the registry's routes live there.
    assert_eq!(http.get(format!("{base}/agents")).send().await.unwrap().status(), 404);
    // A refused request is logged too (the guard's WARN names the path).
    let refused = http.post(format!("{base}/agents/old/heartbeat")).header("host", "evil.example").send().await;
    assert_eq!(refused.unwrap().status(), 403);
    assert_eq!(http.delete(format!("{base}/agents/old")).send().await.unwrap().status(), 200);

    // SIGTERM: the dashboard stops and its stderr ends.
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let logs = logs.join().unwrap();
    assert!(logs.contains("/api/v1/agents/old/heartbeat"), "the requests were logged: {logs}");
    assert!(logs.contains("request refused"), "the guard's refusal was logged: {logs}");
    assert!(!logs.contains(&token), "the token appears in the logs");
    assert!(!logs.contains(&token[3..20]), "part of the token appears in the logs");
}

#[tokio::test]
async fn a_revoked_token_stops_working_within_seconds() {
    let app = guarded_app(|_| {}).await;
    let metrics = token(&app, "scraper", Scope::Metrics, Binding::Any).await;
    let scrape = || {
        let request = app.http.get(app.url("/metrics")).header(AUTHORIZATION, bearer(&metrics));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(scrape().await, 200);
    assert!(tokens::revoke(&db(&app).await, "scraper").await.unwrap(), "as `token revoke` does");
    let refused = eventually(SOON, || async { (scrape().await == 401).then_some(()) }).await;
    assert!(refused.is_some(), "still answered 5 s after revocation");
}
