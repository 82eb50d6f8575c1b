//! Agent persistence: the queries the registry and the health monitor need, and the
//! mapping from rows to the shared view type. Self-registered agents' lifecycle
//! (registration, heartbeats, expiry, revival, goodbye, purge) is in `lifecycle`.

mod lifecycle;
pub mod outbound;
pub use lifecycle::*;

use crate::agent_client::Probe;
use crate::entities::{agents, health_events, stored};
use crate::health::HealthPolicy;
use app::model::{AgentSource, AgentState, AgentView, Expiry, HealthState, HealthSummary};
use app::validation::ValidRegistration;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func, LikeExpr, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

/// What a registration did to the stored agents.
#[derive(Debug)]
pub enum Upsert {
    /// The row as stored, whether it was new, and whether its health state changed.
    Stored { model: agents::Model, created: bool, transition: bool },
    /// Nothing: another agent (another URL or name) has the ID and `replace` was not set.
    Taken(agents::Model),
}

/// Inserts or updates an agent with the result of its registration's health check
/// (`state` and `failures` as the health policy decided them). An agent that has the ID
/// with another URL or name is replaced only when `valid.replace` is set; the check is
/// part of the update's filter, so a concurrent registration cannot slip between a read
/// and the write.
///
/// Every transaction here writes before it reads: on SQLite (WAL) a transaction that
/// reads first and then writes fails at once if another writer committed in between, and
/// on PostgreSQL the first write locks the row, so no concurrent update is lost.
pub async fn upsert(
    db: &DatabaseConnection,
    valid: &ValidRegistration,
    source: AgentSource,
    probe: &Probe,
    state: HealthState,
    failures: u32,
    headers: Option<&crate::agent_client::Outbound>,
) -> Result<Upsert, DbErr> {
    let id = valid.agent_id.as_str();
    let now = Utc::now();
    let interval = valid.health_interval_ms.map(|ms| ms as i64);
    let txn = db.begin().await?;
    let row = agents::ActiveModel {
        health_state: Set(state.as_str().to_owned()),
        health_reason: Set(probe.reason.clone()),
        health_latency_ms: Set(probe.latency_ms.map(|ms| ms as i64)),
        health_checked_at: Set(Some(probe.checked_at)),
        consecutive_failures: Set(failures as i32),
        health_interval_ms: Set(interval),
        ..agents::ActiveModel::new_agent(
            id.to_owned(),
            valid.agent_name.clone(),
            valid.agent_url.as_str().to_owned(),
            source,
            serde_json::Value::Object(valid.metadata.clone()),
            now,
        )
    };
    // A second registration of the same new ID waits here for the first to commit.
    let created = insert_new(&txn, row).await?;
    let transition = if created {
        true
    } else {
        let update = || {
            let mut update = agents::Entity::update_many()
                .col_expr(agents::Column::HealthState, Expr::value(state.as_str()))
                .col_expr(agents::Column::HealthReason, Expr::value(probe.reason.clone()))
                .col_expr(agents::Column::HealthLatencyMs, Expr::value(probe.latency_ms.map(|ms| ms as i64)))
                .col_expr(agents::Column::HealthCheckedAt, Expr::value(Some(probe.checked_at)))
                .col_expr(agents::Column::ConsecutiveFailures, Expr::value(failures as i32))
                .col_expr(agents::Column::AgentName, Expr::value(valid.agent_name.clone()))
                .col_expr(agents::Column::AgentUrl, Expr::value(valid.agent_url.as_str()))
                .col_expr(agents::Column::Source, Expr::value(source.as_str()))
                // Registered by hand: no token owns it any more.
                .col_expr(agents::Column::OwnerToken, Expr::value(None::<String>))
                .col_expr(agents::Column::Metadata, Expr::value(serde_json::Value::Object(valid.metadata.clone())))
                .col_expr(agents::Column::UpdatedAt, Expr::value(now))
                .col_expr(agents::Column::TtlSeconds, Expr::value(None::<i32>))
                .col_expr(agents::Column::LastHeartbeatAt, Expr::value(None::<DateTime<Utc>>))
                .col_expr(agents::Column::HealthIntervalMs, Expr::value(interval))
                .col_expr(agents::Column::ExpiredAt, Expr::value(None::<DateTime<Utc>>))
                .col_expr(agents::Column::ExpiryReason, Expr::value(None::<String>))
                .col_expr(agents::Column::AddressNote, Expr::value(None::<String>))
                .filter(agents::Column::AgentId.eq(id));
            if !valid.replace {
                update = update
                    .filter(agents::Column::AgentUrl.eq(valid.agent_url.as_str()))
                    .filter(agents::Column::AgentName.eq(valid.agent_name.as_str()));
                // An agents file or a discovery never adopts an agent registered otherwise,
                // even one identical to what it declares: that one is taken.
                if matches!(source, AgentSource::Declared | AgentSource::Discovered) {
                    update = update.filter(agents::Column::Source.eq(source.as_str()));
                }
            }
            update
        };
        // A replacement at another URL is another agent: the schema the old one published
        // must not stand in for the new one's.
        if valid.replace {
            agents::Entity::update_many()
                .col_expr(agents::Column::Schema, Expr::value(None::<serde_json::Value>))
                .col_expr(agents::Column::SchemaFetchedAt, Expr::value(None::<DateTime<Utc>>))
                .filter(agents::Column::AgentId.eq(id))
                .filter(agents::Column::AgentUrl.ne(valid.agent_url.as_str()))
                .exec(&txn)
                .await?;
        }
        // Without reading first: once restricted to rows in another state, then, if none
        // matched, unrestricted.
        if update().filter(agents::Column::HealthState.ne(state.as_str())).exec(&txn).await?.rows_affected > 0 {
            true
        } else if update().exec(&txn).await?.rows_affected > 0 {
            false
        } else {
            // The ID is another agent's: leave it as it is.
            let holder = in_transaction(&txn, id).await?;
            txn.rollback().await?;
            return Ok(Upsert::Taken(holder));
        }
    };
    if transition {
        record_transition(&txn, id, state, probe.reason.clone(), probe.checked_at).await?;
    }
    // Headers go to the URL they were set for only: given, they are set; not given, those
    // set for this URL stay and any for another go.
    if created {
        // A new agent has none, whatever an earlier one of the same ID left.
        outbound::delete(&txn, id).await?;
    }
    match headers {
        Some(headers) => outbound::set(&txn, id, valid.agent_url.as_str(), headers).await?,
        None => {
            outbound::drop_unless_at(&txn, id, valid.agent_url.as_str()).await?;
        }
    }
    let stored = in_transaction(&txn, id).await?;
    txn.commit().await?;
    Ok(Upsert::Stored { model: stored, created, transition })
}

