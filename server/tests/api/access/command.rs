//! `configurable-agents token …`, the real binary on a test database: what it prints,
//! what it refuses, and that a running dashboard follows it.

use super::*;
use reqwest::header::AUTHORIZATION;
use std::process::{Command, Output};

fn token_command(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
        .arg("token")
        .args(args)
        .args(["--database-url", database_url])
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_token_command_creates_lists_and_revokes() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    let admin = token_command(&url, &["init-admin"]);
    assert!(admin.status.success(), "{}", text(&admin.stderr));
    let admin_token = text(&admin.stdout).trim().to_owned();
    assert!(admin_token.starts_with("ca_") && admin_token.len() == 67, "the token alone: {admin_token:?}");
    let again = token_command(&url, &["init-admin"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("exists already"), "{}", text(&again.stderr));

    let created = token_command(&url, &["create", "--name", "ci", "--agent-prefix", "ci-"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let ci = text(&created.stdout).trim().to_owned();
    assert!(ci.starts_with("ca_") && ci.len() == 67, "the token alone: {ci:?}");
    for (args, refusal) in [
        (vec!["create", "--name", "ci"], "a token named \"ci\" exists"),
        (vec!["create", "--name", "bad name"], "letters, digits"),
        (vec!["create", "--name", "m", "--scope", "metrics", "--agent-id", "x"], "only agent tokens are bound"),
        (vec!["revoke", "nobody"], "no token named \"nobody\""),
    ] {
        let out = token_command(&url, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).contains(refusal), "{args:?}: {}", text(&out.stderr));
    }
    let listed = text(&token_command(&url, &["list"]).stdout);
    assert!(listed.starts_with("NAME"), "{listed}");
    assert!(listed.contains("admin") && listed.contains("agent IDs starting with \"ci-\""), "{listed}");
    assert!(!listed.contains(&ci) && !listed.contains(&admin_token), "never the tokens: {listed}");

    // This dashboard started before init-admin: access control is decided at start.
    let app = restart(app, |_| {}).await;
    let get = |token: String| {
        let request = app.http.get(app.url("/api/v1/session")).header(AUTHORIZATION, bearer(&token));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(get(ci.clone()).await, 200);
    assert_eq!(get(admin_token.clone()).await, 200);
    assert!(token_command(&url, &["revoke", "ci"]).status.success());
    let refused = eventually(Duration::from_secs(5), || async { (get(ci.clone()).await == 401).then_some(()) }).await;
    assert!(refused.is_some(), "the running dashboard follows the revocation");
}
