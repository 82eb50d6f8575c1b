//! Builds the dashboard: database, services, health monitor and routes, bound to a
//! listener (port 0 in tests), then serves until shut down.

use crate::access::RequestGuard;
use crate::agent_client::{AgentClient, ClientLimits, Guard, Lookup, NetworkPolicy, SystemLookup};
use crate::cli::UiSettings;
use crate::events::EventBus;
use crate::health::{HealthMonitor, MonitorHandle, MonitorSettings};
use crate::http::guard;
use crate::metrics::Metrics;
use crate::registry::{PreservationSettings, Registry, RegistrySettings};
use crate::runs::{Dispatcher, RunSettings, Runs};
use crate::state::{AppState, Shared};
use crate::tasks::{self, Tasks};
use crate::{db, http, StartError};
use app::{shell, App};
use axum::extract::DefaultBodyLimit;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
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
}

impl Application {
    pub async fn build(settings: UiSettings) -> Result<Self, StartError> {
        Self::build_with_lookup(settings, Arc::new(SystemLookup)).await
    }

    /// As `build`, with host names looked up by `lookup` (tests: no real DNS, answers
    /// that change).
    pub async fn build_with_lookup(settings: UiSettings, lookup: Arc<dyn Lookup>) -> Result<Self, StartError> {
        if !settings.host.is_loopback() {
            return Err(format!(
                "refusing to listen on {}: the dashboard has no access control yet, so it only \
                 listens on loopback (e.g. --host 127.0.0.1); reach it remotely through an SSH \
                 tunnel or an authenticating reverse proxy",
                settings.host
            )
            .into());
        }
        let database = db::connect(&settings.database_url).await?;
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
        let metrics = Metrics::new();
        let monitor_settings = MonitorSettings {
            interval: settings.health_interval,
            unhealthy_after: settings.unhealthy_after,
            max_in_flight: settings.health_concurrency.into(),
            rollup_bucket: settings.latency_bucket,
            rollup_retention: settings.latency_retention,
            refresh_every: settings.health_refresh,
        };
        let (monitor, monitor_handle) =
            HealthMonitor::new(database.clone(), client.clone(), bus.clone(), metrics.clone(), monitor_settings);
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
        );
        // Before serving: a heartbeat must find every agent in the book.
        registry.load_liveness().await?;
        let run_settings = RunSettings {
            run_timeout: settings.run_timeout,
            max_inputs_bytes: settings.max_run_inputs,
            per_agent_concurrency: settings.run_concurrency as usize,
            ..RunSettings::default()
        };
        let dispatcher = Dispatcher::new(database.clone(), client.clone(), bus.clone(), run_settings);
        // Before serving: what the last start left is settled first.
        dispatcher.recover().await?;
        let runs = Runs::new(database.clone(), bus.clone(), registry.clone(), dispatcher.clone(), run_settings);

        let mut tasks = Tasks::default();
        tasks.add("run dispatcher", move |mut shutdown| async move {
            let _ = shutdown.changed().await;
            dispatcher.abort_all();
        });
        tasks.add("health monitor", move |shutdown| monitor.run(shutdown));
        {
            let registry = registry.clone();
            tasks.add("agent liveness", move |shutdown| registry.run_liveness(shutdown));
        }
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
        if let Some(retention) = settings.run_retention {
            let runs = runs.clone();
            tasks.add_retention("run retention", "--run-retention", tasks::retention_tick(retention), move || {
                let runs = runs.clone();
                async move { runs.purge_older_than(retention).await }
            });
        }

        let addr = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e} (is another dashboard running? try --port)"))?;
        let mut options = leptos_options(&settings)?;
        options.site_addr = listener.local_addr()?;

        let state = AppState::new(Shared {
            registry,
            runs,
            guard: Arc::new(RequestGuard::new(&settings.allowed_hosts)),
            bus: bus.clone(),
            metrics,
            monitor: monitor_handle.clone(),
        });
        let router = routes(options, state, settings.max_run_inputs + BODY_ALLOWANCE);
        Ok(Self { listener, router, tasks, monitor: monitor_handle, bus })
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
        // Connect info: a self-registering agent's address is where its request came from.
        let app = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        running.stop().await;
        result
    }
}

fn routes(options: LeptosOptions, state: AppState, max_body: usize) -> Router {
    let services = state.services();
    let context = move || provide_context(services.clone());
    let leptos_routes = generate_route_list(App);
    let site = Router::new()
        .leptos_routes_with_context(&options, leptos_routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context(context, shell))
        .with_state(options);
    http::api_router(state.clone())
        .merge(site)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), http::count_requests))
        .layer(axum::middleware::from_fn_with_state(state.guard.clone(), guard::check))
        // Only bodies over 1 KiB: the old agents' HTTP library asks for gzip, and gzipping
        // a 60-byte heartbeat answer cost about as much as the rest of the request (~260
        // vs ~140 µs of CPU a heartbeat, fleet bench scenario 5) to save nothing.
        .layer(CompressionLayer::new().compress_when(http::compressible()))
        // Failures worth an ERROR are logged where they happen (with their cause); a 502
        // for a refused registration is an answer, not a server failure.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)))
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
pub async fn serve(settings: UiSettings) -> Result<(), StartError> {
    raise_open_files_limit();
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