pub async fn find(db: &DatabaseConnection, agent_id: &str) -> Result<Option<agents::Model>, DbErr> {
    agents::Entity::find_by_id(agent_id).one(db).await
}

/// The ID of an agent registered with this ID or at this URL (a discovery marks what is
/// known already).
pub async fn known(db: &DatabaseConnection, agent_id: &str, agent_url: &str) -> Result<Option<String>, DbErr> {
    let found = agents::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(agents::Column::AgentId.eq(agent_id))
                .add(agents::Column::AgentUrl.eq(agent_url)),
        )
        .one(db)
        .await?;
    Ok(found.map(|m| m.agent_id))
}

/// The agent as a transaction that wrote it sees it (it must be there: the transaction
/// inserted or updated it).
/// Inserts the agent unless its ID is taken (then nothing): whether it was new.
pub(super) async fn insert_new(txn: &impl ConnectionTrait, row: agents::ActiveModel) -> Result<bool, DbErr> {
    let inserted = agents::Entity::insert(row)
        .on_conflict(OnConflict::column(agents::Column::AgentId).do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
    Ok(inserted == 1)
}

pub(super) async fn find_in(txn: &impl ConnectionTrait, id: &str) -> Result<Option<agents::Model>, DbErr> {
    agents::Entity::find_by_id(id).one(txn).await
}

async fn in_transaction(txn: &impl ConnectionTrait, id: &str) -> Result<agents::Model, DbErr> {
    agents::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("agent {id} vanished inside its transaction")))
}

