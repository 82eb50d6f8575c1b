//! The liveness task: every `FLUSH_EVERY` it stores the heartbeat times the book took,
//! tells the monitor which agents heartbeated (one command per batch), expires the
//! agents past their TTL, and decides self-preservation; at shutdown it flushes once more.
//!
//! Self-preservation is Eureka's idea without its known flaw. When many self-registered
//! agents fall silent together, the dashboard's own network is the likelier culprit, so
//! expiry pauses instead of expiring the fleet. Silence is counted before anything
//! expires: an agent is silent after half its TTL without a heartbeat (it has missed at
//! least one of the beats it sends every third of its TTL), and expires after all of it.
//! Eureka's pause can last forever, because its baseline counts agents gone for good;
//! here the pause ends when the silence does, or after `max`: the overdue agents then
//! expire (so they leave the baseline) and no new pause starts until the silence has
//! once dropped below the threshold.

use super::liveness::{Liveness, FLUSH_EVERY};
use super::{store, Registry};
use crate::cluster::leader::Leadership;
use crate::cluster::Cluster;
use crate::tasks::Shutdown;
use app::model::events::LiveEvent;
use app::model::SelfPreservation;
use chrono::Utc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct PreservationSettings {
    pub share: f64,
    pub min: u32,
    pub max: Duration,
}

impl Default for PreservationSettings {
    fn default() -> Self {
        Self { share: 0.5, min: 10, max: Duration::from_secs(15 * 60) }
    }
}

/// Whether expiry pauses now.
#[derive(Debug, Default)]
pub struct Preservation {
    since: Option<(Instant, chrono::DateTime<Utc>)>,
    /// Ended by `max`: no new pause until the silence has dropped below the threshold.
    spent: bool,
}

impl Preservation {
    /// Decides from `silent` of `alive` agents; true while expiry is paused. The second
    /// value says whether that changed.
    pub fn decide(&mut self, settings: &PreservationSettings, alive: usize, silent: usize) -> (bool, bool) {
        let mass = silent >= settings.min as usize && silent as f64 > settings.share * alive as f64;
        let was = self.since.is_some();
        if !mass {
            self.since = None;
            self.spent = false;
        } else if let Some((at, _)) = self.since {
            if at.elapsed() >= settings.max {
                self.since = None;
                self.spent = true;
            }
        } else if !self.spent {
            self.since = Some((Instant::now(), Utc::now()));
        }
        let now = self.since.is_some();
        (now, now != was)
    }

    pub fn view(&self, alive: usize, silent: usize) -> SelfPreservation {
        SelfPreservation {
            active: self.since.is_some(),
            since: self.since.map(|(_, at)| crate::time::timestamp(at)),
            silent: silent as u64,
            alive: alive as u64,
        }
    }
}

/// With several dashboards, an agent expires this long after its TTL: a heartbeat
/// another dashboard took in time reaches the database within its flush (`FLUSH_EVERY`),
/// so the owner that decides never expires an agent whose heartbeats went elsewhere.
pub const SHARED_EXPIRY_MARGIN: Duration = Duration::from_secs(2);

