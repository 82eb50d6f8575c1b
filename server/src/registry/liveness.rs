//! Liveness of self-registered agents: the heartbeat book, expiry and its flushes.
//!
//! Old agents heartbeat every 20 s and never register again by themselves, so a
//! heartbeat must be cheap (a map lookup under one lock: no database write, event, log
//! line or monitor command per heartbeat) and an agent must never be lost to the
//! dashboard's own hiccups. The book (agent → last heartbeat, TTL, expiry) lives in
//! memory and is the truth for liveness; one task (`run`) flushes the heartbeat times in
//! batches at most `FLUSH_EVERY` late, decides expiries, and flushes once more at
//! shutdown. Registrations, deregistrations, revivals and expiries are written through:
//! a restart loses at most one batch of heartbeat times, which the next heartbeats
//! restore, and no agent expires sooner than its TTL after the dashboard starts.

use app::model::Expiry;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Heartbeat times reach the database at most this late; expiries are decided this often.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// An unknown ID's heartbeats are logged once per this long (old agents retry every 5 s,
/// forever).
const UNKNOWN_LOGGED_EVERY: Duration = Duration::from_secs(3600);

/// One agent in the book.
#[derive(Clone, Debug)]
struct Entry {
    /// Self-registered agents only: seconds without a heartbeat before they expire.
    ttl: Option<u32>,
    last: Option<DateTime<Utc>>,
    expired: Option<Expiry>,
    /// `last` is newer than what is stored.
    dirty: bool,
    /// The agent token that registered it (access control on), checked on every heartbeat
    /// without a database read.
    owner: Option<Arc<str>>,
    /// When it entered the book (a resync keeps entries newer than its read).
    since: Instant,
}

/// What a heartbeat found.
#[derive(Debug, PartialEq)]
pub enum Beat {
    /// Recorded; nothing else to do.
    Recorded(DateTime<Utc>),
    /// Recorded for an agent that had expired (TTL): the caller writes its revival.
    Revived(DateTime<Utc>),
    /// It said goodbye: only a registration brings it back.
    Deregistered,
    /// No such agent.
    Unknown,
}

/// What one sweep took from the book.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Heartbeat times to store.
    pub beats: Vec<(String, DateTime<Utc>)>,
    /// Agents past `last heartbeat + TTL`, with the heartbeat they expired after (None:
    /// never one), now marked expired in the book: the caller stores it.
    pub expired: Vec<(String, Option<DateTime<Utc>>)>,
}

#[derive(Clone)]
pub struct Liveness {
    inner: Arc<Inner>,
}

struct Inner {
    book: Mutex<HashMap<String, Entry>>,
    /// No agent expires before its TTL has passed since this (the dashboard's start).
    started: DateTime<Utc>,
    unknown_logged: Mutex<HashMap<String, Instant>>,
}

/// An agent as the book is loaded with it at start.
pub struct Loaded {
    pub agent_id: String,
    pub ttl: Option<u32>,
    pub last: Option<DateTime<Utc>>,
    pub expired: Option<Expiry>,
    pub owner: Option<String>,
}

