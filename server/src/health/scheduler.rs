//! The monitor's state: every agent's slot, state and open latency bucket, the queue of
//! due checks, and the decisions a check's result leads to (handed to the writer).

use super::store::{CheckWrite, RollupWrite, Target};
use super::{now_ms, schedule, writer, Counts, MonitorSettings, FIRST_CHECK_AFTER};
use crate::agent_client::{Outbound, Probe};
use crate::cluster::Members;
use app::model::HealthState;
use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One agent as the monitor holds it.
struct Slot {
    url: String,
    /// Sent with each check (`agent_client::outbound`).
    headers: Outbound,
    interval: Duration,
    generation: u64,
    /// The slot it is scheduled for (ms since the epoch).
    due: u64,
    in_flight: bool,
    state: HealthState,
    failures: u32,
    reason: Option<String>,
    /// When the state above was decided (here or by another dashboard).
    checked_at: Option<DateTime<Utc>>,
    published_at: Option<Instant>,
    bucket: Option<RollupWrite>,
    /// Expired or deregistered: held for its state and counted as expired, never due.
    parked: bool,
    /// When a heartbeat last made this (unhealthy) agent due.
    nudged_at: Option<Instant>,
    /// This dashboard checks it (`cluster::Members::owns`). The others' agents keep their
    /// state here but leave the queue; a move queues one again at its own slot.
    owned: bool,
    /// Just moved here: checked once its state is read back from the database (a move
    /// continues the state machine: `failing (1 of 2)` is not reset).
    awaiting_state: bool,
}

/// When a registered or updated agent is first checked.
#[derive(Clone, Copy, Debug)]
pub enum FirstCheck {
    /// Its registration just checked it: at its slot, a good part of an interval away.
    Checked,
    /// Now when its last check is older than its interval, `FIRST_CHECK_AFTER` from now when
    /// it has none, else at its slot.
    WhenStale,
    /// After this long, then at its slots (a self-registered agent registers before it
    /// listens).
    After(Duration),
}

/// The schedule, the agents' states, and the decisions.
pub(super) struct Scheduler {
    settings: MonitorSettings,
    slots: HashMap<Arc<str>, Slot>,
    queue: BinaryHeap<Reverse<(u64, u64, Arc<str>)>>,
    next_generation: u64,
    counts: Arc<Mutex<Counts>>,
    writes: mpsc::UnboundedSender<writer::Write>,
    members: Members,
    /// No check starts before this (ms since the epoch): see `quiet_until`.
    quiet_until: u64,
    /// How long a dashboard that joins others stays quiet (`joining`).
    quiet_ms: u64,
}

impl Scheduler {
    pub(super) fn new(
        settings: MonitorSettings,
        counts: Arc<Mutex<Counts>>,
        writes: mpsc::UnboundedSender<writer::Write>,
        members: Members,
    ) -> Self {
        Self {
            settings,
            slots: HashMap::new(),
            queue: BinaryHeap::new(),
            next_generation: 1,
            counts,
            writes,
            members,
            quiet_until: 0,
            quiet_ms: 0,
        }
    }

    /// This dashboard starts among others (or is counted back in among them later): it
    /// stays quiet for `quiet` each time (`quiet_until`).
    pub(super) fn joining(&mut self, quiet: Duration) {
        self.quiet_ms = quiet.as_millis() as u64;
        if self.members.live.len() > 1 {
            self.quiet_until(now_ms() + self.quiet_ms);
        }
    }

    /// A dashboard that joins others starts no check before they know it is there (their
    /// next renewal): until then each of its agents is still checked by its old owner,
    /// and checking it here too, at once for a stale one and then at its slot beside the
    /// old owner, made 3 checks in one interval in the chaos run (`benches/chaos.rs`).
    /// The slots move on meanwhile, so each agent is checked at its first slot after.
    pub(super) fn quiet_until(&mut self, at_ms: u64) {
        self.quiet_until = at_ms;
    }

