//! The agent registry: the rules for registering, listing and removing agents and for
//! reading their input schemas. It implements `app::services::AgentService`, which the
//! REST API and the server functions (and later the CLI) call.

mod bulk;
pub mod declared;
mod expiry;
pub mod liveness;
mod outbound;
mod relayed;
pub mod self_registration;
mod self_service;
pub mod store;

pub use expiry::PreservationSettings;
pub use self_service::Caller;

use crate::agent_client::{AgentClient, CallError, Outbound};
use crate::db::Db;
use crate::error::ServiceError;
use crate::events::EventBus;
use crate::health::history::HealthReader;
use crate::health::store::Target;
use crate::health::{FirstCheck, HealthPolicy, MonitorHandle};
use crate::metrics::Metrics;
use crate::time::timestamp;
use app::error::ApiError;
use app::model::events::{AgentRemoved, LiveEvent};
use app::model::{
    AgentOverview, AgentPage, AgentQuery, AgentSource, AgentView, HealthHistory, HealthState, HealthSummary,
    ListedAgent,
};
use app::model::{RegisterAgent, Registration, SchemaView, SelfPreservation};
use app::schema::{parse_schema, schema_hash};
use app::services::AgentService;
use app::validation::{validate_registration, AgentId, AgentUrl};
use chrono::Utc;
use liveness::Liveness;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::health::FIRST_CHECK_AFTER;

/// The registry's own settings.
#[derive(Clone, Copy, Debug)]
pub struct RegistrySettings {
    /// How long a fetched schema is reused (`--schema-reuse`).
    pub schema_reuse: Duration,
    pub preservation: PreservationSettings,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self { schema_reuse: Duration::from_secs(5), preservation: PreservationSettings::default() }
    }
}

/// The most agents one list call returns when a limit is given.
pub const MAX_PAGE: u64 = 1000;

/// Agents on one page of the overview, unless asked otherwise, and at most.
pub const OVERVIEW_PAGE: u64 = 50;
pub const MAX_OVERVIEW_PAGE: u64 = 200;

/// Cloned for every request that uses it (axum's `State`): one reference count, not one
/// per field — heartbeats are the hot path.
#[derive(Clone)]
pub struct Registry(Arc<RegistryInner>);

impl std::ops::Deref for Registry {
    type Target = RegistryInner;

    fn deref(&self) -> &RegistryInner {
        &self.0
    }
}

pub struct RegistryInner {
    db: Db,
    client: AgentClient,
    schemas: SchemaCache,
    bus: EventBus,
    monitor: MonitorHandle,
    policy: HealthPolicy,
    health: HealthReader,
    settings: RegistrySettings,
    liveness: Liveness,
    metrics: Metrics,
    /// Whether expiry is paused, as the liveness task last decided.
    preservation: Mutex<SelfPreservation>,
    /// When the deciding dashboard last said it (several dashboards: it repeats it every
    /// few seconds; one not heard for `HEARD_WITHIN` no longer pauses anything here).
    preservation_heard: Mutex<Option<std::time::Instant>>,
    /// What the other dashboards on the database must hear besides the events.
    outbox: crate::cluster::relay::Outbox,
    /// The dashboards sharing the database (the page names them).
    cluster: crate::cluster::Cluster,
}

/// What `DELETE /agents/{id}` did.
#[derive(Debug, PartialEq)]
pub enum Removal {
    Deleted,
    /// A self-registered agent said goodbye: kept, not alive.
    Deregistered,
}

