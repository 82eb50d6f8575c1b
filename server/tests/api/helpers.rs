use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use server::cli::UiSettings;
use server::startup::Application;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The health-check timeout the test dashboards use (short, so "slow" tests stay fast).
pub const HEALTH_TIMEOUT: Duration = Duration::from_millis(600);

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub database_url: String,
    /// Stops the dashboard (`stop_server`, or dropped with the app).
    pub stop: Option<Stop>,
    /// The health monitor (to make agents due now, or count stored checks).
    pub monitor: server::health::MonitorHandle,
    pub _database: TestDatabase,
}

pub enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    /// Drops the test's PostgreSQL database, so runs leave nothing behind. Drop cannot be
    /// async, so it runs on a short-lived runtime of its own.
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let _ = std::thread::spawn(move || {
                use sea_orm::{ConnectionTrait, Database};
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                // Bounded: a drop that cannot get through (no connection to be had, a
                // lock held) leaves a database behind rather than a test that never ends.
                // The timer is made inside the runtime (outside, it has no clock to use).
                let dropped = runtime.block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), async {
                        if let Ok(admin) = Database::connect(&admin_url).await {
                            let _ = admin
                                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                                .await;
                        }
                    })
                    .await
                });
                if dropped.is_err() {
                    eprintln!("the test database {name} was not dropped within 30 s: left behind");
                }
            })
            .join();
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Duration::from_secs(3600)).await
}

/// A dashboard whose health monitor sweeps every `health_interval`.
pub async fn spawn_app_with(health_interval: Duration) -> TestApp {
    spawn_app_configured(|s| s.health_interval = health_interval).await
}

/// The settings a test dashboard starts with (port 0, no site, short timeouts).
pub fn test_settings(database_url: String) -> UiSettings {
    UiSettings {
        host: "127.0.0.1".parse().unwrap(),
        port: 0,
        admin_token_file: None,
        admin_token: None,
        open_registration: false,
        session_lifetime: Duration::from_secs(12 * 3600),
        database_url,
        leptos_config: "does-not-exist.toml".into(),
        site_root: None,
        health_interval: Duration::from_secs(3600),
        health_timeout: HEALTH_TIMEOUT,
        health_concurrency: 8,
        unhealthy_after: 1,
        latency_bucket: Duration::from_secs(300),
        latency_retention: Duration::from_secs(7 * 24 * 3600),
        allowed_hosts: Vec::new(),
        trusted_proxies: Vec::new(),
        // Every test dashboard may call loopback agents only, whatever a test registers.
        allow_agent_networks: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        deny_agent_networks: Vec::new(),
        deny_agent_names: false,
        run_timeout: Duration::from_secs(30),
        run_concurrency: 4,
        max_run_inputs: 1024 * 1024,
        max_run_output: 10 * 1024 * 1024,
        run_retention: None,
        schema_reuse: Duration::from_secs(5),
        health_refresh: Duration::from_secs(30),
        expired_retention: None,
        self_preservation_share: 0.5,
        self_preservation_min: 10,
        self_preservation_max: Duration::from_secs(15 * 60),
        agents_file: None,
        agents_file_poll: Duration::from_millis(200),
        node_timeout: Duration::from_secs(10),
        node_address: None,
    }
}

/// A dashboard on a fresh database, with `configure` applied to the test settings.
pub async fn spawn_app_configured(configure: impl FnOnce(&mut UiSettings)) -> TestApp {
    let (database_url, database) = test_database().await;
    let mut settings = test_settings(database_url.clone());
    configure(&mut settings);
    let (address, stop, monitor) = start_with_monitor(settings).await;
    TestApp { address, http: reqwest::Client::new(), database_url, stop: Some(stop), monitor, _database: database }
}

/// A running dashboard's off switch: the signal, and its task to wait for.
pub struct Stop {
    signal: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Stop {
    /// Stops the dashboard and waits until it has (its background tasks included).
    pub async fn now(self) {
        let _ = self.signal.send(());
        tokio::time::timeout(Duration::from_secs(20), self.done)
            .await
            .expect("the dashboard stops within 20 s")
            .expect("the dashboard's task ends without a panic")
            .expect("the dashboard stops cleanly");
    }
}

impl TestApp {
    /// Stops this dashboard and waits until it has stopped.
    pub async fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.now().await;
        }
    }
}

