//! The lifecycle of self-registered agents in the database: registration, heartbeat
//! times, expiry, revival, deregistration, and the retention purge. Every write here is
//! guarded by what it expects to find, so a late expiry, revival or purge is a no-op
//! rather than a lost update (see `super::upsert` on writing before reading).

use super::{find, in_transaction, record_transition};
use crate::entities::{agents, health_events, stored};
use app::model::{AgentSource, Expiry, HealthState};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};

/// A self-registration as stored: every field already parsed, the host already chosen.
#[derive(Clone, Debug)]
pub struct SelfRegistration {
    pub agent_id: app::validation::AgentId,
    pub agent_name: String,
    pub agent_url: app::validation::AgentUrl,
    pub ttl_seconds: u32,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub address_note: Option<String>,
}

/// What a self-registration did.
pub struct SelfRegistered {
    pub model: agents::Model,
    pub created: bool,
    /// The agent was known at another URL: its health starts afresh.
    pub moved: bool,
}

/// Whose registration it is, and so which agent it may take over. Checked in the update's
/// own filter: two tokens racing for one ID cannot both win.
#[derive(Clone, Copy, Debug)]
pub enum Claim<'a> {
    /// Access control off, or an admin: the latest registration wins (the old registry's
    /// rule); the owner stays as it was.
    Anyone,
    /// An agent token: an agent it owns, or a self-registered one nobody owns (claimed).
    /// Never one registered by hand (it would get its runs and outbound headers).
    Token(&'a str),
    /// No credentials, under `--open-registration`: a self-registered agent nobody owns.
    Unowned,
}

impl Claim<'_> {
    fn may_take(&self) -> Condition {
        let unowned_self = Condition::all()
            .add(agents::Column::OwnerToken.is_null())
            .add(agents::Column::Source.eq(AgentSource::SelfRegistered.as_str()));
        match self {
            Claim::Anyone => Condition::all(),
            Claim::Token(name) => Condition::any().add(agents::Column::OwnerToken.eq(*name)).add(unowned_self),
            Claim::Unowned => unowned_self,
        }
    }
}

/// A self-registration either stored, or refused because another holds the ID (the holder).
pub enum SelfRegisterOutcome {
    Stored(SelfRegistered),
    Taken(Option<agents::Model>),
}

