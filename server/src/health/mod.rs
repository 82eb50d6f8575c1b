//! The health monitor: one per dashboard, it checks every agent on the agent's own
//! schedule (`schedule`), through the shared pooled client with a per-check timeout, with
//! at most `max_in_flight` checks open, so waiting on dead agents never starves live ones.
//!
//! Health is a small state machine: a passed check makes an agent `healthy`; a failed one
//! makes it `failing (k of N)` at once, and `unhealthy` after N failures in a row. The
//! monitor keeps each agent's state in memory and decides every change itself; the
//! writer (`writer`) stores results in batches and publishes what changed after the
//! commit. The registry tells the monitor at once about registrations, updates and
//! removals (`MonitorHandle`), so a new agent is scheduled without waiting for a sweep.

pub mod history;
pub mod schedule;
mod scheduler;
pub mod store;
mod writer;
mod young;

use crate::agent_client::{AgentClient, Probe};
use crate::cluster::Cluster;
use crate::db::Db;
use crate::events::EventBus;
use crate::metrics::Metrics;
use app::model::{AgentState, HealthState, HealthSummary, HealthView};
use app::validation::AgentUrl;
use chrono::{DateTime, Utc};
use scheduler::Scheduler;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{RollupWrite, Target};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use scheduler::FirstCheck;
pub use writer::FLUSH_WITHIN;

/// Agents checked more often than this keep their connection between checks.
pub const KEEP_CONNECTIONS_BELOW: Duration = Duration::from_secs(4);

/// Checks started at once, at most (see `young`).
pub const MAX_YOUNG: usize = 256;
/// How long a check counts as young: agents answer well within it, even while the
/// monitor is busy (~20 ms then); one that has not is waiting on a slow or dead agent.
pub const YOUNG_FOR: Duration = Duration::from_millis(50);

/// A self-registered agent is first checked this long after it registers (old agents
/// register in their startup hook, before they listen), then at its slots; so is any
/// agent never checked that this dashboard learns of from the database (another dashboard
/// may have registered it a moment ago).
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(2);

/// How the monitor checks, decides and keeps.
#[derive(Clone, Copy, Debug)]
pub struct MonitorSettings {
    /// Between two checks of an agent without an interval of its own.
    pub interval: Duration,
    /// Failed checks in a row that make an agent unhealthy.
    pub unhealthy_after: u32,
    /// Checks open at once.
    pub max_in_flight: usize,
    /// Width of a latency rollup bucket.
    pub rollup_bucket: Duration,
    /// How long rollups are kept.
    pub rollup_retention: Duration,
    /// An unchanged check is still published this often per agent (latency, last check),
    /// so open pages do not show its last check growing older forever.
    pub refresh_every: Duration,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            unhealthy_after: 2,
            max_in_flight: 4096,
            rollup_bucket: Duration::from_secs(300),
            rollup_retention: Duration::from_secs(7 * 24 * 3600),
            refresh_every: Duration::from_secs(app::model::UNCHANGED_PUBLISHED_EVERY_SECS),
        }
    }
}

/// Agents by state as the monitor holds them, and a version that goes up with every
/// change, so that a page keeps the newest of the counts it is sent.
#[derive(Debug, Default)]
pub struct Counts {
    by_state: HashMap<HealthState, i64>,
    /// Expired and deregistered agents (held, not checked), whatever their last health.
    expired: i64,
    version: u64,
}

impl Counts {
    pub fn summary(&self) -> (HealthSummary, u64) {
        let mut summary = HealthSummary::default();
        for (state, n) in &self.by_state {
            summary.add(*state, (*n).max(0) as u64);
        }
        summary.expired = self.expired.max(0) as u64;
        (summary, self.version)
    }
}

/// What the page shows about health besides an agent's own columns.
#[derive(Clone, Copy, Debug)]
pub struct HealthPolicy {
    pub interval: Duration,
    pub unhealthy_after: u32,
    /// Width of a latency rollup bucket (for the history's chart).
    pub rollup_bucket: Duration,
}

