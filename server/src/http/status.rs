//! `GET /api/v1/status`: the dashboard at a glance, for `configurable-agents status` and
//! scripts: its version, agents by state, runs by status, open event streams.

use super::error::HttpError;
use crate::state::AppState;
use app::model::{DashboardStatus, RunCounts};
use axum::extract::State;
use axum::Json;

/// The dashboard's version, every agent by state, every run by status, whether expiry is
/// paused, how many event streams are open, and the dashboards sharing the database.
#[utoipa::path(get, path = "/status", tag = "live", responses((status = 200, body = DashboardStatus)))]
pub async fn show(State(state): State<AppState>) -> Result<Json<DashboardStatus>, HttpError> {
    let (agents, self_preservation) = state.registry.summary().await?;
    let mut runs = RunCounts::default();
    for (status, n) in state.runs.counts_by_status().await.map_err(crate::error::ServiceError::from)? {
        runs.set(status, n.max(0) as u64);
    }
    Ok(Json(DashboardStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: crate::time::timestamp(state.started_at),
        agents,
        runs,
        self_preservation,
        event_stream_clients: state.bus.clients() as u64,
        access_control: state.access.is_on(),
        agents_file: state.agents_file.as_ref().map(|f| f.status()),
        nodes: state.cluster.statuses().await.map_err(crate::error::ServiceError::from)?,
    }))
}
