//! The reference agent, wire-compatible with the original project's `test_agent.py`:
//! `/health` says `alive`, `/schema` asks for a topic (tone and length optional), `/run`
//! works 100–500 ms and writes a short article. `--async` makes it answer with a job to
//! poll; `--schema FILE` publishes another schema and echoes the inputs back.

use crate::cli::TestAgentSettings;
use crate::StartError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const VERSION: &str = "1.0.0";

struct AgentInfo {
    agent_id: String,
    async_jobs: bool,
    custom_schema: Option<Value>,
    /// Read again on every `/schema` request, so a test can change the schema.
    schema_file: Option<std::path::PathBuf>,
    work: Option<Duration>,
    pad_output: Option<usize>,
    /// Async jobs: when each is done, and its answer.
    jobs: Mutex<HashMap<String, (Instant, Value)>>,
}

/// How the reference agent behaves.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub async_jobs: bool,
    pub custom_schema: Option<Value>,
    pub schema_file: Option<std::path::PathBuf>,
    /// Each run's simulated work, instead of a random one.
    pub work: Option<Duration>,
    /// Outputs padded with small objects to about this many bytes of JSON.
    pub pad_output: Option<usize>,
}

pub fn router(agent_id: &str) -> Router {
    router_with(agent_id, Options::default())
}

pub fn router_with(agent_id: &str, options: Options) -> Router {
    Router::new()
        .route("/", get(describe))
        .route("/health", get(health))
        .route("/schema", get(schema))
        .route("/run", post(run))
        .route("/status/{job_id}", get(status))
        .with_state(Arc::new(AgentInfo {
            agent_id: agent_id.to_owned(),
            async_jobs: options.async_jobs,
            custom_schema: options.custom_schema,
            schema_file: options.schema_file,
            work: options.work,
            pad_output: options.pad_output,
            jobs: Mutex::new(HashMap::new()),
        }))
}

pub async fn serve(settings: TestAgentSettings) -> Result<(), StartError> {
    let addr = SocketAddr::new(settings.host, settings.port);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e} (try --port)"))?;
    let custom_schema = match &settings.schema {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?)
        }
    };
    let options = Options {
        async_jobs: settings.async_jobs,
        custom_schema,
        schema_file: settings.schema.clone(),
        work: settings.work,
        pad_output: settings.pad_output,
    };
    let bound = listener.local_addr()?;
    println!("test agent '{}' listening on http://{bound}", settings.agent_id);
    // Withdrawn at the end of `serve` (dropped).
    let _announcement = if settings.announce {
        // An unspecified address cannot be called: announce loopback then.
        let address = if bound.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { bound.ip() };
        let announced = registry_client::announce::Announcement::start(
            &settings.agent_id,
            &settings.name,
            "http",
            address,
            bound.port(),
            "",
        )
        .map_err(|e| e.to_string())?;
        println!("announced over mDNS as {} ({})", settings.agent_id, registry_client::announce::SERVICE_TYPE);
        Some(announced)
    } else {
        None
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let registration = settings.register.clone().map(|registry| {
        // The address it bound (`--port 0` included); 0.0.0.0 is rewritten by the dashboard.
        let url = format!("http://{bound}");
        let agent = registry_client::Agent::at_url(&settings.agent_id, &settings.name, url)
            .with_ttl(settings.ttl)
            .with_metadata(json!({"description": "The reference agent (configurable-agents test-agent)"}));
        println!("registering with {registry} (TTL {})", humantime::format_duration(settings.ttl));
        let mut stopped = stopped.clone();
        let client = registry_client::Client::new(registry, agent);
        tokio::spawn(async move {
            let result = client
                .run_until(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = &result {
                eprintln!("error: {e}");
            }
            result
        })
    });
    let serving = {
        let mut stopped = stopped.clone();
        axum::serve(listener, router_with(&settings.agent_id, options)).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
    };
    let signal = async move {
        registry_client::shutdown_signal().await;
        let _ = stop.send(true);
    };
    let (served, _) = tokio::join!(serving, signal);
    served?;
    // It deregisters after it stopped serving: the dashboard sees it go, not fail.
    if let Some(registration) = registration {
        match registration.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("registration failed: {e}").into()),
            Err(e) => return Err(format!("registration task failed: {e}").into()),
        }
    }
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn describe(State(info): State<Arc<AgentInfo>>) -> Json<Value> {
    Json(json!({
        "name": "Test Agent",
        "agent_id": info.agent_id,
        "version": VERSION,
        "description": "Reference agent for configurable-agents: writes a short article on a topic.",
        "endpoints": ["/health", "/schema", "/run", "/status/{job_id}"],
        "capabilities": ["article_writer"],
    }))
}

async fn health(State(info): State<Arc<AgentInfo>>) -> Json<Value> {
    Json(json!({ "status": "alive", "timestamp": now(), "version": VERSION, "agent_id": info.agent_id }))
}

