//! Builds the dashboard: database, services, health monitor and routes, bound to a
//! listener (port 0 in tests), then serves until shut down.

mod serve;

use crate::access::{AccessControl, AccessSettings, RequestGuard};
use crate::agent_client::{AgentClient, ClientLimits, Guard, Lookup, NetworkPolicy, SystemLookup};
use crate::cli::UiSettings;
use crate::cluster::leader::Leadership;
use crate::cluster::relay::{Outbox, Relay};
use crate::cluster::{Cluster, ClusterSettings};
use crate::events::EventBus;
use crate::health::{HealthMonitor, MonitorHandle, MonitorSettings};
use crate::http::guard;
use crate::metrics::Metrics;
use crate::registry::declared::AgentsFile;
use crate::registry::{PreservationSettings, Registry, RegistrySettings};
use crate::runs::{Claims, Dispatcher, RunSettings, Runs};
use crate::state::{AppState, Shared};
use crate::tasks::{self, Tasks};
use crate::{db, http, StartError};
use app::{shell, App};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

/// Request bodies other than run inputs stay small; run creation may carry up to
/// `--max-run-inputs` plus room for the envelope.
const BODY_ALLOWANCE: usize = 256 * 1024;

pub struct Application {
    listener: TcpListener,
    router: Router,
    tasks: Tasks,
    monitor: MonitorHandle,
    bus: EventBus,
    /// Held until the dashboard has stopped (`db::Claim`).
    claim: Option<db::Claim>,
}

impl Application {
    pub async fn build(settings: UiSettings) -> Result<Self, StartError> {
        Self::build_with_lookup(settings, Arc::new(SystemLookup)).await
    }

    /// As `build`, with host names looked up by `lookup` (tests: no real DNS, answers
    /// that change).
    pub async fn build_with_lookup(settings: UiSettings, lookup: Arc<dyn Lookup>) -> Result<Self, StartError> {
        let started_at = chrono::Utc::now();
        // The claim first: a second dashboard on a SQLite file must not migrate it under
        // the first.
        let claim = db::claim(&settings.database_url)?;
        let database = db::connect(&settings.database_url).await?;
        let access = AccessControl::start(
            database.clone(),
            AccessSettings {
                admin_token: admin_token(&settings)?,
                open_registration: settings.open_registration,
                session_lifetime: settings.session_lifetime,
            },
        )
        .await?;
        if !settings.host.is_loopback() && !access.is_on() {
            return Err(format!(
                "refusing to listen on {} without access control: anyone who reaches it could run your agents. \
                 Create an admin token first (configurable-agents token init-admin, or --admin-token-file FILE, or \
                 CA_ADMIN_TOKEN), then every request needs a token; or listen on loopback (--host 127.0.0.1)",
                settings.host
            )
            .into());
        }
        // Bound before anything is started (after the refusal above: never bound off
        // loopback without access control): a taken port is said at once, and the
        // membership row names the port.
        let addr = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e} (is another dashboard running? try --port)"))?;
        let port = listener.local_addr()?.port();
        let cluster = Cluster::join(
            database.clone(),
            ClusterSettings {
                node_timeout: settings.node_timeout,
                address: settings.node_address.clone().unwrap_or_else(|| crate::cluster::default_address(port)),
            },
            started_at,
        )
        .await
        .map_err(|e| format!("cannot join the dashboards sharing the database: {e}"))?;
        if access.is_on() {
            tracing::info!("access control is on: every request needs a token or a sign-in");
            if access.open_registration() {
                tracing::warn!(
                    "--open-registration: agents may register, heartbeat and deregister without a token until it is \
                     turned off"
                );
            }
        }
        let policy = NetworkPolicy::new(
            settings.allow_agent_networks.clone(),
            settings.deny_agent_networks.clone(),
            settings.deny_agent_names,
        );
        let client = AgentClient::new(
            ClientLimits::new(settings.health_timeout, settings.max_run_output),
            Guard { policy: Arc::new(policy), lookup },
        )?;
        let bus = EventBus::new();
        // Several dashboards on one PostgreSQL: listening starts before the book and the
        // monitor read the agents, so no change made meanwhile is missed.
        let (relay, outbox) = if cluster.shared() {
            let url = db::normalize_url(&settings.database_url)?;
            let (relay, outbox) = Relay::start(database.clone(), &url, cluster.me(), &bus, settings.node_timeout)
                .await
                .map_err(|e| format!("cannot listen for the other dashboards' changes: {e}"))?;
            (Some(relay), outbox)
        } else {
            (None, Outbox::none())
        };
        let metrics = Metrics::new();
        let monitor_settings = MonitorSettings {
            interval: settings.health_interval,
            unhealthy_after: settings.unhealthy_after,
            max_in_flight: settings.health_concurrency.into(),
            rollup_bucket: settings.latency_bucket,
            rollup_retention: settings.latency_retention,
            refresh_every: settings.health_refresh,
        };
        let (monitor, monitor_handle) = HealthMonitor::new(
            database.clone(),
            cluster.clone(),
            client.clone(),
            bus.clone(),
            metrics.clone(),
            monitor_settings,
        );
        let registry_settings = RegistrySettings {
            schema_reuse: settings.schema_reuse,
            preservation: PreservationSettings {
                share: settings.self_preservation_share,
                min: settings.self_preservation_min,
                max: settings.self_preservation_max,
            },
        };
        let registry = Registry::new(
            database.clone(),
            client.clone(),
            bus.clone(),
            monitor_handle.clone(),
            monitor.policy(),
            metrics.clone(),
            registry_settings,
            outbox,
            cluster.clone(),
        );
        // Before serving: a heartbeat must find every agent in the book.
        registry.load_liveness().await?;
        let run_settings = RunSettings {
            run_timeout: settings.run_timeout,
            max_inputs_bytes: settings.max_run_inputs,
            per_agent_concurrency: settings.run_concurrency as usize,
            ..RunSettings::default()
        };
        let steady = {
            let cluster = cluster.clone();
            Arc::new(move || cluster.steady())
        };
        let claims = Claims { me: cluster.me(), node_timeout: settings.node_timeout, alone: !cluster.shared(), steady };
        let dispatcher = Dispatcher::new(database.clone(), client.clone(), bus.clone(), run_settings, claims);
        // Before serving: what the last start left is settled first (on PostgreSQL only
        // what no live dashboard claims).
        dispatcher.take_over().await?;
        let runs = Runs::new(database.clone(), bus.clone(), registry.clone(), dispatcher.clone(), run_settings);

