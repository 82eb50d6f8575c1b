//! The agents file (`ui --agents-file FILE`): agents declared by the file, which owns
//! them (`source: declared`). It is applied at start and again whenever it changes: an
//! entry added is registered (stored even while it is down, like `--force`: it was
//! declared), one changed is updated, one removed is deregistered (kept with its history,
//! not checked, never deleted). An ID registered otherwise (by hand, by itself, from a
//! discovery) is reported and left alone. A file with any mistake changes nothing; its
//! error (file, line, field) is logged and shown by `GET /status`.

use super::{store, Registry};
use crate::error::ServiceError;
use app::model::events::LiveEvent;
use app::model::{AgentSource, AgentsFileStatus, DeclaredAgent, RegisterAgent};
use futures::StreamExt;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Entries registered at once while applying (each waits for its health check).
const AT_ONCE: usize = 16;

/// The file and what became of its last reading.
#[derive(Clone)]
pub struct AgentsFile {
    pub path: PathBuf,
    /// How often the file is read for changes.
    pub poll: Duration,
    status: Arc<Mutex<AgentsFileStatus>>,
}

impl AgentsFile {
    /// Reads and parses the file once: a file that cannot be used stops the start.
    pub fn open(path: PathBuf, poll: Duration) -> Result<AgentsFile, String> {
        crate::discovery::file::read(&path)?;
        let status = AgentsFileStatus { path: path.display().to_string(), ..AgentsFileStatus::default() };
        Ok(AgentsFile { path, poll, status: Arc::new(Mutex::new(status)) })
    }

    pub fn status(&self) -> AgentsFileStatus {
        self.status.lock().expect("never poisoned: no panics while held").clone()
    }

    fn record(&self, change: impl FnOnce(&mut AgentsFileStatus)) {
        change(&mut self.status.lock().expect("never poisoned: no panics while held"));
    }
}

/// What applying the file did.
#[derive(Debug, Default, PartialEq)]
pub struct Applied {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// IDs registered otherwise, left alone.
    pub conflicts: Vec<String>,
}

impl Registry {
    /// Reads the file at start and every `poll` until shutdown, applying it when its
    /// contents changed.
    pub async fn watch_agents_file(self, file: AgentsFile, mut shutdown: crate::tasks::Shutdown) {
        let mut applied: Option<Vec<u8>> = None;
        let mut ticks = tokio::time::interval(file.poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.changed() => return,
            }
            let name = file.path.display().to_string();
            let bytes = match tokio::fs::read(&file.path).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    let error = format!("{name}: {e} (the agents it declared are kept)");
                    if file.status().error.as_ref() != Some(&error) {
                        tracing::error!(%error, "agents file unreadable");
                    }
                    file.record(|s| s.error = Some(error));
                    continue;
                }
            };
            if applied.as_ref() == Some(&bytes) {
                continue;
            }
            let entries = match crate::discovery::file::parse(&name, &String::from_utf8_lossy(&bytes)) {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::error!(%error, "agents file not applied: nothing changed");
                    file.record(|s| s.error = Some(error));
                    // Read again only when it changes again.
                    applied = Some(bytes);
                    continue;
                }
            };
            let count = entries.len();
            match self.apply_declared(entries).await {
                Ok(done) => {
                    for id in &done.conflicts {
                        tracing::warn!(agent_id = %id, file = %name, "agents file: the ID is registered otherwise; left alone");
                    }
                    tracing::info!(file = %name, added = done.added, updated = done.updated, removed = done.removed,
                        unchanged = done.unchanged, "agents file applied");
                    file.record(|s| {
                        s.applied_at = Some(crate::time::timestamp(chrono::Utc::now()));
                        s.agents = count as u64;
                        s.error = None;
                        s.conflicts = done.conflicts;
                    });
                    applied = Some(bytes);
                }
                // The database: tried again at the next tick.
                Err(e) => {
                    tracing::error!(error = %e, file = %name, "agents file could not be applied; trying again");
                    file.record(|s| s.error = Some(format!("{name}: could not be applied: {e}")));
                }
            }
        }
    }

    /// Makes the declared agents what `entries` say.
    pub async fn apply_declared(&self, entries: Vec<DeclaredAgent>) -> Result<Applied, ServiceError> {
        let stored = store::declared(self.db.read()).await?;
        let by_id: HashMap<&str, &crate::entities::agents::Model> =
            stored.iter().map(|m| (m.agent_id.as_str(), m)).collect();
        let mut done = Applied::default();
        let mut changes = Vec::new();
        for entry in &entries {
            let metadata = entry
                .metadata
                .as_ref()
                .map(|m| app::validation::parse_metadata(m).map(Value::Object))
                .transpose()
                .map_err(|e| ServiceError::invalid_field("metadata", e))?
                .unwrap_or_else(|| Value::Object(Default::default()));
            let name = entry.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| entry.id.clone());
            match by_id.get(entry.id.as_str()) {
                Some(m)
                    if m.agent_url == entry.url
                        && m.agent_name == name
                        && m.metadata == metadata
                        && m.expired_at.is_none() =>
                {
                    done.unchanged += 1;
                }
                Some(_) => changes.push((entry.clone(), name, metadata, false)),
                None => match store::find(self.db.read(), &entry.id).await? {
                    // Registered otherwise. (One registered between this read and the
                    // write below is refused there: new entries do not replace.)
                    Some(_) => done.conflicts.push(entry.id.clone()),
                    None => changes.push((entry.clone(), name, metadata, true)),
                },
            }
        }
        let results = futures::stream::iter(changes)
            .map(|(entry, name, metadata, new)| async move {
                let request = RegisterAgent {
                    agent_id: entry.id.clone(),
                    agent_name: name,
                    agent_url: entry.url,
                    metadata,
                    force: true,
                    replace: !new,
                    ..RegisterAgent::default()
                };
                (new, entry.id, self.register_as(request, AgentSource::Declared).await)
            })
            .buffer_unordered(AT_ONCE)
            .collect::<Vec<_>>()
            .await;
        for (new, id, result) in results {
            match result {
                Ok(_) if new => done.added += 1,
                Ok(_) => done.updated += 1,
                Err(ServiceError::AgentExists { .. }) => done.conflicts.push(id),
                // An entry the registration refuses (the network policy): reported, the
                // others applied.
                Err(e) => {
                    tracing::warn!(agent_id = %id, error = %e, "agents file: entry not registered");
                    done.conflicts.push(format!("{id} ({e})"));
                }
            }
        }
        let declared: HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        for gone in stored.iter().filter(|m| m.expired_at.is_none() && !declared.contains(m.agent_id.as_str())) {
            if let Some(model) = store::deregister(self.db.write(), &gone.agent_id, None, AgentSource::Declared).await?
            {
                self.monitor.park(&gone.agent_id);
                tracing::info!(agent_id = %gone.agent_id, "declared agent left the agents file: deregistered");
                self.bus.publish(LiveEvent::AgentUpserted(store::to_view(model, &self.policy)));
                done.removed += 1;
            }
        }
        Ok(done)
    }
}
