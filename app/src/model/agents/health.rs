//! An agent's health as the dashboard last saw it.

use serde::{Deserialize, Serialize};

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
