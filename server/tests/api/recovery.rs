//! Restart safety: a dashboard stopped mid-run leaves nothing stuck. The next start
//! marks in-flight synchronous calls `interrupted` (never sending them again), resumes
//! polling async jobs, and dispatches queued runs.

use crate::helpers::*;
use crate::mock_agent::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

const SOON: Duration = Duration::from_secs(10);

#[tokio::test]
async fn an_inflight_sync_call_is_interrupted_and_never_resent() {
    let app = spawn_app().await;
    let agent = mock_agent(article_schema(), Behaviour::Slow(Duration::from_millis(1500))).await;
    app.register("a", &agent.url).await;
    let run_id = app.start_run("a", json!({"topic": "x"})).await;
    app.run_in_status(&run_id, "running", SOON).await;

    let app = restart(app, |_| {}).await;
    let run = app.get_run(&run_id).await;
    assert_eq!(run["status"], "interrupted");
    assert!(run["error"].as_str().unwrap().contains("not sent again"), "{run}");
    // Until the old call has had its answer (the agent's 1.5 s): it must change nothing.
    eventually(SOON, || async { (agent.mock.in_flight.load(Ordering::SeqCst) == 0).then_some(()) }).await.unwrap();
    assert_eq!(agent.runs_received(), 1, "sent once only");
    assert_eq!(app.get_run(&run_id).await["status"], "interrupted", "the old call's late answer is not recorded");
}

#[tokio::test]
async fn async_jobs_resume_polling_and_queued_runs_are_sent_after_a_restart() {
    let mut app = spawn_app_configured(|s| s.run_concurrency = 1).await;
    let agent = mock_agent(article_schema(), Behaviour::Async { polls: 4 }).await;
    app.register("a", &agent.url).await;
    let job = app.start_run("a", json!({"topic": "job"})).await;
    let waiting = app.start_run("a", json!({"topic": "waits"})).await;
    // The job is known to the dashboard once it polls; the second run waits for the slot.
    eventually(SOON, || async { (agent.mock.status_calls.load(Ordering::SeqCst) > 0).then_some(()) }).await.unwrap();
    assert_eq!(app.get_run(&waiting).await["status"], "queued");

    agent.set(Behaviour::Echo);
    app.stop_server().await;
    // The stopped dashboard asks nothing more: whatever follows is the new one's doing.
    let asked = agent.mock.status_calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(agent.mock.status_calls.load(Ordering::SeqCst), asked, "the old process stopped polling");
    let app = restart(app, |s| s.run_concurrency = 1).await;
    let job_run = app.finished_run(&job, SOON).await;
    assert_eq!(job_run["status"], "succeeded", "{job_run}");
    assert_eq!(job_run["outputs"], json!({"echo": {"topic": "job"}}));
    let waited = app.finished_run(&waiting, SOON).await;
    assert_eq!(waited["status"], "succeeded");
    assert_eq!(agent.runs_received(), 2, "each run sent once");
}
