//! What the router and the background tasks share: the services, built once at start.

use crate::access::RequestGuard;
use crate::events::EventBus;
use crate::health::MonitorHandle;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::runs::Runs;
use app::services::Services;
use axum::extract::FromRef;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    pub runs: Runs,
    pub guard: Arc<RequestGuard>,
    pub bus: EventBus,
    pub metrics: Metrics,
    pub monitor: MonitorHandle,
}

impl AppState {
    /// The services as the Leptos app receives them (server functions).
    pub fn services(&self) -> Services {
        Services { agents: Arc::new(self.registry.clone()), runs: Arc::new(self.runs.clone()) }
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