impl Registry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        client: AgentClient,
        bus: EventBus,
        monitor: MonitorHandle,
        policy: HealthPolicy,
        metrics: Metrics,
        settings: RegistrySettings,
        outbox: crate::cluster::relay::Outbox,
        cluster: crate::cluster::Cluster,
    ) -> Self {
        let health = HealthReader::new(db.clone(), monitor.clone(), policy);
        Self(Arc::new(RegistryInner {
            db,
            client,
            schemas: SchemaCache::default(),
            bus,
            monitor,
            policy,
            health,
            settings,
            liveness: Liveness::new(Utc::now()),
            metrics,
            preservation: Mutex::default(),
            preservation_heard: Mutex::default(),
            outbox,
            cluster,
        }))
    }

    /// Fills the heartbeat book from the stored agents; before serving.
    pub async fn load_liveness(&self) -> Result<(), ServiceError> {
        self.liveness.load(store::liveness(self.db.read()).await?);
        Ok(())
    }

    pub fn policy(&self) -> HealthPolicy {
        self.policy
    }

    /// The agent's base URL and its input schema as it is now: fetched from the agent
    /// (at most once every few seconds per agent, however many runs ask at once), or,
    /// when the agent cannot answer, the last one fetched.
    pub async fn current_schema(&self, id: &AgentId) -> Result<(AgentUrl, SchemaView), ServiceError> {
        let agent = store::find(self.db.read(), id.as_str())
            .await?
            .ok_or_else(|| ServiceError::AgentNotFound(id.as_str().to_owned()))?;
        let url = AgentUrl::parse(&agent.agent_url)
            .map_err(|e| ServiceError::SchemaUnavailable(format!("its stored URL is not usable: {e}")))?;
        let slot = self.schemas.slot(id.as_str());
        let mut cached = slot.lock().await;
        // A failure is remembered as long as a success: askers queued behind a hung agent
        // get its answer at once instead of waiting out one timeout each.
        if let Some((at, url_then, outcome)) = cached.as_ref() {
            if url_then == &url && at.elapsed() < self.settings.schema_reuse {
                return match outcome {
                    Ok(view) => Ok((url, view.clone())),
                    Err(reason) => Err(ServiceError::SchemaUnavailable(reason.clone())),
                };
            }
        }
        // Read only when the agent is asked (a cached answer needs no query).
        let outbound = store::outbound::for_url(self.db.read(), id.as_str(), url.as_str()).await?;
        let fetched = match self.client.fetch_schema(&url, &outbound).await {
            Ok(raw) => parse_schema(&raw)
                .map_err(|e| format!("its /schema answer is not a usable schema: {e}"))
                .map(|s| (raw, s)),
            // Not a failure of the agent: the stored schema is of no use either, since no
            // run may be sent there.
            Err(CallError::Refused(refusal)) => {
                return Err(ServiceError::invalid_field("agent_url", refusal.to_string()));
            }
            Err(CallError::Failed(reason)) => Err(reason),
        };
        let view = match fetched {
            Ok((raw, schema)) => {
                let fetched_at = Utc::now();
                store::save_schema(self.db.write(), id.as_str(), &raw, fetched_at).await?;
                SchemaView {
                    agent_id: id.as_str().to_owned(),
                    schema_hash: schema_hash(&schema),
                    schema,
                    fetched_at: timestamp(fetched_at),
                }
            }
            Err(reason) => {
                // The last schema the agent published still describes its inputs best.
                let stored = agent.schema.as_ref().and_then(|raw| parse_schema(raw).ok()).zip(agent.schema_fetched_at);
                match stored {
                    Some((schema, at)) => {
                        tracing::info!(agent_id = %id.as_str(), %reason, "using the stored schema: the agent did not answer /schema");
                        SchemaView {
                            agent_id: id.as_str().to_owned(),
                            schema_hash: schema_hash(&schema),
                            schema,
                            fetched_at: timestamp(at),
                        }
                    }
                    None => {
                        *cached = Some((std::time::Instant::now(), url, Err(reason.clone())));
                        return Err(ServiceError::SchemaUnavailable(reason));
                    }
                }
            }
        };
        *cached = Some((std::time::Instant::now(), url.clone(), Ok(view.clone())));
        Ok((url, view))
    }
}

impl Registry {
    /// Registers or updates an agent by hand. Its /health is checked first: a failing agent
    /// is refused with the reason and nothing is stored, unless `force` is set, which
    /// stores it with that failed check. Another agent that has the ID (another URL or
    /// name) is replaced only with `replace`; the same ID, URL and name again is an update.
    pub async fn register(&self, request: RegisterAgent) -> Result<Registration, ServiceError> {
        self.register_as(request, AgentSource::Manual).await
    }

