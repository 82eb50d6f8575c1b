//! Agents as the API and the page see them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod bulk;
mod health;
mod listing;

pub use bulk::*;
pub use health::*;
pub use listing::*;

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

/// An agent as a picker offers it: its ID (the value) and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentChoice {
    pub agent_id: String,
    pub agent_name: String,
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
