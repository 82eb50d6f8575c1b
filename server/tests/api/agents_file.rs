//! `ui --agents-file`: the file's agents are registered at start and follow the file as it
//! changes (added, updated, removed: deregistered, history kept); IDs registered
//! otherwise are left alone; a file with a mistake changes nothing and says where.

use crate::helpers::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const SOON: Duration = Duration::from_secs(15);

fn write(path: &Path, entries: &[(&str, &str)]) {
    let text: String = entries
        .iter()
        .map(|(id, url)| format!("[[agents]]\nid = \"{id}\"\nname = \"Agent {id}\"\nurl = \"{url}\"\n\n"))
        .collect();
    std::fs::write(path, text).unwrap();
}

async fn status(app: &TestApp) -> Value {
    app.http.get(app.url("/api/v1/status")).send().await.unwrap().json::<Value>().await.unwrap()["agents_file"].clone()
}

async fn agent(app: &TestApp, id: &str) -> Option<Value> {
    let response = app.get_agent(id).await;
    if response.status() != 200 {
        return None;
    }
    Some(response.json::<Value>().await.unwrap())
}

/// Waits until the file's latest contents were applied (or refused).
async fn applied(app: &TestApp, check: impl Fn(&Value) -> bool) -> Value {
    eventually(SOON, || async {
        let s = status(app).await;
        check(&s).then_some(s)
    })
    .await
    .expect("the agents file was read")
}

#[tokio::test]
async fn the_file_owns_its_agents_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agents.toml");
    let (up, other_up, down) = (alive_agent().await, alive_agent().await, refused_url().await);
    write(&file, &[("d1", &up), ("d2", &down)]);
    let path = file.clone();
    let app = spawn_app_configured(move |s| s.agents_file = Some(path)).await;

    let first = applied(&app, |s| s["agents"] == 2 && s["applied_at"].is_string()).await;
    assert_eq!(first["error"], Value::Null);
    let d1 = agent(&app, "d1").await.expect("declared agents are registered");
    assert_eq!((d1["source"].as_str(), d1["agent_name"].as_str()), (Some("declared"), Some("Agent d1")));
    assert_eq!(d1["health"]["state"], "healthy");
    let d2 = agent(&app, "d2").await.expect("a declared agent is stored even while down");
    assert_ne!(d2["health"]["state"], "healthy");

    // A manual agent, then the file names its ID: it is left alone and reported.
    app.register("m", &up).await;
    write(&file, &[("d1", &other_up), ("d3", &up), ("m", &other_up)]);
    let second = applied(&app, |s| s["agents"] == 3).await;
    assert_eq!(second["conflicts"], serde_json::json!(["m"]));
    let m = agent(&app, "m").await.unwrap();
    assert_eq!((m["source"].as_str(), m["agent_url"].as_str()), (Some("manual"), Some(up.as_str())), "untouched");
    assert_eq!(agent(&app, "d1").await.unwrap()["agent_url"], other_up.as_str(), "updated");
    assert_eq!(agent(&app, "d3").await.unwrap()["source"], "declared", "added");
    let d2 = agent(&app, "d2").await.expect("removed from the file: kept, with its history");
    assert_eq!((d2["expired"].as_bool(), d2["expiry"].as_str()), (Some(true), Some("deregistered")));
    let alive: Vec<Value> = app.list_agents("?include_dead=false").await.json().await.unwrap();
    assert!(alive.iter().all(|a| a["agent_id"] != "d2"), "a deregistered declared agent is not alive: {alive:?}");

    // A mistake: nothing changes, and the error says where.
    std::fs::write(&file, "[[agents]]\nid = \"d1\"\nurl = \"ftp://nope\"\n").unwrap();
    let refused = applied(&app, |s| s["error"].is_string()).await;
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("agents.toml") && error.contains("line 3") && error.contains("url"), "{error}");
    assert_eq!(agent(&app, "d3").await.unwrap()["expired"], false, "nothing changed");
    assert_eq!(agent(&app, "d1").await.unwrap()["agent_url"], other_up.as_str());

    // Mended, with d2 back: it returns.
    write(&file, &[("d1", &other_up), ("d2", &up), ("d3", &up)]);
    applied(&app, |s| s["error"].is_null() && s["conflicts"] == serde_json::json!([])).await;
    let d2 = agent(&app, "d2").await.unwrap();
    assert_eq!((d2["expired"].as_bool(), d2["agent_url"].as_str()), (Some(false), Some(up.as_str())));
}

#[tokio::test]
async fn a_bad_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agents.yaml");
    std::fs::write(&file, "agents:\n  - id: a\n").unwrap();
    let (database_url, _database) = test_database().await;
    let mut settings = test_settings(database_url);
    settings.agents_file = Some(file);
    let Err(error) = server::startup::Application::build(settings).await else {
        panic!("started with a bad agents file")
    };
    let error = error.to_string();
    assert!(error.contains("agents.yaml") && error.contains("missing field `url`"), "{error}");
}
