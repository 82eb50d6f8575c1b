//! Run persistence. Every status change is a guarded transition, one UPDATE whose filter
//! names the states it may leave: a late answer can never turn `cancelled` back into
//! `succeeded`, and the caller learns from the row count whether its change happened.

use crate::entities::{runs, schemas, stored};
use crate::time::timestamp;
use app::model::{RunStatus, RunView};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};

/// Timestamps are kept to the millisecond, so the history's cursor (which carries one)
/// compares equal to what is stored.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

pub struct NewRun {
    pub run_id: String,
    pub agent_id: String,
    pub agent_url: String,
    pub workflow: String,
    pub inputs: serde_json::Value,
    pub schema_hash: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    /// Pointers of the secret inputs stored as "***".
    pub withheld: Vec<String>,
    /// The run it re-runs, if any.
    pub rerun_of: Option<String>,
    /// The dashboard that stores it carries it out (`cluster`).
    pub claimed_by: String,
}

/// Stores a queued run. With an idempotency key already used, stores nothing and
/// returns the run that holds the key.
pub async fn insert(db: &DatabaseConnection, run: NewRun) -> Result<Result<runs::Model, runs::Model>, DbErr> {
    let key = run.idempotency_key.clone();
    let row = runs::ActiveModel {
        run_id: Set(run.run_id.clone()),
        agent_id: Set(run.agent_id),
        agent_url: Set(run.agent_url),
        workflow: Set(run.workflow),
        status: Set(RunStatus::Queued.as_str().to_owned()),
        inputs: Set(run.inputs),
        outputs: Set(None),
        error: Set(None),
        field_errors: Set(None),
        job_id: Set(None),
        schema_hash: Set(run.schema_hash),
        idempotency_key: Set(run.idempotency_key),
        request_hash: Set(run.request_hash),
        origin: Set("dashboard".to_owned()),
        created_at: Set(now()),
        started_at: Set(None),
        finished_at: Set(None),
        duration_ms: Set(None),
        total_tokens: Set(None),
        cost_usd: Set(None),
        withheld: Set((!run.withheld.is_empty()).then(|| serde_json::json!(run.withheld))),
        rerun_of: Set(run.rerun_of),
        claimed_by: Set(Some(run.claimed_by)),
    };
    let inserted = runs::Entity::insert(row)
        .on_conflict(OnConflict::column(runs::Column::IdempotencyKey).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?
        == 1;
    if inserted {
        let stored = find(db, &run.run_id).await?;
        return stored
            .map(Ok)
            .ok_or_else(|| DbErr::RecordNotFound(format!("run {} vanished after insert", run.run_id)));
    }
    let key = key.unwrap_or_default();
    let holder = find_by_key(db, &key).await?;
    holder.map(Err).ok_or_else(|| DbErr::RecordNotFound(format!("no run holds idempotency key {key}")))
}

pub async fn find_by_key(db: &DatabaseConnection, key: &str) -> Result<Option<runs::Model>, DbErr> {
    runs::Entity::find().filter(runs::Column::IdempotencyKey.eq(key)).one(db).await
}

pub async fn find(db: &DatabaseConnection, run_id: &str) -> Result<Option<runs::Model>, DbErr> {
    runs::Entity::find_by_id(run_id).one(db).await
}

fn in_states(states: &[RunStatus]) -> sea_orm::sea_query::SimpleExpr {
    runs::Column::Status.is_in(states.iter().map(|s| s.as_str()))
}

/// Whether a queued run could start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Start {
    Started,
    /// Cancelled, deleted, or taken over by another dashboard meanwhile: not sent here.
    Gone,
    /// Its agent already runs `limit` runs (on any dashboard): it waits.
    Full,
}

