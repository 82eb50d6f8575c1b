//! Workflow runs: the rules for starting, listing, cancelling, re-running and deleting
//! runs. It implements `app::services::RunService`, which the REST API and the server
//! functions call; `dispatcher` calls the agents in the background.

mod dispatcher;
mod idempotency;
mod query;
pub mod store;

pub use dispatcher::{Claims, Dispatcher};

use crate::db::Db;
use crate::error::ServiceError;
use crate::events::EventBus;
use crate::registry::Registry;
use app::error::{ApiError, FieldError};
use app::model::json_preview::{self, PreviewPage, RunPart, TextPage};
use app::model::{CreateRun, RunCreated, RunDetail, RunPage, RunQuery, RunStatus, RunView};
use app::schema::{secrets, validate_inputs};
use app::services::RunService;
use app::validation::{AgentId, RunId};
use dispatcher::Job;
use idempotency::{comparable_hash, replay, request_hash};
use query::parse_query;
use sea_orm::DbErr;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most runs one history page holds.
pub const MAX_PAGE: u64 = 200;
pub const DEFAULT_PAGE: u64 = 50;
const MAX_IDEMPOTENCY_KEY: usize = 255;

#[derive(Clone, Copy, Debug)]
pub struct RunSettings {
    /// From the moment the agent is called to its final answer (async jobs included).
    pub run_timeout: Duration,
    /// Largest inputs object, as JSON.
    pub max_inputs_bytes: usize,
    pub per_agent_concurrency: usize,
    pub poll_initial: Duration,
    pub poll_max: Duration,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            run_timeout: Duration::from_secs(600),
            max_inputs_bytes: 1024 * 1024,
            per_agent_concurrency: 4,
            poll_initial: Duration::from_millis(250),
            poll_max: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct Runs {
    db: Db,
    bus: EventBus,
    registry: Registry,
    dispatcher: Dispatcher,
    settings: RunSettings,
    /// Schema hashes already in the `schemas` table (saves a write per run).
    known_schemas: Arc<Mutex<HashSet<String>>>,
}

impl Runs {
    /// Runs by status (for /metrics).
    pub async fn counts_by_status(&self) -> Result<Vec<(RunStatus, i64)>, DbErr> {
        store::counts_by_status(self.db.read()).await
    }

    pub fn new(db: Db, bus: EventBus, registry: Registry, dispatcher: Dispatcher, settings: RunSettings) -> Self {
        Self { db, bus, registry, dispatcher, settings, known_schemas: Default::default() }
    }

