//! What the health monitor writes, at the level of the store: a check result lands only
//! on the agent it was taken from, and never over a newer one; latency buckets add up.

use crate::helpers::test_database;
use app::model::{AgentSource, HealthState, RegisterAgent};
use app::validation::validate_registration;
use chrono::{Duration, Utc};
use sea_orm::{EntityTrait, PaginatorTrait};
use server::agent_client::Probe;
use server::entities::{health_events, latency_rollups};
use server::health::store::{self as health, CheckWrite, RollupWrite};
use server::registry::store;

fn probe(state: HealthState, at: chrono::DateTime<Utc>) -> Probe {
    let reason = (state != HealthState::Healthy).then(|| "connection refused".to_owned());
    Probe { state, reason, latency_ms: Some(1), checked_at: at }
}

fn check(url: &str, state: HealthState, failures: u32, transition: bool, at: chrono::DateTime<Utc>) -> CheckWrite {
    CheckWrite {
        agent_id: "a".into(),
        agent_url: url.into(),
        state,
        reason: (state != HealthState::Healthy).then(|| "connection refused".to_owned()),
        latency_ms: Some(1),
        checked_at: at,
        failures,
        previous: if transition { HealthState::Unknown } else { state },
        transition,
    }
}

#[tokio::test]
async fn stale_or_foreign_check_results_are_not_written() {
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
    store::upsert(db, &valid, AgentSource::Manual, &probe(HealthState::Healthy, now), HealthState::Healthy, 0, None)
        .await
        .unwrap();

    let batch = [
        // Taken from the URL the agent had before it was re-registered.
        check("http://127.0.0.1:1/old", HealthState::Failing, 1, true, now + Duration::seconds(1)),
        // Started before the stored check and finished late.
        check("http://127.0.0.1:1/new", HealthState::Failing, 1, true, now - Duration::seconds(1)),
        // Removed agents get nothing.
        CheckWrite { agent_id: "gone".into(), ..check("http://127.0.0.1:1/new", HealthState::Failing, 1, true, now) },
    ];
    assert_eq!(health::write_batch(db, &batch, &[]).await.unwrap(), [false, false, false]);
    let row = store::find(db, "a").await.unwrap().unwrap();
    assert_eq!(row.health_state, "healthy");
    assert_eq!(health_events::Entity::find().count(db).await.unwrap(), 1, "only the registration");

    // One batch, two checks of the same agent: both land, in order.
    let batch = [
        check("http://127.0.0.1:1/new", HealthState::Failing, 1, true, now + Duration::seconds(2)),
        check("http://127.0.0.1:1/new", HealthState::Unhealthy, 2, true, now + Duration::seconds(3)),
    ];
    assert_eq!(health::write_batch(db, &batch, &[]).await.unwrap(), [true, true]);
    let row = store::find(db, "a").await.unwrap().unwrap();
    assert_eq!(row.health_state, "unhealthy");
    assert_eq!(row.consecutive_failures, 2);
    assert_eq!(health_events::Entity::find().count(db).await.unwrap(), 3, "one event per transition");
}

/// A bucket written twice (a restart inside it) adds up; a bucket for a removed agent is
/// not written, and does not fail the batch.
#[tokio::test]
async fn latency_rollups_merge_and_skip_removed_agents() {
    let (url, _guard) = test_database().await;
    let db = server::db::connect(&url).await.unwrap();
    let db = db.write();
    let valid = validate_registration(&RegisterAgent {
        agent_id: "a".into(),
        agent_name: "A".into(),
        agent_url: "http://127.0.0.1:1".into(),
        ..Default::default()
    })
    .unwrap();
    let now = Utc::now();
    store::upsert(db, &valid, AgentSource::Manual, &probe(HealthState::Healthy, now), HealthState::Healthy, 0, None)
        .await
        .unwrap();
    let bucket = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let rollup = |agent: &str, probes, failures, min, max, sum| RollupWrite {
        agent_id: agent.into(),
        bucket_start: bucket,
        probes,
        failures,
        min_ms: min,
        max_ms: max,
        sum_ms: sum,
    };
    health::write_batch(db, &[], &[rollup("a", 3, 1, Some(5), Some(9), 14), rollup("gone", 1, 0, Some(1), Some(1), 1)])
        .await
        .unwrap();
    health::write_batch(db, &[], &[rollup("a", 2, 2, None, None, 0)]).await.unwrap();
    health::write_batch(db, &[], &[rollup("a", 1, 0, Some(3), Some(3), 3)]).await.unwrap();
    let rows = latency_rollups::Entity::find().all(db).await.unwrap();
    assert_eq!(rows.len(), 1, "the removed agent's bucket was not written: {rows:?}");
    let r = &rows[0];
    assert_eq!((r.probes, r.failures, r.min_ms, r.max_ms, r.sum_ms), (6, 3, Some(3), Some(9), 17));
}

