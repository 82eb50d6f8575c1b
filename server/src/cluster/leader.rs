//! One dashboard at a time decides what must be decided once: self-preservation, and the
//! retention deletes. On PostgreSQL that is whoever holds one session advisory lock, on a
//! connection of its own (a pooled connection would hand the lock to whatever statement
//! runs on it next): the lock is released when that connection or process ends, however
//! it ends, and another dashboard takes it at its next try, within a renewal (a fifth of
//! the node timeout). On SQLite the one dashboard always decides.

use super::LOCK_SPACE;
use crate::tasks::Shutdown;
use sea_orm::sqlx::{self, postgres::PgConnection, Connection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The lock whose holder decides (its second key is 0).
pub const LOCK_LEADER: i32 = LOCK_SPACE + 2;

#[derive(Clone)]
pub struct Leadership(Arc<AtomicBool>);

impl Leadership {
    /// Always the one that decides (SQLite, one dashboard).
    pub fn alone() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    /// Not deciding until `run` takes the lock.
    pub fn shared() -> Self {
        Self(Arc::new(AtomicBool::new(false)))
    }

    pub fn is_leader(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, leader: bool) {
        if self.0.swap(leader, Ordering::Relaxed) != leader {
            if leader {
                tracing::info!("this dashboard now decides self-preservation and runs the retention deletes");
            } else {
                tracing::warn!("this dashboard no longer decides self-preservation (its lock connection was lost)");
            }
        }
    }

    /// Tries for the lock every `every` until shutdown, on one connection kept open
    /// (a new connection per try cost every dashboard that does not hold it measurable
    /// CPU: benches/cluster.rs), and checks the connection that holds it as often.
    pub async fn run(self, url: String, every: Duration, mut shutdown: Shutdown) {
        let mut conn: Option<PgConnection> = None;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            if conn.is_none() {
                match PgConnection::connect(&url).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot connect for the deciding lock; retrying");
                        continue;
                    }
                }
            }
            let c = conn.as_mut().expect("connected above");
            let held = if self.is_leader() {
                sqlx::query("SELECT 1").execute(&mut *c).await.map(|_| true)
            } else {
                sqlx::query_as::<_, (bool,)>("SELECT pg_try_advisory_lock($1, 0)")
                    .bind(LOCK_LEADER)
                    .fetch_one(&mut *c)
                    .await
                    .map(|(locked,)| locked)
            };
            match held {
                Ok(held) => self.set(held),
                Err(e) => {
                    // A new connection next time: a lock held on this one is gone with it.
                    tracing::warn!(error = %e, "the connection for the deciding lock failed");
                    conn = None;
                    self.set(false);
                }
            }
        }
        self.set(false);
        if let Some(conn) = conn {
            // Closing the connection releases the lock at once for the next dashboard.
            let _ = conn.close().await;
        }
    }
}
