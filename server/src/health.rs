//! The health monitor: one per dashboard, it checks every agent concurrently (bounded,
//! through the shared pooled client, each call with its timeout) at a fixed interval, so
//! the page, the API and every browser see the same state and no browser triggers checks.

use crate::agent_client::AgentClient;
use crate::registry::store;
use app::validation::AgentUrl;
use futures::StreamExt;
use crate::db::Db;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Clone)]
pub struct HealthMonitor {
    db: Db,
    client: AgentClient,
    interval: Duration,
    concurrency: usize,
    /// Counts finished sweeps (the first runs at start), for whoever needs to know that
    /// the start-up sweep is over (tests, before they register agents).
    sweeps: std::sync::Arc<watch::Sender<u64>>,
}

/// What one sweep did (logged, and returned for tests and benchmarks).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub checked: usize,
    pub healthy: usize,
    pub elapsed_ms: u64,
}

impl HealthMonitor {
    pub fn new(db: Db, client: AgentClient, interval: Duration, concurrency: usize) -> Self {
        let (sweeps, _) = watch::channel(0);
        Self { db, client, interval, concurrency: concurrency.max(1), sweeps: std::sync::Arc::new(sweeps) }
    }

    /// How many sweeps have finished; changes after each.
    pub fn sweeps(&self) -> watch::Receiver<u64> {
        self.sweeps.subscribe()
    }

    /// Runs sweeps until `shutdown` turns true. A sweep that overruns the interval delays
    /// the next one instead of stacking them.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            match self.sweep().await {
                Ok(report) => tracing::debug!(?report, "health sweep"),
                Err(e) => tracing::warn!(error = %e, "health sweep could not read or write the database"),
            }
            self.sweeps.send_modify(|n| *n += 1);
        }
    }

    /// Checks every agent once. Fails only when the agent list cannot be read.
    pub async fn sweep(&self) -> Result<SweepReport, sea_orm::DbErr> {
        let started = Instant::now();
        let targets = store::probe_targets(self.db.read()).await?;
        let mut report = SweepReport::default();
        let mut results = futures::stream::iter(targets)
            .map(|(agent_id, url)| {
                let client = self.client.clone();
                async move {
                    let probe = match AgentUrl::parse(&url) {
                        Ok(url) => client.check_health(&url).await,
                        // A stored URL always parsed once; a hand-edited row gets a reason.
                        Err(e) => crate::agent_client::Probe {
                            state: app::model::HealthState::Unhealthy,
                            reason: Some(e),
                            latency_ms: 0,
                            checked_at: chrono::Utc::now(),
                        },
                    };
                    (agent_id, url, probe)
                }
            })
            .buffer_unordered(self.concurrency);
        while let Some((agent_id, url, probe)) = results.next().await {
            report.checked += 1;
            if probe.state == app::model::HealthState::Healthy {
                report.healthy += 1;
            }
            // One agent's failed write must not drop the other results.
            if let Err(e) = store::record_probe(self.db.write(), &agent_id, &url, &probe).await {
                tracing::warn!(%agent_id, error = %e, "could not record a health check");
            }
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}