impl HealthPolicy {
    pub fn view(
        &self,
        state: HealthState,
        reason: Option<String>,
        latency_ms: Option<u64>,
        checked_at: Option<DateTime<Utc>>,
        failures: u32,
        interval_ms: Option<u64>,
    ) -> HealthView {
        HealthView {
            state,
            reason,
            latency_ms,
            checked_at: checked_at.map(crate::time::timestamp),
            consecutive_failures: failures,
            unhealthy_after: self.unhealthy_after,
            interval_seconds: interval_ms.map_or(self.interval.as_secs_f64(), |ms| ms as f64 / 1000.0),
        }
    }
}

/// A change the registry tells the monitor about.
enum Command {
    /// Registered, updated or revived.
    Upsert {
        target: Target,
        first: FirstCheck,
    },
    Remove {
        agent_id: String,
    },
    /// Expired or deregistered: no more checks.
    Park {
        agent_id: String,
    },
    /// These agents heartbeated since the last batch.
    Heartbeats {
        agent_ids: Vec<String>,
    },
    /// The agent's outbound headers changed for `url`: used only while it is still there.
    Outbound {
        agent_id: String,
        url: String,
        headers: crate::agent_client::Outbound,
    },
    /// Other dashboards checked these agents and stored the results.
    Observe {
        targets: Vec<Target>,
    },
    /// Every agent as stored now (after a gap in what the other dashboards said).
    Reload {
        targets: Vec<Target>,
        /// Slots changed since (a generation at or above it) are newer than the read.
        mark: u64,
    },
    /// The next generation (a resync's mark).
    Mark {
        reply: tokio::sync::oneshot::Sender<u64>,
    },
    /// Agents that moved to this dashboard, as stored (empty when the read failed: they
    /// go on from what this one holds).
    StateRead {
        agent_ids: Vec<String>,
        targets: Vec<Target>,
    },
    /// Check these agents now (tests and benchmarks: "all due at once").
    CheckNow {
        agent_ids: Option<Vec<String>>,
    },
    /// The agent's latency bucket still being filled (stored only when it closes).
    OpenBucket {
        agent_id: String,
        reply: tokio::sync::oneshot::Sender<Option<RollupWrite>>,
    },
}

/// How the registry reaches the monitor. Sends never wait: the monitor takes them in order.
#[derive(Clone)]
pub struct MonitorHandle {
    commands: mpsc::UnboundedSender<Command>,
    counts: Arc<Mutex<Counts>>,
    ready: watch::Receiver<bool>,
    completed: watch::Receiver<u64>,
    batches: watch::Receiver<u64>,
}

impl MonitorHandle {
    pub fn upsert(&self, target: Target, first: FirstCheck) {
        let _ = self.commands.send(Command::Upsert { target, first });
    }

    pub fn remove(&self, agent_id: &str) {
        let _ = self.commands.send(Command::Remove { agent_id: agent_id.to_owned() });
    }

    /// The agent expired or deregistered: it is held, counted as expired, not checked.
    pub fn park(&self, agent_id: &str) {
        let _ = self.commands.send(Command::Park { agent_id: agent_id.to_owned() });
    }

    /// One batch of agents that heartbeated (not one command per heartbeat): an unhealthy
    /// one among them is checked at once.
    pub fn heartbeats(&self, agent_ids: Vec<String>) {
        if !agent_ids.is_empty() {
            let _ = self.commands.send(Command::Heartbeats { agent_ids });
        }
    }

    /// New outbound headers for the agent at `url`; it is checked with them at once. Ignored
    /// if the agent has moved since (its new URL never gets them).
    pub fn outbound(&self, agent_id: &str, url: &str, headers: crate::agent_client::Outbound) {
        let _ = self.commands.send(Command::Outbound { agent_id: agent_id.to_owned(), url: url.to_owned(), headers });
    }

    /// Another dashboard checked these agents (its stored results): the states are taken
    /// when newer, and published to this dashboard's streams.
    pub fn observe(&self, targets: Vec<Target>) {
        if !targets.is_empty() {
            let _ = self.commands.send(Command::Observe { targets });
        }
    }

    /// Every agent as stored now: new and changed ones taken, gone ones dropped, except
    /// those changed here since `mark` (`mark()` taken before the read).
    pub fn reload(&self, targets: Vec<Target>, mark: u64) {
        let _ = self.commands.send(Command::Reload { targets, mark });
    }

