//! The first view as the page carries it to the browser for hydration: the same
//! `AgentOverview`, each agent and bar written as an array of its values instead of an
//! object with its field names. The page holds 50 agents this way beside their rows,
//! inside a JavaScript string that escapes every quote: as objects that was 25.2 KB of
//! the page's 110 KB of HTML (field names ~60 % of it). The API (`GET /overview`) and the
//! server function keep the named form.
//!
//! Every struct is taken apart whole (no `..`), so a field added to one of them fails to
//! compile here until it is carried too.

use crate::model::{AgentOverview, Expiry, HealthState, HealthView, ListedAgent, UptimeBar};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `AgentOverview`, serialized compactly (see above).
#[derive(Clone, Debug, PartialEq)]
pub struct Carried(pub AgentOverview);

/// An agent: ID, name, URL, description; state, reason, latency, checked at, failures in
/// a row, unhealthy after, interval; last heartbeat, expiry.
#[derive(Serialize, Deserialize)]
struct Agent(
    String,
    String,
    String,
    Option<String>,
    HealthState,
    Option<String>,
    Option<u64>,
    Option<String>,
    u32,
    u32,
    f64,
    Option<String>,
    Option<Expiry>,
);

/// A bar: agent ID, window from and to (ms), the blocks' states, uptime.
#[derive(Serialize, Deserialize)]
struct Bar(String, i64, i64, String, Option<f64>);

#[derive(Serialize, Deserialize)]
struct Wire {
    agents: Vec<Agent>,
    total: u64,
    summary: crate::model::HealthSummary,
    summary_version: u64,
    bars: Vec<Bar>,
    self_preservation: crate::model::SelfPreservation,
    nodes: Vec<crate::model::NodeStatus>,
}

impl From<&ListedAgent> for Agent {
    fn from(agent: &ListedAgent) -> Self {
        let ListedAgent { agent_id, agent_name, agent_url, description, health, last_heartbeat, expired } = agent;
        let HealthView {
            state,
            reason,
            latency_ms,
            checked_at,
            consecutive_failures,
            unhealthy_after,
            interval_seconds,
        } = health;
        Self(
            agent_id.clone(),
            agent_name.clone(),
            agent_url.clone(),
            description.clone(),
            *state,
            reason.clone(),
            *latency_ms,
            checked_at.clone(),
            *consecutive_failures,
            *unhealthy_after,
            *interval_seconds,
            last_heartbeat.clone(),
            *expired,
        )
    }
}

impl From<Agent> for ListedAgent {
    fn from(a: Agent) -> Self {
        let Agent(
            agent_id,
            agent_name,
            agent_url,
            description,
            state,
            reason,
            latency_ms,
            checked_at,
            consecutive_failures,
            unhealthy_after,
            interval_seconds,
            last_heartbeat,
            expired,
        ) = a;
        Self {
            agent_id,
            agent_name,
            agent_url,
            description,
            health: HealthView {
                state,
                reason,
                latency_ms,
                checked_at,
                consecutive_failures,
                unhealthy_after,
                interval_seconds,
            },
            last_heartbeat,
            expired,
        }
    }
}

impl Serialize for Carried {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let AgentOverview { agents, total, summary, summary_version, bars, self_preservation, nodes } = &self.0;
        Wire {
            agents: agents.iter().map(Agent::from).collect(),
            total: *total,
            summary: *summary,
            summary_version: *summary_version,
            bars: bars
                .iter()
                .map(|b| {
                    let UptimeBar { agent_id, from_ms, to_ms, states, uptime } = b;
                    Bar(agent_id.clone(), *from_ms, *to_ms, states.clone(), *uptime)
                })
                .collect(),
            self_preservation: self_preservation.clone(),
            nodes: nodes.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Carried {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Wire { agents, total, summary, summary_version, bars, self_preservation, nodes } =
            Wire::deserialize(deserializer)?;
        Ok(Self(AgentOverview {
            agents: agents.into_iter().map(ListedAgent::from).collect(),
            total,
            summary,
            summary_version,
            bars: bars
                .into_iter()
                .map(|Bar(agent_id, from_ms, to_ms, states, uptime)| UptimeBar {
                    agent_id,
                    from_ms,
                    to_ms,
                    states,
                    uptime,
                })
                .collect(),
            self_preservation,
            nodes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HealthSummary, NodeStatus, SelfPreservation};

    fn overview() -> AgentOverview {
        let agent = ListedAgent {
            agent_id: "writer".into(),
            agent_name: "Writer \"quoted\"".into(),
            agent_url: "http://127.0.0.1:8002/a".into(),
            description: Some("writes".into()),
            health: HealthView {
                state: HealthState::Failing,
                reason: Some("connection refused".into()),
                latency_ms: Some(12),
                checked_at: Some("2026-12-04T10:00:00.000Z".into()),
                consecutive_failures: 1,
                unhealthy_after: 3,
                interval_seconds: 2.5,
            },
            last_heartbeat: Some("2026-12-04T09:59:00.000Z".into()),
            expired: Some(Expiry::Deregistered),
        };
        let bare = ListedAgent {
            agent_id: "bare".into(),
            agent_name: "Bare".into(),
            agent_url: "http://127.0.0.1:8003".into(),
            description: None,
            health: HealthView {
                state: HealthState::Unknown,
                reason: None,
                latency_ms: None,
                checked_at: None,
                consecutive_failures: 0,
                unhealthy_after: 2,
                interval_seconds: 10.0,
            },
            last_heartbeat: None,
            expired: None,
        };
        AgentOverview {
            agents: vec![agent, bare],
            total: 7,
            summary: HealthSummary { healthy: 1, failing: 2, unhealthy: 3, unknown: 4, expired: 5 },
            summary_version: 42,
            bars: vec![UptimeBar {
                agent_id: "writer".into(),
                from_ms: 1,
                to_ms: 86_400_001,
                states: "hhfu".into(),
                uptime: Some(0.75),
            }],
            self_preservation: SelfPreservation {
                active: true,
                since: Some("2026-12-04T09:00:00.000Z".into()),
                silent: 3,
                alive: 4,
            },
            nodes: vec![NodeStatus {
                node_id: "n1".into(),
                address: "host:8001".into(),
                version: "1".into(),
                started_at: "2026-12-04T08:00:00.000Z".into(),
                seen_at: "2026-12-04T10:00:00.000Z".into(),
                live: true,
                this: true,
                agents_checked: 9,
            }],
        }
    }

    #[test]
    fn the_carried_view_reads_back_as_it_was_written() {
        let sent = Ok::<_, crate::error::ApiError>(Carried(overview()));
        let text = serde_json::to_string(&sent).unwrap();
        let read: Result<Carried, crate::error::ApiError> = serde_json::from_str(&text).unwrap();
        assert_eq!(read.unwrap().0, overview());
    }

    #[test]
    fn it_is_smaller_than_the_named_form() {
        let carried = serde_json::to_string(&Carried(overview())).unwrap();
        let named = serde_json::to_string(&overview()).unwrap();
        assert!(carried.len() * 10 < named.len() * 7, "{} against {} bytes", carried.len(), named.len());
    }
}