/// A row of the agent's health history: it entered `state` at `at`.
async fn record_transition(
    txn: &impl ConnectionTrait,
    id: &str,
    state: HealthState,
    reason: Option<String>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    health_events::Entity::insert(health_events::ActiveModel {
        agent_id: Set(id.to_owned()),
        state: Set(state.as_str().to_owned()),
        reason: Set(reason),
        at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Agents ordered by ID in byte order (IDs are ASCII; the same order on SQLite, on
/// PostgreSQL whatever its locale, and in the browser); `q` matches ID, name or URL,
/// case-insensitively for ASCII letters (SQLite's lower() knows no others).
pub async fn list(
    db: &DatabaseConnection,
    q: Option<&str>,
    state: Option<AgentState>,
    alive_only: bool,
    limit: Option<u64>,
    offset: u64,
) -> Result<(Vec<agents::Model>, u64), DbErr> {
    let mut select = agents::Entity::find();
    match state.map(|s| s.health()) {
        // An expired agent counts as expired, not as the health it last had.
        Some(Some(health)) => {
            select = select
                .filter(agents::Column::HealthState.eq(health.as_str()))
                .filter(agents::Column::ExpiredAt.is_null())
        }
        Some(None) => select = select.filter(agents::Column::ExpiredAt.is_not_null()),
        None => {}
    }
    if alive_only {
        select = select.filter(alive());
    }
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

/// `AgentView::is_alive` in SQL: self-registered and not expired, or any other agent
/// healthy or failing.
fn alive() -> sea_orm::Condition {
    let self_registered = agents::Column::Source.eq(AgentSource::SelfRegistered.as_str());
    sea_orm::Condition::any().add(self_registered.clone().and(agents::Column::ExpiredAt.is_null())).add(
        agents::Column::Source
            .ne(AgentSource::SelfRegistered.as_str())
            // A declared agent removed from its file is expired too (`to_view`'s rule).
            .and(agents::Column::ExpiredAt.is_null())
            .and(agents::Column::HealthState.is_in([HealthState::Healthy.as_str(), HealthState::Failing.as_str()])),
    )
}

/// Agents registered, and of them alive (`GET /health`).
pub async fn alive_count(db: &DatabaseConnection) -> Result<(u64, u64), DbErr> {
    let total = agents::Entity::find().count(db).await?;
    let alive = agents::Entity::find().filter(alive()).count(db).await?;
    Ok((total, alive))
}

/// How many agents are in each state (an expired one only as expired).
pub async fn summary(db: &DatabaseConnection) -> Result<HealthSummary, DbErr> {
    let rows: Vec<(String, i64)> = agents::Entity::find()
        .filter(agents::Column::ExpiredAt.is_null())
        .select_only()
        .column(agents::Column::HealthState)
        .column_as(agents::Column::AgentId.count(), "n")
        .group_by(agents::Column::HealthState)
        .into_tuple()
        .all(db)
        .await?;
    let mut summary = HealthSummary::default();
    for (state, n) in rows {
        // An unknown stored state (reported) is counted with those not checked yet, as
        // the list shows it.
        let state = stored::health_state("agents", "(grouped)", &state).unwrap_or(HealthState::Unknown);
        summary.add(state, n.max(0) as u64);
    }
    summary.expired = agents::Entity::find().filter(agents::Column::ExpiredAt.is_not_null()).count(db).await?;
    Ok(summary)
}

/// Writes the agent's row without changing it, when `condition` holds for it: the write
/// takes the row's lock (PostgreSQL) or the database's (SQLite) first, so nothing changes
/// the agent before the transaction ends. False when the condition did not hold (then
/// nothing was written).
pub(super) async fn hold(
    txn: &impl ConnectionTrait,
    agent_id: &str,
    condition: impl sea_orm::sea_query::IntoCondition,
) -> Result<bool, DbErr> {
    let written = agents::Entity::update_many()
        .col_expr(agents::Column::AgentId, Expr::col(agents::Column::AgentId).into())
        .filter(agents::Column::AgentId.eq(agent_id))
        .filter(condition)
        .exec(txn)
        .await?
        .rows_affected;
    Ok(written > 0)
}

/// Deletes an agent (its health history goes with it); false when there was none.
pub async fn delete(db: &DatabaseConnection, agent_id: &str) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    health_events::Entity::delete_many().filter(health_events::Column::AgentId.eq(agent_id)).exec(&txn).await?;
    crate::health::store::delete_rollups(&txn, agent_id).await?;
    outbound::delete(&txn, agent_id).await?;
    let deleted = agents::Entity::delete_by_id(agent_id).exec(&txn).await?.rows_affected > 0;
    txn.commit().await?;
    Ok(deleted)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub fn to_view(m: agents::Model, policy: &HealthPolicy) -> AgentView {
    let metadata = match m.metadata {
        serde_json::Value::Object(map) => map,
        // Only objects are ever stored; anything else would be a bug or a hand edit.
        other => {
            let mut map = serde_json::Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    // A state this dashboard does not know is shown as not checked, saying why; the next
    // check sets a real one.
    let (state, reason) = match stored::health_state("agents", &m.agent_id, &m.health_state) {
        Ok(state) => (state, m.health_reason),
        Err(stored::Unrecognised(why)) => (HealthState::Unknown, Some(why)),
    };
    let source = stored::source(&m.agent_id, &m.source).unwrap_or(AgentSource::Manual);
    let expiry = m.expiry_reason.as_deref().map(|raw| stored::expiry(&m.agent_id, raw).unwrap_or(Expiry::Ttl));
    let expired = m.expired_at.is_some();
    let is_alive = match source {
        AgentSource::SelfRegistered => !expired,
        _ => !expired && matches!(state, HealthState::Healthy | HealthState::Failing),
    };
    let (host, port) = host_and_port(&m.agent_url);
    AgentView {
        source,
        host,
        port,
        ttl_seconds: m.ttl_seconds.map(|t| t.max(0) as u32),
        last_heartbeat: m.last_heartbeat_at.map(crate::time::timestamp),
        is_alive,
        expired,
        expired_at: m.expired_at.map(crate::time::timestamp),
        expiry: expired.then_some(expiry.unwrap_or(Expiry::Ttl)),
        address_note: m.address_note,
        agent_id: m.agent_id,
        agent_name: m.agent_name,
        agent_url: m.agent_url,
        metadata,
        registered_at: crate::time::timestamp(m.registered_at),
        updated_at: crate::time::timestamp(m.updated_at),
        health: policy.view(
            state,
            reason,
            m.health_latency_ms.map(|l| l.max(0) as u64),
            m.health_checked_at,
            m.consecutive_failures.max(0) as u32,
            m.health_interval_ms.map(|ms| ms.max(1) as u64),
        ),
    }
}

/// The host (IPv6 without brackets) and port (the scheme's default when the URL has none).
fn host_and_port(url: &str) -> (String, u16) {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = match u.host() {
                Some(url::Host::Ipv6(ip)) => ip.to_string(),
                Some(h) => h.to_string(),
                None => String::new(),
            };
            (host, u.port_or_known_default().unwrap_or(0))
        }
        Err(_) => (String::new(), 0),
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
