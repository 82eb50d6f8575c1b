//! The health read model: what the pages and the API show of an agent's past, its uptime
//! bars, state changes and latency, computed from `health_events` and the latency rollups.
//! Uptime has one definition (`app::model::UptimeSegment::uptime`) and is computed here
//! only, so the list, the agent page and the API always agree.

use super::store::{self, merge_open_bucket};
use super::{HealthPolicy, MonitorHandle};
use crate::db::Db;
use crate::entities::health_events;
use crate::error::ServiceError;
use crate::time::timestamp;
use app::model::{
    uptime_segments, HealthChange, HealthHistory, HealthState, LatencyBucket, UptimeBar, UptimeSegment, BAR_HOURS,
};
use chrono::{DateTime, Utc};

/// The longest health history one call returns (the latency buckets' default retention).
pub const MAX_HISTORY_HOURS: u32 = 168;

#[derive(Clone)]
pub struct HealthReader {
    db: Db,
    monitor: MonitorHandle,
    policy: HealthPolicy,
}

impl HealthReader {
    pub fn new(db: Db, monitor: MonitorHandle, policy: HealthPolicy) -> Self {
        Self { db, monitor, policy }
    }

    /// Each agent's bar for the last `BAR_HOURS`, one segment an hour, in the given order:
    /// two reads for the whole page (callers pass one page of agents).
    pub async fn bars(&self, agent_ids: &[&str], to: DateTime<Utc>) -> Result<Vec<UptimeBar>, ServiceError> {
        let from = to - chrono::Duration::hours(i64::from(BAR_HOURS));
        let (mut before, mut within) = store::transitions_of(self.db.read(), agent_ids, from).await?;
        Ok(agent_ids
            .iter()
            .map(|&agent_id| {
                let within = within.remove(agent_id).unwrap_or_default();
                let segments = segments_of(before.remove(agent_id).as_ref(), &within, from, to, BAR_HOURS as usize);
                UptimeBar::new(agent_id.to_owned(), &segments)
            })
            .collect())
    }

    /// State changes, latency buckets and uptime over the last `hours` (1–168) of an agent
    /// the caller knows exists.
    pub async fn history(&self, agent_id: &str, hours: u32) -> Result<HealthHistory, ServiceError> {
        if !(1..=MAX_HISTORY_HOURS).contains(&hours) {
            return Err(ServiceError::invalid_field(
                "hours",
                format!("hours must be between 1 and {MAX_HISTORY_HOURS}"),
            ));
        }
        let db = self.db.read();
        let to = Utc::now();
        let from = to - chrono::Duration::hours(i64::from(hours));
        // One segment per half hour up to a day, per 6 hours beyond.
        let n = if hours <= 24 { hours as usize * 2 } else { (hours as usize).div_ceil(6) };
        let (segments, before, within) = self.segments(agent_id, from, to, n).await?;
        let mut rollups = store::rollups(db, agent_id, from).await?;
        if let Some(open) = self.monitor.open_bucket(agent_id).await {
            merge_open_bucket(&mut rollups, open);
        }
        let change =
            |e: health_events::Model| HealthChange { state: state_of(&e), reason: e.reason, at: timestamp(e.at) };
        Ok(HealthHistory {
            agent_id: agent_id.to_owned(),
            bucket_seconds: self.policy.rollup_bucket.as_secs().max(1),
            from: timestamp(from),
            to: timestamp(to),
            initial: before.map(change),
            changes: within.into_iter().map(change).collect(),
            latency: rollups
                .into_iter()
                .map(|r| LatencyBucket {
                    start: timestamp(r.bucket_start),
                    probes: r.probes.max(0) as u32,
                    failures: r.failures.max(0) as u32,
                    min_ms: r.min_ms.map(|v| v.max(0) as u64),
                    max_ms: r.max_ms.map(|v| v.max(0) as u64),
                    mean_ms: {
                        let passed = (r.probes - r.failures).max(0);
                        (passed > 0).then(|| r.sum_ms as f64 / passed as f64)
                    },
                })
                .collect(),
            uptime: UptimeSegment::total(&segments).uptime(),
            segments,
        })
    }

    /// `[from, to)` in `n` segments, with the changes they came from.
    async fn segments(
        &self,
        agent_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
    ) -> Result<(Vec<UptimeSegment>, Option<health_events::Model>, Vec<health_events::Model>), ServiceError> {
        let (before, within) = store::transitions(self.db.read(), agent_id, from).await?;
        let segments = segments_of(before.as_ref(), &within, from, to, n);
        Ok((segments, before, within))
    }
}

/// `[from, to)` in `n` segments, from the last change before `from` and those after.
fn segments_of(
    before: Option<&health_events::Model>,
    within: &[health_events::Model],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    n: usize,
) -> Vec<UptimeSegment> {
    // Before the first check the agent was not observed (unknown), not down.
    let start = before.map_or(HealthState::Unknown, state_of);
    let steps: Vec<(i64, HealthState)> = within.iter().map(|e| (e.at.timestamp_millis(), state_of(e))).collect();
    uptime_segments(start, &steps, from.timestamp_millis(), to.timestamp_millis(), n)
}

/// An unknown stored state (reported) counts as not observed.
fn state_of(event: &health_events::Model) -> HealthState {
    crate::entities::stored::health_state("health_events", &event.id.to_string(), &event.state)
        .unwrap_or(HealthState::Unknown)
}
