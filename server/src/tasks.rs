//! Background tasks (health monitor, run retention, later more) under one shutdown
//! signal: they start with the server and are awaited when it stops.

use futures::future::BoxFuture;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// Turns true once when the dashboard stops; a task returns soon after.
pub type Shutdown = watch::Receiver<bool>;

type Start = Box<dyn FnOnce(Shutdown) -> BoxFuture<'static, ()> + Send>;

#[derive(Default)]
pub struct Tasks {
    pending: Vec<(&'static str, Start)>,
    /// Retention deletes run only while this dashboard decides (several on one database).
    retention_by: Option<crate::cluster::leader::Leadership>,
}

/// The running tasks and the signal that stops them.
pub struct RunningTasks {
    stop: watch::Sender<bool>,
    handles: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

impl Tasks {
    /// Adds a task, started by `start` when the dashboard serves.
    pub fn add<F, Fut>(&mut self, name: &'static str, start: F)
    where
        F: FnOnce(Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.pending.push((name, Box::new(move |shutdown| Box::pin(start(shutdown)))));
    }

    /// The retention tasks added from now on run only while `leader` decides.
    pub fn retention_by(&mut self, leader: crate::cluster::leader::Leadership) {
        self.retention_by = Some(leader);
    }

    /// A retention task: every `period` until shutdown, `purge` deletes what is older than a
    /// setting (`flag`, named in the log line) and says how many rows went. A failure is
    /// logged and tried again at the next tick.
    pub fn add_retention<F, Fut, E>(&mut self, name: &'static str, flag: &'static str, period: Duration, purge: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<u64, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let gate = self.retention_by.clone();
        self.add(name, move |mut shutdown| async move {
            loop {
                // Not deciding (another dashboard on the database does): asked again every
                // second, so a dashboard that takes over deletes at once.
                let wait = if gate.as_ref().is_none_or(|g| g.is_leader()) {
                    match purge().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deleted = n, "{name}: old rows deleted ({flag})"),
                        Err(e) => tracing::warn!(error = %e, "{name}: could not delete old rows; trying again later"),
                    }
                    period
                } else {
                    Duration::from_secs(1)
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    pub fn start(self) -> RunningTasks {
        let (stop, signal) = watch::channel(false);
        let handles =
            self.pending.into_iter().map(|(name, start)| (name, tokio::spawn(start(signal.clone())))).collect();
        RunningTasks { stop, handles }
    }
}

impl RunningTasks {
    /// Signals every task and waits for each (a few seconds at most).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for (name, handle) in self.handles {
            match tokio::time::timeout(Duration::from_secs(5), handle).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "background task failed"),
                Err(_) => tracing::warn!(task = name, "background task did not stop within 5 s"),
            }
        }
    }
}

/// How often a retention of `retention` is enforced: a tenth of it, between 1 s and 1 h.
pub fn retention_tick(retention: Duration) -> Duration {
    (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

/// Calls `tick` every `every` until shutdown.
pub async fn every<F, Fut>(every: Duration, mut shutdown: Shutdown, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => tick().await,
            _ = shutdown.changed() => return,
        }
    }
}
