//! Agent persistence: the queries the registry and the health monitor need, and the
//! mapping from rows to the shared view type.

use crate::agent_client::Probe;
use crate::entities::{agents, health_events};
use app::model::{AgentSource, AgentView, HealthState, HealthView};
use app::validation::ValidRegistration;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{Expr, Func, LikeExpr, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait, UpdateMany,
};

/// Inserts or updates an agent with the result of its health check; returns the stored
/// row and whether it was new.
///
/// Every transaction here writes before it reads: on SQLite (WAL) a transaction that
/// reads first and then writes fails at once if another writer committed in between, and
/// on PostgreSQL the first write locks the row, so no concurrent update is lost.
pub async fn upsert(
    db: &DatabaseConnection,
    valid: &ValidRegistration,
    source: AgentSource,
    probe: &Probe,
) -> Result<(agents::Model, bool), DbErr> {
    let id = valid.agent_id.as_str();
    let now = Utc::now();
    let txn = db.begin().await?;
    let row = agents::ActiveModel {
        agent_id: Set(id.to_owned()),
        agent_name: Set(valid.agent_name.clone()),
        agent_url: Set(valid.agent_url.as_str().to_owned()),
        source: Set(source.as_str().to_owned()),
        metadata: Set(serde_json::Value::Object(valid.metadata.clone())),
        registered_at: Set(now),
        updated_at: Set(now),
        ttl_seconds: Set(None),
        last_heartbeat_at: Set(None),
        health_state: Set(probe.state.as_str().to_owned()),
        health_reason: Set(probe.reason.clone()),
        health_latency_ms: Set(Some(probe.latency_ms as i64)),
        health_checked_at: Set(Some(probe.checked_at)),
        consecutive_failures: Set(if probe.state == HealthState::Healthy { 0 } else { 1 }),
        schema: Set(None),
        schema_fetched_at: Set(None),
    };
    // A second registration of the same new ID waits here for the first to commit.
    let created = agents::Entity::insert(row)
        .on_conflict(OnConflict::column(agents::Column::AgentId).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await?
        == 1;
    let changed_state = if created {
        true
    } else {
        let update = || {
            with_probe(agents::Entity::update_many(), probe)
                .col_expr(agents::Column::AgentName, Expr::value(valid.agent_name.clone()))
                .col_expr(agents::Column::AgentUrl, Expr::value(valid.agent_url.as_str()))
                .col_expr(agents::Column::Source, Expr::value(source.as_str()))
                .col_expr(agents::Column::Metadata, Expr::value(serde_json::Value::Object(valid.metadata.clone())))
                .col_expr(agents::Column::UpdatedAt, Expr::value(now))
                .col_expr(agents::Column::TtlSeconds, Expr::value(None::<i32>))
                .col_expr(agents::Column::LastHeartbeatAt, Expr::value(None::<DateTime<Utc>>))
                .filter(agents::Column::AgentId.eq(id))
        };
        write_transition(&txn, update, probe).await?.1
    };
    if changed_state {
        insert_event(&txn, id, probe).await?;
    }
    let stored = agents::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("agent {id} vanished inside its transaction")))?;
    txn.commit().await?;
    Ok((stored, created))
}

/// Records one health check of `agent_url`; a state change also goes to the history.
/// Writes nothing (and returns false) when the agent was removed, re-registered under
/// another URL, or checked more recently while this check was running.
pub async fn record_probe(
    db: &DatabaseConnection,
    agent_id: &str,
    agent_url: &str,
    probe: &Probe,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let update = || {
        with_probe(agents::Entity::update_many(), probe)
            .filter(agents::Column::AgentId.eq(agent_id))
            .filter(agents::Column::AgentUrl.eq(agent_url))
            .filter(
                Condition::any()
                    .add(agents::Column::HealthCheckedAt.is_null())
                    .add(agents::Column::HealthCheckedAt.lt(probe.checked_at)),
            )
    };
    let (written, changed_state) = write_transition(&txn, update, probe).await?;
    if changed_state {
        insert_event(&txn, agent_id, probe).await?;
    }
    txn.commit().await?;
    Ok(written)
}

/// The health columns of an update, from one probe.
fn with_probe(update: UpdateMany<agents::Entity>, probe: &Probe) -> UpdateMany<agents::Entity> {
    let failures: SimpleExpr = if probe.state == HealthState::Healthy {
        Expr::value(0)
    } else {
        Expr::col(agents::Column::ConsecutiveFailures).add(1)
    };
    update
        .col_expr(agents::Column::HealthState, Expr::value(probe.state.as_str()))
        .col_expr(agents::Column::HealthReason, Expr::value(probe.reason.clone()))
        .col_expr(agents::Column::HealthLatencyMs, Expr::value(Some(probe.latency_ms as i64)))
        .col_expr(agents::Column::HealthCheckedAt, Expr::value(Some(probe.checked_at)))
        .col_expr(agents::Column::ConsecutiveFailures, failures)
}