/// Inserts or updates a self-registered agent: it always wins over whoever had the ID
/// (old agents register again at every start), counts as its first heartbeat, and
/// revives it. At the same URL the agent keeps its health state and history; at a new
/// one it starts `unknown`, without the old URL's schema. Written first, read last (see
/// `upsert`).
pub async fn self_register(
    db: &DatabaseConnection,
    reg: &SelfRegistration,
    claim: Claim<'_>,
) -> Result<SelfRegisterOutcome, DbErr> {
    let id = reg.agent_id.as_str();
    let url = reg.agent_url.as_str();
    let now = Utc::now();
    let metadata = serde_json::Value::Object(reg.metadata.clone());
    let txn = db.begin().await?;
    let row = agents::ActiveModel {
        ttl_seconds: Set(Some(reg.ttl_seconds as i32)),
        last_heartbeat_at: Set(Some(now)),
        address_note: Set(reg.address_note.clone()),
        owner_token: Set(match claim {
            Claim::Token(name) => Some(name.to_owned()),
            _ => None,
        }),
        ..agents::ActiveModel::new_agent(
            id.to_owned(),
            reg.agent_name.clone(),
            url.to_owned(),
            AgentSource::SelfRegistered,
            metadata.clone(),
            now,
        )
    };
    let created = super::insert_new(&txn, row).await?;
    let mut moved = false;
    if !created {
        let update = || {
            let update = agents::Entity::update_many();
            let update = match claim {
                Claim::Token(name) => update.col_expr(agents::Column::OwnerToken, Expr::value(Some(name))),
                _ => update,
            };
            update
                .col_expr(agents::Column::AgentName, Expr::value(reg.agent_name.clone()))
                .col_expr(agents::Column::Source, Expr::value(AgentSource::SelfRegistered.as_str()))
                .col_expr(agents::Column::Metadata, Expr::value(metadata.clone()))
                .col_expr(agents::Column::UpdatedAt, Expr::value(now))
                .col_expr(agents::Column::TtlSeconds, Expr::value(Some(reg.ttl_seconds as i32)))
                .col_expr(agents::Column::LastHeartbeatAt, Expr::value(Some(now)))
                .col_expr(agents::Column::ExpiredAt, Expr::value(None::<DateTime<Utc>>))
                .col_expr(agents::Column::ExpiryReason, Expr::value(None::<String>))
                .col_expr(agents::Column::AddressNote, Expr::value(reg.address_note.clone()))
                .filter(agents::Column::AgentId.eq(id))
                .filter(claim.may_take())
        };
        // The same URL: health and history go on.
        let same = update().filter(agents::Column::AgentUrl.eq(url)).exec(&txn).await?.rows_affected > 0;
        if !same {
            moved = update()
                .col_expr(agents::Column::AgentUrl, Expr::value(url))
                .col_expr(agents::Column::HealthState, Expr::value(HealthState::Unknown.as_str()))
                .col_expr(agents::Column::HealthReason, Expr::value(None::<String>))
                .col_expr(agents::Column::HealthLatencyMs, Expr::value(None::<i64>))
                .col_expr(agents::Column::HealthCheckedAt, Expr::value(None::<DateTime<Utc>>))
                .col_expr(agents::Column::ConsecutiveFailures, Expr::value(0))
                .col_expr(agents::Column::Schema, Expr::value(None::<serde_json::Value>))
                .col_expr(agents::Column::SchemaFetchedAt, Expr::value(None::<DateTime<Utc>>))
                .exec(&txn)
                .await?
                .rows_affected
                > 0;
            if !moved {
                // Not ours to take (or deleted in between): nothing was written.
                let holder = super::find_in(&txn, id).await?;
                txn.rollback().await?;
                return Ok(SelfRegisterOutcome::Taken(holder));
            }
            // Headers set for the old URL are not sent to the new one.
            super::outbound::drop_unless_at(&txn, id, url).await?;
        }
    }
    if created {
        // A new agent has none, whatever an earlier one of the same ID left.
        super::outbound::delete(&txn, id).await?;
    }
    if created || moved {
        record_transition(&txn, id, HealthState::Unknown, Some(format!("registered itself at {url}")), now).await?;
    }
    let model = in_transaction(&txn, id).await?;
    txn.commit().await?;
    Ok(SelfRegisterOutcome::Stored(SelfRegistered { model, created, moved }))
}