impl Liveness {
    pub fn new(started: DateTime<Utc>) -> Self {
        Self {
            inner: Arc::new(Inner {
                book: Mutex::new(HashMap::new()),
                started,
                unknown_logged: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.book.lock().expect("the heartbeat book's lock is never poisoned: no panics while held")
    }

    /// Fills the book from the stored agents (at start). Entries already written by a
    /// registration that raced the load are newer and stay.
    pub fn load(&self, agents: impl IntoIterator<Item = Loaded>) {
        let mut book = self.book();
        for a in agents {
            let owner = a.owner.map(Arc::from);
            book.entry(a.agent_id).or_insert(Entry {
                ttl: a.ttl,
                last: a.last,
                expired: a.expired,
                dirty: false,
                owner,
                since: Instant::now(),
            });
        }
    }

    /// Another dashboard changed these agents (or, with `whole`, this is every stored
    /// agent as read from that instant on, after a gap in what they said): the rows'
    /// registration and expiry are taken, the latest heartbeat of the two is kept (a newer
    /// one here is still to be flushed), and with `whole` the agents no longer stored are
    /// forgotten, unless they entered the book after the read began.
    pub fn merge(&self, agents: Vec<Loaded>, whole: Option<Instant>) {
        let mut book = self.book();
        let mut stored = std::collections::HashSet::new();
        for a in agents {
            if whole.is_some() {
                stored.insert(a.agent_id.clone());
            }
            let owner = a.owner.map(Arc::from);
            match book.get_mut(&a.agent_id) {
                Some(entry) => {
                    entry.ttl = a.ttl;
                    entry.owner = owner;
                    entry.expired = a.expired;
                    if a.last > entry.last {
                        entry.last = a.last;
                        entry.dirty = false;
                    }
                }
                None => {
                    book.insert(
                        a.agent_id,
                        Entry {
                            ttl: a.ttl,
                            last: a.last,
                            expired: a.expired,
                            dirty: false,
                            owner,
                            since: Instant::now(),
                        },
                    );
                }
            }
        }
        if let Some(read_from) = whole {
            book.retain(|id, entry| stored.contains(id) || entry.since >= read_from);
        }
    }

    /// A registration was stored (self: with its TTL and this time as its heartbeat;
    /// manual: no TTL, never expires).
    pub fn registered(&self, agent_id: &str, ttl: Option<u32>, at: Option<DateTime<Utc>>, owner: Option<&str>) {
        let owner = owner.map(Arc::from);
        let entry = Entry { ttl, last: at, expired: None, dirty: false, owner, since: Instant::now() };
        self.book().insert(agent_id.to_owned(), entry);
    }

    /// The agent's owning token (None: none), or None when the book does not know it.
    pub fn owner(&self, agent_id: &str) -> Option<Option<Arc<str>>> {
        self.book().get(agent_id).map(|e| e.owner.clone())
    }

    /// The agent was deleted for good.
    pub fn forget(&self, agent_id: &str) {
        self.book().remove(agent_id);
    }

    /// The agent's last heartbeat as the book has it (perhaps not stored yet).
    pub fn last(&self, agent_id: &str) -> Option<DateTime<Utc>> {
        self.book().get(agent_id).and_then(|e| e.last)
    }

    /// The agent deregistered (stored by the caller, with `last`).
    pub fn deregistered(&self, agent_id: &str) {
        if let Some(entry) = self.book().get_mut(agent_id) {
            entry.expired = Some(Expiry::Deregistered);
            entry.dirty = false;
        }
    }

    /// A revival could not be stored: the agent is expired again until the next heartbeat.
    pub fn revival_failed(&self, agent_id: &str) {
        if let Some(entry) = self.book().get_mut(agent_id) {
            entry.expired.get_or_insert(Expiry::Ttl);
        }
    }

    /// Records a heartbeat.
    pub fn beat(&self, agent_id: &str, now: DateTime<Utc>) -> Beat {
        let mut book = self.book();
        let Some(entry) = book.get_mut(agent_id) else { return Beat::Unknown };
        match entry.expired {
            Some(Expiry::Deregistered) => Beat::Deregistered,
            Some(Expiry::Ttl) => {
                entry.expired = None;
                entry.last = Some(now);
                // Written through by the caller, with the revival.
                entry.dirty = false;
                Beat::Revived(now)
            }
            None => {
                entry.last = Some(now);
                entry.dirty = true;
                Beat::Recorded(now)
            }
        }
    }

    /// True the first time in an hour an unknown ID heartbeats (to log it once).
    pub fn first_unknown(&self, agent_id: &str) -> bool {
        let mut logged = self.inner.unknown_logged.lock().expect("never poisoned: no panics while held");
        let now = Instant::now();
        if logged.len() > 10_000 {
            // Random IDs cannot grow this without bound.
            logged.retain(|_, at| now.duration_since(*at) < UNKNOWN_LOGGED_EVERY);
        }
        match logged.get(agent_id) {
            Some(at) if now.duration_since(*at) < UNKNOWN_LOGGED_EVERY => false,
            _ => {
                logged.insert(agent_id.to_owned(), now);
                true
            }
        }
    }

    /// The heartbeat times to store, and the agents that expire now (marked in the book).
    /// With `expire` false (self-preservation) none expires. Only agents `owns` says are
    /// this dashboard's expire here, and only `margin` after their TTL: with several
    /// dashboards, a heartbeat another one took reaches the database within its flush.
    pub fn sweep(&self, now: DateTime<Utc>, expire: bool, owns: impl Fn(&str) -> bool, margin: Duration) -> Sweep {
        let grace_from = self.inner.started;
        let margin = chrono::Duration::from_std(margin).unwrap_or_default();
        let mut sweep = Sweep::default();
        for (id, entry) in self.book().iter_mut() {
            if entry.dirty {
                entry.dirty = false;
                if let Some(last) = entry.last {
                    sweep.beats.push((id.clone(), last));
                }
            }
            if let (true, Some(ttl), None) = (expire, entry.ttl, entry.expired) {
                let since = entry.last.map_or(grace_from, |last| last.max(grace_from));
                if now - since > chrono::Duration::seconds(i64::from(ttl)) + margin && owns(id) {
                    entry.expired = Some(Expiry::Ttl);
                    sweep.expired.push((id.clone(), entry.last));
                }
            }
        }
        sweep
    }

    /// Heartbeat times that could not be stored go back into the next batch (unless a
    /// newer one came meanwhile).
    pub fn unflushed(&self, beats: Vec<(String, DateTime<Utc>)>) {
        let mut book = self.book();
        for (id, at) in beats {
            if let Some(entry) = book.get_mut(&id) {
                if entry.last == Some(at) {
                    entry.dirty = true;
                }
            }
        }
    }

    /// An expiry that was not stored (revived meanwhile, another dashboard took a newer
    /// heartbeat, or the write failed): the book takes it back unless something newer
    /// happened to the agent, and keeps the newer of its heartbeat and `stored`.
    pub fn unexpired(&self, agent_id: &str, last: Option<DateTime<Utc>>, stored: Option<DateTime<Utc>>) {
        if let Some(entry) = self.book().get_mut(agent_id) {
            if entry.expired == Some(Expiry::Ttl) && entry.last == last {
                entry.expired = None;
            }
            if stored > entry.last {
                entry.last = stored;
            }
        }
    }

    /// Self-registered agents alive now, and of them those silent: no heartbeat for half
    /// their TTL (they missed at least one beat), counted from the dashboard's start at
    /// the earliest (self-preservation's measure).
    pub fn silence(&self, now: DateTime<Utc>) -> (usize, usize) {
        let grace_from = self.inner.started;
        let book = self.book();
        let mut alive = 0;
        let mut silent = 0;
        for entry in book.values().filter(|e| e.expired.is_none()) {
            let Some(ttl) = entry.ttl else { continue };
            alive += 1;
            let since = entry.last.map_or(grace_from, |last| last.max(grace_from));
            if (now - since).num_milliseconds() > i64::from(ttl) * 500 {
                silent += 1;
            }
        }
        (alive, silent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn book(started: i64) -> Liveness {
        let live = Liveness::new(at(started));
        live.load([
            Loaded { agent_id: "self".into(), ttl: Some(60), last: Some(at(0)), expired: None, owner: None },
            Loaded { agent_id: "manual".into(), ttl: None, last: None, expired: None, owner: None },
        ]);
        live
    }

    #[test]
    fn an_agent_expires_after_its_ttl_and_a_heartbeat_revives_it() {
        let live = book(0);
        assert!(live.sweep(at(60), true, |_| true, Duration::ZERO).expired.is_empty(), "not before the TTL has passed");
        let sweep = live.sweep(at(61), true, |_| true, Duration::ZERO);
        assert_eq!(sweep.expired, vec![("self".to_owned(), Some(at(0)))]);
        assert!(live.sweep(at(120), true, |_| true, Duration::ZERO).expired.is_empty(), "expired once");
        assert_eq!(live.beat("self", at(121)), Beat::Revived(at(121)));
        assert_eq!(live.beat("self", at(122)), Beat::Recorded(at(122)));
        assert_eq!(live.sweep(at(123), true, |_| true, Duration::ZERO).beats, vec![("self".to_owned(), at(122))]);
        assert!(live.sweep(at(124), true, |_| true, Duration::ZERO).beats.is_empty(), "flushed once");
    }

    #[test]
    fn the_dashboards_own_downtime_is_not_held_against_agents() {
        // Last heartbeat long before this start: still a whole TTL from the start.
        let live = book(1000);
        assert!(live.sweep(at(1059), true, |_| true, Duration::ZERO).expired.is_empty());
        assert_eq!(live.sweep(at(1061), true, |_| true, Duration::ZERO).expired.len(), 1);
    }

    #[test]
    fn manual_agents_never_expire_and_deregistered_ones_are_not_revived_by_heartbeats() {
        let live = book(0);
        assert_eq!(live.beat("manual", at(1)), Beat::Recorded(at(1)));
        assert!(live.sweep(at(100_000), true, |_| true, Duration::ZERO).expired.iter().all(|(id, _)| id != "manual"));
        live.registered("self", Some(60), Some(at(5)), None);
        live.deregistered("self");
        assert_eq!(live.beat("self", at(6)), Beat::Deregistered);
        assert_eq!(live.beat("nobody", at(6)), Beat::Unknown);
        live.registered("self", Some(60), Some(at(7)), None);
        assert_eq!(live.beat("self", at(8)), Beat::Recorded(at(8)));
    }

    #[test]
    fn paused_expiry_expires_nothing_and_a_failed_write_is_retried() {
        let live = book(0);
        assert!(live.sweep(at(1000), false, |_| true, Duration::ZERO).expired.is_empty());
        let sweep = live.sweep(at(1000), true, |_| true, Duration::ZERO);
        assert_eq!(sweep.expired.len(), 1);
        live.unexpired("self", Some(at(0)), None);
        assert_eq!(
            live.sweep(at(1001), true, |_| true, Duration::ZERO).expired.len(),
            1,
            "expires again at the next sweep"
        );
        live.beat("manual", at(2));
        let beats = live.sweep(at(1002), true, |_| true, Duration::ZERO).beats;
        live.unflushed(beats);
        assert_eq!(live.sweep(at(1003), true, |_| true, Duration::ZERO).beats, vec![("manual".to_owned(), at(2))]);
    }

    #[test]
    fn only_the_owner_expires_an_agent_and_only_after_the_margin() {
        let live = book(0);
        live.registered("theirs", Some(60), Some(at(0)), None);
        live.registered("mine", Some(60), Some(at(0)), None);
        let margin = Duration::from_secs(2);
        let sweep = |t| live.sweep(at(t), true, |id: &str| id == "mine", margin).expired;
        assert!(sweep(61).is_empty(), "within the margin: another dashboard's beat may still be flushing");
        assert_eq!(sweep(63), vec![("mine".to_owned(), Some(at(0)))]);
        assert!(sweep(1000).is_empty(), "not this dashboard's to expire");
        // Another dashboard took a newer beat: the expiry is refused, the book keeps it.
        live.unexpired("mine", Some(at(0)), Some(at(50)));
        assert!(sweep(100).is_empty());
        assert_eq!(sweep(113).len(), 1, "a TTL and the margin after the newer beat");
    }

    #[test]
    fn silence_is_half_a_ttl_without_a_heartbeat() {
        let live = book(0);
        assert_eq!(live.silence(at(30)), (1, 0));
        assert_eq!(live.silence(at(31)), (1, 1));
        live.beat("self", at(31));
        assert_eq!(live.silence(at(40)), (1, 0));
    }

    #[test]
    fn unknown_ids_are_logged_once_an_hour() {
        let live = book(0);
        assert!(live.first_unknown("ghost"));
        assert!(!live.first_unknown("ghost"));
        assert!(live.first_unknown("other"));
    }
}