/// queued → running, by the dashboard that claims the run (`me`), and only while its
/// agent runs fewer than `limit` runs on every dashboard together.
///
/// The count and the change are one guarded UPDATE. On PostgreSQL two dashboards could
/// both count `limit - 1` under READ COMMITTED and both start, so the transaction first
/// takes an advisory lock on the agent: the second waits for the first's commit, and its
/// UPDATE (a new snapshot) counts the first's run. SQLite has one writer at a time.
pub async fn start(
    db: &DatabaseConnection,
    run_id: &str,
    agent_id: &str,
    me: &str,
    limit: usize,
    at: DateTime<Utc>,
    live_since: DateTime<Utc>,
) -> Result<Start, DbErr> {
    use sea_orm::sea_query::{Alias, Query, SimpleExpr, SubQueryStatement};
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let txn = db.begin().await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, $2)",
            [crate::cluster::LOCK_RUN_SLOTS.into(), crate::cluster::lock_key(agent_id).into()],
        ))
        .await?;
    }
    let other = Alias::new("running_now");
    let running = Query::select()
        .expr(Expr::col((other.clone(), runs::Column::RunId)).count())
        .from_as(runs::Entity, other.clone())
        .and_where(Expr::col((other.clone(), runs::Column::AgentId)).eq(agent_id))
        .and_where(Expr::col((other.clone(), runs::Column::Status)).eq(RunStatus::Running.as_str()))
        // A row left `running` (its outcome could not be written) must not hold a slot
        // for ever: no run is running longer than the run timeout.
        .and_where(Expr::col((other, runs::Column::StartedAt)).gt(live_since))
        .to_owned();
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(RunStatus::Running.as_str()))
        .col_expr(runs::Column::StartedAt, Expr::value(Some(at)))
        .filter(runs::Column::RunId.eq(run_id))
        .filter(in_states(&[RunStatus::Queued]))
        .filter(runs::Column::ClaimedBy.eq(me))
        .filter(
            Expr::expr(SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(running))))
                .lt(limit as i64),
        )
        .exec(&txn)
        .await?;
    if result.rows_affected == 1 {
        txn.commit().await?;
        return Ok(Start::Started);
    }
    let run = runs::Entity::find_by_id(run_id).one(&txn).await?;
    txn.commit().await?;
    Ok(match run {
        Some(r) if r.status == RunStatus::Queued.as_str() && r.claimed_by.as_deref() == Some(me) => Start::Full,
        _ => Start::Gone,
    })
}

/// Remembers the agent's job ID of a running run, so polling resumes after a restart.
pub async fn set_job(db: &DatabaseConnection, run_id: &str, job_id: &str) -> Result<bool, DbErr> {
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::JobId, Expr::value(Some(job_id.to_owned())))
        .filter(runs::Column::RunId.eq(run_id))
        .filter(in_states(&[RunStatus::Running]))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How a run ended.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub outputs: Option<serde_json::Value>,
    pub error: Option<String>,
    pub field_errors: Option<serde_json::Value>,
    pub total_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
}

/// queued/running → a final status. False when it had already ended (cancelled, say).
pub async fn finish(
    db: &DatabaseConnection,
    run_id: &str,
    status: RunStatus,
    outcome: Outcome,
    started_at: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    finish_where(db, run_id, status, outcome, started_at, None).await
}

async fn finish_where(
    db: &DatabaseConnection,
    run_id: &str,
    status: RunStatus,
    outcome: Outcome,
    started_at: Option<DateTime<Utc>>,
    claimed_by: Option<&str>,
) -> Result<bool, DbErr> {
    debug_assert!(status.is_final());
    let at = now();
    let duration = started_at.map(|s| (at - s).num_milliseconds().max(0));
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(status.as_str()))
        .col_expr(runs::Column::Outputs, Expr::value(outcome.outputs))
        .col_expr(runs::Column::Error, Expr::value(outcome.error))
        .col_expr(runs::Column::FieldErrors, Expr::value(outcome.field_errors))
        .col_expr(runs::Column::TotalTokens, Expr::value(outcome.total_tokens.map(|t| t.min(i64::MAX as u64) as i64)))
        .col_expr(runs::Column::CostUsd, Expr::value(outcome.cost_usd))
        .col_expr(runs::Column::FinishedAt, Expr::value(Some(at)))
        .col_expr(runs::Column::DurationMs, Expr::value(duration))
        .filter(runs::Column::RunId.eq(run_id))
        .filter(in_states(&[RunStatus::Queued, RunStatus::Running]))
        .apply_if(claimed_by, |q, me| q.filter(runs::Column::ClaimedBy.eq(me)))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// `finish` by the dashboard carrying the run out: nothing when another one has taken it
