//! The old Python dashboard's database: detected at start with the way out named, and
//! imported on request with nothing lost (its tables are renamed, never deleted).

use crate::helpers::*;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{json, Value};
use std::time::Duration;

/// The tables and rows the old tool writes (SQLAlchemy's DDL, its text formats).
const OLD_DATABASE: &str = r#"
CREATE TABLE agents (agent_id VARCHAR(255) NOT NULL, agent_name VARCHAR(256) NOT NULL, host VARCHAR(256) NOT NULL,
  port INTEGER NOT NULL, last_heartbeat DATETIME NOT NULL, ttl_seconds INTEGER NOT NULL, agent_metadata VARCHAR(4000),
  registered_at DATETIME NOT NULL, PRIMARY KEY (agent_id));
CREATE INDEX ix_agents_last_heartbeat ON agents (last_heartbeat);
CREATE TABLE workflow_runs (id VARCHAR(36) NOT NULL, workflow_name VARCHAR(256) NOT NULL, status VARCHAR(32) NOT NULL,
  config_snapshot TEXT, inputs TEXT, outputs TEXT, error_message TEXT, started_at DATETIME NOT NULL, completed_at DATETIME,
  duration_seconds FLOAT, total_tokens INTEGER, total_cost_usd FLOAT, bottleneck_info TEXT, PRIMARY KEY (id));
CREATE TABLE session_state (id VARCHAR(36) NOT NULL, session_start DATETIME NOT NULL, dirty_shutdown INTEGER NOT NULL,
  active_workflows TEXT, session_data TEXT, last_updated DATETIME NOT NULL, PRIMARY KEY (id));
INSERT INTO agents VALUES ('writer', 'Writer', 'localhost', 8002, '2026-02-05 18:31:02.123456', 90, '{"team": "research"}', '2026-02-05 18:00:00.000001');
INSERT INTO agents VALUES ('bad/id', 'Broken', 'localhost', 8003, '2026-02-05 18:31:02.123456', 60, NULL, '2026-02-05 18:00:00');
INSERT INTO workflow_runs VALUES ('0b7c1b9e-1f7a-4c38-9d1c-9a1d1f0e2a11', 'writer', 'completed', NULL,
  '{''topic'': ''AI'', ''ok'': True, ''x'': None}', '{''result'': ''An article'', ''words'': 2}', NULL,
  '2026-02-05 18:31:02.123456', '2026-02-05 18:31:04.623456', 2.5, 120, 0.0042, NULL);
INSERT INTO workflow_runs VALUES ('1b7c1b9e-1f7a-4c38-9d1c-9a1d1f0e2a12', 'writer', 'failed', NULL, '{''topic'': ''x''}', 'None',
  'HTTP 500: boom', '2026-02-05 18:32:00.000000', '2026-02-05 18:32:01', 1.0, NULL, NULL, NULL);
INSERT INTO workflow_runs VALUES ('2b7c1b9e-1f7a-4c38-9d1c-9a1d1f0e2a13', 'writer', 'running', NULL, '{''topic'': ''lost''}', NULL,
  NULL, '2026-02-05 18:33:00.000000', NULL, NULL, NULL, NULL, NULL);
INSERT INTO workflow_runs VALUES ('3b7c1b9e-1f7a-4c38-9d1c-9a1d1f0e2a14', 'my_flow', 'completed', '{}', '{"a": [1, 2]}',
  '{"answer": 42}', NULL, '2026-02-05 18:34:00.000000', '2026-02-05 18:34:01.000000', 1.0, 10, 0.01, NULL);
"#;

/// A file the old tool left behind (always SQLite), with its tables and rows; keep the
/// directory alive as long as the file is used.
async fn old_database() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("configurable_agents.db").display());
    let old = Database::connect(&url).await.unwrap();
    for statement in OLD_DATABASE.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        old.execute_unprepared(statement).await.unwrap();
    }
    drop(old);
    (url, dir)
}

