//! `--trusted-proxy`: behind a trusted proxy the client is the address it forwards, for
//! the registry's host rewriting, the sign-in rate limit and the cookie's `Secure`;
//! from anyone else `X-Forwarded-*` changes nothing.

use super::*;
use reqwest::header::SET_COOKIE;

async fn register_via(app: &TestApp, forwarded_for: &str, id: &str) -> Value {
    let response = client()
        .post(app.url("/api/v1/agents/register"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"agent_id": id, "agent_name": id, "host": "0.0.0.0", "port": 8123}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn sign_in_via(app: &TestApp, forwarded_for: &str, token: &str) -> reqwest::Response {
    client()
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-for", forwarded_for)
        .header("x-forwarded-proto", "https")
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_trusted_proxy_says_who_the_client_is() {
    let app = guarded_app(|s| {
        s.open_registration = true;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    // The agent listens on every address; nginx (127.0.0.1) says it is 127.0.0.9. The
    // client's own claim left of that is not believed.
    let agent = register_via(&app, "10.9.9.9, 127.0.0.9", "behind").await;
    assert_eq!(agent["agent_url"], "http://127.0.0.9:8123", "called where the proxy saw it");

    // Failed sign-ins count per forwarded client: one locked out, another not.
    for _ in 0..server::access::MAX_FAILED_SIGN_INS {
        assert_eq!(sign_in_via(&app, "127.0.0.20", "ca_wrong").await.status(), 401);
    }
    assert_eq!(sign_in_via(&app, "127.0.0.20", ADMIN).await.status(), 429);
    let other = sign_in_via(&app, "127.0.0.21", ADMIN).await;
    assert_eq!(other.status(), 204, "another client behind the same proxy is not locked out");
    let cookie = other.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "the proxy says the browser spoke https: {cookie}");
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarding_headers_change_nothing() {
    let app = guarded_app(|s| s.open_registration = true).await;
    let agent = register_via(&app, "127.0.0.9", "direct").await;
    assert_eq!(agent["agent_url"], "http://127.0.0.1:8123", "the socket's peer, not the header");

    // A different made-up address on every attempt does not escape the limit.
    for i in 0..server::access::MAX_FAILED_SIGN_INS {
        assert_eq!(sign_in_via(&app, &format!("127.0.0.{}", 30 + i), "ca_wrong").await.status(), 401);
    }
    assert_eq!(sign_in_via(&app, "127.0.0.99", ADMIN).await.status(), 429);

    let app = guarded_app(|_| {}).await;
    let signed = sign_in_via(&app, "127.0.0.9", ADMIN).await;
    assert_eq!(signed.status(), 204);
    let cookie = signed.headers()[SET_COOKIE].to_str().unwrap();
    assert!(!cookie.contains("Secure"), "an untrusted X-Forwarded-Proto is ignored: {cookie}");
}