    /// The live dashboards changed: each agent is checked by its owner among them. Returns
    /// the agents that moved here, whose state is to be read back before their next check.
    pub(super) fn set_members(&mut self, members: Members) -> Vec<String> {
        // Counted back in among others (after its renewals failed): a joiner again.
        if !self.members.is_member() && members.is_member() && members.live.len() > 1 {
            self.quiet_until = self.quiet_until.max(now_ms() + self.quiet_ms);
        }
        self.members = members;
        let mut moved_here = Vec::new();
        let now = now_ms();
        for (id, slot) in self.slots.iter_mut() {
            let owned = self.members.owns(id);
            if owned && !slot.owned && !slot.parked {
                slot.awaiting_state = true;
                moved_here.push(id.to_string());
                // Back in the queue, at its own slot (`take_due` drops the others' agents).
                slot.due = schedule::next_slot(id, slot.interval, now);
                self.queue.push(Reverse((slot.due, slot.generation, id.clone())));
            }
            slot.owned = owned;
        }
        moved_here
    }

    /// The state of agents that moved here was read back (or could not be): they are
    /// checked at their slots from now on.
    pub(super) fn state_read(&mut self, agent_ids: &[String]) {
        for id in agent_ids {
            if let Some(slot) = self.slots.get_mut(id.as_str()) {
                slot.awaiting_state = false;
            }
        }
    }

    /// Agents this dashboard checks (not expired).
    pub(super) fn checked(&self) -> usize {
        self.slots.values().filter(|s| s.owned && !s.parked).count()
    }

    /// Counts a slot in (+1) or out (-1): a parked one as expired, others by state.
    fn count_slot(&self, state: HealthState, parked: bool, delta: i64) {
        let mut counts = self.counts.lock().expect("counts lock is never poisoned: no panics while held");
        if parked {
            counts.expired += delta;
        } else {
            *counts.by_state.entry(state).or_default() += delta;
        }
        counts.version += 1;
    }

    fn count(&self, state: HealthState, delta: i64) {
        self.count_slot(state, false, delta);
    }

