//! Workflow runs: the rules for starting, listing, cancelling, re-running and deleting
//! runs. It implements `app::services::RunService`, which the REST API and the server
//! functions call; `dispatcher` calls the agents in the background.

mod dispatcher;
pub mod store;

pub use dispatcher::Dispatcher;

use crate::db::Db;
use crate::error::ServiceError;
use crate::events::EventBus;
use crate::registry::Registry;
use app::error::{ApiError, FieldError};
use app::model::json_preview::{self, PreviewPage, RunPart};
use app::model::{CreateRun, RunCreated, RunDetail, RunPage, RunQuery, RunStatus, RunView};
use app::schema::{secrets, validate_inputs};
use app::services::RunService;
use app::validation::{AgentId, RunId};
use dispatcher::Job;
use sea_orm::DbErr;
use sha2::{Digest, Sha256};
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

/// The run that already holds an idempotency key: the same request gets it back, another
/// request is refused.
fn replay(
    holder: crate::entities::runs::Model,
    request_hash: Option<&str>,
    agent_id: &str,
) -> Result<RunCreated, ServiceError> {
    if holder.request_hash.as_deref() == request_hash && holder.agent_id == agent_id {
        let status = crate::entities::stored::run_status(&holder.run_id, &holder.status).unwrap_or(RunStatus::Failed);
        return Ok(RunCreated { run_id: holder.run_id, status });
    }
    Err(ServiceError::Invalid(vec![FieldError::new(
        "idempotency_key",
        format!(
            "This Idempotency-Key was already used for run {} with another request; use a new key for new inputs",
            holder.run_id
        ),
    )]))
}

/// The hash of `inputs` as `holder` stored its request: with its withheld secrets
/// masked, since that is what its hash was taken over. `None` when it withheld nothing.
fn comparable_hash(
    holder: &crate::entities::runs::Model,
    agent_id: &str,
    inputs: &serde_json::Value,
) -> Option<String> {
    let withheld: Vec<String> =
        holder.withheld.clone().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    if withheld.is_empty() {
        return None;
    }
    let mut masked = inputs.clone();
    secrets::replace_at(&mut masked, &withheld, &serde_json::Value::String(secrets::MASK.to_owned()));
    Some(request_hash(agent_id, &masked))
}

/// A run ID as it arrives from a server function or a URL: one that cannot name a run
/// names none.
pub fn run_id(raw: &str) -> Result<RunId, ServiceError> {
    RunId::parse(raw).map_err(|_| ServiceError::RunNotFound(raw.to_owned()))
}

/// What makes two creations "the same request" for an idempotency key.
fn request_hash(agent_id: &str, inputs: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(agent_id.as_bytes());
    hasher.update([0]);
    // Keys sorted: maps keep their sender's order (preserve_order), and the same inputs
    // sent in another order are the same request.
    hasher.update(canonical(inputs).to_string().as_bytes());
    hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The value with every object's keys in sorted order.
fn canonical(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
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

    /// A run's inputs or outputs, whole.
    pub async fn document(&self, run_id: &RunId, part: RunPart) -> Result<Option<serde_json::Value>, ServiceError> {
        let run = self.find(run_id).await?;
        Ok(match part {
            RunPart::Inputs => Some(run.inputs),
            RunPart::Outputs => run.outputs,
        })
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

fn parse_query(query: &RunQuery) -> Result<(store::Filter, Option<store::Cursor>, u64), ServiceError> {
    let mut errors = Vec::new();
    let agent_id = query.agent_id.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
    let mut statuses = Vec::new();
    for s in query.status.as_deref().unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match RunStatus::parse(s) {
            Some(st) => statuses.push(st),
            None => errors.push(FieldError::new(
                "status",
                format!("Unknown status {s:?}; use one of {}", RunStatus::ALL.map(RunStatus::as_str).join(", ")),
            )),
        }
    }
    let mut time = |name: &str, raw: &Option<String>| match raw.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match parse_time(t) {
            Some(t) => Some(t),
            None => {
                errors.push(FieldError::new(
                    name,
                    format!("{name} must be an RFC 3339 time like 2026-11-23T10:00:00Z or a date like 2026-11-23"),
                ));
                None
            }
        },
    };
    let since = time("since", &query.since);
    // A bare date as `until` includes that day.
    let until = time("until", &query.until).map(|t| match query.until.as_deref().map(str::trim) {
        Some(raw) if raw.len() == 10 => t + chrono::Duration::days(1),
        _ => t,
    });
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        errors.push(FieldError::new("limit", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    let cursor = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => match parse_cursor(raw) {
            Some(c) => Some(c),
            None => {
                errors.push(FieldError::new(
                    "cursor",
                    "cursor is not one this dashboard handed out; start from the first page",
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    Ok((store::Filter { agent_id, statuses, since, until }, cursor, limit))
}

/// RFC 3339, or a bare date meaning its midnight UTC.
fn parse_time(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
}

fn parse_cursor(raw: &str) -> Option<store::Cursor> {
    let (ms, run_id) = raw.split_once('_')?;
    let created_at = chrono::DateTime::from_timestamp_millis(ms.parse().ok()?)?;
    RunId::parse(run_id).ok().map(|_| store::Cursor { created_at, run_id: run_id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_inputs_in_another_key_order_are_the_same_request() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": 2}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a": {"x": 2, "y": [1, {"p": 2, "q": 1}]}, "b": 1}"#).unwrap();
        assert_eq!(request_hash("agent", &a), request_hash("agent", &b));
        assert_ne!(request_hash("agent", &a), request_hash("other", &a));
        let c: serde_json::Value =
            serde_json::from_str(r#"{"a": {"x": 2, "y": [{"p": 2, "q": 1}, 1]}, "b": 1}"#).unwrap();
        assert_ne!(request_hash("agent", &a), request_hash("agent", &c), "array order matters");
    }

    #[test]
    fn queries_are_parsed_with_every_mistake_named() {
        let q = RunQuery {
            status: Some("running, failed".into()),
            since: Some("2026-11-23".into()),
            limit: Some(10),
            ..Default::default()
        };
        let (filter, cursor, limit) = parse_query(&q).unwrap();
        assert_eq!(filter.statuses, vec![RunStatus::Running, RunStatus::Failed]);
        assert_eq!(filter.since.unwrap().to_rfc3339(), "2026-11-23T00:00:00+00:00");
        assert_eq!((cursor, limit), (None, 10));

        let bad = RunQuery {
            status: Some("done".into()),
            until: Some("yesterday".into()),
            limit: Some(0),
            cursor: Some("x".into()),
            ..Default::default()
        };
        let fields: Vec<_> =
            ApiError::from(parse_query(&bad).unwrap_err()).fields.into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["status", "until", "limit", "cursor"]);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = parse_cursor("1795300029250_0b7c1b9e-1f7a-4c38-9d1c-9a1d1f0e2a11").unwrap();
        assert_eq!(c.created_at.timestamp_millis(), 1_795_300_029_250);
        assert!(parse_cursor("12_a b").is_none());
        assert!(parse_cursor("x_abc").is_none());
    }

    #[test]
    fn the_same_request_hashes_the_same() {
        let a = request_hash("a", &serde_json::json!({"x": 1, "y": [1, 2]}));
        let b = request_hash("a", &serde_json::from_str(r#"{"y":[1,2],"x":1}"#).unwrap());
        assert_eq!(a, b);
        assert_ne!(a, request_hash("b", &serde_json::json!({"x": 1, "y": [1, 2]})));
        assert_ne!(a, request_hash("a", &serde_json::json!({"x": 2, "y": [1, 2]})));
    }
}
