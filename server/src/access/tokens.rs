//! Access tokens: random 256-bit values shown once, stored only as SHA-256 digests, each
//! with a scope (`admin`, `metrics`, `agent`) and, for agent tokens, the agent IDs it may
//! register. The `token` command writes them straight into the database; a running
//! dashboard sees a change within `access::FRESH_FOR`.
//!
//! SHA-256 rather than a slow password hash: a token is 256 random bits, so slowing each
//! guess gains nothing, while a slow hash on every heartbeat (bcrypt costs ~50 ms, a whole
//! heartbeat ~130 µs) would cap the registry far below its goal.

use crate::db::Db;
use crate::entities::{agents, sessions, tokens};
use crate::error::ServiceError;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use sha2::{Digest, Sha256};

/// Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "ca_";
pub const MAX_NAME_LEN: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything: pages, the API, tokens.
    Admin,
    /// `GET /metrics` only (Prometheus).
    Metrics,
    /// Register, heartbeat and deregister its own agents only.
    Agent,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Metrics => "metrics",
            Scope::Agent => "agent",
        }
    }

    fn parse(stored: &str) -> Option<Self> {
        match stored {
            "admin" => Some(Scope::Admin),
            "metrics" => Some(Scope::Metrics),
            "agent" => Some(Scope::Agent),
            _ => None,
        }
    }
}

/// Which agent IDs an agent token may register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Any ID no other token owns and nobody registered by hand.
    Any,
    Id(String),
    Prefix(String),
}

impl Binding {
    pub fn allows(&self, agent_id: &str) -> bool {
        match self {
            Binding::Any => true,
            Binding::Id(id) => id == agent_id,
            Binding::Prefix(prefix) => agent_id.starts_with(prefix.as_str()),
        }
    }
}

impl std::fmt::Display for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Binding::Any => f.write_str("any agent ID"),
            Binding::Id(id) => write!(f, "agent ID {id:?}"),
            Binding::Prefix(prefix) => write!(f, "agent IDs starting with {prefix:?}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub name: String,
    pub scope: Scope,
    pub binding: Binding,
    pub created_at: DateTime<Utc>,
}

impl Token {
    fn from_model(model: tokens::Model) -> Option<Self> {
        let Some(scope) = Scope::parse(&model.scope) else {
            tracing::warn!(token = %model.name, scope = %model.scope, "a token with an unknown scope is ignored");
            return None;
        };
        let binding = match (model.agent_id, model.agent_prefix) {
            (Some(id), _) => Binding::Id(id),
            (None, Some(prefix)) => Binding::Prefix(prefix),
            (None, None) => Binding::Any,
        };
        Some(Token { name: model.name, scope, binding, created_at: model.created_at })
    }
}

/// A new token's text: the prefix and 256 random bits from the operating system, in hex.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// What is stored and looked up instead of a token or a session cookie.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// 1–64 letters, digits, `.`, `_` or `-`: names appear in commands, logs and URLs.
pub fn parse_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!("a token name must be 1–{MAX_NAME_LEN} characters"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("a token name may hold letters, digits, '.', '_' and '-' only (not {c:?})"));
    }
    Ok(name.to_owned())
}

