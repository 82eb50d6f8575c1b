//! Runs through the real HTTP surface against real mock agents: dispatch, every way an
//! agent can answer, cancel, re-run, limits.

use crate::helpers::*;
use crate::mock_agent::*;
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const SOON: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_sync_run_is_queued_at_once_and_records_the_outputs() {
    let (app, agent) = app_with(Behaviour::Slow(Duration::from_millis(300))).await;

    let started = Instant::now();
    let response = app.create_run("a", json!({"topic": "rust", "tone": "casual"})).await;
    assert!(started.elapsed() < Duration::from_millis(300), "answered before the agent finished");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let run_id = body["run_id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/runs/{run_id}"));

    let run = app.finished_run(run_id, SOON).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["agent_id"], "a");
    assert_eq!(run["workflow"], "article_writer");
    assert_eq!(run["inputs"], json!({"topic": "rust", "tone": "casual"}));
    assert_eq!(run["outputs"], json!({"echo": {"topic": "rust", "tone": "casual"}}));
    assert_eq!(run["total_tokens"], 7);
    assert_eq!(run["cost_usd"], 0.5);
    assert!(run["duration_ms"].as_u64().unwrap() >= 300);
    assert_eq!(run["schema_hash"].as_str().unwrap().len(), 16);
    for t in ["created_at", "started_at", "finished_at"] {
        assert!(run[t].as_str().unwrap().ends_with('Z'), "{t}");
    }
    assert_eq!(agent.mock.received.lock().unwrap().clone(), vec![json!({"topic": "rust", "tone": "casual"})]);
}