    pub(super) fn upsert(&mut self, target: Target, first: FirstCheck) {
        let interval = target.interval_ms.map_or(self.settings.interval, Duration::from_millis);
        let now = now_ms();
        let stale = target
            .checked_at
            .is_none_or(|at| now.saturating_sub(at.timestamp_millis().max(0) as u64) >= interval.as_millis() as u64);
        let due = match first {
            // Just checked by its registration: the next check is a good part of an
            // interval away, at the agent's own slot.
            FirstCheck::Checked => {
                schedule::next_slot(&target.agent_id, interval, now + interval.as_millis() as u64 / 2)
            }
            // Never checked: it may have registered itself on another dashboard a moment
            // ago, before it listens (the chaos run saw such an agent checked at once by a
            // resync and by the dashboard it was relayed to, three checks in an interval).
            FirstCheck::WhenStale if target.checked_at.is_none() => now + FIRST_CHECK_AFTER.as_millis() as u64,
            // Not checked within its interval (the dashboard was down): the page would show
            // an old state, so it is checked now, then at its own slot.
            FirstCheck::WhenStale if stale => now,
            FirstCheck::WhenStale => schedule::next_slot(&target.agent_id, interval, now),
            FirstCheck::After(delay) => now + delay.as_millis() as u64,
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let key: Arc<str> = Arc::from(target.agent_id.as_str());
        let old = self.slots.remove(&key);
        let headers = match (target.headers, &old) {
            (Some(headers), _) => headers,
            (None, Some(old)) if old.url == target.agent_url => old.headers.clone(),
            (None, _) => Outbound::none(),
        };
        if let Some(old) = &old {
            self.count_slot(old.state, old.parked, -1);
        }
        self.count_slot(target.state, target.expired, 1);
        let bucket = old.and_then(|o| o.bucket);
        self.slots.insert(
            key.clone(),
            Slot {
                url: target.agent_url,
                headers,
                interval,
                generation,
                due,
                in_flight: false,
                state: target.state,
                failures: target.failures,
                reason: target.reason,
                checked_at: target.checked_at,
                published_at: matches!(first, FirstCheck::Checked).then(Instant::now),
                bucket,
                parked: target.expired,
                nudged_at: None,
                owned: self.members.owns(&key),
                awaiting_state: false,
            },
        );
        if !target.expired {
            self.queue.push(Reverse((due, generation, key)));
        }
    }

    pub(super) fn remove(&mut self, agent_id: &str) {
        // Its queue entry goes stale (another generation) and is skipped when reached.
        if let Some(old) = self.slots.remove(agent_id) {
            self.count_slot(old.state, old.parked, -1);
        }
    }

    /// The agent expired or deregistered: it leaves the schedule (a churned fleet holds
    /// no dead sockets) and is counted as expired. A check in flight is ignored.
    pub(super) fn park(&mut self, agent_id: &str) {
        let generation = self.next_generation;
        let Some(slot) = self.slots.get_mut(agent_id) else { return };
        if slot.parked {
            return;
        }
        self.next_generation += 1;
        slot.parked = true;
        slot.generation = generation;
        slot.in_flight = false;
        let state = slot.state;
        self.count(state, -1);
        self.count_slot(state, true, 1);
    }

    /// These agents heartbeated: an unhealthy one is checked now (at most once per
    /// interval), so an agent that came back shows it within a heartbeat, not a slot.
    pub(super) fn heartbeats(&mut self, agent_ids: Vec<String>) {
        let mut due = Vec::new();
        for id in agent_ids {
            let Some(slot) = self.slots.get_mut(id.as_str()) else { continue };
            let recently = slot.nudged_at.is_some_and(|at| at.elapsed() < slot.interval);
            if slot.state == HealthState::Unhealthy && !slot.parked && !slot.in_flight && !recently {
                slot.nudged_at = Some(Instant::now());
                due.push(id);
            }
        }
        if !due.is_empty() {
            self.make_due(Some(due));
        }
    }

    pub(super) fn outbound(&mut self, agent_id: String, url: &str, headers: Outbound) {
        let Some(slot) = self.slots.get_mut(agent_id.as_str()) else { return };
        if slot.url != url {
            return; // moved meanwhile: the headers were for the old URL
        }
        slot.headers = headers;
        if !slot.parked {
            self.make_due(Some(vec![agent_id]));
        }
    }

    pub(super) fn make_due(&mut self, agent_ids: Option<Vec<String>>) {
        let now = now_ms();
        let keys: Vec<Arc<str>> = match agent_ids {
            Some(ids) => {
                ids.iter().filter_map(|id| self.slots.get_key_value(id.as_str()).map(|(k, _)| k.clone())).collect()
            }
            None => self.slots.keys().cloned().collect(),
        };
        for key in keys {
            let generation = self.next_generation;
            self.next_generation += 1;
            if let Some(slot) = self.slots.get_mut(&key).filter(|s| !s.parked) {
                slot.generation = generation;
                slot.due = now;
                slot.in_flight = false;
                self.queue.push(Reverse((now, generation, key)));
            }
        }
    }

    /// The latency bucket still being filled for this agent.
    pub(super) fn open_bucket(&self, agent_id: &str) -> Option<RollupWrite> {
        self.slots.get(agent_id).and_then(|s| s.bucket.clone())
    }

    pub(super) fn next_due(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse((due, _, _))| *due)
    }