    /// `register`, recording how the agent came to be known (by hand, or added from a
    /// discovery): both are an admin's.
    pub async fn register_as(&self, request: RegisterAgent, source: AgentSource) -> Result<Registration, ServiceError> {
        let valid = validate_registration(&request).map_err(ServiceError::Invalid)?;
        // The shared rules are hand-written to keep the browser bundle small; the HTTP
        // client's own parser has the last word.
        if let Err(e) = url::Url::parse(valid.agent_url.as_str()) {
            return Err(ServiceError::invalid_field("agent_url", format!("Agent URL is not a valid URL ({e})")));
        }
        let given = match &request.outbound_headers {
            Some(headers) => Some(Outbound::parse(&headers.0).map_err(ServiceError::Invalid)?),
            None => None,
        };
        if let Err(refusal) = self.client.admit(&valid.agent_url).await {
            return Err(ServiceError::invalid_field("agent_url", refusal.to_string()));
        }
        // Refused before the agent is called: the answer does not depend on it. The
        // upsert checks again, in its write.
        if !valid.replace {
            if let Some(holder) = store::find(self.db.read(), valid.agent_id.as_str()).await? {
                if holder.agent_url != valid.agent_url.as_str() || holder.agent_name != valid.agent_name {
                    return Err(taken(holder));
                }
            }
        }
        // The check sends what the calls after it will: the headers given, or those already
        // set for this URL.
        let outbound = match &given {
            Some(headers) => headers.clone(),
            None => store::outbound::for_url(self.db.read(), valid.agent_id.as_str(), valid.agent_url.as_str()).await?,
        };
        let probe = self.client.check_health(&valid.agent_url, &outbound, false).await;
        if probe.state != HealthState::Healthy && !valid.force {
            return Err(ServiceError::HealthCheckFailed {
                agent_url: valid.agent_url.as_str().to_owned(),
                reason: probe.reason.unwrap_or_else(|| "unhealthy".into()),
            });
        }
        // A registration starts the agent's record afresh: its check is the first.
        let passed = probe.state == HealthState::Healthy;
        let failures = u32::from(!passed);
        let state = HealthState::after_check(passed, failures, self.policy.unhealthy_after);
        let (model, created) =
            match store::upsert(self.db.write(), &valid, source, &probe, state, failures, given.as_ref()).await? {
                store::Upsert::Stored { model, created, .. } => (model, created),
                store::Upsert::Taken(holder) => return Err(taken(holder)),
            };
        tracing::info!(
            agent_id = %model.agent_id, url = %model.agent_url, created, replace = valid.replace,
            health = %model.health_state, "agent registered"
        );
        self.liveness.registered(&model.agent_id, None, None, None);
        self.schemas.forget(&model.agent_id);
        self.monitor.upsert(Target::from_model(&model).with_headers(outbound), FirstCheck::Checked);
        let agent = store::to_view(model, &self.policy);
        self.bus.publish(LiveEvent::AgentUpserted(agent.clone()));
        Ok(Registration { agent, created })
    }

    pub async fn list(&self, query: AgentQuery) -> Result<AgentPage, ServiceError> {
        if let Some(limit) = query.limit {
            if limit == 0 || limit > MAX_PAGE {
                return Err(ServiceError::invalid_field("limit", format!("limit must be between 1 and {MAX_PAGE}")));
            }
        }
        if query.offset.is_some_and(|o| o > i64::MAX as u64) {
            return Err(ServiceError::invalid_field("offset", format!("offset must be at most {}", i64::MAX)));
        }
        let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > 200) {
            return Err(ServiceError::invalid_field("q", "search text must be at most 200 characters"));
        }
        let alive_only = query.include_dead == Some(false);
        let (models, total) =
            store::list(self.db.read(), q, query.state, alive_only, query.limit, query.offset.unwrap_or(0)).await?;
        Ok(AgentPage { agents: models.into_iter().map(|m| store::to_view(m, &self.policy)).collect(), total })
    }

    pub async fn overview(&self, query: AgentQuery) -> Result<AgentOverview, ServiceError> {
        // A page, not the whole fleet: the browser holds what it shows.
        let query = AgentQuery { limit: Some(query.limit.unwrap_or(OVERVIEW_PAGE).min(MAX_OVERVIEW_PAGE)), ..query };
        let page = self.list(query).await?;
        // The monitor's counts carry the version events carry; before it has loaded the
        // agents, the database's.
        let (summary, summary_version) = match self.monitor.summary() {
            Some(counted) => counted,
            None => (store::summary(self.db.read()).await?, 0),
        };
        let ids: Vec<&str> = page.agents.iter().map(|a| a.agent_id.as_str()).collect();
        let bars = self.health.bars(&ids, Utc::now()).await?;
        let self_preservation = self.preservation.lock().expect("never poisoned: no panics while held").clone();
        // Several dashboards on one database: the page names them.
        let nodes = if self.cluster.shared() { self.cluster.statuses().await? } else { Vec::new() };
        Ok(AgentOverview {
            agents: page.agents.iter().map(ListedAgent::from).collect(),
            total: page.total,
            summary,
            summary_version,
            bars,
            self_preservation,
            nodes,
        })
    }

    /// The ID of an agent registered with `agent_id` or at `agent_url`, if any.
    pub async fn known(&self, agent_id: &str, agent_url: &str) -> Result<Option<String>, ServiceError> {
        Ok(store::known(self.db.read(), agent_id, agent_url).await?)
    }

    /// Every agent's counts by state, and whether expiry is paused.
    pub async fn summary(&self) -> Result<(HealthSummary, SelfPreservation), ServiceError> {
        let summary = match self.monitor.summary() {
            Some((summary, _)) => summary,
            None => store::summary(self.db.read()).await?,
        };
        let self_preservation = self.preservation.lock().expect("never poisoned: no panics while held").clone();
        Ok((summary, self_preservation))
    }

    pub async fn agent(&self, id: &AgentId) -> Result<AgentView, ServiceError> {
        let found = store::find(self.db.read(), id.as_str()).await?;
        found.map(|m| store::to_view(m, &self.policy)).ok_or_else(|| ServiceError::AgentNotFound(id.to_string()))
    }

    /// Deletes an agent for good, its health history with it (its runs stay).
    pub async fn remove(&self, id: &AgentId) -> Result<(), ServiceError> {
        if !store::delete(self.db.write(), id.as_str()).await? {
            return Err(ServiceError::AgentNotFound(id.to_string()));
        }
        self.forget(id.as_str());
        tracing::info!(agent_id = %id.as_str(), "agent removed");
        Ok(())
    }

    /// After a deletion: nothing in memory still holds the agent.
    fn forget(&self, agent_id: &str) {
        self.schemas.forget(agent_id);
        self.liveness.forget(agent_id);
        self.monitor.remove(agent_id);
        self.bus.publish(LiveEvent::AgentRemoved(AgentRemoved { agent_id: agent_id.to_owned() }));
    }

    pub async fn history(&self, id: &AgentId, hours: u32) -> Result<HealthHistory, ServiceError> {
        let agent = self.agent(id).await?;
        self.health.history(&agent.agent_id, hours).await
    }
}