    /// Validates `inputs` against the agent's current schema and stores a queued run.
    async fn start(
        &self,
        agent_id: &AgentId,
        inputs: serde_json::Map<String, serde_json::Value>,
        key: Option<String>,
        rerun_of: Option<String>,
    ) -> Result<RunCreated, ServiceError> {
        let inputs = serde_json::Value::Object(inputs);
        let size = serde_json::to_vec(&inputs).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > self.settings.max_inputs_bytes {
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "inputs",
                format!(
                    "The inputs are {} KiB; at most {} KiB are accepted (--max-run-inputs)",
                    size.div_ceil(1024),
                    self.settings.max_inputs_bytes / 1024
                ),
            )]));
        }
        if let Some(key) = &key {
            if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || key.chars().any(char::is_control) {
                return Err(ServiceError::Invalid(vec![FieldError::new(
                    "idempotency_key",
                    format!("An idempotency key is 1–{MAX_IDEMPOTENCY_KEY} characters without control characters"),
                )]));
            }
        }
        let mut request_hash = key.as_ref().map(|_| request_hash(agent_id.as_str(), &inputs));
        // A retry with a used key gets its run back even if the agent is down by now or
        // its schema changed since.
        if let Some(key) = &key {
            if let Some(holder) = store::find_by_key(self.db.read(), key).await? {
                let hash = comparable_hash(&holder, agent_id.as_str(), &inputs).or(request_hash);
                return replay(holder, hash.as_deref(), agent_id.as_str());
            }
        }
        // The run whose inputs were edited must exist (the new run's page links to it);
        // checked after the replay, so a retry still gets its run if that one is gone.
        let rerun_of = match rerun_of {
            Some(from) => {
                let named = RunId::parse(&from).ok();
                let found = match &named {
                    Some(id) => store::find(self.db.read(), id.as_str()).await?,
                    None => None,
                };
                match found {
                    Some(run) => Some(run.run_id),
                    None => {
                        return Err(ServiceError::invalid_field(
                            "rerun_of",
                            format!("No run with ID '{from}' to re-run"),
                        ))
                    }
                }
            }
            None => None,
        };
        // An agent that expired or deregistered is not there to run anything.
        if let Some(agent) = crate::registry::store::find(self.db.read(), agent_id.as_str()).await? {
            if let Some(why) = Registry::not_alive(&agent) {
                return Err(ServiceError::Conflict(why));
            }
        }
        let (url, schema) = self.registry.current_schema(agent_id).await?;
        let valid = validate_inputs(&schema.schema, &inputs).map_err(|fields| {
            ServiceError::Api(ApiError {
                message: format!(
                    "The inputs do not fit {}'s schema: {}",
                    schema.agent_id,
                    ApiError::validation(fields.clone()).message
                ),
                ..ApiError::validation(fields)
            })
        })?;
        // Secrets go to the agent from memory; what is stored has "***" in their place.
        let (stored_inputs, withheld) = if secrets::has_secrets(&schema.schema) {
            let (redacted, paths) = secrets::redact(&schema.schema, &valid);
            (serde_json::Value::Object(redacted), paths)
        } else {
            (inputs.clone(), Vec::new())
        };
        let secret_values: Vec<String> = withheld
            .iter()
            .filter_map(|p| inputs.pointer(p))
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        if !withheld.is_empty() && request_hash.is_some() {
            // The key's hash must not be a way to test guesses of a secret.
            request_hash = key.as_ref().map(|_| self::request_hash(agent_id.as_str(), &stored_inputs));
        }
        let workflow =
            schema.schema.workflow.clone().filter(|w| !w.trim().is_empty()).unwrap_or_else(|| schema.agent_id.clone());
        let new = store::NewRun {
            run_id: uuid::Uuid::new_v4().to_string(),
            agent_id: schema.agent_id.clone(),
            agent_url: url.as_str().to_owned(),
            // The column holds 200 characters; an agent may name its workflow at length.
            workflow: workflow.chars().take(200).collect(),
            inputs: stored_inputs,
            schema_hash: Some(schema.schema_hash.clone()),
            idempotency_key: key,
            request_hash: request_hash.clone(),
            withheld,
            rerun_of,
            claimed_by: self.dispatcher.me().to_owned(),
        };
        let replay_inputs = inputs.clone();
        let remember = (!self.known_schemas.lock().expect("never poisoned").contains(&schema.schema_hash))
            .then(|| (schema.schema_hash.clone(), schema.schema.clone()));
        let known = self.known_schemas.clone();
        // Stored and handed to the dispatcher in a task of its own: a client that goes
        // away mid-request must not leave a stored run that nobody carries out.
        let (db, dispatcher, bus) = (self.db.clone(), self.dispatcher.clone(), self.bus.clone());
        let stored = tokio::spawn(async move {
            if let Some((hash, schema)) = remember {
                store::remember_schema(db.write(), &hash, &schema).await?;
                known.lock().expect("never poisoned").insert(hash);
            }
            let inserted = store::insert(db.write(), new).await?;
            if let Ok(run) = &inserted {
                tracing::info!(run_id = %run.run_id, agent_id = %run.agent_id, "run queued");
                bus.publish(app::model::events::LiveEvent::RunUpdated(store::to_change(run)));
                dispatcher.dispatch(Job {
                    run_id: run.run_id.clone(),
                    agent_id: run.agent_id.clone(),
                    agent_url: run.agent_url.clone(),
                    inputs,
                    secrets: secret_values,
                    resume: None,
                });
            }
            Ok::<_, DbErr>(inserted)
        })
        .await
        .map_err(|e| DbErr::Custom(format!("storing the run stopped: {e}")))?;
        match stored? {
            Ok(run) => Ok(RunCreated { run_id: run.run_id, status: RunStatus::Queued }),
            // Two requests with one key at the same time: the other one stored it.
            Err(holder) => {
                let hash = comparable_hash(&holder, &schema.agent_id, &replay_inputs).or(request_hash);
                replay(holder, hash.as_deref(), &schema.agent_id)
            }
        }
    }

    async fn find(&self, run_id: &RunId) -> Result<crate::entities::runs::Model, ServiceError> {
        store::find(self.db.read(), run_id.as_str()).await?.ok_or_else(|| ServiceError::RunNotFound(run_id.to_string()))
    }

    /// Deletes finished runs older than `age`; the retention task calls this.
    pub async fn purge_older_than(&self, age: Duration) -> Result<u64, DbErr> {
        let before = store::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        store::purge_finished_before(self.db.write(), before).await
    }
}

