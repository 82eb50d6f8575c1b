//! The agent registry: the rules for registering, listing and removing agents and for
//! reading their input schemas. It implements `app::services::AgentService`, which the
//! REST API and the server functions (and later the CLI) call.

mod error;
pub mod store;

pub use error::{database_error, RegistryError};

use crate::agent_client::AgentClient;
use crate::db::Db;
use crate::events::EventBus;
use crate::health::store as health_store;
use crate::health::{HealthPolicy, MonitorHandle};
use app::error::ApiError;
use app::model::events::{AgentRemoved, LiveEvent};
use app::model::{uptime_segments, AgentOverview, HealthChange, HealthHistory, LatencyBucket, UptimeBar, BAR_HOURS};
use app::model::{AgentPage, AgentQuery, AgentSource, AgentView, HealthState, RegisterAgent, Registration, SchemaView};
use app::schema::{parse_schema, schema_hash};
use app::services::AgentService;
use app::validation::{validate_registration, AgentId, AgentUrl};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The longest health history one call returns (the latency buckets' default retention).
pub const MAX_HISTORY_HOURS: u32 = 168;

/// The most agents one list call returns when a limit is given.
pub const MAX_PAGE: u64 = 1000;

/// Agents on one page of the overview, unless asked otherwise, and at most.
pub const OVERVIEW_PAGE: u64 = 50;
pub const MAX_OVERVIEW_PAGE: u64 = 200;

#[derive(Clone)]
pub struct Registry {
    db: Db,
    client: AgentClient,
    schemas: SchemaCache,
    bus: EventBus,
    monitor: MonitorHandle,
    policy: HealthPolicy,
}

impl Registry {
    pub fn new(db: Db, client: AgentClient, bus: EventBus, monitor: MonitorHandle, policy: HealthPolicy) -> Self {
        Self { db, client, schemas: SchemaCache::default(), bus, monitor, policy }
    }

    pub fn policy(&self) -> HealthPolicy {
        self.policy
    }

    /// The agent's base URL and its input schema as it is now: fetched from the agent
    /// (at most once every few seconds per agent, however many runs ask at once), or,
    /// when the agent cannot answer, the last one fetched.
    pub async fn current_schema(&self, agent_id: &str) -> Result<(AgentUrl, SchemaView), RegistryError> {
        let id = parse_path_id(agent_id)?;
        let agent = store::find(self.db.read(), id.as_str())
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.as_str().to_owned()))?;
        let url = AgentUrl::parse(&agent.agent_url)
            .map_err(|e| RegistryError::SchemaUnavailable(format!("its stored URL is not usable: {e}")))?;
        let slot = self.schemas.slot(id.as_str());
        let mut cached = slot.lock().await;
        // A failure is remembered as long as a success: askers queued behind a hung agent
        // get its answer at once instead of waiting out one timeout each.
        if let Some((at, url_then, outcome)) = cached.as_ref() {
            if url_then == &url && at.elapsed() < SCHEMA_FRESH_FOR {
                return match outcome {
                    Ok(view) => Ok((url, view.clone())),
                    Err(reason) => Err(RegistryError::SchemaUnavailable(reason.clone())),
                };
            }
        }
        let fetched = match self.client.fetch_schema(&url).await {
            Ok(raw) => parse_schema(&raw)
                .map_err(|e| format!("its /schema answer is not a usable schema: {e}"))
                .map(|s| (raw, s)),
            Err(reason) => Err(reason),
        };
        let view = match fetched {
            Ok((raw, schema)) => {
                let fetched_at = Utc::now();
                store::save_schema(self.db.write(), id.as_str(), &raw, fetched_at).await?;
                SchemaView {
                    agent_id: id.as_str().to_owned(),
                    schema_hash: schema_hash(&schema),
                    schema,
                    fetched_at: store::timestamp(fetched_at),
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
                            fetched_at: store::timestamp(at),
                        }
                    }
                    None => {
                        *cached = Some((std::time::Instant::now(), url, Err(reason.clone())));
                        return Err(RegistryError::SchemaUnavailable(reason));
                    }
                }
            }
        };
        *cached = Some((std::time::Instant::now(), url.clone(), Ok(view.clone())));
        Ok((url, view))
    }
}