/// Stores heartbeat times, many agents per statement.
pub async fn save_heartbeats(db: &DatabaseConnection, beats: &[(String, DateTime<Utc>)]) -> Result<(), DbErr> {
    // Three parameters per agent, well under SQLite's 32,766.
    for chunk in beats.chunks(1000) {
        // Merged by the latest: several dashboards flush the beats they took, and one that
        // took an older beat must not overwrite a newer one another stored.
        let mut case = sea_orm::sea_query::CaseStatement::new();
        for (id, at) in chunk {
            let newer = agents::Column::LastHeartbeatAt.is_null().or(agents::Column::LastHeartbeatAt.lt(*at));
            case = case.case(agents::Column::AgentId.eq(id.as_str()).and(newer), Expr::value(Some(*at)));
        }
        let case = case.finally(Expr::col(agents::Column::LastHeartbeatAt));
        agents::Entity::update_many()
            .col_expr(agents::Column::LastHeartbeatAt, case.into())
            .filter(agents::Column::AgentId.is_in(chunk.iter().map(|(id, _)| id.as_str())))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Marks an agent expired after `last` (its last heartbeat as the book had it), unless
/// something newer reached the database first: a registration or a revival writes a
/// newer heartbeat, so the filter on it makes a late expiry a no-op. The agent row as
/// stored when it expired.
pub async fn expire(
    db: &DatabaseConnection,
    agent_id: &str,
    last: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<Option<agents::Model>, DbErr> {
    let mut update = agents::Entity::update_many()
        .col_expr(agents::Column::ExpiredAt, Expr::value(Some(at)))
        .col_expr(agents::Column::ExpiryReason, Expr::value(Expiry::Ttl.as_str()))
        .col_expr(agents::Column::LastHeartbeatAt, Expr::value(last))
        .filter(agents::Column::AgentId.eq(agent_id))
        .filter(agents::Column::Source.eq(AgentSource::SelfRegistered.as_str()))
        .filter(agents::Column::ExpiredAt.is_null());
    update = match last {
        Some(last) => {
            update.filter(agents::Column::LastHeartbeatAt.is_null().or(agents::Column::LastHeartbeatAt.lte(last)))
        }
        None => update.filter(agents::Column::LastHeartbeatAt.is_null()),
    };
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    find(db, agent_id).await
}

/// The agent's last heartbeat as stored (another dashboard may have taken a newer one
/// than this one's book holds).
pub async fn last_heartbeat(db: &DatabaseConnection, agent_id: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    let last: Option<Option<DateTime<Utc>>> = agents::Entity::find_by_id(agent_id)
        .select_only()
        .column(agents::Column::LastHeartbeatAt)
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten())
}

/// Self-registered agents alive, and of them those silent (no heartbeat stored for half
/// their TTL, counted from `since` at the earliest): self-preservation's measure when
/// several dashboards share the heartbeats (PostgreSQL only; each flushes within 0.5 s).
pub async fn silence(db: &DatabaseConnection, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<(u64, u64), DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS alive, count(*) FILTER (WHERE GREATEST(COALESCE(last_heartbeat_at, $1), $1) \
             < $2 - COALESCE(ttl_seconds, 60) * INTERVAL '500 milliseconds') AS silent \
             FROM agents WHERE source = $3 AND expired_at IS NULL",
            [since.into(), now.into(), AgentSource::SelfRegistered.as_str().into()],
        ))
        .await?;
    let Some(row) = row else { return Ok((0, 0)) };
    let alive: i64 = row.try_get("", "alive")?;
    let silent: i64 = row.try_get("", "silent")?;
    Ok((alive.max(0) as u64, silent.max(0) as u64))
}

/// Brings an agent that expired (TTL) back with a heartbeat at `at`; None when it was
/// not expired that way (deregistered ones need a registration).
pub async fn revive(
    db: &DatabaseConnection,
    agent_id: &str,
    at: DateTime<Utc>,
) -> Result<Option<agents::Model>, DbErr> {
    let revived = agents::Entity::update_many()
        .col_expr(agents::Column::ExpiredAt, Expr::value(None::<DateTime<Utc>>))
        .col_expr(agents::Column::ExpiryReason, Expr::value(None::<String>))
        .col_expr(agents::Column::LastHeartbeatAt, Expr::value(Some(at)))
        .filter(agents::Column::AgentId.eq(agent_id))
        .filter(agents::Column::ExpiryReason.eq(Expiry::Ttl.as_str()))
        .exec(db)
        .await?
        .rows_affected
        > 0;
    if !revived {
        return Ok(None);
    }
    find(db, agent_id).await
}

/// A self-registered agent said goodbye (or a declared one left its file): not alive from
/// now on, history kept. None when the agent is not of `source` (others are deleted
/// instead). `last` is its last heartbeat as the book has it, perhaps not stored yet.
pub async fn deregister(
    db: &DatabaseConnection,
    agent_id: &str,
    last: Option<DateTime<Utc>>,
    source: AgentSource,
) -> Result<Option<agents::Model>, DbErr> {
    let now = Utc::now();
    // Already deregistered: the first goodbye's time stays.
    let mut update = agents::Entity::update_many();
    if let Some(last) = last {
        update = update.col_expr(agents::Column::LastHeartbeatAt, Expr::value(Some(last)));
    }
    update
        .col_expr(agents::Column::ExpiredAt, Expr::value(Some(now)))
        .col_expr(agents::Column::ExpiryReason, Expr::value(Expiry::Deregistered.as_str()))
        .filter(agents::Column::AgentId.eq(agent_id))
        .filter(agents::Column::Source.eq(source.as_str()))
        .filter(
            agents::Column::ExpiryReason.is_null().or(agents::Column::ExpiryReason.ne(Expiry::Deregistered.as_str())),
        )
        .exec(db)
        .await?;
    Ok(find(db, agent_id).await?.filter(|m| m.source == source.as_str()))
}

