//! What the router and the background tasks share: the services, built once at start.

use crate::access::{AccessControl, RequestGuard};
use crate::events::EventBus;
use crate::health::MonitorHandle;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::runs::Runs;
use app::services::Services;
use axum::extract::FromRef;
use std::sync::Arc;

/// One reference-counted pointer: axum clones the state into every request's handler
/// service, and cloning the fields (some 25 reference counts, shared by both cores' workers,
/// so their cache lines bounced) showed in the profile of a heartbeat. With this and the
/// request counter taking only `Metrics`, the heartbeat bench went from ~18,000 to
/// 35,000–40,000 heartbeats/s.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub registry: Registry,
    pub runs: Runs,
    pub guard: Arc<RequestGuard>,
    pub access: AccessControl,
    pub bus: EventBus,
    pub metrics: Metrics,
    pub monitor: MonitorHandle,
    /// `--trusted-proxy` (the `Client` extractor).
    pub trusted: Arc<crate::http::client::TrustedProxies>,
    /// Finding agents on request (`POST /discover`).
    pub discovery: crate::discovery::Discovery,
    /// `--agents-file`, and how it was last applied (`GET /status`).
    pub agents_file: Option<crate::registry::declared::AgentsFile>,
    /// When this process started (`GET /status`).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The dashboards sharing the database (`GET /status`).
    pub cluster: crate::cluster::Cluster,
}

impl AppState {
    /// The services as the Leptos app receives them (server functions).
    pub fn services(&self) -> Services {
        Services {
            agents: Arc::new(self.registry.clone()),
            runs: Arc::new(self.runs.clone()),
            access: Arc::new(self.access.clone()),
            discovery: Arc::new(self.discovery.clone()),
        }
    }
}

impl FromRef<AppState> for Registry {
    fn from_ref(state: &AppState) -> Self {
        state.registry.clone()
    }
}

impl FromRef<AppState> for Runs {
    fn from_ref(state: &AppState) -> Self {
        state.runs.clone()
    }
}

impl FromRef<AppState> for Arc<RequestGuard> {
    fn from_ref(state: &AppState) -> Self {
        state.guard.clone()
    }
}

impl FromRef<AppState> for AccessControl {
    fn from_ref(state: &AppState) -> Self {
        state.access.clone()
    }
}

impl FromRef<AppState> for Arc<crate::http::client::TrustedProxies> {
    fn from_ref(state: &AppState) -> Self {
        state.trusted.clone()
    }
}
