//! Outbound headers' rows (`agent_headers`): one per agent, holding the URL they were set
//! for. Reads for a call ask by agent *and* URL, so a run queued for an old URL, or a
//! check started before a move, goes without them; writes that change an agent's URL
//! delete the row in the same transaction (`drop_unless_at`), so moving back does not
//! bring them back either.

use crate::agent_client::Outbound;
use crate::entities::{agent_headers, agents};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};
use std::collections::HashMap;

/// The headers to send to `agent_url` for this agent (none when they were set for
/// another URL).
pub async fn for_url(db: &impl ConnectionTrait, agent_id: &str, agent_url: &str) -> Result<Outbound, DbErr> {
    let row = agent_headers::Entity::find()
        .filter(agent_headers::Column::AgentId.eq(agent_id))
        .filter(agent_headers::Column::AgentUrl.eq(agent_url))
        .one(db)
        .await?;
    Ok(row.map(|r| Outbound::from_json(agent_id, &r.headers)).unwrap_or_default())
}

/// Every agent's headers, by ID, with the URL they are for (the monitor's start).
pub async fn all(db: &impl ConnectionTrait) -> Result<HashMap<String, (String, Outbound)>, DbErr> {
    Ok(by_agent(agent_headers::Entity::find().all(db).await?))
}

/// The headers of the agents named, by ID, with the URL they are for.
pub async fn of(db: &impl ConnectionTrait, agent_ids: &[String]) -> Result<HashMap<String, (String, Outbound)>, DbErr> {
    let rows = agent_headers::Entity::find()
        .filter(agent_headers::Column::AgentId.is_in(agent_ids.iter().cloned()))
        .all(db)
        .await?;
    Ok(by_agent(rows))
}

fn by_agent(rows: Vec<agent_headers::Model>) -> HashMap<String, (String, Outbound)> {
    rows.into_iter()
        .map(|r| {
            let headers = Outbound::from_json(&r.agent_id, &r.headers);
            (r.agent_id, (r.agent_url, headers))
        })
        .collect()
}

/// Sets (or, when empty, clears) the agent's headers for `agent_url`.
pub async fn set(db: &impl ConnectionTrait, agent_id: &str, agent_url: &str, headers: &Outbound) -> Result<(), DbErr> {
    if headers.is_empty() {
        agent_headers::Entity::delete_by_id(agent_id).exec(db).await?;
        return Ok(());
    }
    let row = agent_headers::ActiveModel {
        agent_id: Set(agent_id.to_owned()),
        agent_url: Set(agent_url.to_owned()),
        headers: Set(headers.to_json()),
        updated_at: Set(Utc::now()),
    };
    agent_headers::Entity::insert(row)
        .on_conflict(
            OnConflict::column(agent_headers::Column::AgentId)
                .update_columns([
                    agent_headers::Column::AgentUrl,
                    agent_headers::Column::Headers,
                    agent_headers::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Sets the agent's headers if it is still at `agent_url`, in one transaction that writes
/// its row first: a registration moving it cannot slip between (it would delete the row
/// before this writes it, and the headers would wait for the old URL). False when it
/// moved or is gone.
pub async fn set_if_at(
    db: &DatabaseConnection,
    agent_id: &str,
    agent_url: &str,
    headers: &Outbound,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    if !super::hold(&txn, agent_id, agents::Column::AgentUrl.eq(agent_url)).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    set(&txn, agent_id, agent_url, headers).await?;
    txn.commit().await?;
    Ok(true)
}

/// The agent is now at `agent_url`: headers set for another URL go.
pub async fn drop_unless_at(db: &impl ConnectionTrait, agent_id: &str, agent_url: &str) -> Result<bool, DbErr> {
    let deleted = agent_headers::Entity::delete_many()
        .filter(agent_headers::Column::AgentId.eq(agent_id))
        .filter(agent_headers::Column::AgentUrl.ne(agent_url))
        .exec(db)
        .await?
        .rows_affected;
    Ok(deleted > 0)
}

/// The agent is deleted.
pub async fn delete(db: &impl ConnectionTrait, agent_id: &str) -> Result<(), DbErr> {
    agent_headers::Entity::delete_by_id(agent_id).exec(db).await?;
    Ok(())
}

/// The names set for the agent and the URL they are for.
pub async fn names(db: &impl ConnectionTrait, agent_id: &str) -> Result<Option<(String, Vec<String>)>, DbErr> {
    let row = agent_headers::Entity::find_by_id(agent_id).one(db).await?;
    Ok(row.map(|r| (r.agent_url, Outbound::from_json(agent_id, &r.headers).names())))
}