    /// A mark for `reload`; None when the monitor does not answer within a second.
    pub async fn mark(&self) -> Option<u64> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.commands.send(Command::Mark { reply }).ok()?;
        tokio::time::timeout(Duration::from_secs(1), answer).await.ok()?.ok()
    }

    /// Makes every agent (or those named) due now.
    pub fn check_now(&self, agent_ids: Option<Vec<String>>) {
        let _ = self.commands.send(Command::CheckNow { agent_ids });
    }

    /// The agent's latency bucket that is still being filled: a history read from the
    /// database alone would miss the last few minutes. None when the monitor is busy.
    pub async fn open_bucket(&self, agent_id: &str) -> Option<RollupWrite> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.commands.send(Command::OpenBucket { agent_id: agent_id.to_owned(), reply }).ok()?;
        tokio::time::timeout(Duration::from_secs(1), answer).await.ok()?.ok()?
    }

    /// Agents by state (expired ones as expired), as the monitor holds them.
    pub fn counts(&self) -> Vec<(AgentState, i64)> {
        let counts = self.counts.lock().expect("counts lock is never poisoned: no panics while held");
        let mut all: Vec<(AgentState, i64)> =
            HealthState::ALL.iter().map(|s| ((*s).into(), counts.by_state.get(s).copied().unwrap_or(0))).collect();
        all.push((AgentState::Expired, counts.expired));
        all
    }

    /// The counts by state and their version (see `Counts`); None until the monitor has
    /// loaded the agents.
    pub fn summary(&self) -> Option<(HealthSummary, u64)> {
        if !*self.ready.borrow() {
            return None;
        }
        Some(self.counts.lock().expect("counts lock is never poisoned: no panics while held").summary())
    }

    /// Turns true once the monitor has loaded the agents and scheduled them.
    pub fn ready(&self) -> watch::Receiver<bool> {
        self.ready.clone()
    }

    /// Counts check results stored (written or found stale), for tests and benchmarks.
    pub fn completed(&self) -> watch::Receiver<u64> {
        self.completed.clone()
    }

    /// Counts the transactions that stored them.
    pub fn batches(&self) -> watch::Receiver<u64> {
        self.batches.clone()
    }
}

/// The monitor before it runs: its handle can be given out first.
pub struct HealthMonitor {
    db: Db,
    /// Which agents this dashboard checks (several dashboards on one database).
    cluster: Cluster,
    /// To itself: the state of agents that moved here, read in the background.
    to_self: mpsc::UnboundedSender<Command>,
    client: AgentClient,
    bus: EventBus,
    metrics: Metrics,
    settings: MonitorSettings,
    commands: mpsc::UnboundedReceiver<Command>,
    counts: Arc<Mutex<Counts>>,
    ready: watch::Sender<bool>,
    completed: Arc<watch::Sender<u64>>,
    batches: Arc<watch::Sender<u64>>,
}

impl HealthMonitor {
    pub fn new(
        db: Db,
        cluster: Cluster,
        client: AgentClient,
        bus: EventBus,
        metrics: Metrics,
        settings: MonitorSettings,
    ) -> (Self, MonitorHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        let counts = Arc::new(Mutex::new(Counts::default()));
        let (ready, ready_rx) = watch::channel(false);
        let (completed, completed_rx) = watch::channel(0);
        let (batches, batches_rx) = watch::channel(0);
        let handle = MonitorHandle {
            commands: tx.clone(),
            counts: counts.clone(),
            ready: ready_rx,
            completed: completed_rx,
            batches: batches_rx,
        };
        let monitor = Self {
            db,
            cluster,
            to_self: tx,
            client,
            bus,
            metrics,
            settings,
            commands: rx,
            counts,
            ready,
            completed: Arc::new(completed),
            batches: Arc::new(batches),
        };
        (monitor, handle)
    }

    pub fn policy(&self) -> HealthPolicy {
        HealthPolicy {
            interval: self.settings.interval,
            unhealthy_after: self.settings.unhealthy_after,
            rollup_bucket: self.settings.rollup_bucket,
        }
    }

