//! Stores check results in batches and publishes what changed, after the commit.
//!
//! A batch is flushed at most `FLUSH_WITHIN` after its first result, and at once when it
//! holds a state change (a person waits for that one); whatever arrived meanwhile goes
//! with it. 10,000 checks are a few transactions, not 10,000.

use super::store::{self, CheckWrite, RollupWrite};
use super::{Counts, HealthPolicy};
use crate::db::Db;
use crate::events::EventBus;
use app::model::events::{AgentHealth, LiveEvent};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub const FLUSH_WITHIN: Duration = Duration::from_millis(50);

/// Attempts per batch before its results are given up (the next checks write again).
const ATTEMPTS: u32 = 3;

pub enum Write {
    Check { check: CheckWrite, publish: bool, interval_ms: u64 },
    Rollup(RollupWrite),
}

impl Write {
    fn urgent(&self) -> bool {
        matches!(self, Write::Check { check, .. } if check.transition)
    }
}

pub async fn run(
    db: Db,
    bus: EventBus,
    policy: HealthPolicy,
    counts: Arc<Mutex<Counts>>,
    mut inbox: mpsc::UnboundedReceiver<Write>,
    completed: Arc<watch::Sender<u64>>,
    batches: Arc<watch::Sender<u64>>,
) {
    while let Some(first) = inbox.recv().await {
        let deadline = tokio::time::Instant::now() + FLUSH_WITHIN;
        let mut urgent = first.urgent();
        let mut batch = vec![first];
        while !urgent {
            tokio::select! {
                item = inbox.recv() => match item {
                    Some(item) => {
                        urgent = item.urgent();
                        batch.push(item);
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        while let Ok(item) = inbox.try_recv() {
            batch.push(item);
        }
        flush(&db, &bus, policy, &counts, batch, &completed).await;
        batches.send_modify(|n| *n += 1);
    }
}

async fn flush(
    db: &Db,
    bus: &EventBus,
    policy: HealthPolicy,
    counts: &Mutex<Counts>,
    batch: Vec<Write>,
    completed: &watch::Sender<u64>,
) {
    let mut checks = Vec::new();
    let mut publish = Vec::new();
    let mut rollups = Vec::new();
    for item in batch {
        match item {
            Write::Check { check, publish: p, interval_ms } => {
                checks.push(check);
                publish.push((p, interval_ms));
            }
            Write::Rollup(r) => rollups.push(r),
        }
    }
    let stored = checks.len() as u64;
    let mut attempt = 0;
    let written = loop {
        attempt += 1;
        match store::write_batch(db.write(), &checks, &rollups).await {
            Ok(written) => break written,
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, checks = checks.len(), "could not store health checks; retrying");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            Err(e) => {
                tracing::error!(error = %e, checks = checks.len(), rollups = rollups.len(), "health checks not stored; the next checks will be");
                completed.send_modify(|n| *n += checks.len() as u64);
                // Their changes were never published: open pages refetch rather than
                // keep counts that no later event would correct.
                if checks.iter().any(|c| c.transition) {
                    bus.publish(LiveEvent::Resync);
                }
                return;
            }
        }
    };
    // The counts as of this batch, for every event of it (a page keeps the newest).
    let (summary, summary_version) =
        counts.lock().expect("counts lock is never poisoned: no panics while held").summary();
    for ((check, (publish, interval_ms)), written) in checks.into_iter().zip(publish).zip(written) {
        if written && publish {
            let health = policy.view(
                check.state,
                check.reason,
                check.latency_ms,
                Some(check.checked_at),
                check.failures,
                Some(interval_ms),
            );
            let previous = Some(check.previous);
            bus.publish(LiveEvent::AgentHealth(AgentHealth {
                agent_id: check.agent_id,
                health,
                previous,
                summary: Some(summary),
                summary_version,
            }));
        }
    }
    completed.send_modify(|n| *n += stored);
}
