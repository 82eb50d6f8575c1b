//! Sign-in sessions: the cookie, signing out, revocation ending streams, the rate limit;
//! the admin token at start, and serving off loopback.

use super::*;
use reqwest::header::{AUTHORIZATION, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

async fn sign_in(app: &TestApp, token: &str, next: &str) -> reqwest::Response {
    client()
        .post(app.url("/api/v1/session"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("token", token), ("next", next)]).unwrap())
        .send()
        .await
        .unwrap()
}

fn cookie_of(response: &reqwest::Response) -> String {
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn signing_in_opens_the_pages_and_signing_out_ends_the_session_and_its_streams() {
    let app = guarded_app(|_| {}).await;
    let signed = sign_in(&app, ADMIN, "/agents/a?period=7d").await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed.headers()[LOCATION], "/agents/a?period=7d", "back to where the page was");
    let set = signed.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{attribute} missing: {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP here: {set}");
    let cookie = cookie_of(&signed);
    let with_cookie = |path: &'static str| {
        let request = client().get(app.url(path)).header("cookie", cookie.clone());
        async move { request.send().await.unwrap() }
    };
    assert_eq!(with_cookie("/orchestrator").await.status(), 200);
    let mut stream = EventStream::from_response(with_cookie("/api/v1/events").await);

    let out = client().post(app.url("/sign-out")).header("cookie", cookie.clone()).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert!(stream.ends_within(SOON).await, "the stream outlived its session");
    assert_eq!(with_cookie("/orchestrator").await.status(), StatusCode::SEE_OTHER);
    let api = with_cookie("/api/v1/agents").await;
    assert_eq!(api.status(), 401);
    assert!(error_of(api).await["message"].as_str().unwrap().contains("session has ended"));
}

#[tokio::test]
async fn revoking_the_token_ends_its_sessions_and_streams() {
    let app = guarded_app(|_| {}).await;
    let second_admin = token(&app, "ops", Scope::Admin, Binding::Any).await;
    let cookie = cookie_of(&sign_in(&app, &second_admin, "/").await);
    let response = client().get(app.url("/api/v1/events")).header("cookie", cookie.clone()).send().await.unwrap();
    let mut stream = EventStream::from_response(response);
    assert!(tokens::revoke(&db(&app).await, "ops").await.unwrap());
    assert!(stream.ends_within(SOON).await, "the stream outlived its token");
}

#[tokio::test]
async fn failed_sign_ins_are_refused_and_then_rate_limited() {
    let app = guarded_app(|_| {}).await;
    let failed = sign_in(&app, "ca_wrong", "/runs").await;
    assert_eq!(failed.status(), StatusCode::SEE_OTHER);
    assert_eq!(failed.headers()[LOCATION], "/sign-in?failed=token&next=%2Fruns");
    let agent = token(&app, "agents", Scope::Agent, Binding::Any).await;
    let json = |token: String| {
        let request = client().post(app.url("/api/v1/session")).json(&json!({"token": token}));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(json(agent).await.status(), 401, "an agent token cannot sign in");
    for _ in 2..server::access::MAX_FAILED_SIGN_INS {
        assert_eq!(json("ca_wrong".into()).await.status(), 401);
    }
    let limited = json(ADMIN.into()).await;
    assert_eq!(limited.status(), 429, "even the right token waits once the address is locked out");
    assert!(limited.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(json("ca_x".into()).await.status(), 429);
    // A session cookie for a JSON client.
    let app = guarded_app(|_| {}).await;
    let signed = client().post(app.url("/api/v1/session")).json(&json!({"token": ADMIN})).send().await.unwrap();
    assert_eq!(signed.status(), 204);
    assert!(signed.headers()[SET_COOKIE].to_str().unwrap().starts_with("ca_session="));
}

#[tokio::test]
async fn off_loopback_it_needs_a_token_and_then_answers_on_the_address_it_is_reached_at() {
    let (database_url, _database) = test_database().await;
    let mut settings = test_settings(database_url);
    settings.host = "0.0.0.0".parse().unwrap();
    let refused = server::startup::Application::build(settings.clone()).await.err().expect("refused");
    assert!(refused.to_string().contains("token init-admin"), "{refused}");

    settings.admin_token = Some(ADMIN.into());
    let (address, _stop) = start(settings).await;
    // Reached through another loopback address than the one it reports: never another machine's.
    let port = address.rsplit(':').next().unwrap();
    let base = format!("http://127.0.0.2:{port}");
    let http = client();
    assert_eq!(http.get(format!("{base}/api/v1/agents")).send().await.unwrap().status(), 401);
    let answered = http.get(format!("{base}/api/v1/agents")).header(AUTHORIZATION, bearer(ADMIN)).send().await.unwrap();
    assert_eq!(answered.status(), 200);
    // Another Host name is still refused (DNS rebinding).
    let renamed = http
        .get(format!("{base}/api/v1/agents"))
        .header(AUTHORIZATION, bearer(ADMIN))
        .header("host", format!("dashboard.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 403);
}

#[tokio::test]
async fn a_short_or_doubled_admin_token_is_refused_at_start() {
    let (database_url, _database) = test_database().await;
    let mut settings = test_settings(database_url);
    settings.admin_token = Some("short".into());
    let refused = server::startup::Application::build(settings.clone()).await.err().expect("refused");
    assert!(refused.to_string().contains("at least 32"), "{refused}");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{ADMIN}\n")).unwrap();
    settings.admin_token_file = Some(file.path().into());
    let refused = server::startup::Application::build(settings.clone()).await.err().expect("refused");
    assert!(refused.to_string().contains("given twice"), "{refused}");
    settings.admin_token = None;
    let (address, _stop) = start(settings).await;
    let answered = client().get(format!("{address}/api/v1/agents")).header(AUTHORIZATION, bearer(ADMIN)).send().await;
    assert_eq!(answered.unwrap().status(), 200, "the file's token, without its newline");
}