/// A run ID as it arrives from a server function or a URL: one that cannot name a run
/// names none.
pub fn run_id(raw: &str) -> Result<RunId, ServiceError> {
    RunId::parse(raw).map_err(|_| ServiceError::RunNotFound(raw.to_owned()))
}

impl Runs {
    pub async fn create(&self, request: CreateRun) -> Result<RunCreated, ServiceError> {
        // The run whose inputs were edited must exist: the new run's page links to it.
        let agent_id = crate::registry::agent_id_in(&request.agent_id)?;
        let rerun_of = request.rerun_of.filter(|r| !r.is_empty());
        self.start(&agent_id, request.inputs, request.idempotency_key, rerun_of).await
    }

    pub async fn list(&self, query: RunQuery) -> Result<RunPage, ServiceError> {
        let (filter, cursor, limit) = parse_query(&query)?;
        let (rows, total, more) = store::list(self.db.read(), &filter, cursor.as_ref(), limit).await?;
        let next_cursor =
            more.then(|| rows.last().map(|r| format!("{}_{}", r.created_at.timestamp_millis(), r.run_id))).flatten();
        Ok(RunPage { runs: rows.into_iter().map(store::to_view).collect(), total, next_cursor })
    }

    pub async fn get(&self, run_id: &RunId) -> Result<RunView, ServiceError> {
        Ok(store::to_view(self.find(run_id).await?))
    }

    /// The run with bounded previews of its documents (what its page loads first).
    pub async fn detail(&self, run_id: &RunId) -> Result<RunDetail, ServiceError> {
        let mut run = store::to_view(self.find(run_id).await?);
        let inputs = json_preview::preview(&std::mem::take(&mut run.inputs));
        let outputs = run.outputs.take().map(|o| json_preview::preview(&o));
        Ok(RunDetail { run, inputs, outputs })
    }

    /// A page of one container of a run's document.
    pub async fn json_page(
        &self,
        run_id: &RunId,
        part: RunPart,
        pointer: &str,
        offset: usize,
    ) -> Result<PreviewPage, ServiceError> {
        let document = self.document(run_id, part).await?.unwrap_or(serde_json::Value::Null);
        json_preview::page_at(&document, pointer, offset, json_preview::PAGE).ok_or_else(|| {
            ServiceError::invalid_field(
                "pointer",
                format!("{pointer:?} names no object or array in the run's {}", part.as_str()),
            )
        })
    }

    /// A string of a run's document, to read as text.
    pub async fn text(&self, run_id: &RunId, part: RunPart, pointer: &str) -> Result<TextPage, ServiceError> {
        let document = self.document(run_id, part).await?.unwrap_or(serde_json::Value::Null);
        json_preview::text_at(&document, pointer, json_preview::READ_CHARS).ok_or_else(|| {
            ServiceError::invalid_field("pointer", format!("{pointer:?} names no text in the run's {}", part.as_str()))
        })
    }

    /// A run's inputs or outputs, whole.
    pub async fn document(&self, run_id: &RunId, part: RunPart) -> Result<Option<serde_json::Value>, ServiceError> {
        let run = self.find(run_id).await?;
        Ok(match part {
            RunPart::Inputs => Some(run.inputs),
            RunPart::Outputs => run.outputs,
        })
    }

    /// Runs another dashboard changed: published here, and a run that ended there (a
    /// cancel sent to that dashboard) no longer holds a task here.
    pub async fn relayed(&self, run_ids: Vec<String>, removed: Vec<String>) -> Result<(), sea_orm::DbErr> {
        for ids in run_ids.chunks(500) {
            for change in store::changes_of(self.db.read(), ids).await? {
                if change.status.is_final() {
                    self.dispatcher.abort(&change.run_id);
                    self.dispatcher.freed(&change.agent_id);
                }
                self.bus.publish_relayed(app::model::events::LiveEvent::RunUpdated(change));
            }
        }
        for run_id in removed {
            // Deleted while it ran here: its call stops.
            self.dispatcher.abort(&run_id);
            self.bus
                .publish_relayed(app::model::events::LiveEvent::RunRemoved(app::model::events::RunRemoved { run_id }));
        }
        Ok(())
    }

    pub async fn cancel(&self, run_id: &RunId) -> Result<RunView, ServiceError> {
        let run = self.find(run_id).await?;
        let outcome = store::Outcome {
            error: Some(
                "Cancelled. The agent has no cancel call, so it may still finish the work; its answer will not be recorded."
                    .into(),
            ),
            ..Default::default()
        };
        let cancelled =
            store::finish(self.db.write(), run_id.as_str(), RunStatus::Cancelled, outcome, run.started_at).await?;
        if cancelled {
            self.dispatcher.abort(run_id.as_str());
            store::publish(self.db.read(), &self.bus, run_id.as_str()).await;
            tracing::info!(%run_id, "run cancelled");
        }
        let now = store::to_view(self.find(run_id).await?);
        if !cancelled {
            return Err(ServiceError::Conflict(format!(
                "Run {run_id} has already ended ({}); only queued or running runs can be cancelled.",
                now.status.label()
            )));
        }
        Ok(now)
    }

