//! Agent persistence: the queries the registry and the health monitor need, and the
//! mapping from rows to the shared view type.

use crate::agent_client::Probe;
use crate::entities::{agents, health_events};
use app::model::{AgentSource, AgentView, HealthState, HealthView};
use app::validation::ValidRegistration;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{Expr, Func, LikeExpr, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

/// Inserts or updates an agent with the result of its health check; returns the stored
/// row and whether it was new.
pub async fn upsert(
    db: &DatabaseConnection,
    valid: &ValidRegistration,
    source: AgentSource,
    probe: &Probe,
) -> Result<(agents::Model, bool), DbErr> {
    let txn = db.begin().await?;
    let id = valid.agent_id.as_str();
    let existing = agents::Entity::find_by_id(id).one(&txn).await?;
    let now = Utc::now();
    let failures = match (probe.state, &existing) {
        (HealthState::Healthy, _) => 0,
        (_, Some(e)) => e.consecutive_failures.saturating_add(1),
        (_, None) => 1,
    };
    let row = agents::ActiveModel {
        agent_id: Set(id.to_owned()),
        agent_name: Set(valid.agent_name.clone()),
        agent_url: Set(valid.agent_url.as_str().to_owned()),
        source: Set(source.as_str().to_owned()),
        metadata: Set(serde_json::Value::Object(valid.metadata.clone())),
        registered_at: Set(existing.as_ref().map_or(now, |e| e.registered_at)),
        updated_at: Set(now),
        ttl_seconds: Set(None),
        last_heartbeat_at: Set(None),
        health_state: Set(probe.state.as_str().to_owned()),
        health_reason: Set(probe.reason.clone()),
        health_latency_ms: Set(Some(probe.latency_ms as i64)),
        health_checked_at: Set(Some(probe.checked_at)),
        consecutive_failures: Set(failures),
        schema: Set(existing.as_ref().and_then(|e| e.schema.clone())),
        schema_fetched_at: Set(existing.as_ref().and_then(|e| e.schema_fetched_at)),
    };
    // ON CONFLICT keeps two simultaneous registrations of one new ID from failing.
    agents::Entity::insert(row)
        .on_conflict(
            OnConflict::column(agents::Column::AgentId)
                .update_columns([
                    agents::Column::AgentName,
                    agents::Column::AgentUrl,
                    agents::Column::Source,
                    agents::Column::Metadata,
                    agents::Column::UpdatedAt,
                    agents::Column::TtlSeconds,
                    agents::Column::LastHeartbeatAt,
                    agents::Column::HealthState,
                    agents::Column::HealthReason,
                    agents::Column::HealthLatencyMs,
                    agents::Column::HealthCheckedAt,
                    agents::Column::ConsecutiveFailures,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let previous = existing.as_ref().map(|e| e.health_state.as_str());
    if previous != Some(probe.state.as_str()) {
        insert_event(&txn, id, probe).await?;
    }
    let stored = agents::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("agent {id} vanished inside its transaction")))?;
    txn.commit().await?;
    Ok((stored, existing.is_none()))
}

/// Records one health check; a state change also goes to the history. Returns false when
/// the agent no longer exists (removed while it was being checked).
pub async fn record_probe(db: &DatabaseConnection, agent_id: &str, probe: &Probe) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let Some(current) = agents::Entity::find_by_id(agent_id).one(&txn).await? else {
        return Ok(false);
    };
    let failures = if probe.state == HealthState::Healthy {
        0
    } else {
        current.consecutive_failures.saturating_add(1)
    };
    agents::Entity::update_many()
        .col_expr(agents::Column::HealthState, Expr::value(probe.state.as_str()))
        .col_expr(agents::Column::HealthReason, Expr::value(probe.reason.clone()))
        .col_expr(agents::Column::HealthLatencyMs, Expr::value(Some(probe.latency_ms as i64)))
        .col_expr(agents::Column::HealthCheckedAt, Expr::value(Some(probe.checked_at)))
        .col_expr(agents::Column::ConsecutiveFailures, Expr::value(failures))
        .filter(agents::Column::AgentId.eq(agent_id))
        .exec(&txn)
        .await?;
    if current.health_state != probe.state.as_str() {
        insert_event(&txn, agent_id, probe).await?;
    }
    txn.commit().await?;
    Ok(true)
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

/// Agents ordered by name (case-insensitive), then ID; `q` matches ID, name or URL.
pub async fn list(
    db: &DatabaseConnection,
    q: Option<&str>,
    limit: Option<u64>,
    offset: u64,
) -> Result<(Vec<agents::Model>, u64), DbErr> {
    let mut select = agents::Entity::find();
    if let Some(q) = q {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
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
    let by_name: SimpleExpr = Func::lower(Expr::col(agents::Column::AgentName)).into();
    let mut select = select.order_by_asc(by_name).order_by_asc(agents::Column::AgentId);
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
