//! The receiving side of the relay: what the other dashboards say, applied here; a
//! listening connection that fails, or goes silent, is made again and followed by a resync.
//!
//! A listening connection can go silent without an error (a half-open TCP connection, and
//! sqlx sets no keepalive): every two node timeouts the receiver notifies itself, and a
//! ping not heard within one node timeout counts as a lost connection.
//!
//! A dashboard that leaves the live members may have died between a commit and its
//! NOTIFY: what it changed last is then known only to the database. The chaos run
//! (`benches/chaos.rs`, a SIGKILL every 20 s at 50 runs/s) saw it: a run created just
//! before a kill reached the others' streams only when it was taken over, 3.7 s later; an
//! agent registered so would never have reached their monitors. So a member counted out
//! is followed by a resync, as a lost connection is.

use super::{listen, Note, Payload, CHANNEL};
use crate::cluster::Members;
use crate::db::Db;
use crate::entities::agents;
use crate::events::EventBus;
use crate::registry::Registry;
use crate::runs::Runs;
use crate::tasks::Shutdown;
use app::model::events::LiveEvent;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Statement};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub(super) struct Receiver {
    pub(super) db: Db,
    pub(super) me: Arc<str>,
    pub(super) url: String,
    pub(super) registry: Registry,
    pub(super) runs: Runs,
    pub(super) bus: EventBus,
}

/// Applies what the other dashboards say; after a lost connection (an error, or its own
/// ping not heard), reconnects and resyncs.
pub(super) async fn receive(
    receiver: Receiver,
    mut listener: PgListener,
    ping_every: Duration,
    mut members: watch::Receiver<Members>,
    mut shutdown: Shutdown,
) {
    let mut live = members.borrow_and_update().live.clone();
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut sent: Option<(u64, tokio::time::Instant)> = None;
    loop {
        let next = tokio::select! {
            next = listener.try_recv() => next,
            _ = pings.tick() => {
                if sent.is_some_and(|(_, at)| at.elapsed() >= ping_every / 2) {
                    Err(sea_orm::sqlx::Error::Protocol("the listening connection did not hear its own ping".into()))
                } else {
                    let token = fastrand::u64(..);
                    receiver.ping(token).await;
                    sent.get_or_insert((token, tokio::time::Instant::now()));
                    continue;
                }
            }
            Ok(()) = members.changed() => {
                let now = members.borrow_and_update().live.clone();
                // Another member left while this one is still counted in (a dashboard that
                // counted itself out, its database away, resyncs when it reconnects).
                let me = &receiver.me;
                let left = now.contains(me) && live.iter().any(|m| m != me && !now.contains(m));
                live = now;
                if left {
                    tracing::info!("a dashboard left; resyncing in case it died before telling its last changes");
                    receiver.resync().await;
                }
                continue;
            }
            _ = shutdown.changed() => return,
        };
        match next {
            Ok(Some(notification)) => {
                if let Some(token) = receiver.take(notification.payload()).await {
                    if sent.is_some_and(|(t, _)| t == token) {
                        sent = None;
                    }
                }
            }
            // The connection was lost and made again: what was said meanwhile is lost.
            Ok(None) => {
                tracing::warn!("the connection listening to the other dashboards was lost; resyncing");
                receiver.resync().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to the other dashboards; reconnecting");
                sent = None;
                let mut wait = Duration::from_millis(200);
                listener = loop {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => return,
                    }
                    match listen(&receiver.url).await {
                        Ok(l) => break l,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot listen to the other dashboards; retrying");
                            wait = (wait * 2).min(Duration::from_secs(5));
                        }
                    }
                };
                receiver.resync().await;
            }
        }
    }
}

impl Receiver {
    /// Applies a notification; its ping token when it is this dashboard's own ping.
    async fn take(&self, text: &str) -> Option<u64> {
        let payload: Payload = match serde_json::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                // Another version's notes, or someone else's NOTIFY on our channel.
                tracing::warn!(error = %e, "a notification on {CHANNEL} was not understood; resyncing");
                self.resync().await;
                return None;
            }
        };
        if *payload.from == *self.me {
            return payload.ping;
        }
        if let Err(e) = self.apply(payload.notes).await {
            tracing::warn!(error = %e, "could not read what another dashboard changed; resyncing");
            self.resync().await;
        }
        None
    }

    /// Notifies this dashboard's own listening connection (a failure is the database's,
    /// and the ping not heard says so in time).
    async fn ping(&self, token: u64) {
        let payload = Payload { from: self.me.to_string(), notes: Vec::new(), ping: Some(token) };
        let text = serde_json::to_string(&payload).expect("a ping always serializes");
        let statement = Statement::from_sql_and_values(
            self.db.backend(),
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), text.into()],
        );
        if let Err(e) = self.db.write().execute(statement).await {
            tracing::debug!(error = %e, "could not ping the listening connection");
        }
    }

    async fn apply(&self, notes: Vec<Note>) -> Result<(), DbErr> {
        let (mut agents, mut health, mut removed, mut outbound) =
            (BTreeSet::new(), BTreeSet::new(), Vec::new(), BTreeSet::new());
        let (mut runs, mut runs_removed, mut checks) = (BTreeSet::new(), Vec::new(), Vec::new());
        for note in notes {
            match note {
                Note::Agent(id) => {
                    agents.insert(id);
                }
                Note::Health(id) => {
                    health.insert(id);
                }
                Note::AgentRemoved(id) => removed.push(id),
                Note::Outbound(id) => {
                    outbound.insert(id);
                }
                Note::Check(id) => checks.push(id),
                Note::Preservation(view) => self.registry.relayed_preservation(view),
                Note::Run(id) => {
                    runs.insert(id);
                }
                Note::RunRemoved(id) => runs_removed.push(id),
            }
        }
        if !agents.is_empty() {
            let ids: Vec<String> = agents.into_iter().collect();
            let mut models = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(500) {
                models.extend(
                    agents::Entity::find()
                        .filter(agents::Column::AgentId.is_in(chunk.iter().cloned()))
                        .all(self.db.read())
                        .await?,
                );
            }
            // Named but gone: deleted since.
            let found: BTreeSet<&str> = models.iter().map(|m| m.agent_id.as_str()).collect();
            removed.extend(ids.iter().filter(|id| !found.contains(id.as_str())).cloned());
            self.registry.relayed_agents(models).await?;
        }
        if !health.is_empty() {
            let ids: Vec<String> = health.into_iter().collect();
            self.registry.relayed_health(crate::health::store::targets_of(self.db.read(), &ids).await?);
        }
        if !outbound.is_empty() {
            self.registry.relayed_outbound(outbound.into_iter().collect()).await?;
        }
        if !checks.is_empty() {
            self.registry.relayed_checks(checks);
        }
        if !removed.is_empty() {
            self.registry.relayed_removals(removed);
        }
        if !runs.is_empty() || !runs_removed.is_empty() {
            self.runs.relayed(runs.into_iter().collect(), runs_removed).await?;
        }
        Ok(())
    }

    /// Re-reads every agent; the streams refetch their views.
    async fn resync(&self) {
        if let Err(e) = self.registry.resync().await {
            tracing::warn!(error = %e, "could not re-read the agents after a gap; the next gap or change retries");
        }
        self.bus.publish_relayed(LiveEvent::Resync);
    }
}