/// Starts a dashboard; `Stop::now` stops it (dropping it stops it too, unawaited).
pub async fn start(settings: UiSettings) -> (String, Stop) {
    let (address, stop, _) = start_with_monitor(settings).await;
    (address, stop)
}

/// The same, with the dashboard's health monitor.
pub async fn start_with_monitor(settings: UiSettings) -> (String, Stop, server::health::MonitorHandle) {
    let app = Application::build(settings).await.expect("the dashboard builds");
    let monitor = app.monitor();
    let address = format!("http://127.0.0.1:{}", app.port());
    let mut ready = app.monitor().ready();
    let (signal, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let stop = Stop { signal, done };
    tokio::time::timeout(Duration::from_secs(10), ready.wait_for(|r| *r))
        .await
        .expect("the health monitor loads the agents within 10 s")
        .expect("the health monitor runs");
    (address, stop, monitor)
}

/// Stops `app`'s dashboard, waits until it has, and starts another on the same database.
pub async fn restart(mut app: TestApp, configure: impl FnOnce(&mut UiSettings)) -> TestApp {
    app.stop_server().await;
    let mut settings = test_settings(app.database_url.clone());
    configure(&mut settings);
    let (address, stop, monitor) = start_with_monitor(settings).await;
    TestApp { address, stop: Some(stop), monitor, ..app }
}

/// A database URL for one test (temporary SQLite, or a fresh PostgreSQL database);
/// keep the guard alive as long as the database is used.
pub async fn test_database() -> (String, TestDatabase) {
    if std::env::var_os("CA_TEST_POSTGRES").is_some() {
        let admin = std::env::var("TEST_DATABASE_URL")
            .expect("CA_TEST_POSTGRES is set, so TEST_DATABASE_URL must name a PostgreSQL database");
        let (url, name) = fresh_postgres_database(&admin).await;
        (url, TestDatabase::Postgres { admin_url: admin, name })
    } else {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        (url, TestDatabase::Sqlite(dir))
    }
}

/// A new, empty database per test, so tests run in parallel without seeing each other.
async fn fresh_postgres_database(admin_url: &str) -> (String, String) {
    use sea_orm::{ConnectionTrait, Database};
    let name = format!("ca_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url).await.expect("TEST_DATABASE_URL accepts connections");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("CREATE DATABASE is allowed for the test user");
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_agent(&self, body: &Value) -> reqwest::Response {
        self.http.post(self.url("/api/v1/agents")).json(body).send().await.expect("request sent")
    }

    /// The same, as a future that owns its body (for requests sent together).
    pub async fn post_agent_owned(&self, body: Value) -> reqwest::Response {
        self.post_agent(&body).await
    }

    pub async fn list_agents(&self, query: &str) -> reqwest::Response {
        self.http.get(self.url(&format!("/api/v1/agents{query}"))).send().await.expect("request sent")
    }

    pub async fn get_agent(&self, id: &str) -> reqwest::Response {
        self.http.get(self.url(&format!("/api/v1/agents/{id}"))).send().await.expect("request sent")
    }

    pub async fn delete_agent(&self, id: &str) -> reqwest::Response {
        self.http.delete(self.url(&format!("/api/v1/agents/{id}"))).send().await.expect("request sent")
    }

    /// Registers an agent and asserts it was accepted; returns the stored agent.
    pub async fn register(&self, id: &str, url: &str) -> Value {
        let response =
            self.post_agent(&json!({ "agent_id": id, "agent_name": format!("Agent {id}"), "agent_url": url })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "registering {id} at {url}");
        response.json().await.unwrap()
    }
}

/// Serves `router` on a random loopback port; returns its base URL.
pub async fn serve(router: Router) -> String {
    serve_on("127.0.0.1", router).await
}

/// Serves `router` on a random port of `ip` (a loopback address); returns its base URL.
pub async fn serve_on(ip: &str, router: Router) -> String {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// The reference agent (`status: "alive"`).
pub async fn alive_agent() -> String {
    serve(server::test_agent::router("mock-alive")).await
}

/// An agent as the original deploy command generates it (`status: "healthy"`).
pub async fn healthy_agent() -> String {
    serve(
        Router::new().route(
            "/health",
            get(|| async { Json(json!({ "status": "healthy", "timestamp": "2026-11-21T00:00:00Z" })) }),
        ),
    )
    .await
}

pub async fn agent_answering(status: StatusCode, body: &'static str) -> String {
    serve(Router::new().route("/health", get(move || async move { (status, body) }))).await
}

/// An agent that answers /health only after `delay`.
pub async fn slow_agent(delay: Duration) -> String {
    serve(Router::new().route(
        "/health",
        get(move || async move {
            tokio::time::sleep(delay).await;
            Json(json!({ "status": "alive" }))
        }),
    ))
    .await
}

/// A URL on which nothing listens.
pub async fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// An agent whose health a test can switch: 200 `alive` when up, 503 when down.
pub async fn switchable_agent() -> (String, Arc<AtomicBool>) {
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let url = serve(Router::new().route(
        "/health",
        get(move || {
            let up = flag.load(Ordering::SeqCst);
            async move {
                if up {
                    (StatusCode::OK, Json(json!({ "status": "alive" })))
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "detail": "down" })))
                }
            }
        }),
    ))
    .await;
    (url, up)
}