/// The agents the agents file declared, as stored.
pub async fn declared(db: &DatabaseConnection) -> Result<Vec<agents::Model>, DbErr> {
    agents::Entity::find().filter(agents::Column::Source.eq(AgentSource::Declared.as_str())).all(db).await
}

/// Every agent's liveness, to fill the heartbeat book at start.
pub async fn liveness(db: &DatabaseConnection) -> Result<Vec<crate::registry::liveness::Loaded>, DbErr> {
    #[derive(sea_orm::FromQueryResult)]
    struct Row {
        agent_id: String,
        source: String,
        ttl_seconds: Option<i32>,
        last_heartbeat_at: Option<DateTime<Utc>>,
        expired_at: Option<DateTime<Utc>>,
        expiry_reason: Option<String>,
        owner_token: Option<String>,
    }
    let rows = agents::Entity::find()
        .select_only()
        .column(agents::Column::AgentId)
        .column(agents::Column::Source)
        .column(agents::Column::TtlSeconds)
        .column(agents::Column::LastHeartbeatAt)
        .column(agents::Column::ExpiredAt)
        .column(agents::Column::ExpiryReason)
        .column(agents::Column::OwnerToken)
        .into_model::<Row>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            loaded(
                row.agent_id,
                &row.source,
                row.ttl_seconds,
                row.last_heartbeat_at,
                row.expired_at,
                row.expiry_reason.as_deref(),
                row.owner_token,
            )
        })
        .collect())
}

/// The book's entry for a stored agent (another dashboard changed it).
pub fn loaded_of(m: &agents::Model) -> crate::registry::liveness::Loaded {
    loaded(
        m.agent_id.clone(),
        &m.source,
        m.ttl_seconds,
        m.last_heartbeat_at,
        m.expired_at,
        m.expiry_reason.as_deref(),
        m.owner_token.clone(),
    )
}

fn loaded(
    agent_id: String,
    source: &str,
    ttl_seconds: Option<i32>,
    last: Option<DateTime<Utc>>,
    expired_at: Option<DateTime<Utc>>,
    expiry_reason: Option<&str>,
    owner: Option<String>,
) -> crate::registry::liveness::Loaded {
    let self_registered = source == AgentSource::SelfRegistered.as_str();
    let expired =
        expired_at.map(|_| expiry_reason.and_then(|r| stored::expiry(&agent_id, r).ok()).unwrap_or(Expiry::Ttl));
    crate::registry::liveness::Loaded {
        // Only self-registered agents expire; an imported one without a TTL gets the old
        // registry's default.
        ttl: self_registered.then(|| ttl_seconds.map_or(60, |t| t.clamp(1, 3600) as u32)),
        agent_id,
        last,
        expired,
        owner,
    }
}

/// Self-registered agents expired or deregistered before `before` (`--expired-retention`).
/// Only those: an agents file's agent removed from it is kept for good, as documented.
pub async fn expired_before(db: &DatabaseConnection, before: DateTime<Utc>) -> Result<Vec<String>, DbErr> {
    agents::Entity::find()
        .select_only()
        .column(agents::Column::AgentId)
        .filter(agents::Column::ExpiredAt.lt(before))
        .filter(agents::Column::Source.eq(AgentSource::SelfRegistered.as_str()))
        .into_tuple()
        .all(db)
        .await
}

/// Deletes an agent for good if it is still expired since before `before`: a heartbeat or
/// registration that revived it first wins (the guarded write locks the row before
/// anything is deleted).
pub async fn delete_expired(db: &DatabaseConnection, agent_id: &str, before: DateTime<Utc>) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let purgeable =
        agents::Column::ExpiredAt.lt(before).and(agents::Column::Source.eq(AgentSource::SelfRegistered.as_str()));
    if !super::hold(&txn, agent_id, purgeable).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    health_events::Entity::delete_many().filter(health_events::Column::AgentId.eq(agent_id)).exec(&txn).await?;
    crate::health::store::delete_rollups(&txn, agent_id).await?;
    super::outbound::delete(&txn, agent_id).await?;
    agents::Entity::delete_by_id(agent_id).exec(&txn).await?;
    txn.commit().await?;
    Ok(true)
}
