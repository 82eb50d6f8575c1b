//! Listing agents: the filters, a page, the counts by state and the orchestrator page's view.

use super::{AgentView, HealthState, ListedAgent};
use crate::model::{NodeStatus, UptimeBar};
use serde::{Deserialize, Serialize};

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
    pub bars: Vec<UptimeBar>,
    /// Whether expiry is paused (see `SelfPreservation`).
    #[serde(default)]
    pub self_preservation: SelfPreservation,
    /// The dashboards sharing the database when there are several (empty with one).
    #[serde(default)]
    pub nodes: Vec<NodeStatus>,
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