/// over meanwhile (this one was counted out).
pub async fn finish_as(
    db: &DatabaseConnection,
    run_id: &str,
    me: &str,
    status: RunStatus,
    outcome: Outcome,
    started_at: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    finish_where(db, run_id, status, outcome, started_at, Some(me)).await
}

pub async fn delete(db: &DatabaseConnection, run_id: &str) -> Result<bool, DbErr> {
    Ok(runs::Entity::delete_by_id(run_id).exec(db).await?.rows_affected == 1)
}

/// A synchronous call that was in flight when its dashboard stopped may or may not have
/// reached the agent: it is never sent again, and says so.
pub const INTERRUPTED_IN_FLIGHT: &str = "The dashboard carrying out this run stopped while the agent was working on \
     it. It was not sent again, because the agent may have done the work; re-run it if needed.";

/// A queued run whose secret inputs were only ever in the memory of a dashboard that has
/// stopped cannot be sent.
pub const INTERRUPTED_WITHHELD: &str = "The dashboard that queued this run stopped before sending it, and secret \
     inputs are never stored, so it could not be sent. Use Edit and re-run and enter them again.";

/// Takes over, for `me`, up to `limit` queued or running runs whose dashboard is gone:
/// its membership row is missing or (with `fresh`) older than `fresh`, or (`alone`,
/// SQLite: one dashboard at a time) any claim but `me`'s. On PostgreSQL the rows are locked with
/// `FOR UPDATE SKIP LOCKED`, so two dashboards taking over at once take different runs.
pub async fn take_over(
    db: &DatabaseConnection,
    me: &str,
    fresh: Option<DateTime<Utc>>,
    alone: bool,
    limit: u64,
) -> Result<Vec<runs::Model>, DbErr> {
    use crate::entities::nodes;
    use sea_orm::sea_query::{LockBehavior, LockType, Query};
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let txn = db.begin().await?;
    let orphaned = if alone {
        Condition::any().add(runs::Column::ClaimedBy.is_null()).add(runs::Column::ClaimedBy.ne(me))
    } else {
        // Not steady (just started, or the database was away): only dashboards whose row
        // is gone (they left, deleting it) are gone; a stale row may be renewed yet.
        let live = Query::select()
            .column(nodes::Column::NodeId)
            .from(nodes::Entity)
            .apply_if(fresh, |q, fresh| {
                q.and_where(nodes::Column::SeenAt.gt(fresh));
            })
            .to_owned();
        // Never its own: its row may be stale too (the database was away).
        Condition::any()
            .add(runs::Column::ClaimedBy.is_null())
            .add(runs::Column::ClaimedBy.not_in_subquery(live).and(runs::Column::ClaimedBy.ne(me)))
    };
    let mut find = runs::Entity::find()
        .filter(in_states(&[RunStatus::Queued, RunStatus::Running]))
        .filter(orphaned)
        .order_by_asc(runs::Column::CreatedAt)
        .limit(limit);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        find = find.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let taken = find.all(&txn).await?;
    if !taken.is_empty() {
        runs::Entity::update_many()
            .col_expr(runs::Column::ClaimedBy, Expr::value(Some(me.to_owned())))
            .filter(runs::Column::RunId.is_in(taken.iter().map(|r| r.run_id.clone())))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(taken)
}

/// A run `me` took over → `interrupted` with `reason`, unless it changed meanwhile.
pub async fn interrupt(
    db: &DatabaseConnection,
    run_id: &str,
    me: &str,
    from: RunStatus,
    reason: &str,
) -> Result<bool, DbErr> {
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(RunStatus::Interrupted.as_str()))
        .col_expr(runs::Column::Error, Expr::value(reason))
        .col_expr(runs::Column::FinishedAt, Expr::value(Some(now())))
        .filter(runs::Column::RunId.eq(run_id))
        .filter(in_states(&[from]))
        .filter(runs::Column::ClaimedBy.eq(me))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Keeps `schema` under its hash, once (for schema drift: Edit and re-run compares).
pub async fn remember_schema(
    db: &DatabaseConnection,
    hash: &str,
    schema: &app::schema::InputSchema,
) -> Result<(), DbErr> {
    let row = schemas::ActiveModel {
        hash: Set(hash.to_owned()),
        schema: Set(serde_json::to_value(schema).unwrap_or_default()),
        created_at: Set(now()),
    };
    schemas::Entity::insert(row)
        .on_conflict(OnConflict::column(schemas::Column::Hash).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The schema kept under `hash`, if any run was validated against it.
pub async fn schema_by_hash(db: &DatabaseConnection, hash: &str) -> Result<Option<app::schema::InputSchema>, DbErr> {
    Ok(schemas::Entity::find_by_id(hash.to_owned()).one(db).await?.and_then(|m| serde_json::from_value(m.schema).ok()))
}

/// Removes finished runs that ended before `before`; returns how many.
pub async fn purge_finished_before(db: &DatabaseConnection, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = runs::Entity::delete_many()
        .filter(runs::Column::FinishedAt.lt(before))
        .filter(runs::Column::Status.is_not_in([RunStatus::Queued.as_str(), RunStatus::Running.as_str()]))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The history's filters, already parsed.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub agent_id: Option<String>,
    pub statuses: Vec<RunStatus>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A position in the history: the last run of the previous page.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub run_id: String,
}

/// Newest first; `total` counts every match of the filter; the flag tells whether more
/// runs follow this page.
pub async fn list(
    db: &DatabaseConnection,
    filter: &Filter,
    after: Option<&Cursor>,
    limit: u64,
) -> Result<(Vec<runs::Model>, u64, bool), DbErr> {
    let mut select = runs::Entity::find();
    if let Some(agent_id) = &filter.agent_id {
        select = select.filter(runs::Column::AgentId.eq(agent_id.as_str()));
    }
    if !filter.statuses.is_empty() {
        select = select.filter(in_states(&filter.statuses));
    }
    if let Some(since) = filter.since {
        select = select.filter(runs::Column::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        select = select.filter(runs::Column::CreatedAt.lt(until));
    }
    let total = select.clone().count(db).await?;
    if let Some(c) = after {
        select = select.filter(
            Condition::any().add(runs::Column::CreatedAt.lt(c.created_at)).add(
                Condition::all()
                    .add(runs::Column::CreatedAt.eq(c.created_at))
                    .add(runs::Column::RunId.lt(c.run_id.as_str())),
            ),
        );
    }
    // One row more than asked tells whether a next page exists.
    let mut rows = select
        .order_by_desc(runs::Column::CreatedAt)
        .order_by_desc(runs::Column::RunId)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, total, more))
}

/// How many runs are in each status.
pub async fn counts_by_status(db: &DatabaseConnection) -> Result<Vec<(RunStatus, i64)>, DbErr> {
    let rows: Vec<(String, i64)> = runs::Entity::find()
        .select_only()
        .column(runs::Column::Status)
        .column_as(runs::Column::RunId.count(), "n")
        .group_by(runs::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    // Runs with an unknown stored status (reported) are left out of the gauges.
    Ok(rows.into_iter().filter_map(|(s, n)| stored::run_status("(grouped)", &s).ok().map(|s| (s, n))).collect())
}

/// What the event stream says about a run (no inputs or outputs).
pub fn to_change(m: &runs::Model) -> app::model::events::RunChange {
    app::model::events::RunChange {
        run_id: m.run_id.clone(),
        agent_id: m.agent_id.clone(),
        workflow: m.workflow.clone(),
        status: stored::run_status(&m.run_id, &m.status).unwrap_or(RunStatus::Failed),
        error: m.error.clone(),
        created_at: timestamp(m.created_at),
        started_at: m.started_at.map(timestamp),
        finished_at: m.finished_at.map(timestamp),
        duration_ms: m.duration_ms.map(|d| d.max(0) as u64),
    }
}

/// What the event stream says about these runs, read without their inputs and outputs
/// (another dashboard changed them; outputs can be megabytes).
pub async fn changes_of(
    db: &DatabaseConnection,
    run_ids: &[String],
) -> Result<Vec<app::model::events::RunChange>, DbErr> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        String,
        String,
        String,
        Option<String>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<i64>,
    )> = runs::Entity::find()
        .filter(runs::Column::RunId.is_in(run_ids.iter().cloned()))
        .select_only()
        .column(runs::Column::RunId)
        .column(runs::Column::AgentId)
        .column(runs::Column::Workflow)
        .column(runs::Column::Status)
        .column(runs::Column::Error)
        .column(runs::Column::CreatedAt)
        .column(runs::Column::StartedAt)
        .column(runs::Column::FinishedAt)
        .column(runs::Column::DurationMs)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(run_id, agent_id, workflow, status, error, created_at, started_at, finished_at, duration_ms)| {
            app::model::events::RunChange {
                status: stored::run_status(&run_id, &status).unwrap_or(RunStatus::Failed),
                run_id,
                agent_id,
                workflow,
                error,
                created_at: timestamp(created_at),
                started_at: started_at.map(timestamp),
                finished_at: finished_at.map(timestamp),
                duration_ms: duration_ms.map(|d| d.max(0) as u64),
            }
        })
        .collect())
}