/// A queued run of agent `a`, claimed by `by`.
fn new_run(id: &str, by: &str) -> server::runs::store::NewRun {
    server::runs::store::NewRun {
        run_id: id.into(),
        agent_id: "a".into(),
        agent_url: "http://127.0.0.1:1".into(),
        workflow: "w".into(),
        inputs: serde_json::json!({}),
        schema_hash: None,
        idempotency_key: None,
        request_hash: None,
        withheld: Vec::new(),
        rerun_of: None,
        claimed_by: by.into(),
    }
}

/// A run's status only moves forward: once final, no later write changes it.
#[tokio::test]
async fn a_final_run_status_is_never_overwritten() {
    use app::model::RunStatus;
    use server::runs::store as runs;
    let (url, _guard) = test_database().await;
    let db = server::db::connect(&url).await.unwrap();
    let db = db.write();
    let new = |id: &str| new_run(id, "me");
    let long_ago = runs::now() - chrono::Duration::hours(1);
    let start = |id: &'static str| runs::start(db, id, "a", "me", 4, runs::now(), long_ago);
    assert!(runs::insert(db, new("r1")).await.unwrap().is_ok());
    assert_eq!(start("r1").await.unwrap(), runs::Start::Started);
    assert_eq!(start("r1").await.unwrap(), runs::Start::Gone, "started once");
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
    assert_eq!(start("r2").await.unwrap(), runs::Start::Gone);
}