        let mut tasks = Tasks::default();
        {
            let cluster = cluster.clone();
            tasks.add("membership", move |shutdown| cluster.run(shutdown));
        }
        if let Some(relay) = relay {
            let (registry, runs, bus) = (registry.clone(), runs.clone(), bus.clone());
            let members = cluster.members();
            tasks.add("relay", move |shutdown| relay.run(registry, runs, bus, members, shutdown));
        }
        if cluster.shared() {
            // The runs of a dashboard that is gone are taken over within the node timeout
            // and one fifth of it.
            let dispatcher = dispatcher.clone();
            tasks.add("run takeover", move |shutdown| {
                tasks::every(settings.node_timeout / 5, shutdown, move || {
                    let dispatcher = dispatcher.clone();
                    async move {
                        if let Err(e) = dispatcher.take_over().await {
                            tracing::warn!(error = %e, "could not look for runs of dashboards that are gone; retrying");
                        }
                    }
                })
            });
        }
        tasks.add("run dispatcher", move |mut shutdown| async move {
            let _ = shutdown.changed().await;
            dispatcher.abort_all();
        });
        tasks.add("health monitor", move |shutdown| monitor.run(shutdown));
        // One dashboard at a time decides self-preservation and runs the retention deletes.
        let leader = if cluster.shared() {
            let leader = Leadership::shared();
            let (url, every) = (db::normalize_url(&settings.database_url)?, settings.node_timeout / 5);
            let running = leader.clone();
            tasks.add("deciding lock", move |shutdown| running.run(url, every, shutdown));
            leader
        } else {
            Leadership::alone()
        };
        {
            let (registry, cluster, leader) = (registry.clone(), cluster.clone(), leader.clone());
            tasks.add("agent liveness", move |shutdown| registry.run_liveness(shutdown, cluster, leader));
        }
        tasks.retention_by(leader);
        let agents_file = match &settings.agents_file {
            Some(path) => {
                let file = AgentsFile::open(path.clone(), settings.agents_file_poll)?;
                let (registry, watched) = (registry.clone(), file.clone());
                tasks.add("agents file", move |shutdown| registry.watch_agents_file(watched, shutdown));
                Some(file)
            }
            None => None,
        };
        if let Some(retention) = settings.expired_retention {
            let registry = registry.clone();
            tasks.add_retention(
                "expired agent retention",
                "--expired-retention",
                tasks::retention_tick(retention),
                move || {
                    let registry = registry.clone();
                    async move { registry.purge_expired(retention).await }
                },
            );
        }
        {
            let db = database.clone();
            let retention = settings.latency_retention;
            tasks.add_retention("latency retention", "--latency-retention", Duration::from_secs(3600), move || {
                let db = db.clone();
                async move {
                    let before =
                        chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
                    crate::health::store::purge_rollups_before(db.write(), before).await
                }
            });
        }
        {
            // Expired sign-ins are refused already; their rows go once an hour.
            let db = database.clone();
            tasks.add_retention("session retention", "--session-lifetime", Duration::from_secs(3600), move || {
                let db = db.clone();
                async move { crate::access::tokens::purge_expired_sessions(&db, chrono::Utc::now()).await }
            });
        }
        if let Some(retention) = settings.run_retention {
            let runs = runs.clone();
            tasks.add_retention("run retention", "--run-retention", tasks::retention_tick(retention), move || {
                let runs = runs.clone();
                async move { runs.purge_older_than(retention).await }
            });
        }

