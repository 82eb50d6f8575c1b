//! A mock agent for run tests: real HTTP on loopback, with a schema and a `/run`
//! behaviour a test chooses (and may switch), counting what it receives.

use crate::helpers::{spawn_app_configured, TestApp};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// `{"status":"success","outputs":{"echo": inputs}}` with tokens and cost.
    Echo,
    /// Echo after a delay.
    Slow(Duration),
    /// `{"status":"async"}`; the job completes (echo) after `polls` status checks.
    Async { polls: usize },
    /// `{"status":"async"}`; the job completes (echo) once this long has passed.
    AsyncFor(Duration),
    /// `{"status":"async"}`; the job fails with `error`.
    AsyncFailing,
    /// A fixed answer.
    Answer(u16, &'static str),
    /// A 200 answer of `n` bytes of valid JSON.
    Oversized(usize),
}

pub struct Mock {
    pub behaviour: Mutex<Behaviour>,
    pub schema: Mutex<Value>,
    /// Every /run body received.
    pub received: Mutex<Vec<Value>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub status_calls: AtomicUsize,
    jobs: Mutex<HashMap<String, (usize, Value)>>,
    /// Jobs done at a time rather than after a number of polls.
    timed_jobs: Mutex<HashMap<String, (std::time::Instant, Value)>>,
}

pub struct MockAgent {
    pub url: String,
    pub mock: Arc<Mock>,
}

impl MockAgent {
    pub fn runs_received(&self) -> usize {
        self.mock.received.lock().unwrap().len()
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.mock.behaviour.lock().unwrap() = behaviour;
    }
}

/// The reference agent's schema: `topic` required, `tone` and `length` optional.
pub fn article_schema() -> Value {
    json!({
        "workflow": "article_writer",
        "inputs": {
            "topic": {"type": "str", "required": true, "description": "What the article is about"},
            "tone": {"type": "str", "required": false, "default": "professional"},
            "length": {"type": "str", "required": false, "default": "medium"}
        },
        "outputs": ["result"]
    })
}

pub async fn mock_agent(schema: Value, behaviour: Behaviour) -> MockAgent {
    mock_agent_on("127.0.0.1", schema, behaviour).await
}

/// A mock agent listening on `ip` (a loopback address).
pub async fn mock_agent_on(ip: &str, schema: Value, behaviour: Behaviour) -> MockAgent {
    let mock = new_mock(schema, behaviour);
    let url = crate::helpers::serve_on(ip, router(mock.clone())).await;
    MockAgent { url, mock }
}

/// A mock agent's router alone, to serve on a listener of the test's choosing.
pub fn router_for(schema: Value, behaviour: Behaviour) -> Router {
    router(new_mock(schema, behaviour))
}

/// A mock agent whose router goes through `layer` first (a gateway in front of it).
pub async fn mock_agent_wrapped(schema: Value, behaviour: Behaviour, wrap: impl FnOnce(Router) -> Router) -> MockAgent {
    let mock = new_mock(schema, behaviour);
    let url = crate::helpers::serve_on("127.0.0.1", wrap(router(mock.clone()))).await;
    MockAgent { url, mock }
}

fn new_mock(schema: Value, behaviour: Behaviour) -> Arc<Mock> {
    Arc::new(Mock {
        behaviour: Mutex::new(behaviour),
        schema: Mutex::new(schema),
        received: Mutex::new(Vec::new()),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        status_calls: AtomicUsize::new(0),
        jobs: Mutex::new(HashMap::new()),
        timed_jobs: Mutex::new(HashMap::new()),
    })
}

fn router(mock: Arc<Mock>) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "alive"})) }))
        .route("/schema", get(|State(m): State<Arc<Mock>>| async move { Json(m.schema.lock().unwrap().clone()) }))
        .route("/run", post(run))
        .route("/status/{job_id}", get(status))
        .with_state(mock)
}

fn echo(inputs: &Value) -> Value {
    json!({"status": "success", "outputs": {"echo": inputs}, "execution_time_ms": 1, "total_tokens": 7, "cost_usd": 0.5})
}

async fn run(State(m): State<Arc<Mock>>, Json(inputs): Json<Value>) -> Response {
    m.received.lock().unwrap().push(inputs.clone());
    let now = m.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    m.max_in_flight.fetch_max(now, Ordering::SeqCst);
    // Counted out also when the caller goes away mid-call (the server drops this future).
    let _in_flight = InFlight(m.clone());
    let behaviour = m.behaviour.lock().unwrap().clone();
    let response = match behaviour {
        Behaviour::Echo => Json(echo(&inputs)).into_response(),
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Json(echo(&inputs)).into_response()
        }
        Behaviour::Async { polls } => {
            let job_id = format!("job-{}", m.received.lock().unwrap().len());
            m.jobs.lock().unwrap().insert(job_id.clone(), (polls, inputs.clone()));
            Json(json!({"status": "async", "job_id": job_id, "message": "started"})).into_response()
        }
        Behaviour::AsyncFor(after) => {
            let job_id = format!("timed-{}", m.received.lock().unwrap().len());
            m.timed_jobs.lock().unwrap().insert(job_id.clone(), (std::time::Instant::now() + after, inputs.clone()));
            Json(json!({"status": "async", "job_id": job_id})).into_response()
        }
        Behaviour::AsyncFailing => {
            let job_id = format!("fail-{}", m.received.lock().unwrap().len());
            m.jobs.lock().unwrap().insert(job_id.clone(), (usize::MAX, Value::Null));
            Json(json!({"status": "async", "job_id": job_id})).into_response()
        }
        Behaviour::Answer(status, body) => (StatusCode::from_u16(status).unwrap(), body).into_response(),
        Behaviour::Oversized(n) => {
            let filler = "x".repeat(n);
            Json(json!({"status": "success", "outputs": {"text": filler}})).into_response()
        }
    };
    response
}

struct InFlight(Arc<Mock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn status(State(m): State<Arc<Mock>>, Path(job_id): Path<String>) -> Response {
    m.status_calls.fetch_add(1, Ordering::SeqCst);
    if let Some((done_at, inputs)) = m.timed_jobs.lock().unwrap().get(&job_id) {
        if std::time::Instant::now() < *done_at {
            return Json(json!({"job_id": job_id, "status": "running"})).into_response();
        }
        let mut done = echo(inputs);
        done["status"] = json!("completed");
        done["job_id"] = json!(job_id);
        return Json(done).into_response();
    }
    let mut jobs = m.jobs.lock().unwrap();
    let Some((left, inputs)) = jobs.get_mut(&job_id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"detail": format!("Job {job_id} not found")}))).into_response();
    };
    if *left == usize::MAX {
        return Json(json!({"job_id": job_id, "status": "failed", "error": "the model refused"})).into_response();
    }
    if *left > 0 {
        *left -= 1;
        return Json(json!({"job_id": job_id, "status": "running"})).into_response();
    }
    let mut done = echo(inputs);
    done["status"] = json!("completed");
    done["job_id"] = json!(job_id);
    Json(done).into_response()
}

/// A dashboard with one registered mock agent `a`.
pub async fn app_with(behaviour: Behaviour) -> (TestApp, MockAgent) {
    app_with_settings(behaviour, |_| {}).await
}

pub async fn app_with_settings(
    behaviour: Behaviour,
    configure: impl FnOnce(&mut server::cli::UiSettings),
) -> (TestApp, MockAgent) {
    let app = spawn_app_configured(configure).await;
    let agent = mock_agent(article_schema(), behaviour).await;
    app.register("a", &agent.url).await;
    (app, agent)
}
