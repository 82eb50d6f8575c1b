//! Agents as the API and the page see them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How an agent came to be known.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentSource {
    Manual,
    SelfRegistered,
    /// Added from a discovery a person ran (`POST /discover/add`).
    Discovered,
    /// Declared in the dashboard's agents file (`ui --agents-file`), which owns it.
    Declared,
}

impl AgentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::SelfRegistered => "self_registered",
            Self::Discovered => "discovered",
            Self::Declared => "declared",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "manual" => Some(Self::Manual),
            "self_registered" => Some(Self::SelfRegistered),
            "discovered" => Some(Self::Discovered),
            "declared" => Some(Self::Declared),
            _ => None,
        }
    }
}

/// The probed health of an agent, as the dashboard last saw it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

/// An agent as a picker offers it: its ID (the value) and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentChoice {
    pub agent_id: String,
    pub agent_name: String,
}

/// Most agents one bulk action names: a page of the list is 50; a script may send more,
/// and a thousand keeps one request's work (one transaction per removal) bounded.
pub const BULK_MAX: usize = 1000;

/// Agents named for one action at once (the list's bulk re-check and remove).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentIds {
    /// At most `BULK_MAX` IDs; a repeated one counts once.
    pub agent_ids: Vec<String>,
}

/// One agent a bulk action left alone, and why.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub agent_id: String,
    pub reason: String,
}

/// What a bulk re-check started: the agents being checked now (each result arrives as
/// any check's does, on the event stream and in the list), and those that cannot be.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checking {
    pub checking: Vec<String>,
    /// Not registered, or expired (an expired agent is checked again once it heartbeats).
    pub skipped: Vec<Skipped>,
}

/// What a bulk removal did, agent by agent: each removal is its own transaction, so one
/// that fails leaves the others done.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// Deleted now, with their health history (their runs stay in the history).
    pub removed: Vec<String>,
    /// Not registered when asked: removed already, by someone else or by expiry.
    pub already_gone: Vec<String>,
    /// Could not be removed (the database refused): still registered.
    pub failed: Vec<Skipped>,
}

/// An agent as the API and the page show it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentView {
    pub agent_id: String,
    pub agent_name: String,
    /// The whole base URL: scheme, host, port and any path prefix.
    pub agent_url: String,
    pub source: AgentSource,
    /// Always a JSON object; plain text arrives as `{"description": text}`.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub metadata: Map<String, Value>,
    /// RFC 3339, UTC.
    pub registered_at: String,
    pub updated_at: String,
    pub health: HealthView,
    /// The host and port of `agent_url` (what the old registry's clients send and read).
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: u16,
    /// Seconds without a heartbeat after which a self-registered agent expires; None for
    /// agents nobody heartbeats for.
    #[serde(default)]
    pub ttl_seconds: Option<u32>,
    /// RFC 3339, UTC; None until the agent has sent one (a registration counts).
    #[serde(default)]
    pub last_heartbeat: Option<String>,
    /// Whether it counts as up, one rule for every list and count: a self-registered agent
    /// while it has not expired; any other while its health is `healthy` or `failing`.
    #[serde(default)]
    pub is_alive: bool,
    /// A self-registered agent whose heartbeats stopped, or that deregistered. It stays
    /// listed (with its history) and is not checked until it registers or heartbeats again.
    #[serde(default)]
    pub expired: bool,
    /// When, and why (`Expiry`), it stopped counting as alive.
    #[serde(default)]
    pub expired_at: Option<String>,
    #[serde(default)]
    pub expiry: Option<Expiry>,
    /// Set when the address the agent sent could not be used as it was and the dashboard
    /// chose another (a container's host name it cannot resolve, `0.0.0.0`).
    #[serde(default)]
    pub address_note: Option<String>,
}

/// An agent as the orchestrator's list shows it: what a row needs and no more (the page
/// carries a page of them in its HTML, and `GET /overview` a page of them as JSON; the
/// whole agent is `AgentView`, from `GET /agents/{id}`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedAgent {
    pub agent_id: String,
    pub agent_name: String,
    pub agent_url: String,
    /// Its metadata's `description`, when that is text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub health: HealthView,
    /// RFC 3339, UTC; a self-registered agent's last heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<String>,
    /// Why it expired, when it has (it is then shown expired, not with its health).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired: Option<Expiry>,
}

impl From<&AgentView> for ListedAgent {
    fn from(agent: &AgentView) -> Self {
        Self {
            agent_id: agent.agent_id.clone(),
            agent_name: agent.agent_name.clone(),
            agent_url: agent.agent_url.clone(),
            description: agent.description().map(str::to_owned),
            health: agent.health.clone(),
            last_heartbeat: agent.last_heartbeat.clone(),
            expired: agent.expired.then_some(agent.expiry.unwrap_or(Expiry::Ttl)),
        }
    }
}

/// Why a self-registered agent stopped counting as alive.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expiry {
    /// No heartbeat within its TTL.
    Ttl,
    /// It said goodbye (`DELETE /agents/{id}` at its shutdown).
    Deregistered,
}

