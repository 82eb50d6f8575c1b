//! The agent network policy through the API: a refused address is a 422 naming the rule
//! at registration, schema reads and run creation; a health check and a queued or resumed
//! run fail with it. Only loopback is ever called: the refused agents listen on 127.0.0.2,
//! and the other refused addresses are literals judged before any connection.

use crate::helpers::*;
use crate::mock_agent::*;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

const SOON: Duration = Duration::from_secs(10);
const DENIED: &str = "is in --deny-agent-network 127.0.0.2/32";

fn deny_127_0_0_2(settings: &mut server::cli::UiSettings) {
    settings.deny_agent_networks = vec!["127.0.0.2/32".parse().unwrap()];
}

async fn refusal(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 422);
    let error = error_of(response).await;
    assert_eq!(error["code"], "validation", "{error}");
    assert_eq!(error["fields"][0]["field"], "agent_url", "{error}");
    error["fields"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_manual_registration_to_a_refused_address_is_a_422_naming_the_rule() {
    let app = spawn_app_configured(deny_127_0_0_2).await;
    let agent = mock_agent_on("127.0.0.2", article_schema(), Behaviour::Echo).await;
    for force in [false, true] {
        let response =
            app.post_agent(&json!({"agent_id": "a", "agent_name": "A", "agent_url": agent.url, "force": force})).await;
        let message = refusal(response).await;
        assert!(message.starts_with("refused by the agent network policy: 127.0.0.2"), "{message}");
        assert!(message.ends_with(DENIED), "{message}");
    }
    // Literals judged before any connection: the metadata address, and outside the test
    // dashboard's --allow-agent-network 127.0.0.0/8 and ::1/128.
    for (url, rule) in [
        ("http://169.254.169.254/latest", "is link-local (where cloud metadata services answer)"),
        ("http://[::ffff:169.254.169.254]:80", "is link-local"),
        ("http://10.0.0.1:8000", "is outside --allow-agent-network (127.0.0.0/8, ::1/128)"),
    ] {
        let message = refusal(
            app.post_agent(&json!({"agent_id": "b", "agent_name": "B", "agent_url": url, "force": true})).await,
        )
        .await;
        assert!(message.contains(rule), "{url}: {message}");
    }
    assert_eq!(app.list_agents("").await.headers()["x-total-count"], "0", "nothing stored");
}

#[tokio::test]
async fn an_agent_whose_address_is_refused_later_gets_422s_and_its_health_says_why() {
    let app = spawn_app().await;
    let agent = mock_agent_on("127.0.0.2", article_schema(), Behaviour::Echo).await;
    app.register("a", &agent.url).await;
    // Its schema is stored: the fallback that must not be used for a refused address.
    let run = app.start_run("a", json!({"topic": "before"})).await;
    assert_eq!(app.finished_run(&run, SOON).await["status"], "succeeded");

    let app = restart(app, deny_127_0_0_2).await;
    let schema = app.http.get(app.url("/api/v1/agents/a/schema")).send().await.unwrap();
    assert!(refusal(schema).await.ends_with(DENIED));
    assert!(refusal(app.create_run("a", json!({"topic": "after"})).await).await.ends_with(DENIED));
    assert_eq!(agent.runs_received(), 1, "only the run from before");

    let mut completed = app.monitor.completed();
    let before = *completed.borrow_and_update();
    app.monitor.check_now(Some(vec!["a".into()]));
    tokio::time::timeout(SOON, completed.wait_for(|n| *n > before)).await.unwrap().unwrap();
    let health = app.get_agent("a").await.json::<Value>().await.unwrap()["health"].clone();
    let reason = health["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("refused by the agent network policy") && reason.ends_with(DENIED), "{health}");
}

#[tokio::test]
async fn runs_left_for_a_refused_address_fail_with_the_rule_at_once() {
    let mut app = spawn_app_configured(|s| s.run_concurrency = 1).await;
    let agent = mock_agent_on("127.0.0.2", article_schema(), Behaviour::AsyncFor(Duration::from_secs(60))).await;
    app.register("a", &agent.url).await;
    let job = app.start_run("a", json!({"topic": "job"})).await;
    let waiting = app.start_run("a", json!({"topic": "waits"})).await;
    eventually(SOON, || async { (agent.mock.status_calls.load(Ordering::SeqCst) > 0).then_some(()) }).await.unwrap();
    assert_eq!(app.get_run(&waiting).await["status"], "queued");

    app.stop_server().await;
    let asked = agent.mock.status_calls.load(Ordering::SeqCst);
    let app = restart(app, |s| {
        s.run_concurrency = 1;
        deny_127_0_0_2(s);
    })
    .await;
    // The resumed job is not polled until its run's timeout: the verdict cannot change.
    let resumed = app.finished_run(&job, SOON).await;
    assert_eq!(resumed["status"], "failed", "{resumed}");
    assert!(resumed["error"].as_str().unwrap().ends_with(DENIED), "{resumed}");
    let queued = app.finished_run(&waiting, SOON).await;
    assert_eq!(queued["status"], "failed", "{queued}");
    let error = queued["error"].as_str().unwrap();
    assert!(
        error.starts_with("calling the agent failed: refused by the agent network policy") && error.ends_with(DENIED)
    );
    assert_eq!(agent.runs_received(), 1, "the queued run was never sent");
    assert_eq!(agent.mock.status_calls.load(Ordering::SeqCst), asked, "the job was never asked about again");
}
