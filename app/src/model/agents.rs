//! Agents as the API and the page see them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How an agent came to be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentSource {
    Manual,
    SelfRegistered,
    Discovered,
}

impl AgentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::SelfRegistered => "self_registered",
            Self::Discovered => "discovered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "manual" => Some(Self::Manual),
            "self_registered" => Some(Self::SelfRegistered),
            "discovered" => Some(Self::Discovered),
            _ => None,
        }
    }
}

/// The probed health of an agent, as the dashboard last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Healthy,
    /// Its last check failed, but fewer than `unhealthy_after` in a row: shown at once,
    /// without calling the agent down for one lost probe.
    Failing,
    /// `unhealthy_after` checks in a row failed.
    Unhealthy,
    /// Never checked yet.
    Unknown,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Failing => "failing",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "healthy" => Some(Self::Healthy),
            "failing" => Some(Self::Failing),
            "unhealthy" => Some(Self::Unhealthy),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }

    /// The state after a check: healthy when it passed; otherwise failing until
    /// `unhealthy_after` checks in a row have failed (`failures` counts this one).
    pub fn after_check(passed: bool, failures: u32, unhealthy_after: u32) -> Self {
        if passed {
            Self::Healthy
        } else if failures >= unhealthy_after.max(1) {
            Self::Unhealthy
        } else {
            Self::Failing
        }
    }

    pub const ALL: [HealthState; 4] = [Self::Healthy, Self::Failing, Self::Unhealthy, Self::Unknown];
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthView {
    pub state: HealthState,
    /// Why it is unhealthy ("connection refused", "HTTP 503 Service Unavailable", …).
    pub reason: Option<String>,
    pub latency_ms: Option<u64>,
    /// RFC 3339, UTC.
    pub checked_at: Option<String>,
    pub consecutive_failures: u32,
    /// Failed checks in a row that make it unhealthy (the dashboard's setting), for
    /// "failing (1 of 2)".
    #[serde(default = "default_unhealthy_after")]
    pub unhealthy_after: u32,
    /// Seconds between checks of this agent.
    #[serde(default)]
    pub interval_seconds: f64,
}

fn default_unhealthy_after() -> u32 {
    2
}

impl HealthView {
    /// "failing (1 of 2)", "healthy", "not checked yet".
    pub fn label(&self) -> String {
        match self.state {
            HealthState::Failing => format!("failing ({} of {})", self.consecutive_failures, self.unhealthy_after),
            HealthState::Unknown => "not checked yet".into(),
            other => other.as_str().into(),
        }
    }
}

/// An agent as the API and the page show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentView {
    pub agent_id: String,
    pub agent_name: String,
    /// The whole base URL: scheme, host, port and any path prefix.
    pub agent_url: String,
    pub source: AgentSource,
    /// Always a JSON object; plain text arrives as `{"description": text}`.
    pub metadata: Map<String, Value>,
    /// RFC 3339, UTC.
    pub registered_at: String,
    pub updated_at: String,
    pub health: HealthView,
}

impl AgentView {
    pub fn description(&self) -> Option<&str> {
        self.metadata.get("description").and_then(Value::as_str)
    }
}

/// A registration request, from the form or the API. `metadata` is what the caller sent:
/// an object, text (kept as a description, or parsed when it holds a JSON object), or null.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisterAgent {
    pub agent_id: String,
    pub agent_name: String,
    pub agent_url: String,
    #[serde(default)]
    pub metadata: Value,
    /// Store the agent even when its health check fails (as unhealthy, with the reason).
    #[serde(default)]
    pub force: bool,
    /// Replace the agent that already has this ID when its URL or name differ; without
    /// it such a registration is refused (409), so no agent is replaced by accident.
    #[serde(default)]
    pub replace: bool,
    /// Seconds between health checks of this agent; the dashboard's interval when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_interval: Option<f64>,
}

/// What a registration did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub agent: AgentView,
    /// True when the ID was new, false when an existing agent was updated.
    pub created: bool,
}

/// Filters for listing agents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentQuery {
    pub q: Option<String>,
    /// Only agents in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<HealthState>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentPage {
    pub agents: Vec<AgentView>,
    pub total: u64,
}

/// How many agents are in each state (the page's summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSummary {
    pub healthy: u64,
    pub failing: u64,
    pub unhealthy: u64,
    pub unknown: u64,
}

impl HealthSummary {
    pub fn get(&self, state: HealthState) -> u64 {
        match state {
            HealthState::Healthy => self.healthy,
            HealthState::Failing => self.failing,
            HealthState::Unhealthy => self.unhealthy,
            HealthState::Unknown => self.unknown,
        }
    }

    fn slot(&mut self, state: HealthState) -> &mut u64 {
        match state {
            HealthState::Healthy => &mut self.healthy,
            HealthState::Failing => &mut self.failing,
            HealthState::Unhealthy => &mut self.unhealthy,
            HealthState::Unknown => &mut self.unknown,
        }
    }

    pub fn add(&mut self, state: HealthState, n: u64) {
        *self.slot(state) += n;
    }

    pub fn total(&self) -> u64 {
        self.healthy + self.failing + self.unhealthy + self.unknown
    }
}

/// The orchestrator page's view: one page of agents, the counts by state of all of them,
/// and the last day's uptime bar of each agent on the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentOverview {
    pub agents: Vec<AgentView>,
    /// Agents matching the query (all pages).
    pub total: u64,
    /// Every agent, whatever the query.
    pub summary: HealthSummary,
    /// The counts' version (see `events::AgentHealth::summary_version`); 0 when they were
    /// counted in the database (the monitor had not started yet).
    #[serde(default)]
    pub summary_version: u64,
    pub bars: Vec<super::UptimeBar>,
}