async fn schema(State(info): State<Arc<AgentInfo>>) -> Json<Value> {
    // The file as it is now; as it was at start if it has become unreadable.
    let now = info
        .schema_file
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(custom) = now.as_ref().or(info.custom_schema.as_ref()) {
        return Json(custom.clone());
    }
    Json(json!({
        "workflow": "article_writer",
        "inputs": {
            "topic": { "type": "str", "required": true, "description": "What the article is about" },
            "tone": { "type": "str", "required": false, "default": "professional",
                      "description": "professional, casual or enthusiastic" },
            "length": { "type": "str", "required": false, "default": "medium",
                        "description": "short, medium or long" }
        },
        "outputs": ["result", "summary", "word_count", "tone_used", "length_setting"]
    }))
}

/// FastAPI's shape for a validation error, as the original agents answer.
fn unprocessable(loc: &[&str], msg: &str, kind: &str) -> axum::response::Response {
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "detail": [{ "loc": loc, "msg": msg, "type": kind }] })))
        .into_response()
}

async fn run(State(info): State<Arc<AgentInfo>>, body: Option<Json<Value>>) -> axum::response::Response {
    let started = Instant::now();
    let Some(Json(Value::Object(inputs))) = body else {
        return unprocessable(&["body"], "Input should be a valid dictionary", "dict_type");
    };
    if info.custom_schema.is_some() {
        let mut answer = json!({ "status": "success", "outputs": { "echo": inputs }, "execution_time_ms": 0 });
        pad(&mut answer, info.pad_output);
        return respond(&info, answer, Duration::from_millis(200)).await;
    }
    let topic = match inputs.get("topic") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_owned(),
        Some(Value::String(_)) | None => return unprocessable(&["body", "topic"], "Field required", "missing"),
        Some(_) => return unprocessable(&["body", "topic"], "Input should be a valid string", "string_type"),
    };
    let text_or = |key: &str, default: &str| {
        inputs.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty()).unwrap_or(default).to_owned()
    };
    let tone = text_or("tone", "professional");
    let length = text_or("length", "medium");

    // Simulated work, as the original: 100–500 ms (1–2 s as an async job).
    let work = match info.work {
        Some(work) => work.as_millis() as u64,
        None if info.async_jobs => fastrand::u64(1000..=2000),
        None => fastrand::u64(100..=500),
    };

    let paragraphs = match length.as_str() {
        "short" => 1,
        "long" => 4,
        _ => 2,
    };
    let opener = match tone.as_str() {
        "casual" => format!("So, let's talk about {topic}."),
        "enthusiastic" => format!("{topic} is amazing, and here is why!"),
        _ => format!("This article examines {topic}."),
    };
    let body_text = (0..paragraphs)
        .map(|i| format!("{opener} Point {} considers {topic} from another angle.", i + 1))
        .collect::<Vec<_>>()
        .join("\n\n");
    let word_count = body_text.split_whitespace().count();
    let execution_time_ms = started.elapsed().as_millis() as u64 + work;
    let mut answer = json!({
        "status": "success",
        "outputs": {
            "result": body_text,
            "summary": format!("A {length}, {tone} article about {topic}."),
            "word_count": word_count,
            "tone_used": tone,
            "length_setting": length,
        },
        "execution_time_ms": execution_time_ms,
        "message": "Workflow executed successfully",
    });
    pad(&mut answer, info.pad_output);
    respond(&info, answer, Duration::from_millis(work)).await
}

/// Adds `outputs.items`: small objects, about `bytes` of JSON in all.
fn pad(answer: &mut Value, bytes: Option<usize>) {
    let Some(bytes) = bytes else { return };
    let mut items = Vec::new();
    let mut size = 2;
    while size < bytes {
        let item = json!({"id": items.len(), "name": format!("item {}", items.len()), "ok": true});
        size += item.to_string().len() + 1;
        items.push(item);
    }
    answer["outputs"]["items"] = Value::Array(items);
}

/// The answer after `work`, or at once as an async job that is done after `work`.
async fn respond(info: &AgentInfo, answer: Value, work: Duration) -> axum::response::Response {
    if !info.async_jobs {
        tokio::time::sleep(work).await;
        return Json(answer).into_response();
    }
    let job_id = format!("job-{:016x}", fastrand::u64(..));
    let mut jobs = info.jobs.lock().expect("job table lock is never poisoned");
    // Finished jobs are kept a while for late status checks, then forgotten.
    jobs.retain(|_, (done, _)| done.elapsed() < Duration::from_secs(600));
    jobs.insert(job_id.clone(), (Instant::now() + work, answer));
    Json(json!({ "status": "async", "job_id": job_id, "message": "Workflow started" })).into_response()
}

async fn status(State(info): State<Arc<AgentInfo>>, Path(job_id): Path<String>) -> axum::response::Response {
    let jobs = info.jobs.lock().expect("job table lock is never poisoned");
    let Some((done_at, answer)) = jobs.get(&job_id) else {
        return (StatusCode::NOT_FOUND, Json(json!({ "detail": format!("Job {job_id} not found") }))).into_response();
    };
    if Instant::now() < *done_at {
        return Json(json!({ "job_id": job_id, "status": "running" })).into_response();
    }
    Json(json!({
        "job_id": job_id,
        "status": "completed",
        "outputs": answer["outputs"],
        "execution_time_ms": answer["execution_time_ms"],
        "error": null,
    }))
    .into_response()
}