    /// Checks agents until `shutdown` turns true, then stores what it holds.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let policy = self.policy();
        let (writes, writer_inbox) = mpsc::unbounded_channel();
        let writer = writer::run(
            self.db.clone(),
            self.bus.clone(),
            policy,
            self.counts.clone(),
            writer_inbox,
            self.completed.clone(),
            self.batches.clone(),
        );
        // The writer runs on a thread of its own: as a task it waited behind thousands of
        // runnable checks at every turn of a transaction (10,000 agents due at once: 3,529
        // results took 440 ms to store during the checks, 6,218 took 118 ms after them).
        // It still uses the runtime's I/O and timers.
        // Should the thread not start, the writer runs as a task: slower, but nothing piles up.
        let (writer_done, writer_ended) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Handle::current();
        let writer = Arc::new(Mutex::new(Some((writer, writer_done))));
        let taken = writer.clone();
        let spawned = std::thread::Builder::new().name("health-writer".into()).spawn(move || {
            if let Some((writer, done)) = taken.lock().ok().and_then(|mut w| w.take()) {
                runtime.block_on(writer);
                let _ = done.send(());
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the health writer's thread; it runs as a task");
            if let Some((writer, done)) = writer.lock().ok().and_then(|mut w| w.take()) {
                tokio::spawn(async move {
                    writer.await;
                    let _ = done.send(());
                });
            }
        }
        let mut members = self.cluster.members();
        let mut state = Scheduler::new(self.settings, self.counts.clone(), writes, members.borrow_and_update().clone());
        // Loaded with retries: a database that is briefly unavailable at start must not
        // leave the dashboard without a monitor.
        let mut attempt = 0u32;
        let targets = loop {
            match store::targets(self.db.read()).await {
                Ok(t) => break t,
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "health monitor cannot read the agents; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt.min(10)))) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        };
        let agents = targets.len();
        for target in targets {
            state.upsert(target, FirstCheck::WhenStale);
        }
        state.joining(self.cluster.known_to_all_within());
        tracing::info!(agents, interval = %humantime::format_duration(self.settings.interval), "health monitor started");
        let _ = self.ready.send(true);
        let mut commands = self.commands;
        let mut checks: JoinSet<(Arc<str>, u64, String, Probe)> = JoinSet::new();
        // Checks started less than `YOUNG_FOR` ago that have not answered. Starting more
        // than `MAX_YOUNG` at once makes no sweep faster (the work is CPU-bound: 256 open
        // checks at ~13,000 answers a second wait ~20 ms each), and each open check holds
        // its buffers (~10 KB): at 10,000 agents 4,096 at once peaked at 107 MiB, 1,024 at
        // 77, 256 at 64–68 and were the fastest. A check older than that is waiting on a
        // slow or dead agent: those may fill the rest of `max_in_flight`, so they never
        // starve the others.
        let young = Arc::new(young::Young::default());
        self.cluster.set_checked(state.checked() as u64);
        let mut report = tokio::time::interval(Duration::from_secs(1));
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let capacity = checks.len() < self.settings.max_in_flight && young.count() < MAX_YOUNG;
            let next_due = state.next_due();
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                Some(command) = commands.recv() => match command {
                    Command::Upsert { target, first } => state.upsert(target, first),
                    Command::Remove { agent_id } => state.remove(&agent_id),
                    Command::Park { agent_id } => state.park(&agent_id),
                    Command::Heartbeats { agent_ids } => state.heartbeats(agent_ids),
                    Command::Outbound { agent_id, url, headers } => state.outbound(agent_id, &url, headers),
                    Command::CheckNow { agent_ids } => state.make_due(agent_ids),
                    Command::Observe { targets } => observed(&self.bus, &self.counts, &mut state, policy, targets),
                    Command::Reload { targets, mark } => state.reload(targets, mark),
                    Command::Mark { reply } => {
                        let _ = reply.send(state.mark());
                    }
                    Command::StateRead { agent_ids, targets } => {
                        observed(&self.bus, &self.counts, &mut state, policy, targets);
                        state.state_read(&agent_ids);
                    }
                    Command::OpenBucket { agent_id, reply } => {
                        let _ = reply.send(state.open_bucket(&agent_id));
                    }
                },
                Ok(()) = members.changed() => {
                    let moved_here = state.set_members(members.borrow_and_update().clone());
                    self.cluster.set_checked(state.checked() as u64);
                    if !moved_here.is_empty() {
                        tracing::info!(agents = moved_here.len(), "agents moved to this dashboard's checks");
                        let (db, to_self) = (self.db.clone(), self.to_self.clone());
                        tokio::spawn(async move {
                            let targets = store::targets_of(db.read(), &moved_here).await.unwrap_or_else(|e| {
                                tracing::warn!(error = %e, "cannot read the state of agents that moved here; going on from memory");
                                Vec::new()
                            });
                            let _ = to_self.send(Command::StateRead { agent_ids: moved_here, targets });
                        });
                    }
                }
                _ = report.tick() => self.cluster.set_checked(state.checked() as u64),
                Some(done) = checks.join_next(), if !checks.is_empty() => {
                    if let Ok((agent_id, generation, url, probe)) = done {
                        self.metrics.record_check(probe.state == HealthState::Healthy, probe.latency_ms);
                        state.record(&agent_id, generation, url, probe);
                    }
                }
                // A young check turned old: there may be room again.
                _ = young.aged(), if !capacity => {}
                _ = sleep_until_ms(next_due), if capacity && next_due.is_some() => {
                    let room = (self.settings.max_in_flight - checks.len()).min(MAX_YOUNG - young.count());
                    for (agent_id, generation, url, headers, interval) in state.take_due(room) {
                        let client = self.client.clone();
                        // A connection is worth keeping only if the next check comes before
                        // the agent closes it (uvicorn does after 5 s idle); otherwise the
                        // pool would hold one socket and its buffers per agent for nothing
                        // (10,000 agents: 234 → 100 MiB peak, and faster).
                        let keep = interval < KEEP_CONNECTIONS_BELOW;
                        let young = young.clone();
                        young.start();
                        checks.spawn(async move {
                            let probe = young
                                .watch(async {
                                    match AgentUrl::parse(&url) {
                                        Ok(parsed) => client.check_health(&parsed, &headers, keep).await,
                                        // A stored URL always parsed once; a hand-edited row gets a reason.
                                        Err(e) => Probe { state: HealthState::Unhealthy, reason: Some(e), latency_ms: None, checked_at: Utc::now() },
                                    }
                                })
                                .await;
                            (agent_id, generation, url, probe)
                        });
                    }
                }
            }
        }
        checks.abort_all();
        state.flush_rollups();
        drop(state);
        // The writer stores what it was given, then ends (its inbox closed).
        let _ = writer_ended.await;
    }
}

/// Takes other dashboards' results and publishes those that changed something here, as
/// this dashboard's own checks are (with its counts).
fn observed(bus: &EventBus, counts: &Mutex<Counts>, state: &mut Scheduler, policy: HealthPolicy, targets: Vec<Target>) {
    let mut taken = Vec::new();
    for target in targets {
        if let Some(previous) = state.observe(&target) {
            taken.push((target, previous));
        }
    }
    if taken.is_empty() {
        return;
    }
    let (summary, summary_version) =
        counts.lock().expect("counts lock is never poisoned: no panics while held").summary();
    for (t, previous) in taken {
        let health = policy.view(t.state, t.reason, t.latency_ms, t.checked_at, t.failures, t.interval_ms);
        bus.publish_relayed(app::model::events::LiveEvent::AgentHealth(app::model::events::AgentHealth {
            agent_id: t.agent_id,
            health,
            previous: Some(previous),
            summary: Some(summary),
            summary_version,
        }));
    }
}

/// The monitor starts the checks that are due on ticks of this many milliseconds, not at
/// each one's own millisecond: at 10,000 agents every 10 s that is at most 100 wake-ups a
/// second instead of 1,000, and a check starts at most 10 ms after its slot.
const TICK_MS: u64 = 10;

async fn sleep_until_ms(due: Option<u64>) {
    let Some(due) = due else { return std::future::pending().await };
    let now = now_ms();
    if due > now {
        tokio::time::sleep(Duration::from_millis(due.next_multiple_of(TICK_MS) - now)).await;
    }
}

pub(crate) fn now_ms() -> u64 {
    Utc::now().timestamp_millis().max(0) as u64
}