    /// Agents due now (ID, generation, URL, interval), at most `room`; each moves to its
    /// next slot.
    pub(super) fn take_due(&mut self, room: usize) -> Vec<(Arc<str>, u64, String, Outbound, Duration)> {
        let now = now_ms();
        let mut due = Vec::new();
        while due.len() < room {
            match self.queue.peek() {
                Some(Reverse((at, _, _))) if *at <= now => {}
                _ => break,
            }
            let Reverse((at, generation, key)) = self.queue.pop().expect("peeked");
            let Some(slot) = self.slots.get_mut(&key) else { continue };
            if slot.generation != generation || slot.due != at {
                continue; // re-registered, removed or rescheduled since
            }
            if !slot.owned {
                // Another dashboard checks it: it leaves the queue until it moves here
                // (`set_members`). Kept in, each of the others' agents woke this loop at
                // its every slot: with 2,000 agents at 1 s, 3 dashboards spent 135 ms of
                // CPU per 1,000 checks each against 83 for one (benches/cluster.rs).
                continue;
            }
            // The next slot after this one; one that passed while waiting is skipped.
            let next = schedule::next_slot(&key, slot.interval, at.max(now) + 1);
            slot.due = next;
            self.queue.push(Reverse((next, generation, key.clone())));
            if slot.in_flight {
                continue; // its previous check is still open: never two at once
            }
            if slot.awaiting_state || now < self.quiet_until {
                continue; // it has just moved here, or this dashboard just joined
            }
            slot.in_flight = true;
            due.push((key, generation, slot.url.clone(), slot.headers.clone(), slot.interval));
        }
        due
    }

    /// A check came back: decide the new state, and hand the result to the writer.
    pub(super) fn record(&mut self, agent_id: &Arc<str>, generation: u64, url: String, probe: Probe) {
        let settings = self.settings;
        let Some(slot) = self.slots.get_mut(agent_id) else { return };
        if slot.generation != generation {
            return; // taken before a re-registration or a removal: not this agent's any more
        }
        slot.in_flight = false;
        let passed = probe.state == HealthState::Healthy;
        let failures = if passed { 0 } else { slot.failures.saturating_add(1) };
        let state = HealthState::after_check(passed, failures, settings.unhealthy_after);
        let transition = state != slot.state;
        // Counting up to the threshold is news ("failing (1 of 2)"); an unhealthy agent's
        // count going on up is not, and would be an event per check per dead agent.
        let counting = failures != slot.failures && failures.min(slot.failures) < settings.unhealthy_after;
        let changed = transition || counting || probe.reason != slot.reason;
        let old_state = slot.state;
        slot.state = state;
        slot.failures = failures;
        slot.reason = probe.reason.clone();
        slot.checked_at = Some(probe.checked_at);
        let publish = changed || slot.published_at.is_none_or(|at| at.elapsed() >= settings.refresh_every);
        if publish {
            slot.published_at = Some(Instant::now());
        }

        // Latency rollup: a check that starts a new bucket closes the previous one.
        let bucket_ms = (settings.rollup_bucket.as_millis() as i64).max(1);
        let at_ms = probe.checked_at.timestamp_millis();
        let bucket_start =
            DateTime::from_timestamp_millis(at_ms - at_ms.rem_euclid(bucket_ms)).unwrap_or(probe.checked_at);
        let closed = match &slot.bucket {
            Some(b) if b.bucket_start != bucket_start => slot.bucket.take(),
            _ => None,
        };
        let bucket = slot.bucket.get_or_insert_with(|| RollupWrite {
            agent_id: agent_id.to_string(),
            bucket_start,
            probes: 0,
            failures: 0,
            min_ms: None,
            max_ms: None,
            sum_ms: 0,
        });
        bucket.probes += 1;
        if passed {
            // A passed check always has an answer, so a latency.
            let ms = probe.latency_ms.unwrap_or(0);
            bucket.min_ms = Some(bucket.min_ms.map_or(ms, |m| m.min(ms)));
            bucket.max_ms = Some(bucket.max_ms.map_or(ms, |m| m.max(ms)));
            bucket.sum_ms += ms;
        } else {
            bucket.failures += 1;
        }
        let interval_ms = slot.interval.as_millis() as u64;
        if transition {
            self.count(old_state, -1);
            self.count(state, 1);
        }
        if let Some(closed) = closed {
            let _ = self.writes.send(writer::Write::Rollup(closed));
        }
        let _ = self.writes.send(writer::Write::Check {
            check: CheckWrite {
                agent_id: agent_id.to_string(),
                agent_url: url,
                state,
                reason: probe.reason,
                latency_ms: probe.latency_ms,
                checked_at: probe.checked_at,
                failures,
                previous: old_state,
                transition,
            },
            publish,
            interval_ms,
        });
    }