/// Runs `update` so that it also tells whether the health state changed, without reading
/// first: once restricted to rows in another state, then, if none matched, unrestricted.
/// Returns (a row was written, its state changed).
async fn write_transition(
    txn: &impl ConnectionTrait,
    update: impl Fn() -> UpdateMany<agents::Entity>,
    probe: &Probe,
) -> Result<(bool, bool), DbErr> {
    let state = probe.state.as_str();
    if update().filter(agents::Column::HealthState.ne(state)).exec(txn).await?.rows_affected > 0 {
        return Ok((true, true));
    }
    let written = update().exec(txn).await?.rows_affected > 0;
    Ok((written, false))
}

async fn insert_event(db: &impl ConnectionTrait, agent_id: &str, probe: &Probe) -> Result<(), DbErr> {
    health_events::Entity::insert(health_events::ActiveModel {
        agent_id: Set(agent_id.to_owned()),
        state: Set(probe.state.as_str().to_owned()),
        reason: Set(probe.reason.clone()),
        at: Set(probe.checked_at),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// What the health monitor needs of each agent.
pub async fn probe_targets(db: &DatabaseConnection) -> Result<Vec<(String, String)>, DbErr> {
    agents::Entity::find()
        .select_only()
        .column(agents::Column::AgentId)
        .column(agents::Column::AgentUrl)
        .into_tuple()
        .all(db)
        .await
}

pub async fn find(db: &DatabaseConnection, agent_id: &str) -> Result<Option<agents::Model>, DbErr> {
    agents::Entity::find_by_id(agent_id).one(db).await
}

/// Agents ordered by ID in byte order (IDs are ASCII; the same order on SQLite, on
/// PostgreSQL whatever its locale, and in the browser); `q` matches ID, name or URL,
/// case-insensitively for ASCII letters (SQLite's lower() knows no others).
pub async fn list(
    db: &DatabaseConnection,
    q: Option<&str>,
    limit: Option<u64>,
    offset: u64,
) -> Result<(Vec<agents::Model>, u64), DbErr> {
    let mut select = agents::Entity::find();
    if let Some(q) = q {
        let pattern = format!("%{}%", escape_like(&q.to_ascii_lowercase()));
        let matches = |col: agents::Column| {
            Expr::expr(Func::lower(Expr::col(col))).like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(
            matches(agents::Column::AgentId)
                .or(matches(agents::Column::AgentName))
                .or(matches(agents::Column::AgentUrl)),
        );
    }
    let total = select.clone().count(db).await?;
    let by_id: SimpleExpr = match db.get_database_backend() {
        DbBackend::Postgres => Expr::cust(r#""agent_id" COLLATE "C""#),
        _ => Expr::col(agents::Column::AgentId).into(),
    };
    let mut select = select.order_by_asc(by_id);
    if limit.is_some() || offset > 0 {
        // SQLite accepts OFFSET only after a LIMIT.
        select = select.limit(limit.unwrap_or(i64::MAX as u64)).offset(offset);
    }
    Ok((select.all(db).await?, total))
}

/// Deletes an agent (its health history goes with it); false when there was none.
pub async fn delete(db: &DatabaseConnection, agent_id: &str) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    health_events::Entity::delete_many()
        .filter(health_events::Column::AgentId.eq(agent_id))
        .exec(&txn)
        .await?;
    let deleted = agents::Entity::delete_by_id(agent_id).exec(&txn).await?.rows_affected > 0;
    txn.commit().await?;
    Ok(deleted)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn to_view(m: agents::Model) -> AgentView {
    let metadata = match m.metadata {
        serde_json::Value::Object(map) => map,
        // Only objects are ever stored; anything else would be a bug or a hand edit.
        other => {
            let mut map = serde_json::Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    AgentView {
        agent_id: m.agent_id,
        agent_name: m.agent_name,
        agent_url: m.agent_url,
        source: AgentSource::parse(&m.source).unwrap_or(AgentSource::Manual),
        metadata,
        registered_at: timestamp(m.registered_at),
        updated_at: timestamp(m.updated_at),
        health: HealthView {
            state: HealthState::parse(&m.health_state).unwrap_or(HealthState::Unknown),
            reason: m.health_reason,
            latency_ms: m.health_latency_ms.map(|l| l.max(0) as u64),
            checked_at: m.health_checked_at.map(timestamp),
            consecutive_failures: m.consecutive_failures.max(0) as u32,
        },
    }
}

/// Keeps the agent's last `/schema` answer, for when the agent cannot be asked.
pub async fn save_schema(
    db: &DatabaseConnection,
    agent_id: &str,
    raw: &serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    agents::Entity::update_many()
        .col_expr(agents::Column::Schema, Expr::value(Some(raw.clone())))
        .col_expr(agents::Column::SchemaFetchedAt, Expr::value(Some(at)))
        .filter(agents::Column::AgentId.eq(agent_id))
        .exec(db)
        .await?;
    Ok(())
}
