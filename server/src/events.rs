//! The event bus: what changed, in order, for every open event stream (SSE).
//!
//! Services publish right after the commit that holds a change. Each event gets an id
//! `EPOCH-SEQ`: EPOCH names this process's start, SEQ counts up. The last
//! `REPLAY_CAPACITY` events are kept, so a client that reconnects with `Last-Event-ID`
//! gets exactly what it missed; one whose id this process cannot continue from (another
//! EPOCH after a restart, or older than what is kept) gets `resync` first and refetches
//! its view, never a silent gap. A subscriber too slow to keep up gets `resync` too.
//!
//! Several dashboards on one PostgreSQL: what `publish` is given also goes to the relay
//! (`cluster::relay`), which tells the others by NOTIFY; what they tell this one is
//! published here with `publish_relayed`, which does not send it back. Ids stay this
//! process's own, so a client that reconnects to another dashboard with an id from
//! here gets `resync` (another EPOCH), never a silent gap.

use app::model::events::LiveEvent;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

/// Events kept for resumption. At 10,000 agents a state change of every one fits twice.
pub const REPLAY_CAPACITY: usize = 20_000;

/// One published event, serialized once for every subscriber.
#[derive(Debug)]
pub struct Published {
    pub seq: u64,
    pub id: String,
    pub name: &'static str,
    pub data: String,
}

#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

/// Where published events go besides this process's streams.
pub type Relay = Box<dyn Fn(&LiveEvent) + Send + Sync>;

struct Inner {
    epoch: String,
    relay: std::sync::OnceLock<Relay>,
    log: Mutex<Log>,
    sender: broadcast::Sender<Arc<Published>>,
    clients: AtomicUsize,
    closed: watch::Sender<bool>,
}

struct Log {
    next: u64,
    kept: VecDeque<Arc<Published>>,
}

/// Where a new subscriber starts.
pub struct Subscription {
    /// True when the client must refetch its view before applying `replay` and what follows.
    pub resync: bool,
    /// The id a `resync` carries: the last published one, from which a reconnect resumes.
    pub resync_id: String,
    pub replay: Vec<Arc<Published>>,
    pub live: broadcast::Receiver<Arc<Published>>,
    pub closed: watch::Receiver<bool>,
    pub guard: ClientGuard,
}