    pub async fn rerun(&self, run_id: &RunId) -> Result<RunCreated, ServiceError> {
        let run = self.find(run_id).await?;
        let withheld: Vec<String> =
            run.withheld.clone().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        if !withheld.is_empty() {
            return Err(ServiceError::Api(ApiError {
                message: format!(
                    "Run {run_id} had secret inputs, which are never stored: start it again with them (Edit and re-run)."
                ),
                ..ApiError::validation(
                    withheld.into_iter().map(|p| FieldError::new(&p, "A secret: enter it again")).collect(),
                )
            }));
        }
        let serde_json::Value::Object(inputs) = run.inputs else {
            return Err(ServiceError::Conflict(format!(
                "Run {run_id}'s inputs are not an object; edit them and run again."
            )));
        };
        let agent = AgentId::parse(&run.agent_id).map_err(|_| ServiceError::AgentNotFound(run.agent_id.clone()));
        match async { self.start(&agent?, inputs, None, Some(run.run_id.clone())).await }.await {
            Err(ServiceError::AgentNotFound(_)) => Err(ServiceError::Conflict(format!(
                "Run {run_id}'s agent '{}' is no longer registered; register it again to re-run.",
                run.agent_id
            ))),
            other => other,
        }
    }

    pub async fn schema(&self, run_id: &RunId) -> Result<Option<app::schema::InputSchema>, ServiceError> {
        let run = self.find(run_id).await?;
        match run.schema_hash {
            Some(hash) => Ok(store::schema_by_hash(self.db.read(), &hash).await?),
            None => Ok(None),
        }
    }

    pub async fn delete(&self, run_id: &RunId) -> Result<(), ServiceError> {
        self.find(run_id).await?;
        if store::delete(self.db.write(), run_id.as_str()).await? {
            // A run deleted while live stops too: nothing is left to record its outcome in.
            self.dispatcher.abort(run_id.as_str());
            self.bus.publish(app::model::events::LiveEvent::RunRemoved(app::model::events::RunRemoved {
                run_id: run_id.to_string(),
            }));
            tracing::info!(%run_id, "run deleted");
            Ok(())
        } else {
            Err(ServiceError::RunNotFound(run_id.to_string()))
        }
    }
}

/// The services' answers in the API's words: each error converted once, here.
#[async_trait::async_trait]
impl RunService for Runs {
    async fn create_run(&self, request: CreateRun) -> Result<RunCreated, ApiError> {
        Ok(self.create(request).await?)
    }

    async fn list_runs(&self, query: RunQuery) -> Result<RunPage, ApiError> {
        Ok(self.list(query).await?)
    }

    async fn get_run(&self, id: &str) -> Result<RunView, ApiError> {
        Ok(self.get(&run_id(id)?).await?)
    }

    async fn run_detail(&self, id: &str) -> Result<RunDetail, ApiError> {
        Ok(self.detail(&run_id(id)?).await?)
    }

    async fn run_json_page(
        &self,
        id: &str,
        part: RunPart,
        pointer: &str,
        offset: usize,
    ) -> Result<PreviewPage, ApiError> {
        Ok(self.json_page(&run_id(id)?, part, pointer, offset).await?)
    }

    async fn run_text(&self, id: &str, part: RunPart, pointer: &str) -> Result<TextPage, ApiError> {
        Ok(self.text(&run_id(id)?, part, pointer).await?)
    }

    async fn run_document(&self, id: &str, part: RunPart) -> Result<Option<serde_json::Value>, ApiError> {
        Ok(self.document(&run_id(id)?, part).await?)
    }

    async fn cancel_run(&self, id: &str) -> Result<RunView, ApiError> {
        Ok(self.cancel(&run_id(id)?).await?)
    }

    async fn rerun(&self, id: &str) -> Result<RunCreated, ApiError> {
        Ok(Runs::rerun(self, &run_id(id)?).await?)
    }

    async fn delete_run(&self, id: &str) -> Result<(), ApiError> {
        Ok(self.delete(&run_id(id)?).await?)
    }

    async fn run_schema(&self, id: &str) -> Result<Option<app::schema::InputSchema>, ApiError> {
        Ok(self.schema(&run_id(id)?).await?)
    }
}