#[async_trait::async_trait]
impl AgentService for Registry {
    /// Registers or updates an agent by hand. Its /health is checked first: a failing agent
    /// is refused with the reason and nothing is stored, unless `force` is set, which
    /// stores it as unhealthy with that reason.
    async fn register_agent(&self, request: RegisterAgent) -> Result<Registration, ApiError> {
        let valid = validate_registration(&request).map_err(RegistryError::Invalid)?;
        // The shared rules are hand-written to keep the browser bundle small; the HTTP
        // client's own parser has the last word.
        if let Err(e) = url::Url::parse(valid.agent_url.as_str()) {
            return Err(RegistryError::invalid_field("agent_url", format!("Agent URL is not a valid URL ({e})")).into());
        }
        let probe = self.client.check_health(&valid.agent_url, false).await;
        if probe.state != HealthState::Healthy && !valid.force {
            return Err(RegistryError::HealthCheckFailed {
                agent_url: valid.agent_url.as_str().to_owned(),
                reason: probe.reason.unwrap_or_else(|| "unhealthy".into()),
            }
            .into());
        }
        // A registration starts the agent's record afresh: its check is the first.
        let passed = probe.state == HealthState::Healthy;
        let failures = u32::from(!passed);
        let state = HealthState::after_check(passed, failures, self.policy.unhealthy_after);
        let (model, created, _) = store::upsert(self.db.write(), &valid, AgentSource::Manual, &probe, state, failures)
            .await
            .map_err(RegistryError::from)?;
        tracing::info!(
            agent_id = %model.agent_id, url = %model.agent_url, created,
            health = %model.health_state, "agent registered"
        );
        self.monitor.upsert(crate::health::store::Target::from_model(&model), true);
        let agent = store::to_view(model, &self.policy);
        self.bus.publish(LiveEvent::AgentUpserted(agent.clone()));
        Ok(Registration { agent, created })
    }

