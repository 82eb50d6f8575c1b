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

    /// Tries for the lock every `every` until shutdown, and checks the connection that
    /// holds it as often.
    pub async fn run(self, url: String, every: Duration, mut shutdown: Shutdown) {
        let mut held: Option<PgConnection> = None;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            match held.as_mut() {
                Some(conn) => {
                    if let Err(e) = sqlx::query("SELECT 1").execute(&mut *conn).await {
                        tracing::warn!(error = %e, "the connection holding the deciding lock failed");
                        held = None;
                        self.set(false);
                    }
                }
                None => match try_lock(&url).await {
                    Ok(Some(conn)) => {
                        held = Some(conn);
                        self.set(true);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot try for the deciding lock; retrying"),
                },
            }
        }
        self.set(false);
        if let Some(conn) = held {
            // Closing the connection releases the lock at once for the next dashboard.
            let _ = conn.close().await;
        }
    }
}

/// The lock on a new connection, or None when another dashboard holds it.
async fn try_lock(url: &str) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    let (locked,): (bool,) =
        sqlx::query_as("SELECT pg_try_advisory_lock($1, 0)").bind(LOCK_LEADER).fetch_one(&mut conn).await?;
    if locked {
        Ok(Some(conn))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}
