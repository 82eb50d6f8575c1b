//! Changes made through one dashboard reach every other dashboard on the same PostgreSQL:
//! what this one publishes goes out as NOTIFY on one channel, naming only the kind of
//! change and the row's key; each receiver reads the rows as they are now (after the
//! commit) and applies them to its own book, monitor and event streams. A notification
//! carries no state of its own, so one that arrives late or twice changes nothing wrong.
//!
//! Notes are gathered for `GATHER` and sent as one NOTIFY of at most `PAYLOAD_MAX` bytes
//! (PostgreSQL's limit is 8,000): 10,000 agents publish about 330 health refreshes a
//! second, which are at most 100 notifications (one per 10 ms), not 330.
//!
//! A notification sent while a receiver's listening connection was down is lost to it
//! (PostgreSQL keeps none), so a receiver that loses its connection reconnects, re-reads
//! every agent into its book and monitor, and sends its own event streams `resync`:
//! never a silent gap. So does a dashboard that dies between a commit and its NOTIFY
//! (the gathering's 10 ms, or longer with the database away): the others resync when
//! they count it out (`receive`).

mod receive;

use crate::cluster::Members;
use crate::db::Db;
use crate::events::EventBus;
use crate::registry::Registry;
use crate::runs::Runs;
use crate::tasks::Shutdown;
use app::model::events::LiveEvent;
use app::model::SelfPreservation;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, Statement};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The one channel every dashboard listens on.
pub const CHANNEL: &str = "configurable_agents";

/// One NOTIFY's payload at most (PostgreSQL refuses more than 8,000 bytes).
const PAYLOAD_MAX: usize = 7_000;

/// How long notes are gathered into one NOTIFY: well inside the 250 ms a change may take
/// to reach another dashboard's browsers.
const GATHER: Duration = Duration::from_millis(10);

/// What changed, by key: the receiver reads the row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", content = "v")]
pub enum Note {
    /// Registered, updated, expired or revived.
    #[serde(rename = "a")]
    Agent(String),
    #[serde(rename = "r")]
    AgentRemoved(String),
    #[serde(rename = "h")]
    Health(String),
    /// Its outbound headers changed.
    #[serde(rename = "o")]
    Outbound(String),
    /// Someone asked for the agent to be checked now (bulk Re-check): whichever
    /// dashboard checks it does.
    #[serde(rename = "c")]
    Check(String),
    /// Self-preservation is no row: the note carries it (a few numbers).
    #[serde(rename = "p")]
    Preservation(SelfPreservation),
    #[serde(rename = "u")]
    Run(String),
    #[serde(rename = "d")]
    RunRemoved(String),
}

impl Note {
    /// The note for an event this dashboard published; None for what concerns only it.
    pub fn of(event: &LiveEvent) -> Option<Self> {
        Some(match event {
            LiveEvent::AgentUpserted(a) => Note::Agent(a.agent_id.clone()),
            LiveEvent::AgentRemoved(a) => Note::AgentRemoved(a.agent_id.clone()),
            LiveEvent::AgentHealth(h) => Note::Health(h.agent_id.clone()),
            LiveEvent::SelfPreservation(p) => Note::Preservation(p.clone()),
            LiveEvent::RunUpdated(r) => Note::Run(r.run_id.clone()),
            LiveEvent::RunRemoved(r) => Note::RunRemoved(r.run_id.clone()),
            LiveEvent::Resync => return None,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    /// The sending dashboard (a receiver skips its own).
    from: String,
    notes: Vec<Note>,
    /// A dashboard's ping to itself (`receive`): its listening connection still hears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ping: Option<u64>,
}

/// Where notes for the other dashboards go. Without a relay (SQLite) they go nowhere.
#[derive(Clone)]
pub struct Outbox(Option<mpsc::UnboundedSender<Note>>);

impl Outbox {
    pub fn none() -> Self {
        Self(None)
    }

    /// Whether other dashboards may share the database (the relay runs).
    pub fn is_shared(&self) -> bool {
        self.0.is_some()
    }

    pub fn send(&self, note: Note) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(note);
        }
    }
}

/// The relay of one dashboard: its outbox, and what it needs to listen.
pub struct Relay {
    db: Db,
    me: Arc<str>,
    url: String,
    outbox: mpsc::UnboundedReceiver<Note>,
    listener: PgListener,
    ping_every: Duration,
}

impl Relay {
    /// Starts listening now (before the book and the monitor load the agents, so no
    /// change made meanwhile is missed), and sends what `bus` publishes from now on.
    pub async fn start(
        db: Db,
        url: &str,
        me: Arc<str>,
        bus: &EventBus,
        node_timeout: Duration,
    ) -> Result<(Self, Outbox), sea_orm::sqlx::Error> {
        let listener = listen(url).await?;
        let (tx, outbox) = mpsc::unbounded_channel();
        let relayed = tx.clone();
        bus.set_relay(Box::new(move |event| {
            if let Some(note) = Note::of(event) {
                let _ = relayed.send(note);
            }
        }));
        Ok((Self { db, me, url: url.to_owned(), outbox, listener, ping_every: node_timeout * 2 }, Outbox(Some(tx))))
    }