/// A run starts only for the dashboard that claims it, only while its agent runs fewer
/// than the limit, and only a lapsed claim is taken over.
#[tokio::test]
async fn runs_start_under_their_claim_and_their_agents_limit() {
    use app::model::RunStatus;
    use server::runs::store as runs;
    let (url, _guard) = test_database().await;
    let db = server::db::connect(&url).await.unwrap();
    let db = db.write();
    let new = new_run;
    let long_ago = runs::now() - chrono::Duration::hours(1);
    for (id, by) in [("r1", "me"), ("r2", "me"), ("r3", "me"), ("theirs", "gone")] {
        assert!(runs::insert(db, new(id, by)).await.unwrap().is_ok());
    }
    assert_eq!(
        runs::start(db, "theirs", "a", "me", 9, runs::now(), long_ago).await.unwrap(),
        runs::Start::Gone,
        "not mine"
    );
    assert_eq!(runs::start(db, "r1", "a", "me", 2, runs::now(), long_ago).await.unwrap(), runs::Start::Started);
    assert_eq!(runs::start(db, "r2", "a", "me", 2, runs::now(), long_ago).await.unwrap(), runs::Start::Started);
    assert_eq!(
        runs::start(db, "r3", "a", "me", 2, runs::now(), long_ago).await.unwrap(),
        runs::Start::Full,
        "two run already"
    );
    assert!(runs::finish(db, "r1", RunStatus::Succeeded, runs::Outcome::default(), None).await.unwrap());
    assert_eq!(runs::start(db, "r3", "a", "me", 2, runs::now(), long_ago).await.unwrap(), runs::Start::Started);
    // A row left running from longer ago than the run timeout holds no slot.
    assert!(runs::insert(db, new("r4", "me")).await.unwrap().is_ok());
    let recent = runs::now() - chrono::Duration::milliseconds(1);
    assert_eq!(runs::start(db, "r4", "a", "me", 2, runs::now(), recent).await.unwrap(), runs::Start::Started);
    // A run finished by another dashboard's claim is not this one's to finish.
    assert!(!runs::finish_as(db, "r4", "other", RunStatus::Failed, runs::Outcome::default(), None).await.unwrap());
    assert!(runs::finish_as(db, "r4", "me", RunStatus::Failed, runs::Outcome::default(), None).await.unwrap());

    // "me" renews its membership row, "gone" has none: only gone's run is taken.
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let now = chrono::Utc::now();
    server::entities::nodes::Entity::insert(server::entities::nodes::ActiveModel {
        node_id: Set("me".into()),
        address: Set("here".into()),
        version: Set("0".into()),
        started_at: Set(now),
        seen_at: Set(now),
        agents_checked: Set(0),
    })
    .exec(db)
    .await
    .unwrap();
    let fresh = now - chrono::Duration::seconds(10);
    let taken = runs::take_over(db, "other", Some(fresh), false, 100).await.unwrap();
    let ids: Vec<&str> = taken.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["theirs"]);
    // Alone (SQLite: one dashboard at a time), every claim but mine has lapsed.
    assert!(runs::take_over(db, "me", Some(now), true, 100).await.unwrap().iter().all(|r| r.run_id == "theirs"));
    // Not steady: a stale row still protects its runs (its dashboard may renew yet);
    // steady, it does not.
    let long_gone = now - chrono::Duration::minutes(5);
    server::entities::nodes::Entity::insert(server::entities::nodes::ActiveModel {
        node_id: Set("stale".into()),
        address: Set("there".into()),
        version: Set("0".into()),
        started_at: Set(long_gone),
        seen_at: Set(long_gone),
        agents_checked: Set(0),
    })
    .exec(db)
    .await
    .unwrap();
    assert!(runs::insert(db, new("stale-run", "stale")).await.unwrap().is_ok());
    assert!(runs::take_over(db, "me", None, false, 100).await.unwrap().is_empty());
    let taken = runs::take_over(db, "me", Some(fresh), false, 100).await.unwrap();
    assert_eq!(taken.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["stale-run"]);
    assert_eq!(runs::find(db, "theirs").await.unwrap().unwrap().claimed_by.as_deref(), Some("me"));
    // A run taken over is interrupted only by its new claimer, and only from its state.
    assert!(!runs::interrupt(db, "theirs", "other", RunStatus::Queued, "x").await.unwrap());
    assert!(!runs::interrupt(db, "theirs", "me", RunStatus::Running, "x").await.unwrap());
    assert!(runs::interrupt(db, "theirs", "me", RunStatus::Queued, "x").await.unwrap());
}

#[tokio::test]
async fn outbound_headers_are_written_only_for_the_url_the_agent_is_at() {
    let (url, _guard) = test_database().await;
    let db = server::db::connect(&url).await.unwrap();
    let db = db.write();
    let valid = validate_registration(&RegisterAgent {
        agent_id: "a".into(),
        agent_name: "A".into(),
        agent_url: "http://127.0.0.1:1/now".into(),
        ..Default::default()
    })
    .unwrap();
    let now = Utc::now();
    store::upsert(db, &valid, AgentSource::Manual, &probe(HealthState::Healthy, now), HealthState::Healthy, 0, None)
        .await
        .unwrap();
    let headers = server::agent_client::Outbound::parse(&[("x-key".to_owned(), "secret".to_owned())].into()).unwrap();

    // The agent moved away from "then" before the write: nothing is written.
    assert!(!store::outbound::set_if_at(db, "a", "http://127.0.0.1:1/then", &headers).await.unwrap());
    assert_eq!(store::outbound::names(db, "a").await.unwrap(), None);
    assert!(!store::outbound::set_if_at(db, "nobody", "http://127.0.0.1:1/now", &headers).await.unwrap());

    assert!(store::outbound::set_if_at(db, "a", "http://127.0.0.1:1/now", &headers).await.unwrap());
    assert_eq!(store::outbound::for_url(db, "a", "http://127.0.0.1:1/now").await.unwrap(), headers);
    assert!(store::outbound::for_url(db, "a", "http://127.0.0.1:1/then").await.unwrap().is_empty());
}
