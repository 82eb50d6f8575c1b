//! Enum columns read back (`agents.health_state`, `agents.source`, `runs.status`,
//! `health_events.state`): each stored text is parsed here, in one place per column. A
//! value this dashboard does not know (a hand edit, a newer version's row) is reported
//! with the row it came from, and the caller shows it for what it is rather than failing
//! a whole list or quietly passing it off as a known one.
//!
//! Why not SeaORM's `DeriveActiveEnum`: it fails the whole query on one unknown value,
//! so one odd row would make the agent list or the history answer 500.

use app::model::{AgentSource, Expiry, HealthState, RunStatus};

/// A stored value that is none of the column's known ones, in words for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Unrecognised(pub String);

fn unknown<T>(table: &str, column: &str, key: &str, raw: &str) -> Result<T, Unrecognised> {
    tracing::warn!(table, column, key, value = raw, "a stored value this dashboard does not know");
    Err(Unrecognised(format!("the stored {column} {raw:?} is not one this dashboard knows")))
}

/// `agents.health_state` (or `health_events.state`) of the row with `key`.
pub fn health_state(table: &str, key: &str, raw: &str) -> Result<HealthState, Unrecognised> {
    HealthState::parse(raw).map_or_else(|| unknown(table, "health state", key, raw), Ok)
}

pub fn source(agent_id: &str, raw: &str) -> Result<AgentSource, Unrecognised> {
    AgentSource::parse(raw).map_or_else(|| unknown("agents", "source", agent_id, raw), Ok)
}

pub fn run_status(run_id: &str, raw: &str) -> Result<RunStatus, Unrecognised> {
    RunStatus::parse(raw).map_or_else(|| unknown("runs", "status", run_id, raw), Ok)
}

pub fn expiry(agent_id: &str, raw: &str) -> Result<Expiry, Unrecognised> {
    Expiry::parse(raw).map_or_else(|| unknown("agents", "expiry reason", agent_id, raw), Ok)
}