        let mut options = leptos_options(&settings)?;
        options.site_addr = listener.local_addr()?;

        let access_state = Arc::new(http::access::AccessState {
            access: access.clone(),
            site_root: std::path::PathBuf::from(&*options.site_root),
            metrics: metrics.clone(),
        });
        let discovery = crate::discovery::Discovery::new(registry.clone(), client.clone());
        let state = AppState::new(Shared {
            discovery,
            registry,
            runs,
            guard: Arc::new(RequestGuard::new(&settings.allowed_hosts)),
            access,
            bus: bus.clone(),
            metrics,
            monitor: monitor_handle.clone(),
            trusted: Arc::new(http::client::TrustedProxies::new(settings.trusted_proxies.clone())),
            agents_file,
            started_at,
            cluster,
        });
        let router = routes(options, state, access_state, settings.max_run_inputs + BODY_ALLOWANCE);
        Ok(Self { listener, router, tasks, monitor: monitor_handle, bus, claim })
    }

    /// The health monitor's handle (ready, completed checks, check now).
    pub fn monitor(&self) -> MonitorHandle {
        self.monitor.clone()
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` completes; the background tasks stop with it.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let running = self.tasks.start();
        let bus = self.bus;
        // Open event streams never end by themselves; graceful shutdown waits for them.
        let shutdown = async move {
            shutdown.await;
            bus.close();
        };
        // The registry's /t/TOKEN paths lose their token before anything else sees them.
        let app = tower::Layer::layer(&axum::middleware::from_fn(http::access::token_path), self.router);
        let result = serve::serve_http1(self.listener, app, shutdown).await;
        running.stop().await;
        drop(self.claim);
        result
    }
}

/// The app's routes, listed once per process. Listing them runs the app with resource
/// loading switched off by a process-wide flag (leptos_server's `SuppressResourceLoad`);
/// a page being rendered meanwhile by another dashboard in this process (the tests start
/// many at once) has a resource first polled under that flag, and it never loads: the
/// page hangs for good (leptos#4773; seen here as a PostgreSQL page test that never
/// answered). Listed once, before any dashboard of the process serves, no render overlaps.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

fn routes(options: LeptosOptions, state: AppState, access: Arc<http::access::AccessState>, max_body: usize) -> Router {
    let services = state.services();
    let trusted = state.trusted.clone();
    let context = move || provide_context(services.clone());
    let leptos_routes = route_list();
    // The bundle as `./dev site` compressed it (brotli 11, gzip 9) when the browser takes
    // that: 20 % smaller than the compression layer's fast level; else compressed by it.
    let pkg = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let bundle = tower::ServiceBuilder::new()
        // The parts' names are not content-hashed: a browser asks again (a 304 when
        // unchanged), so a page never mixes a new main WASM with an old part.
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .layer(SetResponseHeaderLayer::appending(header::VARY, HeaderValue::from_static("accept-encoding")))
        .service(tower_http::services::ServeDir::new(pkg).precompressed_br().precompressed_gzip());
    let site = Router::new()
        .nest_service(&format!("/{}", options.site_pkg_dir), bundle)
        .leptos_routes_with_context(&options, leptos_routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context(context, shell))
        .with_state(options)
        .layer(http::compression());
    http::api_router(state.clone())
        .merge(site)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(access, http::access::check))
        .layer(axum::middleware::from_fn_with_state((state.guard.clone(), state.trusted.clone()), guard::check))
        // Every answer: no content sniffing, no referrer beyond this dashboard, not framed
        // (pages also send a Content-Security-Policy: `app::shell`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Outside the guard and access control: their 403s and 401s are counted too.
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), http::count_requests))
        // Failures worth an ERROR are logged where they happen (with their cause); a 502
        // for a refused registration is an answer, not a server failure.
        .layer(
            TraceLayer::new_for_http()
                // The fields are only formatted when DEBUG is on (not per heartbeat otherwise).
                .make_span_with(move |request: &axum::extract::Request| {
                    tracing::debug_span!(
                        "request",
                        client = http::client::of(&trusted, request.extensions(), request.headers())
                            .map(|c| tracing::field::display(c.ip)),
                        method = %request.method(),
                        uri = %request.uri()
                    )
                })
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
}

/// The admin token's text: `CA_ADMIN_TOKEN` (read into the settings) or the file.
fn admin_token(settings: &UiSettings) -> Result<Option<String>, StartError> {
    match (&settings.admin_token, &settings.admin_token_file) {
        (Some(_), Some(_)) => {
            Err("the admin token is given twice (CA_ADMIN_TOKEN and --admin-token-file): keep one".into())
        }
        (Some(token), None) => Ok(Some(token.trim().to_owned())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the admin token file {}: {e}", path.display()))?;
            let token = text.lines().next().unwrap_or_default().trim().to_owned();
            if token.is_empty() {
                return Err(format!("the admin token file {} is empty", path.display()).into());
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if std::fs::metadata(path).map(|m| m.permissions().mode() & 0o077 != 0).unwrap_or(false) {
                    tracing::warn!(path = %path.display(), "the admin token file is readable by others: chmod 600 it");
                }
            }
            Ok(Some(token))
        }
        (None, None) => Ok(None),
    }
}

/// Leptos.toml when present (LEPTOS_* variables override it), else built-in defaults;
/// `--site-root` wins over both.
fn leptos_options(settings: &UiSettings) -> Result<LeptosOptions, StartError> {
    let mut options = if settings.leptos_config.exists() {
        let path = settings.leptos_config.to_string_lossy().into_owned();
        get_configuration(Some(&path)).map_err(|e| format!("cannot read {path}: {e}"))?.leptos_options
    } else {
        LeptosOptions::builder().output_name("configurable_agents").site_root("target/site").build()
    };
    if let Some(root) = &settings.site_root {
        options.site_root = root.to_string_lossy().into_owned().into();
    }
    let wasm = std::path::Path::new(&*options.site_root)
        .join(&*options.site_pkg_dir)
        .join(format!("{}.wasm", options.output_name));
    if !wasm.exists() {
        tracing::warn!(
            path = %wasm.display(),
            "the browser bundle is missing: pages will render but not become interactive; build it with ./dev build"
        );
    }
    Ok(options)
}

/// `configurable-agents ui`: serve until Ctrl-C or SIGTERM.
pub async fn serve(mut settings: UiSettings) -> Result<(), StartError> {
    raise_open_files_limit();
    // Only from the environment: a flag would show the token to anyone running `ps`.
    settings.admin_token = std::env::var("CA_ADMIN_TOKEN").ok().filter(|t| !t.trim().is_empty());
    let database = db::redact(&db::normalize_url(&settings.database_url)?);
    let app = Application::build(settings.clone()).await?;
    tracing::info!(%database, "database ready");
    let addr = SocketAddr::new(settings.host, app.port()); // brackets an IPv6 host
    println!("configurable-agents dashboard: http://{addr}/orchestrator");
    app.run_until(shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Every open health check is a socket: raises the open-files limit as far as the system
/// allows, and says what it got.
pub fn raise_open_files_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(limit, "open-files limit");
            limit
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(0)
        }
    }
}
