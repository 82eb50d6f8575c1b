//! `GET /status`: the dashboard at a glance (the command line's `status`).

use super::{HealthSummary, RunStatus, SelfPreservation};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardStatus {
    /// The dashboard's version (`configurable-agents --version`).
    pub version: String,
    /// RFC 3339, UTC: when this dashboard process started.
    pub started_at: String,
    /// Every agent by state (an expired agent counts as expired only).
    pub agents: HealthSummary,
    /// Every recorded run by status.
    pub runs: RunCounts,
    pub self_preservation: SelfPreservation,
    /// Event streams open on this dashboard now.
    pub event_stream_clients: u64,
    /// Whether requests need a token or a sign-in.
    pub access_control: bool,
    /// The agents file (`ui --agents-file`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_file: Option<AgentsFileStatus>,
    /// The dashboards sharing the database (several on one PostgreSQL; one on SQLite):
    /// this one first, then the live ones, then those gone within the last hour.
    #[serde(default)]
    pub nodes: Vec<NodeStatus>,
}

/// One dashboard sharing the database.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub node_id: String,
    /// `--node-address`: this machine's name and port unless set.
    pub address: String,
    pub version: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC: when it last renewed its row.
    pub seen_at: String,
    /// Renewed within `--node-timeout`: it checks its share of agents.
    pub live: bool,
    /// The dashboard that answered.
    pub this: bool,
    /// Agents it checks, as it last said.
    pub agents_checked: u64,
}

/// How the agents file was last applied.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentsFileStatus {
    pub path: String,
    /// RFC 3339, UTC: when its current contents were applied; None before the first time.
    pub applied_at: Option<String>,
    /// Agents it declares, as last applied.
    pub agents: u64,
    /// Why its latest contents were not applied (they changed nothing): the file, the
    /// line, the field.
    pub error: Option<String>,
    /// Entries left out because their ID is registered otherwise (by hand, by itself, from
    /// a discovery).
    #[serde(default)]
    pub conflicts: Vec<String>,
}

/// Runs by status.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub queued: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    pub interrupted: u64,
}

impl RunCounts {
    pub fn get(&self, status: RunStatus) -> u64 {
        let mut counts = *self;
        *counts.slot(status)
    }

    pub fn set(&mut self, status: RunStatus, n: u64) {
        *self.slot(status) = n;
    }

    pub fn total(&self) -> u64 {
        RunStatus::ALL.iter().map(|s| self.get(*s)).sum()
    }

    fn slot(&mut self, status: RunStatus) -> &mut u64 {
        match status {
            RunStatus::Queued => &mut self.queued,
            RunStatus::Running => &mut self.running,
            RunStatus::Succeeded => &mut self.succeeded,
            RunStatus::Failed => &mut self.failed,
            RunStatus::Cancelled => &mut self.cancelled,
            RunStatus::TimedOut => &mut self.timed_out,
            RunStatus::Interrupted => &mut self.interrupted,
        }
    }
}