/// The services' answers in the API's words: each error converted once, here.
#[async_trait::async_trait]
impl AgentService for Registry {
    async fn register_agent(&self, request: RegisterAgent) -> Result<Registration, ApiError> {
        Ok(self.register(request).await?)
    }

    async fn list_agents(&self, query: AgentQuery) -> Result<AgentPage, ApiError> {
        Ok(self.list(query).await?)
    }

    async fn agent_overview(&self, query: AgentQuery) -> Result<AgentOverview, ApiError> {
        Ok(self.overview(query).await?)
    }

    async fn get_agent(&self, agent_id: &str) -> Result<AgentView, ApiError> {
        Ok(self.agent(&agent_id_in(agent_id)?).await?)
    }

    async fn remove_agent(&self, agent_id: &str) -> Result<(), ApiError> {
        Ok(self.remove(&agent_id_in(agent_id)?).await?)
    }

    async fn remove_agents(&self, request: app::model::AgentIds) -> Result<app::model::Removed, ApiError> {
        Ok(self.remove_many(bulk::parse(request)?).await)
    }

    async fn check_agents(&self, request: app::model::AgentIds) -> Result<app::model::Checking, ApiError> {
        Ok(self.check_many(bulk::parse(request)?).await?)
    }

    async fn agent_schema(&self, agent_id: &str) -> Result<SchemaView, ApiError> {
        Ok(self.current_schema(&agent_id_in(agent_id)?).await?.1)
    }

    async fn agent_history(&self, agent_id: &str, hours: u32) -> Result<HealthHistory, ApiError> {
        Ok(self.history(&agent_id_in(agent_id)?, hours).await?)
    }
}

/// A heartbeat for an ID the dashboard does not hold alive: the agent must register.
fn not_registered(id: &AgentId, why: &str) -> ServiceError {
    ServiceError::Api(app::error::ApiError::new(
        app::error::ErrorCode::NotFound,
        format!(
            "Agent '{}' cannot heartbeat: {why}. Register it again (POST /api/v1/agents/register), then send heartbeats.",
            id.as_str()
        ),
    ))
}

fn taken(holder: crate::entities::agents::Model) -> ServiceError {
    ServiceError::AgentExists { agent_id: holder.agent_id, agent_name: holder.agent_name, agent_url: holder.agent_url }
}

type SchemaSlot = Arc<tokio::sync::Mutex<Option<(std::time::Instant, AgentUrl, Result<SchemaView, String>)>>>;

/// One slot per agent; the async lock makes concurrent askers wait for one fetch.
#[derive(Clone, Default)]
struct SchemaCache(Arc<std::sync::Mutex<HashMap<String, SchemaSlot>>>);

impl SchemaCache {
    fn slot(&self, agent_id: &str) -> SchemaSlot {
        let mut map = self.0.lock().expect("schema cache lock is never poisoned: no panics while held");
        map.entry(agent_id.to_owned()).or_default().clone()
    }

    fn forget(&self, agent_id: &str) {
        self.0.lock().expect("schema cache lock is never poisoned: no panics while held").remove(agent_id);
    }
}

/// An agent ID as it arrives from a server function or a request body: a malformed one
/// cannot name a stored agent.
pub fn agent_id_in(raw: &str) -> Result<AgentId, ServiceError> {
    AgentId::parse(raw).map_err(|_| ServiceError::AgentNotFound(raw.to_owned()))
}