async fn count(url: &str, table: &str) -> i64 {
    let db = Database::connect(url).await.unwrap();
    let row = db
        .query_one(Statement::from_string(DbBackend::Sqlite, format!("SELECT COUNT(*) AS n FROM \"{table}\"")))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn the_old_tools_database_is_refused_then_imported_with_nothing_lost() {
    // Always a SQLite file: that is what the old tool leaves behind.
    let (url, _dir) = old_database().await;

    let refused = server::startup::Application::build(test_settings(url.clone())).await.err().expect("refused");
    let message = refused.to_string();
    assert!(message.contains("configurable_agents.db"), "{message}");
    assert!(message.contains("migrate --import-legacy"), "{message}");
    assert!(message.contains("agents, workflow_runs"), "{message}");
    assert_eq!(count(&url, "agents").await, 2, "refusing touched nothing");

    let db = server::db::open(&url).await.unwrap();
    let report = server::legacy::import(&db).await.unwrap();
    assert_eq!((report.agents, report.runs), (1, 4));
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(report.skipped[0].contains("bad/id"));
    let moved: Vec<&str> = report.moved.iter().map(|(_, new)| new.as_str()).collect();
    assert_eq!(moved, ["legacy_agents", "legacy_workflow_runs", "legacy_session_state"]);
    // Running it again changes nothing.
    let again = server::legacy::import(&db).await.unwrap();
    assert!(again.moved.is_empty());
    drop(db);
    assert_eq!(count(&url, "legacy_agents").await, 2);
    assert_eq!(count(&url, "legacy_workflow_runs").await, 4);
    assert_eq!(count(&url, "runs").await, 4, "no duplicates");

    let (address, _stop) = start(test_settings(url.clone())).await;
    let http = reqwest::Client::new();
    let agent: Value = http.get(format!("{address}/api/v1/agents/writer")).send().await.unwrap().json().await.unwrap();
    assert_eq!(agent["agent_url"], "http://localhost:8002");
    assert_eq!(agent["source"], "self_registered");
    assert_eq!(agent["metadata"], json!({"team": "research"}));
    assert_eq!(agent["registered_at"], "2026-02-05T18:00:00.000Z");

    let runs: Vec<Value> = http.get(format!("{address}/api/v1/runs")).send().await.unwrap().json().await.unwrap();
    let by_id = |prefix: &str| runs.iter().find(|r| r["run_id"].as_str().unwrap().starts_with(prefix)).unwrap().clone();
    let done = by_id("0b7c");
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["agent_id"], "writer");
    assert_eq!(done["workflow"], "writer");
    assert_eq!(done["inputs"], json!({"topic": "AI", "ok": true, "x": null}), "Python repr read as JSON");
    assert_eq!(done["outputs"], json!({"result": "An article", "words": 2}));
    assert_eq!(
        (done["duration_ms"].clone(), done["total_tokens"].clone(), done["cost_usd"].clone()),
        (json!(2500), json!(120), json!(0.0042))
    );
    assert_eq!(done["created_at"], "2026-02-05T18:31:02.123Z");
    let failed = by_id("1b7c");
    assert_eq!(
        (failed["status"].clone(), failed["error"].clone(), failed["outputs"].clone()),
        (json!("failed"), json!("HTTP 500: boom"), Value::Null)
    );
    assert_eq!(by_id("2b7c")["status"], "interrupted", "the old tool's forever-running run is settled");
    let flow = by_id("3b7c");
    assert_eq!(
        (flow["agent_id"].clone(), flow["workflow"].clone(), flow["inputs"].clone()),
        (json!(""), json!("my_flow"), json!({"a": [1, 2]}))
    );
}

/// The command a person runs, as the README gives it: `migrate --import-legacy` on the
/// old tool's file, its report on stdout, exit 0; a second run finds nothing to import.
#[tokio::test]
async fn the_migrate_import_legacy_command_imports_the_old_database() {
    let (url, _dir) = old_database().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
            .args(args)
            .env_remove("CA_DATABASE_URL")
            .output()
            .expect("the binary runs")
    };
    let out = run(&["migrate", "--import-legacy", "--database-url", &url]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert_eq!(count(&url, "runs").await, 4, "{text}");
    assert_eq!(count(&url, "legacy_agents").await, 2, "the old rows are kept aside: {text}");
    let again = run(&["migrate", "--import-legacy", "--database-url", &url]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(count(&url, "runs").await, 4, "no duplicates");
    // Without --import-legacy on an old database it says what to do, and fails.
    let (url2, _dir2) = old_database().await;
    let plain = run(&["migrate", "--database-url", &url2]);
    assert!(!plain.status.success());
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("--import-legacy"),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
}

#[tokio::test]
async fn an_imported_agent_expires_and_is_revived_by_its_heartbeats() {
    let (url, _dir) = old_database().await;
    let db = server::db::open(&url).await.unwrap();
    server::legacy::import(&db).await.unwrap();
    // A short TTL, so that the test need not wait the old default's minute.
    db.write().execute_unprepared("UPDATE agents SET ttl_seconds = 1 WHERE agent_id = 'writer'").await.unwrap();
    drop(db);
    let (address, _stop) = start(test_settings(url.clone())).await;
    let http = reqwest::Client::new();
    let agent = |http: reqwest::Client, address: String| async move {
        http.get(format!("{address}/api/v1/agents/writer")).send().await.unwrap().json::<Value>().await.unwrap()
    };
    let imported = agent(http.clone(), address.clone()).await;
    assert_eq!((imported["source"].as_str(), imported["ttl_seconds"].as_u64()), (Some("self_registered"), Some(1)));
    // Its old heartbeat is long past, but it has a whole TTL from this start.
    eventually(Duration::from_secs(10), || {
        let (http, address) = (http.clone(), address.clone());
        async move { (agent(http, address).await["expired"] == true).then_some(()) }
    })
    .await
    .expect("expires a TTL after the start, without heartbeats");
    // The old agent, pointed at this dashboard, heartbeats: it is back, unchanged.
    let beat = http.post(format!("{address}/api/v1/agents/writer/heartbeat")).send().await.unwrap();
    assert_eq!(beat.status(), reqwest::StatusCode::OK);
    let revived = agent(http.clone(), address.clone()).await;
    assert_eq!((revived["expired"].as_bool(), revived["is_alive"].as_bool()), (Some(false), Some(true)));
    assert_eq!(revived["agent_url"], imported["agent_url"]);
}