#[tokio::test]
async fn inputs_that_break_the_schema_are_refused_per_field_and_never_sent() {
    let (app, agent) = app_with(Behaviour::Echo).await;
    let response = app.create_run("a", json!({"tone": 5})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = error_of(response).await;
    assert_eq!(error["code"], "validation");
    let fields: Vec<&str> = error["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"/topic") && fields.contains(&"/tone"), "{error}");

    let not_object =
        app.http.post(app.url("/api/v1/agents/a/runs")).json(&json!({"inputs": [1]})).send().await.unwrap();
    assert_eq!(not_object.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = app.create_run("nobody", json!({})).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(agent.runs_received(), 0);
}

#[tokio::test]
async fn async_jobs_are_followed_to_their_end() {
    let (app, agent) = app_with(Behaviour::Async { polls: 2 }).await;
    let run_id = app.start_run("a", json!({"topic": "jobs"})).await;
    let run = app.finished_run(&run_id, SOON).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["outputs"], json!({"echo": {"topic": "jobs"}}));
    assert!(agent.mock.status_calls.load(Ordering::SeqCst) >= 3);

    agent.set(Behaviour::AsyncFailing);
    let run_id = app.start_run("a", json!({"topic": "jobs"})).await;
    let run = app.finished_run(&run_id, SOON).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"], "the model refused");
}

#[tokio::test]
async fn every_kind_of_agent_failure_is_recorded_precisely() {
    let (app, agent) = app_with_settings(Behaviour::Echo, |s| s.max_run_output = 4096).await;
    let cases: Vec<(Behaviour, &str)> = vec![
        (
            Behaviour::Answer(500, r#"{"detail":"model overloaded"}"#),
            "HTTP 500 Internal Server Error: model overloaded",
        ),
        (Behaviour::Answer(200, "<html>oops</html>"), "not JSON"),
        (Behaviour::Oversized(10_000), "answer larger than 4 KiB"),
        (Behaviour::Answer(200, r#"{"status":"async"}"#), "without a usable job_id"),
    ];
    for (behaviour, expected) in cases {
        agent.set(behaviour.clone());
        let run_id = app.start_run("a", json!({"topic": "x"})).await;
        let run = app.finished_run(&run_id, SOON).await;
        assert_eq!(run["status"], "failed", "{behaviour:?}");
        let error = run["error"].as_str().unwrap();
        assert!(error.contains(expected), "{behaviour:?}: {error}");
    }

    agent.set(Behaviour::Answer(
        422,
        r#"{"detail":[{"loc":["body","topic"],"msg":"Topic too boring","type":"value_error"}]}"#,
    ));
    let run_id = app.start_run("a", json!({"topic": "x"})).await;
    let run = app.finished_run(&run_id, SOON).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["field_errors"], json!([{"field": "/topic", "message": "Topic too boring"}]));
}

#[tokio::test]
async fn a_run_past_its_timeout_is_timed_out() {
    let (app, _agent) =
        app_with_settings(Behaviour::Slow(Duration::from_secs(5)), |s| s.run_timeout = Duration::from_millis(500))
            .await;
    let run_id = app.start_run("a", json!({"topic": "x"})).await;
    let run = app.finished_run(&run_id, SOON).await;
    assert_eq!(run["status"], "timed_out");
    assert!(run["error"].as_str().unwrap().contains("run timeout"), "{run}");
}

#[tokio::test]
async fn cancel_wins_over_a_late_answer() {
    let (app, agent) = app_with(Behaviour::Slow(Duration::from_millis(600))).await;
    let run_id = app.start_run("a", json!({"topic": "x"})).await;
    app.run_in_status(&run_id, "running", SOON).await;

    let response = app.http.post(app.url(&format!("/api/v1/runs/{run_id}/cancel"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["status"], "cancelled");
    assert!(run["error"].as_str().unwrap().contains("may still finish"));

    // Once the agent's call is over (dropped with the cancel, or answered), the run is
    // still cancelled.
    eventually(SOON, || async { (agent.mock.in_flight.load(Ordering::SeqCst) == 0).then_some(()) }).await.unwrap();
    assert_eq!(app.get_run(&run_id).await["status"], "cancelled");
    assert_eq!(agent.runs_received(), 1);

    let again = app.http.post(app.url(&format!("/api/v1/runs/{run_id}/cancel"))).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_of(again).await["code"], "conflict");
}

#[tokio::test]
async fn rerun_starts_a_new_run_with_the_same_inputs() {
    let (app, agent) = app_with(Behaviour::Echo).await;
    let first = app.start_run("a", json!({"topic": "again"})).await;
    app.finished_run(&first, SOON).await;
    let response = app.http.post(app.url(&format!("/api/v1/runs/{first}/rerun"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let second = response.json::<Value>().await.unwrap()["run_id"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let run = app.finished_run(&second, SOON).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["inputs"], json!({"topic": "again"}));
    assert_eq!(agent.runs_received(), 2);
}

#[tokio::test]
async fn runs_beyond_the_per_agent_limit_wait_queued() {
    // Each call takes a second: once two are at the agent, the other four are seen queued.
    let (app, agent) = app_with_settings(Behaviour::Slow(Duration::from_secs(1)), |s| s.run_concurrency = 2).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(app.start_run("a", json!({"topic": format!("t{i}")})).await);
    }
    eventually(SOON, || async { (agent.mock.in_flight.load(Ordering::SeqCst) == 2).then_some(()) }).await.unwrap();
    let queued = futures::future::join_all(ids.iter().map(|id| app.get_run(id))).await;
    assert_eq!(queued.iter().filter(|r| r["status"] == "queued").count(), 4, "two run, four wait");
    for id in &ids {
        assert_eq!(app.finished_run(id, SOON).await["status"], "succeeded");
    }
    assert_eq!(agent.mock.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_reference_agent_runs_synchronously_and_as_async_jobs() {
    let app = spawn_app().await;
    let sync = serve(server::test_agent::router("ref")).await;
    let options = server::test_agent::Options { async_jobs: true, ..Default::default() };
    let jobs = serve(server::test_agent::router_with("ref-async", options)).await;
    app.register("ref", &sync).await;
    app.register("ref-async", &jobs).await;
    for agent in ["ref", "ref-async"] {
        let run_id = app.start_run(agent, json!({"topic": "tea", "length": "short"})).await;
        let run = app.finished_run(&run_id, SOON).await;
        assert_eq!(run["status"], "succeeded", "{agent}: {run}");
        assert_eq!(run["outputs"]["length_setting"], "short");
        assert!(run["outputs"]["result"].as_str().unwrap().contains("tea"));
    }
}

#[tokio::test]
async fn a_queued_run_can_be_cancelled_and_is_never_sent() {
    let (app, agent) = app_with_settings(Behaviour::Slow(Duration::from_millis(500)), |s| s.run_concurrency = 1).await;
    let first = app.start_run("a", json!({"topic": "first"})).await;
    let second = app.start_run("a", json!({"topic": "second"})).await;
    app.run_in_status(&first, "running", SOON).await;
    assert_eq!(app.get_run(&second).await["status"], "queued");
    let response = app.http.post(app.url(&format!("/api/v1/runs/{second}/cancel"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.finished_run(&first, SOON).await["status"], "succeeded");
    // Runs leave the queue in order: once a third one has been sent and answered, the
    // cancelled second would have been sent before it.
    let third = app.start_run("a", json!({"topic": "third"})).await;
    assert_eq!(app.finished_run(&third, SOON).await["status"], "succeeded");
    let cancelled = app.get_run(&second).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["started_at"], Value::Null, "it never started");
    let topics: Vec<Value> = agent.mock.received.lock().unwrap().iter().map(|r| r["topic"].clone()).collect();
    assert_eq!(topics, [json!("first"), json!("third")], "the cancelled run was never sent");
}

#[tokio::test]
async fn inputs_over_the_limit_are_refused_by_name() {
    let (app, agent) = app_with_settings(Behaviour::Echo, |s| s.max_run_inputs = 64 * 1024).await;
    let response = app.create_run("a", json!({"topic": "x".repeat(100 * 1024)})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = error_of(response).await;
    assert_eq!(error["fields"][0]["field"], "inputs");
    assert!(error["message"].as_str().unwrap().contains("--max-run-inputs"), "{error}");
    assert_eq!(agent.runs_received(), 0);
}

/// A run whose outputs are nearly `--max-run-output` (10 MiB) costs its page what a small
/// one does: a bounded preview in the HTML, the rest a page at a time on demand, the
/// whole document from its own endpoint (Download, Copy JSON).
#[tokio::test]
async fn a_huge_output_is_previewed_paged_and_downloadable_whole() {
    let app = spawn_app().await;
    let options = server::test_agent::Options { pad_output: Some(9 * 1024 * 1024), ..Default::default() };
    let agent = serve(server::test_agent::router_with("big", options)).await;
    app.register("big", &agent).await;
    let run_id = app.start_run("big", json!({"topic": "volume"})).await;
    let run = app.finished_run(&run_id, Duration::from_secs(30)).await;
    assert_eq!(run["status"], "succeeded", "{}", run["error"]);
    let items = run["outputs"]["items"].as_array().unwrap().len();
    assert!(items > 200_000, "{items} items");

    // The page: its HTML (with the data it hydrates from) stays small.
    let html = app.http.get(app.url(&format!("/workflows/{run_id}"))).send().await.unwrap().text().await.unwrap();
    let elements = html.as_bytes().windows(2).filter(|w| w[0] == b'<' && w[1].is_ascii_alphabetic()).count();
    assert!(html.len() < 300 * 1024, "the run page is {} KB", html.len() / 1024);
    assert!(elements < 5000, "the run page has {elements} elements");
    assert!(
        html.contains("[…] ") && html.contains(&format!("{items} items")),
        "the array is summarised with its length"
    );

    // More, a page at a time, through the server function the tree calls.
    let path = <app::api::RunJsonPage as server_fn::ServerFn>::PATH;
    let page = |pointer: &str, offset: usize| {
        let form = [
            ("run_id", run_id.clone()),
            ("part", "outputs".to_owned()),
            ("pointer", pointer.to_owned()),
            ("offset", offset.to_string()),
        ];
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        app.http.post(app.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body).send()
    };
    let answer = page("/items", 100_000).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["len"], items);
    assert_eq!(body["entries"].as_array().unwrap().len(), 100);
    assert_eq!(body["entries"][0][0], "100000");
    assert_eq!(body["entries"][0][1], json!({"kind": "object", "len": 3, "entries": null}));
    let refused = page("/nothing", 0).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The whole document, as a file when asked.
    let whole = app.http.get(app.url(&format!("/api/v1/runs/{run_id}/outputs?download=1"))).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(
        whole.headers()["content-disposition"],
        format!("attachment; filename=\"run-{run_id}-outputs.json\"").as_str()
    );
    let whole: Value = whole.json().await.unwrap();
    assert_eq!(whole["items"].as_array().unwrap().len(), items);
    let inputs: Value =
        app.http.get(app.url(&format!("/api/v1/runs/{run_id}/inputs"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(inputs, json!({"topic": "volume"}));
}

/// An async job is polled after 250 ms, then each wait 1.5× longer (at most 5 s): a 3 s
/// job is asked about a handful of times, not twelve.
#[tokio::test]
async fn async_jobs_are_polled_with_a_growing_wait() {
    let (app, agent) = app_with(Behaviour::AsyncFor(Duration::from_secs(3))).await;
    let run_id = app.start_run("a", json!({"topic": "patience"})).await;
    assert_eq!(app.finished_run(&run_id, SOON).await["status"], "succeeded");
    let polls = agent.mock.status_calls.load(Ordering::SeqCst);
    // 250, 375, 562, 844, 1266 ms…: the fifth or sixth poll finds it done (a slower
    // machine polls fewer times, never more).
    assert!((3..=7).contains(&polls), "{polls} polls for a 3 s job");
}

#[tokio::test]
async fn deleting_a_live_run_stops_it() {
    let (app, agent) = app_with(Behaviour::Slow(Duration::from_secs(30))).await;
    let run_id = app.start_run("a", json!({"topic": "doomed"})).await;
    app.run_in_status(&run_id, "running", SOON).await;
    eventually(SOON, || async { (agent.mock.in_flight.load(Ordering::SeqCst) == 1).then_some(()) }).await.unwrap();
    let deleted = app.http.delete(app.url(&format!("/api/v1/runs/{run_id}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    // The call to the agent is dropped (not left to run for its 30 s), and nothing comes back.
    let dropped = eventually(SOON, || async { (agent.mock.in_flight.load(Ordering::SeqCst) == 0).then_some(()) }).await;
    assert!(dropped.is_some(), "the agent's call was stopped");
    let gone = app.http.get(app.url(&format!("/api/v1/runs/{run_id}"))).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn re_running_a_run_of_a_removed_agent_is_a_409_that_says_why() {
    let (app, _agent) = app_with(Behaviour::Echo).await;
    let run_id = app.start_run("a", json!({"topic": "once"})).await;
    app.finished_run(&run_id, SOON).await;
    assert_eq!(app.delete_agent("a").await.status(), StatusCode::OK);
    let response = app.http.post(app.url(&format!("/api/v1/runs/{run_id}/rerun"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error = error_of(response).await;
    assert_eq!(error["code"], "conflict");
    assert!(error["message"].as_str().unwrap().contains("no longer registered"), "{error}");
    let runs: Vec<Value> = app.http.get(app.url("/api/v1/runs")).send().await.unwrap().json().await.unwrap();
    assert_eq!(runs.len(), 1, "nothing was created");
}

/// Read as text: a string of the outputs whole (the preview cut it), through the server
/// function the run page calls; anything else at the pointer is refused by name.
#[tokio::test]
async fn a_text_output_is_read_whole_up_to_its_limit() {
    let (app, _agent) = app_with_settings(Behaviour::Echo, |_| {}).await;
    let article = format!("# Title\n\n{}THE END", "words and more words\n".repeat(500));
    let run_id = app.start_run("a", json!({"topic": article})).await;
    app.finished_run(&run_id, Duration::from_secs(10)).await;
    let detail: Value =
        app.http.get(app.url(&format!("/api/v1/runs/{run_id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(detail["outputs"]["echo"]["topic"], article.as_str());

    let path = <app::api::RunText as server_fn::ServerFn>::PATH;
    let read = |run: &str, pointer: &str| {
        let form = [("run_id", run), ("part", "outputs"), ("pointer", pointer)];
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        app.http.post(app.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body).send()
    };
    let answer = read(&run_id, "/echo/topic").await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let page: Value = answer.json().await.unwrap();
    assert_eq!(page, json!({"text": article, "more_chars": 0}), "whole: {} characters", article.len());

    let refused = read(&run_id, "/echo").await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "an object is no text");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["fields"][0]["field"], "pointer", "{error}");
    let missing = read("no-such-run", "/echo/topic").await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