/// Polls `check` until it returns Some or `within` passes.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl TestApp {
    /// `POST /agents/{id}/runs`.
    pub async fn create_run(&self, agent_id: &str, inputs: Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/v1/agents/{agent_id}/runs")))
            .json(&json!({ "inputs": inputs }))
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a run that must be accepted; returns its ID.
    pub async fn start_run(&self, agent_id: &str, inputs: Value) -> String {
        let response = self.create_run(agent_id, inputs).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "run accepted");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "queued");
        body["run_id"].as_str().unwrap().to_owned()
    }

    pub async fn get_run(&self, run_id: &str) -> Value {
        let response = self.http.get(self.url(&format!("/api/v1/runs/{run_id}"))).send().await.expect("request sent");
        assert_eq!(response.status(), StatusCode::OK, "run {run_id} exists");
        response.json().await.unwrap()
    }

    /// The run once its status is no longer queued or running (within `within`).
    pub async fn finished_run(&self, run_id: &str, within: Duration) -> Value {
        eventually(within, || async {
            let run = self.get_run(run_id).await;
            (!matches!(run["status"].as_str(), Some("queued" | "running"))).then_some(run)
        })
        .await
        .unwrap_or_else(|| panic!("run {run_id} did not finish within {within:?}"))
    }

    /// The run once its status is `status`.
    pub async fn run_in_status(&self, run_id: &str, status: &str, within: Duration) -> Value {
        eventually(within, || async {
            let run = self.get_run(run_id).await;
            (run["status"] == status).then_some(run)
        })
        .await
        .unwrap_or_else(|| panic!("run {run_id} never reached {status} within {within:?}"))
    }
}

/// The `error` object of a JSON error answer.
pub async fn error_of(response: reqwest::Response) -> Value {
    response.json::<Value>().await.expect("errors are JSON")["error"].clone()
}

/// One Server-Sent Event as a client reads it.
#[derive(Clone, Debug, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// An open `GET /api/v1/events`, read event by event (comments skipped).
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    pub async fn open(app_address: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request = reqwest::Client::new().get(format!("{app_address}/api/v1/events"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        EventStream::from_response(request.send().await.expect("the event stream opens"))
    }

    /// A stream opened some other way (e.g. `?last_event_id=`).
    pub fn from_response(response: reqwest::Response) -> EventStream {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventStream { response, buffer: String::new() }
    }

    /// True when the server ends the stream within `within` (events and pings before the
    /// end are skipped); false when it is still open then. Unlike `next` returning None,
    /// this tells an ended stream from a quiet one.
    pub async fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => return true,
            }
        }
    }

    /// The next event within `within`, or None (timeout or end of stream).
    pub async fn next(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent { event: "message".into(), ..Default::default() };
                let mut data = Vec::new();
                let mut any = false;
                for line in frame.lines() {
                    if line.starts_with(':') || line.is_empty() {
                        continue;
                    }
                    let (field, value) =
                        line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
                    match field {
                        "id" => event.id = Some(value.to_owned()),
                        "event" => event.event = value.to_owned(),
                        "data" => data.push(value.to_owned()),
                        _ => {}
                    }
                    any |= field != "retry";
                }
                if any {
                    event.data = data.join("\n");
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Skips events until one named `name` that satisfies `matches`, within `within`.
    pub async fn next_matching(
        &mut self,
        name: &str,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next(left).await?;
            if event.event == name && matches(&event.json()) {
                return Some(event);
            }
        }
    }
}