/// Publishes the run as it is now (after the commit that changed it). A failed read is
/// logged, not raised: the change itself is stored, and pages resync on their own.
pub async fn publish(db: &DatabaseConnection, bus: &crate::events::EventBus, run_id: &str) {
    match find(db, run_id).await {
        Ok(Some(run)) => bus.publish(app::model::events::LiveEvent::RunUpdated(to_change(&run))),
        Ok(None) => {}
        Err(e) => tracing::warn!(%run_id, error = %e, "could not read a run to publish its change"),
    }
}

pub fn to_view(m: runs::Model) -> RunView {
    let field_errors = m.field_errors.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    // A status this dashboard does not know is shown as failed, saying why (a final one:
    // nothing will change it).
    let (status, error) = match stored::run_status(&m.run_id, &m.status) {
        Ok(status) => (status, m.error),
        Err(stored::Unrecognised(why)) => {
            (RunStatus::Failed, Some(m.error.map_or(why.clone(), |e| format!("{e} ({why})"))))
        }
    };
    RunView {
        status,
        run_id: m.run_id,
        agent_id: m.agent_id,
        workflow: m.workflow,
        inputs: m.inputs,
        outputs: m.outputs,
        error,
        field_errors,
        created_at: timestamp(m.created_at),
        started_at: m.started_at.map(timestamp),
        finished_at: m.finished_at.map(timestamp),
        duration_ms: m.duration_ms.map(|d| d.max(0) as u64),
        total_tokens: m.total_tokens.map(|t| t.max(0) as u64),
        cost_usd: m.cost_usd,
        schema_hash: m.schema_hash,
        withheld: m.withheld.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        rerun_of: m.rerun_of,
    }
}
