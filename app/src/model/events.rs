//! The live event stream (`GET /api/v1/events`, Server-Sent Events): each event's name
//! and its JSON data. The server publishes them right after the commit that holds the
//! change; the page applies them to its signals.

use super::{AgentView, HealthState, HealthSummary, HealthView, RunStatus, SelfPreservation};
use serde::{Deserialize, Serialize};

/// An agent was registered or updated: the whole agent.
pub const AGENT_UPSERTED: &str = "agent.upserted";
/// An agent was removed: `{"agent_id"}`.
pub const AGENT_REMOVED: &str = "agent.removed";
/// An agent's health changed (state, reason or failure count), or, at most every
/// `REFRESH` seconds per agent, its latency and last check: `{"agent_id", "health"}`.
pub const AGENT_HEALTH: &str = "agent.health";
/// Self-preservation began or ended: `SelfPreservation`.
pub const SELF_PRESERVATION: &str = "registry.self_preservation";
/// A run was created or changed status: a summary without inputs and outputs.
pub const RUN_UPDATED: &str = "run.updated";
/// A run was deleted: `{"run_id"}`.
pub const RUN_REMOVED: &str = "run.removed";
/// The server cannot replay what this client missed (it restarted, or the client fell
/// too far behind): refetch the view. Data: `{}`.
pub const RESYNC: &str = "resync";

/// Sent every 15 s with data `{}` and no id, so that a client can tell a quiet stream
/// from a dead connection (comments, the usual keep-alive, are invisible to scripts).
pub const PING: &str = "ping";

/// Every event name a client may receive, for listeners (`PING` aside).
pub const EVENT_NAMES: [&str; 7] =
    [AGENT_UPSERTED, AGENT_REMOVED, AGENT_HEALTH, SELF_PRESERVATION, RUN_UPDATED, RUN_REMOVED, RESYNC];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentRemoved {
    pub agent_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentHealth {
    pub agent_id: String,
    pub health: HealthView,
    /// The state before this check, so a page can keep its per-state counts without
    /// asking again (absent from servers before it was added).
    #[serde(default)]
    pub previous: Option<HealthState>,
    /// Every agent's counts by state as the monitor held them when this was published,
    /// with their version: a page keeps the counts of the highest version it has seen.
    #[serde(default)]
    pub summary: Option<HealthSummary>,
    #[serde(default)]
    pub summary_version: u64,
}

/// What changed about a run (its inputs and outputs are fetched when needed: they can be
/// megabytes, and every open page would receive them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunChange {
    pub run_id: String,
    pub agent_id: String,
    pub workflow: String,
    pub status: RunStatus,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRemoved {
    pub run_id: String,
}

/// One event, typed.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveEvent {
    AgentUpserted(AgentView),
    AgentRemoved(AgentRemoved),
    AgentHealth(AgentHealth),
    SelfPreservation(SelfPreservation),
    RunUpdated(RunChange),
    RunRemoved(RunRemoved),
    Resync,
}

impl LiveEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::AgentUpserted(_) => AGENT_UPSERTED,
            Self::AgentRemoved(_) => AGENT_REMOVED,
            Self::AgentHealth(_) => AGENT_HEALTH,
            Self::SelfPreservation(_) => SELF_PRESERVATION,
            Self::RunUpdated(_) => RUN_UPDATED,
            Self::RunRemoved(_) => RUN_REMOVED,
            Self::Resync => RESYNC,
        }
    }

    /// The event's data as JSON text.
    pub fn data(&self) -> String {
        let json = match self {
            Self::AgentUpserted(a) => serde_json::to_string(a),
            Self::AgentRemoved(a) => serde_json::to_string(a),
            Self::AgentHealth(h) => serde_json::to_string(h),
            Self::SelfPreservation(p) => serde_json::to_string(p),
            Self::RunUpdated(r) => serde_json::to_string(r),
            Self::RunRemoved(r) => serde_json::to_string(r),
            Self::Resync => Ok("{}".to_owned()),
        };
        json.expect("event data always serializes: plain structs of strings and numbers")
    }

    /// Reads an event from its name and data; None for an unknown name or bad data.
    pub fn parse(name: &str, data: &str) -> Option<Self> {
        Some(match name {
            AGENT_UPSERTED => Self::AgentUpserted(serde_json::from_str(data).ok()?),
            AGENT_REMOVED => Self::AgentRemoved(serde_json::from_str(data).ok()?),
            AGENT_HEALTH => Self::AgentHealth(serde_json::from_str(data).ok()?),
            SELF_PRESERVATION => Self::SelfPreservation(serde_json::from_str(data).ok()?),
            RUN_UPDATED => Self::RunUpdated(serde_json::from_str(data).ok()?),
            RUN_REMOVED => Self::RunRemoved(serde_json::from_str(data).ok()?),
            RESYNC => Self::Resync,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_what_was_written() {
        let event = LiveEvent::RunRemoved(RunRemoved { run_id: "r1".into() });
        assert_eq!(LiveEvent::parse(event.name(), &event.data()), Some(event));
        assert_eq!(LiveEvent::parse(RESYNC, "{}"), Some(LiveEvent::Resync));
        assert_eq!(LiveEvent::parse("agent.exploded", "{}"), None);
        assert_eq!(LiveEvent::parse(AGENT_REMOVED, "{\"nope\":1}"), None);
    }
}
