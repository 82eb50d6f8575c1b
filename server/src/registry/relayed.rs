//! What another dashboard on the same database changed (`cluster::relay` reads the rows
//! it names): taken into this one's heartbeat book, health monitor and schema cache, and
//! published to this one's event streams without being sent back.

use super::{store, Registry};
use crate::entities::agents;
use crate::health::store::Target;
use crate::health::FirstCheck;
use app::model::events::{AgentRemoved, LiveEvent};
use app::model::SelfPreservation;
use sea_orm::DbErr;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The deciding dashboard repeats its self-preservation decision this often …
pub const SAID_EVERY: Duration = Duration::from_secs(5);
/// … and one not heard for this long pauses nothing.
pub const HEARD_WITHIN: Duration = Duration::from_secs(15);

impl Registry {
    /// Agents registered, updated, expired or revived elsewhere, as stored now.
    pub async fn relayed_agents(&self, models: Vec<agents::Model>) -> Result<(), DbErr> {
        if models.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = models.iter().map(|m| m.agent_id.clone()).collect();
        let mut headers: HashMap<_, _> = store::outbound::of(self.db.read(), &ids).await?;
        self.liveness.merge(models.iter().map(store::loaded_of).collect(), None);
        for model in models {
            self.schemas.forget(&model.agent_id);
            let outbound = match headers.remove(&model.agent_id) {
                Some((url, outbound)) if url == model.agent_url => outbound,
                _ => crate::agent_client::Outbound::none(),
            };
            self.monitor.upsert(Target::from_model(&model).with_headers(outbound), FirstCheck::WhenStale);
            self.bus.publish_relayed(LiveEvent::AgentUpserted(store::to_view(model, &self.policy)));
        }
        Ok(())
    }

    /// Other dashboards' health checks, as stored.
    pub fn relayed_health(&self, targets: Vec<Target>) {
        self.monitor.observe(targets);
    }

    /// Agents deleted elsewhere.
    pub fn relayed_removals(&self, agent_ids: Vec<String>) {
        for agent_id in agent_ids {
            self.schemas.forget(&agent_id);
            self.liveness.forget(&agent_id);
            self.monitor.remove(&agent_id);
            self.bus.publish_relayed(LiveEvent::AgentRemoved(AgentRemoved { agent_id }));
        }
    }

    /// Outbound headers set elsewhere: this dashboard's checks send them too.
    pub async fn relayed_outbound(&self, agent_ids: Vec<String>) -> Result<(), DbErr> {
        let mut headers = store::outbound::of(self.db.read(), &agent_ids).await?;
        for agent_id in agent_ids {
            let Some(agent) = store::find(self.db.read(), &agent_id).await? else { continue };
            let outbound = match headers.remove(&agent_id) {
                Some((url, outbound)) if url == agent.agent_url => outbound,
                _ => crate::agent_client::Outbound::none(),
            };
            self.monitor.outbound(&agent_id, &agent.agent_url, outbound);
        }
        Ok(())
    }

    /// The dashboard deciding self-preservation changed it.
    /// (Repeated every few seconds by the decider: published here only when it changed.)
    pub fn relayed_preservation(&self, view: SelfPreservation) {
        *self.preservation_heard.lock().expect("never poisoned: no panics while held") = Some(Instant::now());
        let mut held = self.preservation.lock().expect("never poisoned: no panics while held");
        if *held != view {
            *held = view.clone();
            drop(held);
            self.bus.publish_relayed(LiveEvent::SelfPreservation(view));
        }
    }

    /// Whether expiry is paused by the deciding dashboard, as last heard within
    /// `HEARD_WITHIN` (a decider that stopped saying it pauses nothing).
    pub fn paused_elsewhere(&self) -> bool {
        let heard = *self.preservation_heard.lock().expect("never poisoned: no panics while held");
        heard.is_some_and(|at| at.elapsed() < HEARD_WITHIN)
            && self.preservation.lock().expect("never poisoned: no panics while held").active
    }

    /// After a gap in what the other dashboards said (the listening connection was lost):
    /// the book and the monitor take every agent as stored now. The caller sends the
    /// streams `resync`.
    pub async fn resync(&self) -> Result<(), DbErr> {
        // What changes here while the rows are read is newer than them, and stays.
        let mark = self.monitor.mark().await;
        let read_from = Instant::now();
        let targets = crate::health::store::targets(self.db.read()).await?;
        self.liveness.merge(store::liveness(self.db.read()).await?, Some(read_from));
        if let Some(mark) = mark {
            self.monitor.reload(targets, mark);
        }
        Ok(())
    }
}