    /// Another dashboard checked the agent (and stored it): its state is taken when it is
    /// newer than what this one holds, so the counts stay true and a move of the agent to
    /// this dashboard continues its state machine (`failing (1 of 2)` stays). Returns the
    /// state before, when something was taken.
    pub(super) fn observe(&mut self, target: &Target) -> Option<HealthState> {
        let slot = self.slots.get_mut(target.agent_id.as_str())?;
        slot.awaiting_state = false;
        if slot.url != target.agent_url || target.checked_at.is_none() || target.checked_at <= slot.checked_at {
            return None;
        }
        let previous = slot.state;
        slot.state = target.state;
        slot.failures = target.failures;
        slot.reason = target.reason.clone();
        slot.checked_at = target.checked_at;
        let parked = slot.parked;
        if previous != target.state && !parked {
            self.count(previous, -1);
            self.count(target.state, 1);
        }
        Some(previous)
    }

    /// The agents as the database holds them now (after a gap in what the other
    /// dashboards said): new and changed ones are taken, gone ones dropped, and the
    /// rest keep their schedule.
    pub(super) fn reload(&mut self, targets: Vec<Target>, mark: u64) {
        let mut seen = std::collections::HashSet::with_capacity(targets.len());
        for target in targets {
            seen.insert(target.agent_id.clone());
            if self.slots.get(target.agent_id.as_str()).is_some_and(|slot| slot.generation >= mark) {
                continue; // changed here after the read began: newer than the row
            }
            let same = self.slots.get(target.agent_id.as_str()).is_some_and(|slot| {
                slot.url == target.agent_url
                    && slot.parked == target.expired
                    && slot.interval == target.interval_ms.map_or(self.settings.interval, Duration::from_millis)
            });
            if same {
                self.observe(&target);
            } else {
                self.upsert(target, FirstCheck::WhenStale);
            }
        }
        let gone: Vec<Arc<str>> = self
            .slots
            .iter()
            .filter(|(id, slot)| !seen.contains(&***id) && slot.generation < mark)
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.remove(&id);
        }
    }

    /// The generation the next change here gets.
    pub(super) fn mark(&self) -> u64 {
        self.next_generation
    }

    /// Hands every open bucket to the writer (the monitor is stopping).
    pub(super) fn flush_rollups(&mut self) {
        for slot in self.slots.values_mut() {
            if let Some(bucket) = slot.bucket.take() {
                let _ = self.writes.send(writer::Write::Rollup(bucket));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn scheduler() -> Scheduler {
        Scheduler::new(
            MonitorSettings::default(),
            Arc::default(),
            mpsc::unbounded_channel().0,
            Members::alone("me".into()),
        )
    }

    fn target(url: &str, headers: Option<Outbound>) -> Target {
        Target {
            agent_id: "a".into(),
            agent_url: url.into(),
            interval_ms: None,
            state: HealthState::Unknown,
            failures: 0,
            reason: None,
            checked_at: None,
            latency_ms: None,
            expired: false,
            headers,
        }
    }

    fn headers(value: &str) -> Outbound {
        Outbound::parse(&BTreeMap::from([("authorization".to_owned(), value.to_owned())])).unwrap()
    }

    /// The headers the next check of `a` would send (making it due now).
    fn sent(s: &mut Scheduler) -> Vec<String> {
        s.make_due(Some(vec!["a".into()]));
        let due = s.take_due(10);
        let (key, _, _, headers, _) = due.into_iter().next().expect("a is due");
        s.slots.get_mut(&key).unwrap().in_flight = false;
        headers.values()
    }

    #[test]
    fn headers_go_with_their_url_only() {
        let mut s = scheduler();
        s.upsert(target("http://x", Some(headers("one"))), FirstCheck::WhenStale);
        assert_eq!(sent(&mut s), ["one"]);
        // A self-registration at the same URL says nothing of headers: they stay.
        s.upsert(target("http://x", None), FirstCheck::WhenStale);
        assert_eq!(sent(&mut s), ["one"]);
        // Moved: the new URL goes without.
        s.upsert(target("http://y", None), FirstCheck::WhenStale);
        assert!(sent(&mut s).is_empty());
        // Headers set for the old URL, arriving after the move: ignored.
        s.outbound("a".into(), "http://x", headers("late"));
        assert!(sent(&mut s).is_empty());
        s.outbound("a".into(), "http://y", headers("two"));
        assert_eq!(sent(&mut s), ["two"]);
    }

    #[test]
    fn the_other_dashboards_agents_leave_the_queue_until_they_move_here() {
        let mut s = scheduler();
        let two = Members { me: "me".into(), live: Arc::from(vec![Arc::<str>::from("me"), Arc::from("other")]) };
        // An agent the other dashboard owns.
        let id = (0..100).map(|n| format!("agent-{n}")).find(|id| !two.owns(id)).unwrap();
        s.set_members(two);
        let stale = Target {
            agent_id: id.clone(),
            checked_at: Some(Utc::now() - chrono::Duration::hours(1)),
            ..target("http://x", None)
        };
        s.upsert(stale, FirstCheck::WhenStale);
        assert!(s.take_due(10).is_empty(), "not this dashboard's to check");
        assert_eq!(s.next_due(), None, "and no longer in the queue");
        // The other dashboard leaves: the agent moves here, is queued at its slot, and is
        // checked once its state is read back.
        let moved = s.set_members(Members::alone("me".into()));
        assert_eq!(moved, std::slice::from_ref(&id));
        let due = s.next_due().expect("queued again");
        assert!(due <= now_ms() + s.settings.interval.as_millis() as u64, "at its next slot");
        s.state_read(&moved);
        s.make_due(Some(moved));
        assert_eq!(s.take_due(10).len(), 1);
    }

    #[test]
    fn an_agent_never_checked_is_first_checked_a_moment_later() {
        let mut s = scheduler();
        // Learned of from the database or another dashboard, never checked: it may have
        // registered itself a moment ago, before it listens.
        s.upsert(target("http://x", None), FirstCheck::WhenStale);
        let due = s.next_due().unwrap();
        let wait = due.saturating_sub(now_ms());
        assert!(wait > FIRST_CHECK_AFTER.as_millis() as u64 - 500, "due in {wait} ms");
        assert!(s.take_due(10).is_empty());
    }

    #[test]
    fn a_joining_dashboard_starts_no_check_until_the_others_know_it() {
        let mut s = scheduler();
        let stale = Target { checked_at: Some(Utc::now() - chrono::Duration::hours(1)), ..target("http://x", None) };
        s.upsert(stale, FirstCheck::WhenStale);
        assert_eq!(s.next_due(), Some(s.slots["a"].due), "scheduled");
        assert!(s.next_due().unwrap() <= now_ms(), "a stale agent is due at once");
        s.quiet_until(now_ms() + 60_000);
        assert!(s.take_due(10).is_empty(), "a stale agent is not checked at once while quiet");
        // Its slot moved on meanwhile: it is checked at the first one after.
        let next = s.next_due().expect("still scheduled");
        assert!(next > now_ms(), "rescheduled to its next slot");
        s.quiet_until(0);
        s.make_due(Some(vec!["a".into()]));
        assert_eq!(s.take_due(10).len(), 1, "checked once the quiet ends");
    }
}