    /// Sends and receives until shutdown.
    pub async fn run(
        self,
        registry: Registry,
        runs: Runs,
        bus: EventBus,
        members: watch::Receiver<Members>,
        shutdown: Shutdown,
    ) {
        let Self { db, me, url, outbox, listener, ping_every } = self;
        let sending = send(db.clone(), me.clone(), outbox, shutdown.clone());
        let receiver = receive::Receiver { db, me, url, registry, runs, bus };
        let receiving = receive::receive(receiver, listener, ping_every, members, shutdown);
        tokio::join!(sending, receiving);
    }
}

async fn listen(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Gathers notes and sends them, one NOTIFY per `GATHER` or per `PAYLOAD_MAX` bytes.
async fn send(db: Db, me: Arc<str>, mut outbox: mpsc::UnboundedReceiver<Note>, mut shutdown: Shutdown) {
    let mut pending: Option<Note> = None;
    loop {
        let first = match pending.take() {
            Some(note) => note,
            None => tokio::select! {
                note = outbox.recv() => match note { Some(n) => n, None => return },
                _ = shutdown.changed() => return,
            },
        };
        let deadline = tokio::time::Instant::now() + GATHER;
        let mut payload = Payload { from: me.to_string(), notes: vec![first], ping: None };
        let mut size = 64 + serde_json::to_string(&payload.notes[0]).map_or(0, |t| t.len());
        loop {
            let note = tokio::select! {
                note = outbox.recv() => match note { Some(n) => n, None => break },
                _ = tokio::time::sleep_until(deadline) => break,
            };
            let len = serde_json::to_string(&note).map_or(0, |t| t.len()) + 1;
            if size + len > PAYLOAD_MAX {
                pending = Some(note);
                break;
            }
            size += len;
            payload.notes.push(note);
        }
        tokio::select! {
            _ = notify(&db, &payload) => {}
            // Stopping with the database away: the notes are lost with the process, and
            // the others take its agents and runs as those of a dashboard gone.
            _ = shutdown.changed() => return,
        }
    }
}

/// Sends one payload, trying until it is sent: notes name rows and are idempotent, so a
/// late one is as good as a timely one, and one given up would leave the others without
/// an agent for good (never checked, never expired). The database being away stops
/// everything else too; the notes wait in the outbox meanwhile.
async fn notify(db: &Db, payload: &Payload) {
    let text = serde_json::to_string(payload).expect("notes always serialize");
    let statement =
        Statement::from_sql_and_values(db.backend(), "SELECT pg_notify($1, $2)", [CHANNEL.into(), text.into()]);
    let mut wait = Duration::from_millis(100);
    let mut attempt = 0u32;
    loop {
        match db.write().execute(statement.clone()).await {
            Ok(_) => {
                if attempt > 0 {
                    tracing::info!(attempts = attempt + 1, "told the other dashboards of a change, late");
                }
                return;
            }
            Err(e) => {
                attempt += 1;
                if attempt == 1 || attempt.is_power_of_two() {
                    tracing::warn!(error = %e, attempt, "could not tell the other dashboards of a change; retrying");
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_short_and_read_back() {
        let payload = Payload {
            from: "n1".into(),
            notes: vec![Note::Agent("a:b c".into()), Note::Run("r1".into()), Note::Health("line\nbreak".into())],
            ping: None,
        };
        let text = serde_json::to_string(&payload).unwrap();
        assert_eq!(
            text,
            r#"{"from":"n1","notes":[{"k":"a","v":"a:b c"},{"k":"u","v":"r1"},{"k":"h","v":"line\nbreak"}]}"#
        );
        let back: Payload = serde_json::from_str(&text).unwrap();
        assert_eq!(back.notes, payload.notes);
    }
}