/// Stores a new token and returns its text (the only time it exists outside the caller).
pub async fn create(db: &Db, name: &str, scope: Scope, binding: &Binding) -> Result<String, ServiceError> {
    let name = parse_name(name).map_err(|m| ServiceError::invalid_field("name", m))?;
    if scope != Scope::Agent && *binding != Binding::Any {
        return Err(ServiceError::invalid_field("scope", "only agent tokens are bound to agent IDs"));
    }
    let secret = generate();
    let (agent_id, agent_prefix) = match binding {
        Binding::Any => (None, None),
        Binding::Id(id) => (Some(id.clone()), None),
        Binding::Prefix(prefix) => (None, Some(prefix.clone())),
    };
    let row = tokens::ActiveModel {
        name: Set(name.clone()),
        digest: Set(digest(&secret)),
        scope: Set(scope.as_str().to_owned()),
        agent_id: Set(agent_id),
        agent_prefix: Set(agent_prefix),
        created_at: Set(Utc::now()),
    };
    // Insert first and let the primary key decide: two `create` runs racing for one name
    // cannot both succeed.
    match tokens::Entity::insert(row).exec(db.write()).await {
        Ok(_) => Ok(secret),
        Err(e) if find_named(db, &name).await.ok().flatten().is_some() => {
            tracing::debug!(error = %e, "token name taken");
            Err(ServiceError::Conflict(format!(
                "a token named {name:?} exists; revoke it first (configurable-agents token revoke {name})"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

async fn find_named(db: &Db, name: &str) -> Result<Option<tokens::Model>, sea_orm::DbErr> {
    tokens::Entity::find_by_id(name.to_owned()).one(db.read()).await
}

pub async fn list(db: &Db) -> Result<Vec<Token>, sea_orm::DbErr> {
    let rows = tokens::Entity::find().order_by_asc(tokens::Column::Name).all(db.read()).await?;
    Ok(rows.into_iter().filter_map(Token::from_model).collect())
}

/// Whether any admin token is stored (access control is on then).
pub async fn admin_exists(db: &Db) -> Result<bool, sea_orm::DbErr> {
    let admin = tokens::Entity::find().filter(tokens::Column::Scope.eq(Scope::Admin.as_str())).one(db.read()).await?;
    Ok(admin.is_some())
}

/// The token whose digest this is.
pub async fn find(db: &Db, digest: &str) -> Result<Option<Token>, sea_orm::DbErr> {
    let row = tokens::Entity::find().filter(tokens::Column::Digest.eq(digest)).one(db.read()).await?;
    Ok(row.and_then(Token::from_model))
}

/// Deletes the token and the sessions it opened; its agents keep their owner's name, so a
/// token created again under it (rotation) keeps them. False when there was none.
pub async fn revoke(db: &Db, name: &str) -> Result<bool, sea_orm::DbErr> {
    let txn = db.write().begin().await?;
    let Some(row) = tokens::Entity::find_by_id(name.to_owned()).one(&txn).await? else {
        return Ok(false);
    };
    sessions::Entity::delete_many().filter(sessions::Column::TokenDigest.eq(row.digest.clone())).exec(&txn).await?;
    tokens::Entity::delete_by_id(name.to_owned()).exec(&txn).await?;
    txn.commit().await?;
    Ok(true)
}

/// How many agents each token owns, by name.
pub async fn owned_counts(db: &Db) -> Result<Vec<(String, i64)>, sea_orm::DbErr> {
    use sea_orm::{FromQueryResult, QuerySelect};
    #[derive(FromQueryResult)]
    struct Row {
        owner_token: Option<String>,
        agents: i64,
    }
    let rows = agents::Entity::find()
        .select_only()
        .column(agents::Column::OwnerToken)
        .column_as(Expr::col(agents::Column::AgentId).count(), "agents")
        .filter(agents::Column::OwnerToken.is_not_null())
        .group_by(agents::Column::OwnerToken)
        .into_model::<Row>()
        .all(db.read())
        .await?;
    Ok(rows.into_iter().filter_map(|r| Some((r.owner_token?, r.agents))).collect())
}

/// A browser's sign-in: the cookie's digest and the token's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub token_digest: String,
    pub expires_at: DateTime<Utc>,
}

/// Opens a session for the token with `token_digest`; returns the cookie's value.
pub async fn open_session(db: &Db, token_digest: &str, expires_at: DateTime<Utc>) -> Result<String, sea_orm::DbErr> {
    let secret = generate();
    let row = sessions::ActiveModel {
        digest: Set(digest(&secret)),
        token_digest: Set(token_digest.to_owned()),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
    };
    sessions::Entity::insert(row).exec(db.write()).await?;
    Ok(secret)
}

pub async fn find_session(db: &Db, digest: &str) -> Result<Option<Session>, sea_orm::DbErr> {
    let row = sessions::Entity::find_by_id(digest.to_owned()).one(db.read()).await?;
    Ok(row.map(|r| Session { token_digest: r.token_digest, expires_at: r.expires_at }))
}

pub async fn end_session(db: &Db, digest: &str) -> Result<(), sea_orm::DbErr> {
    sessions::Entity::delete_by_id(digest.to_owned()).exec(db.write()).await?;
    Ok(())
}

/// Deletes sessions that expired before `now`; how many.
pub async fn purge_expired_sessions(db: &Db, now: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
    let done = sessions::Entity::delete_many().filter(sessions::Column::ExpiresAt.lt(now)).exec(db.write()).await?;
    Ok(done.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_and_kept_as_digests() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64, "{a}");
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(digest(&a), digest(&a.clone()));
        assert_ne!(digest(&a), digest(&b));
        // A known vector: the digest is SHA-256 in lowercase hex.
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn names_are_plain_and_bindings_say_what_they_allow() {
        assert_eq!(parse_name(" ci-agents_1.0 ").unwrap(), "ci-agents_1.0");
        assert!(parse_name("").is_err());
        assert!(parse_name(&"x".repeat(65)).is_err());
        assert!(parse_name("a b").unwrap_err().contains("' '"));
        assert!(parse_name("a/b").is_err());
        assert!(Binding::Any.allows("x"));
        assert!(Binding::Id("research".into()).allows("research"));
        assert!(!Binding::Id("research".into()).allows("research-2"));
        assert!(Binding::Prefix("team-a-".into()).allows("team-a-writer"));
        assert!(!Binding::Prefix("team-a-".into()).allows("team-b-writer"));
    }
}