    async fn list_agents(&self, query: AgentQuery) -> Result<AgentPage, ApiError> {
        if let Some(limit) = query.limit {
            if limit == 0 || limit > MAX_PAGE {
                return Err(
                    RegistryError::invalid_field("limit", format!("limit must be between 1 and {MAX_PAGE}")).into()
                );
            }
        }
        if query.offset.is_some_and(|o| o > i64::MAX as u64) {
            return Err(RegistryError::invalid_field("offset", format!("offset must be at most {}", i64::MAX)).into());
        }
        let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > 200) {
            return Err(RegistryError::invalid_field("q", "search text must be at most 200 characters").into());
        }
        let (models, total) = store::list(self.db.read(), q, query.state, query.limit, query.offset.unwrap_or(0))
            .await
            .map_err(RegistryError::from)?;
        Ok(AgentPage { agents: models.into_iter().map(|m| store::to_view(m, &self.policy)).collect(), total })
    }

    async fn agent_overview(&self, query: AgentQuery) -> Result<AgentOverview, ApiError> {
        // A page, not the whole fleet: the browser holds what it shows.
        let query = AgentQuery { limit: Some(query.limit.unwrap_or(OVERVIEW_PAGE).min(MAX_OVERVIEW_PAGE)), ..query };
        let page = self.list_agents(query).await?;
        let db = self.db.read();
        // The monitor's counts carry the version events carry; before it has loaded the
        // agents, the database's.
        let (summary, summary_version) = match self.monitor.summary() {
            Some(counted) => counted,
            None => (store::summary(db).await.map_err(RegistryError::from)?, 0),
        };
        let to = Utc::now();
        let from = to - chrono::Duration::hours(i64::from(BAR_HOURS));
        let mut bars = Vec::with_capacity(page.agents.len());
        // Two small indexed reads per agent on the page (at most MAX_OVERVIEW_PAGE).
        for agent in &page.agents {
            let (before, within) =
                health_store::transitions(db, &agent.agent_id, from).await.map_err(RegistryError::from)?;
            let segments = uptime_segments(
                before.map_or(HealthState::Unknown, |e| HealthState::parse(&e.state).unwrap_or(HealthState::Unknown)),
                &steps(&within),
                from.timestamp_millis(),
                to.timestamp_millis(),
                BAR_HOURS as usize,
            );
            bars.push(UptimeBar::new(agent.agent_id.clone(), &segments));
        }
        Ok(AgentOverview { agents: page.agents, total: page.total, summary, summary_version, bars })
    }

    async fn get_agent(&self, agent_id: &str) -> Result<AgentView, ApiError> {
        let id = parse_path_id(agent_id)?;
        let found = store::find(self.db.read(), id.as_str()).await.map_err(RegistryError::from)?;
        Ok(found.map(|m| store::to_view(m, &self.policy)).ok_or_else(|| RegistryError::NotFound(id.into_string()))?)
    }

    async fn remove_agent(&self, agent_id: &str) -> Result<(), ApiError> {
        let id = parse_path_id(agent_id)?;
        if store::delete(self.db.write(), id.as_str()).await.map_err(RegistryError::from)? {
            self.schemas.forget(id.as_str());
            self.monitor.remove(id.as_str());
            self.bus.publish(LiveEvent::AgentRemoved(AgentRemoved { agent_id: id.as_str().to_owned() }));
            tracing::info!(agent_id = %id.as_str(), "agent removed");
            Ok(())
        } else {
            Err(RegistryError::NotFound(id.into_string()).into())
        }
    }

    async fn agent_schema(&self, agent_id: &str) -> Result<SchemaView, ApiError> {
        Ok(self.current_schema(agent_id).await?.1)
    }

    async fn agent_history(&self, agent_id: &str, hours: u32) -> Result<HealthHistory, ApiError> {
        if !(1..=MAX_HISTORY_HOURS).contains(&hours) {
            return Err(RegistryError::invalid_field(
                "hours",
                format!("hours must be between 1 and {MAX_HISTORY_HOURS}"),
            )
            .into());
        }
        let id = parse_path_id(agent_id)?;
        let db = self.db.read();
        store::find(db, id.as_str())
            .await
            .map_err(RegistryError::from)?
            .ok_or_else(|| RegistryError::NotFound(id.as_str().to_owned()))?;
        let to = Utc::now();
        let from = to - chrono::Duration::hours(i64::from(hours));
        let (before, within) = health_store::transitions(db, id.as_str(), from).await.map_err(RegistryError::from)?;
        let mut rollups = health_store::rollups(db, id.as_str(), from).await.map_err(RegistryError::from)?;
        if let Some(open) = self.monitor.open_bucket(id.as_str()).await {
            health_store::merge_open_bucket(&mut rollups, open);
        }
        let change = |e: crate::entities::health_events::Model| HealthChange {
            state: HealthState::parse(&e.state).unwrap_or(HealthState::Unknown),
            reason: e.reason,
            at: store::timestamp(e.at),
        };
        let steps = steps(&within);
        let start = before
            .as_ref()
            .map_or(HealthState::Unknown, |e| HealthState::parse(&e.state).unwrap_or(HealthState::Unknown));
        // One segment per half hour up to a day, per 6 hours beyond.
        let n = if hours <= 24 { hours as usize * 2 } else { (hours as usize).div_ceil(6) };
        let segments = uptime_segments(start, &steps, from.timestamp_millis(), to.timestamp_millis(), n);
        let whole = uptime_segments(start, &steps, from.timestamp_millis(), to.timestamp_millis(), 1);
        Ok(HealthHistory {
            agent_id: id.as_str().to_owned(),
            bucket_seconds: self.policy.rollup_bucket.as_secs().max(1),
            from: store::timestamp(from),
            to: store::timestamp(to),
            initial: before.map(change),
            changes: within.into_iter().map(change).collect(),
            latency: rollups
                .into_iter()
                .map(|r| LatencyBucket {
                    start: store::timestamp(r.bucket_start),
                    probes: r.probes.max(0) as u32,
                    failures: r.failures.max(0) as u32,
                    min_ms: r.min_ms.map(|v| v.max(0) as u64),
                    max_ms: r.max_ms.map(|v| v.max(0) as u64),
                    mean_ms: {
                        let passed = (r.probes - r.failures).max(0);
                        (passed > 0).then(|| r.sum_ms as f64 / passed as f64)
                    },
                })
                .collect(),
            uptime: whole[0].uptime(),
            segments,
        })
    }
}

/// How long a fetched schema is reused: long enough that a burst of runs asks the agent
/// once, short enough that a changed schema is seen at the next form.
const SCHEMA_FRESH_FOR: Duration = Duration::from_secs(5);

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

/// Each state change as (ms since the epoch, the new state).
fn steps(changes: &[crate::entities::health_events::Model]) -> Vec<(i64, HealthState)> {
    changes
        .iter()
        .map(|e| (e.at.timestamp_millis(), HealthState::parse(&e.state).unwrap_or(HealthState::Unknown)))
        .collect()
}

/// An ID that arrives in a path: a malformed one cannot name a stored agent.
fn parse_path_id(raw: &str) -> Result<AgentId, RegistryError> {
    AgentId::parse(raw).map_err(|_| RegistryError::NotFound(raw.to_owned()))
}