impl Registry {
    /// The liveness task (see the module's comment). With several dashboards on one
    /// PostgreSQL, each stores the heartbeats it took (merged by the latest) and expires
    /// the agents it checks (`cluster::Members::owns`); the one holding the deciding lock
    /// (`leader`) decides self-preservation from the stored heartbeats, and the others
    /// follow its decision (relayed).
    pub async fn run_liveness(self, mut shutdown: Shutdown, cluster: Cluster, leader: Leadership) {
        let mut ticker = tokio::time::interval(FLUSH_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut preservation = Preservation::default();
        let members = cluster.members();
        let shared = cluster.shared();
        let started = Utc::now();
        let mut was_leader = false;
        let mut last_said = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            let now = Utc::now();
            let owner = members.borrow().clone();
            // Alone (SQLite, or the only live dashboard), no heartbeat can be elsewhere.
            let margin = if owner.live.len() > 1 { SHARED_EXPIRY_MARGIN } else { Duration::ZERO };
            let counted = match (shared, leader.is_leader()) {
                (false, _) => Some(self.liveness.silence(now)),
                (true, true) => match store::silence(self.db.read(), started, now).await {
                    Ok((alive, silent)) => Some((alive as usize, silent as usize)),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot count silent agents; self-preservation decides at the next tick");
                        None
                    }
                },
                (true, false) => None,
            };
            if was_leader && !leader.is_leader() {
                // The next holder decides afresh.
                preservation = Preservation::default();
            }
            // The decider says its decision when it starts deciding and every few
            // seconds: a dashboard that started during a pause, or heard the last one
            // decide, follows this one.
            let say =
                shared && leader.is_leader() && (!was_leader || last_said.elapsed() >= super::relayed::SAID_EVERY);
            was_leader = leader.is_leader();
            let Some((alive, silent)) = counted else {
                // Another dashboard decides; its decision arrives relayed.
                let paused = self.paused_elsewhere();
                self.sweep(&self.liveness, now, !paused, |id| owner.owns(id), margin).await;
                continue;
            };
            let (paused, changed) = preservation.decide(&self.settings.preservation, alive, silent);
            let view = preservation.view(alive, silent);
            if say && !changed {
                last_said = std::time::Instant::now();
                self.outbox.send(crate::cluster::relay::Note::Preservation(view.clone()));
            }
            if changed {
                last_said = std::time::Instant::now();
            }
            if changed {
                if paused {
                    tracing::warn!(
                        silent,
                        alive,
                        "self-preservation: {silent} of {alive} self-registered agents stopped heartbeating together; \
                         expiry paused (the dashboard's network is the likelier fault)"
                    );
                } else {
                    tracing::warn!(silent, alive, "self-preservation ended; overdue agents expire now");
                }
                self.metrics.set_self_preservation(paused);
                self.bus.publish(LiveEvent::SelfPreservation(view.clone()));
            }
            *self.preservation.lock().expect("never poisoned: no panics while held") = view;
            self.sweep(&self.liveness, now, !paused, |id| owner.owns(id), margin).await;
        }
        // What the book took since the last flush is stored before the process ends.
        self.sweep(&self.liveness, Utc::now(), false, |_| false, Duration::ZERO).await;
    }

    async fn sweep(
        &self,
        liveness: &Liveness,
        now: chrono::DateTime<Utc>,
        expire: bool,
        owns: impl Fn(&str) -> bool,
        margin: Duration,
    ) {
        let sweep = liveness.sweep(now, expire, owns, margin);
        if !sweep.beats.is_empty() {
            self.monitor.heartbeats(sweep.beats.iter().map(|(id, _)| id.clone()).collect());
            if let Err(e) = store::save_heartbeats(self.db.write(), &sweep.beats).await {
                tracing::warn!(error = %e, agents = sweep.beats.len(), "could not store heartbeat times; retrying");
                liveness.unflushed(sweep.beats);
            }
        }
        for (agent_id, last) in sweep.expired {
            match store::expire(self.db.write(), &agent_id, last, now).await {
                Ok(Some(model)) => {
                    tracing::info!(
                        agent_id, last_heartbeat = ?last.map(crate::time::timestamp),
                        "agent expired: no heartbeat within its TTL"
                    );
                    self.monitor.park(&agent_id);
                    self.bus.publish(LiveEvent::AgentUpserted(store::to_view(model, &self.policy)));
                }
                // Registered or revived meanwhile, deleted, or another dashboard stored a
                // newer heartbeat: the book takes that one.
                Ok(None) => {
                    let stored = store::last_heartbeat(self.db.read(), &agent_id).await.ok().flatten();
                    liveness.unexpired(&agent_id, last, stored);
                }
                Err(e) => {
                    tracing::warn!(agent_id, error = %e, "could not store an expiry; retrying");
                    liveness.unexpired(&agent_id, last, None);
                }
            }
        }
    }

    /// Deletes agents expired or deregistered for longer than `retention`, each unless a
    /// heartbeat or registration revived it first.
    pub async fn purge_expired(&self, retention: Duration) -> Result<u64, crate::error::ServiceError> {
        let before = Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let mut purged = 0;
        for agent_id in store::expired_before(self.db.read(), before).await? {
            if store::delete_expired(self.db.write(), &agent_id, before).await? {
                self.forget(&agent_id);
                purged += 1;
            }
        }
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mass_silence_pauses_expiry_until_it_ends() {
        let settings = PreservationSettings { share: 0.5, min: 10, max: Duration::from_secs(60) };
        let mut p = Preservation::default();
        assert_eq!(p.decide(&settings, 100, 50), (false, false), "half is not more than half");
        assert_eq!(p.decide(&settings, 100, 51), (true, true));
        assert_eq!(p.decide(&settings, 100, 90), (true, false));
        assert_eq!(p.decide(&settings, 100, 3), (false, true), "heartbeats recovered");
        assert_eq!(p.decide(&settings, 12, 9), (false, false), "fewer than the floor");
        assert_eq!(p.decide(&settings, 9, 9), (false, false), "a fleet below the floor never pauses");
    }

    #[test]
    fn the_pause_ends_after_its_longest_and_does_not_restart_on_the_same_silence() {
        let settings = PreservationSettings { share: 0.5, min: 1, max: Duration::ZERO };
        let mut p = Preservation::default();
        assert_eq!(p.decide(&settings, 10, 10), (true, true));
        assert_eq!(p.decide(&settings, 10, 10), (false, true), "max reached: the overdue expire");
        assert_eq!(p.decide(&settings, 4, 4), (false, false), "spent until the silence drops");
        assert_eq!(p.decide(&settings, 4, 0), (false, false));
        assert_eq!(p.decide(&settings, 4, 4), (true, true), "a new silence pauses again");
    }
}
