//! Acting on many agents at once (the list's bulk re-check and remove).

use serde::{Deserialize, Serialize};

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
