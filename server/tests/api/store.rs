//! What the health monitor writes, at the level of the store: a probe result lands only
//! on the agent it was taken from, and never over a newer one.

use crate::helpers::test_database;
use app::model::{AgentSource, HealthState, RegisterAgent};
use app::validation::validate_registration;
use chrono::{Duration, Utc};
use sea_orm::{EntityTrait, PaginatorTrait};
use server::agent_client::Probe;
use server::entities::health_events;
use server::registry::store;

fn probe(state: HealthState, at: chrono::DateTime<Utc>) -> Probe {
    let reason = (state != HealthState::Healthy).then(|| "connection refused".to_owned());
    Probe { state, reason, latency_ms: 1, checked_at: at }
}

#[tokio::test]
async fn stale_or_foreign_probe_results_are_not_written() {
    let (url, _guard) = test_database().await;
    let db = server::db::connect(&url).await.unwrap();
    let db = db.write();
    let valid = validate_registration(&RegisterAgent {
        agent_id: "a".into(),
        agent_name: "A".into(),
        agent_url: "http://127.0.0.1:1/new".into(),
        ..Default::default()
    })
    .unwrap();
    let now = Utc::now();
    store::upsert(db, &valid, AgentSource::Manual, &probe(HealthState::Healthy, now)).await.unwrap();

    // Taken from the URL the agent had before it was re-registered.
    let foreign = probe(HealthState::Unhealthy, now + Duration::seconds(1));
    assert!(!store::record_probe(db, "a", "http://127.0.0.1:1/old", &foreign).await.unwrap());
    // Started before the stored check and finished late.
    let stale = probe(HealthState::Unhealthy, now - Duration::seconds(1));
    assert!(!store::record_probe(db, "a", "http://127.0.0.1:1/new", &stale).await.unwrap());
    // Removed agents get nothing.
    assert!(!store::record_probe(db, "gone", "http://127.0.0.1:1/new", &foreign).await.unwrap());
    let row = store::find(db, "a").await.unwrap().unwrap();
    assert_eq!(row.health_state, "healthy");
    assert_eq!(health_events::Entity::find().count(db).await.unwrap(), 1, "only the registration");

    let fresh = probe(HealthState::Unhealthy, now + Duration::seconds(2));
    assert!(store::record_probe(db, "a", "http://127.0.0.1:1/new", &fresh).await.unwrap());
    let again = probe(HealthState::Unhealthy, now + Duration::seconds(3));
    assert!(store::record_probe(db, "a", "http://127.0.0.1:1/new", &again).await.unwrap());
    let row = store::find(db, "a").await.unwrap().unwrap();
    assert_eq!(row.health_state, "unhealthy");
    assert_eq!(row.consecutive_failures, 2);
    assert_eq!(health_events::Entity::find().count(db).await.unwrap(), 2, "one event per transition");
}

/// A run's status only moves forward: once final, no later write changes it.
#[tokio::test]
async fn a_final_run_status_is_never_overwritten() {
    use app::model::RunStatus;
    use server::runs::store as runs;
    let (url, _guard) = test_database().await;
    let db = server::db::connect(&url).await.unwrap();
    let db = db.write();
    let new = |id: &str| runs::NewRun {
        run_id: id.into(),
        agent_id: "a".into(),
        agent_url: "http://127.0.0.1:1".into(),
        workflow: "w".into(),
        inputs: serde_json::json!({}),
        schema_hash: None,
        idempotency_key: None,
        request_hash: None,
        withheld: Vec::new(),
    };
    assert!(runs::insert(db, new("r1")).await.unwrap().is_ok());
    assert!(runs::start(db, "r1", runs::now()).await.unwrap());
    assert!(!runs::start(db, "r1", runs::now()).await.unwrap(), "started once");
    let cancel = runs::Outcome { error: Some("cancelled".into()), ..Default::default() };
    assert!(runs::finish(db, "r1", RunStatus::Cancelled, cancel, None).await.unwrap());
    // The agent's late answer arrives.
    let late = runs::Outcome { outputs: Some(serde_json::json!({"x": 1})), ..Default::default() };
    assert!(!runs::finish(db, "r1", RunStatus::Succeeded, late, None).await.unwrap());
    assert!(!runs::set_job(db, "r1", "job").await.unwrap());
    let row = runs::find(db, "r1").await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.outputs, row.job_id), ("cancelled", None, None));

    // A cancelled queued run is never started.
    assert!(runs::insert(db, new("r2")).await.unwrap().is_ok());
    assert!(runs::finish(db, "r2", RunStatus::Cancelled, runs::Outcome::default(), None).await.unwrap());
    assert!(!runs::start(db, "r2", runs::now()).await.unwrap());
}