/// Counts open streams (for /metrics) while it lives.
pub struct ClientGuard(Arc<Inner>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let epoch = format!("{:x}", chrono::Utc::now().timestamp_micros());
        let (sender, _) = broadcast::channel(4096);
        let (closed, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                epoch,
                relay: std::sync::OnceLock::new(),
                log: Mutex::new(Log { next: 1, kept: VecDeque::new() }),
                sender,
                clients: AtomicUsize::new(0),
                closed,
            }),
        }
    }

    /// Sends what this dashboard publishes to the other dashboards too (set once).
    pub fn set_relay(&self, relay: Relay) {
        let _ = self.inner.relay.set(relay);
    }

    /// A change made here: to this process's streams and, through the relay, to the
    /// other dashboards'.
    pub fn publish(&self, event: LiveEvent) {
        if let Some(relay) = self.inner.relay.get() {
            relay(&event);
        }
        self.publish_relayed(event);
    }

    /// A change another dashboard made (or one only this process's streams need).
    pub fn publish_relayed(&self, event: LiveEvent) {
        let (name, data) = (event.name(), event.data());
        let mut log = self.inner.log.lock().expect("event log lock is never poisoned: no panics while held");
        let seq = log.next;
        log.next += 1;
        let published = Arc::new(Published { seq, id: format!("{}-{seq}", self.inner.epoch), name, data });
        if log.kept.len() == REPLAY_CAPACITY {
            log.kept.pop_front();
        }
        log.kept.push_back(published.clone());
        // Sent under the lock, so that a subscriber that takes the lock sees every event
        // either in the replay or on its receiver, never in both and never in neither.
        let _ = self.inner.sender.send(published);
    }

    /// A new stream, resuming after `last_event_id` when this process can.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let log = self.inner.log.lock().expect("event log lock is never poisoned: no panics while held");
        let live = self.inner.sender.subscribe();
        let latest = log.next - 1;
        let oldest_kept = log.kept.front().map_or(log.next, |e| e.seq);
        let after = last_event_id.and_then(|id| {
            let (epoch, seq) = id.trim().rsplit_once('-')?;
            (epoch == self.inner.epoch).then_some(())?;
            seq.parse::<u64>().ok()
        });
        let (resync, replay) = match after {
            // Everything after `seq` is still kept (or nothing happened since).
            Some(seq) if seq <= latest && seq + 1 >= oldest_kept => {
                let skip = (seq + 1 - oldest_kept) as usize;
                (false, log.kept.iter().skip(skip).cloned().collect())
            }
            // A first connection has a view loaded at some moment before it; one whose
            // id is unknown here missed an unknown amount.
            _ => (true, Vec::new()),
        };
        drop(log);
        self.inner.clients.fetch_add(1, Ordering::Relaxed);
        Subscription {
            resync,
            resync_id: format!("{}-{latest}", self.inner.epoch),
            replay,
            live,
            closed: self.inner.closed.subscribe(),
            guard: ClientGuard(self.inner.clone()),
        }
    }

    /// The id of the newest event (what a `resync` sent now would carry).
    pub fn latest_id(&self) -> String {
        let log = self.inner.log.lock().expect("event log lock is never poisoned: no panics while held");
        format!("{}-{}", self.inner.epoch, log.next - 1)
    }

    /// Open event streams.
    pub fn clients(&self) -> usize {
        self.inner.clients.load(Ordering::Relaxed)
    }

    /// Ends every open stream (the server is stopping: its graceful shutdown waits for
    /// open connections, and an event stream never ends by itself).
    pub fn close(&self) {
        let _ = self.inner.closed.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::events::RunRemoved;

    fn removed(id: &str) -> LiveEvent {
        LiveEvent::RunRemoved(RunRemoved { run_id: id.into() })
    }

    #[test]
    fn a_known_id_replays_exactly_what_followed_it() {
        let bus = EventBus::new();
        bus.publish(removed("a"));
        let after_a = bus.latest_id();
        bus.publish(removed("b"));
        bus.publish(removed("c"));
        let sub = bus.subscribe(Some(&after_a));
        assert!(!sub.resync);
        let data: Vec<_> = sub.replay.iter().map(|e| e.data.clone()).collect();
        assert_eq!(data, [removed("b").data(), removed("c").data()]);
        // Up to date: nothing to replay, no resync.
        let sub = bus.subscribe(Some(&bus.latest_id()));
        assert!(!sub.resync && sub.replay.is_empty());
    }

    #[test]
    fn an_id_from_another_process_or_too_old_asks_for_a_resync() {
        let bus = EventBus::new();
        bus.publish(removed("a"));
        assert!(bus.subscribe(Some("0-1")).resync, "another epoch");
        assert!(bus.subscribe(Some("garbage")).resync);
        assert!(bus.subscribe(None).resync, "a first connection refetches once");
        let first = bus.latest_id();
        for i in 0..REPLAY_CAPACITY + 1 {
            bus.publish(removed(&i.to_string()));
        }
        let sub = bus.subscribe(Some(&first));
        assert!(sub.resync, "what followed was dropped from the log");
        assert_eq!(sub.resync_id, bus.latest_id());
        // An id from the future (a client of this epoch can't have one) is no resume point.
        let (epoch, _) = first.rsplit_once('-').unwrap();
        assert!(bus.subscribe(Some(&format!("{epoch}-999999999"))).resync);
    }

    #[test]
    fn clients_are_counted_while_subscribed() {
        let bus = EventBus::new();
        let a = bus.subscribe(None);
        let b = bus.subscribe(None);
        assert_eq!(bus.clients(), 2);
        drop(a);
        assert_eq!(bus.clients(), 1);
        drop(b);
        assert_eq!(bus.clients(), 0);
    }
}