impl Expiry {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ttl => "ttl",
            Self::Deregistered => "deregistered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ttl" => Some(Self::Ttl),
            "deregistered" => Some(Self::Deregistered),
            _ => None,
        }
    }
}

impl AgentView {
    pub fn description(&self) -> Option<&str> {
        self.metadata.get("description").and_then(Value::as_str)
    }
}

/// A registration request, from the form or the API. `metadata` is what the caller sent:
/// an object, text (kept as a description, or parsed when it holds a JSON object), or null.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    /// Headers sent with every call to this agent at this URL (an `Authorization` for a
    /// gateway), never shown again. Absent: those already set for this URL are kept;
    /// `{}` clears them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_headers: Option<OutboundHeaders>,
}

/// Header names and values to send to an agent. `Debug` prints the names only: the values
/// are credentials.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutboundHeaders(pub std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for OutboundHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// What a registration did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub agent: AgentView,
    /// True when the ID was new, false when an existing agent was updated.
    pub created: bool,
}

/// Filters for listing agents.
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentQuery {
    pub q: Option<String>,
    /// Only agents in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AgentState>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// False: only agents alive (`AgentView::is_alive`). True or absent: every agent (the
    /// old registry's default was false; our list shows everything).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_bool")]
    pub include_dead: Option<bool>,
}

/// A flag in a query string as scripts write it: `true`/`false` in any case (Python's
/// `requests` sends `True`), `1`/`0`, `yes`/`no`.
pub fn lenient_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    let raw = match Option::<Flag>::deserialize(deserializer)? {
        None => None,
        Some(Flag::Bool(b)) => return Ok(Some(b)),
        Some(Flag::Text(text)) => Some(text),
    };
    match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(None),
        Some("true" | "1" | "yes" | "on") => Ok(Some(true)),
        Some("false" | "0" | "no" | "off") => Ok(Some(false)),
        Some(other) => Err(serde::de::Error::custom(format!("{other:?} is not true or false"))),
    }
}

/// What a list can be filtered by: a health state (of agents not expired), or expired.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Healthy,
    Failing,
    Unhealthy,
    Unknown,
    Expired,
}

impl AgentState {
    pub const ALL: [AgentState; 5] = [Self::Healthy, Self::Failing, Self::Unhealthy, Self::Unknown, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            other => other.health().map_or("expired", HealthState::as_str),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "expired" => Some(Self::Expired),
            other => HealthState::parse(other).map(Self::from),
        }
    }

    /// The health state it filters by; None for `Expired`.
    pub fn health(self) -> Option<HealthState> {
        match self {
            Self::Healthy => Some(HealthState::Healthy),
            Self::Failing => Some(HealthState::Failing),
            Self::Unhealthy => Some(HealthState::Unhealthy),
            Self::Unknown => Some(HealthState::Unknown),
            Self::Expired => None,
        }
    }
}

impl From<HealthState> for AgentState {
    fn from(state: HealthState) -> Self {
        match state {
            HealthState::Healthy => Self::Healthy,
            HealthState::Failing => Self::Failing,
            HealthState::Unhealthy => Self::Unhealthy,
            HealthState::Unknown => Self::Unknown,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentPage {
    pub agents: Vec<AgentView>,
    pub total: u64,
}

/// How many agents are in each state (the page's summary). An expired agent is counted
/// as expired only, not by the health it had when it was last checked.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSummary {
    pub healthy: u64,
    pub failing: u64,
    pub unhealthy: u64,
    pub unknown: u64,
    #[serde(default)]
    pub expired: u64,
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
        self.healthy + self.failing + self.unhealthy + self.unknown + self.expired
    }

    /// The count shown for a filter.
    pub fn of(&self, state: AgentState) -> u64 {
        state.health().map_or(self.expired, |h| self.get(h))
    }
}

/// The orchestrator page's view: one page of agents, the counts by state of all of them,
/// and the last day's uptime bar of each agent on the page.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentOverview {
    pub agents: Vec<ListedAgent>,
    /// Agents matching the query (all pages).
    pub total: u64,
    /// Every agent, whatever the query.
    pub summary: HealthSummary,
    /// The counts' version (see `events::AgentHealth::summary_version`); 0 when they were
    /// counted in the database (the monitor had not started yet).
    #[serde(default)]
    pub summary_version: u64,
    pub bars: Vec<super::UptimeBar>,
    /// Whether expiry is paused (see `SelfPreservation`).
    #[serde(default)]
    pub self_preservation: SelfPreservation,
    /// The dashboards sharing the database when there are several (empty with one).
    #[serde(default)]
    pub nodes: Vec<super::NodeStatus>,
}

/// Self-preservation: expiry pauses while many self-registered agents are silent at once
/// (the dashboard's network is the likelier fault than all of them together).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SelfPreservation {
    pub active: bool,
    /// RFC 3339, UTC: when the pause began.
    pub since: Option<String>,
    /// Self-registered agents without a heartbeat for half their TTL, of `alive`.
    pub silent: u64,
    pub alive: u64,
}
