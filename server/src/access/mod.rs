//! Who may be answered, and who may do what.
//!
//! - `guard`: which requests are answered at all (Host names, cross-site changes).
//! - `tokens`: access tokens and sign-in sessions, stored as digests.
//! - `AccessControl` (here): whether access control is on, and who a credential is.
//!   `http::access` applies it to every request.
//!
//! Access control is on when an admin token exists: given to `ui` (`--admin-token-file`,
//! `CA_ADMIN_TOKEN`) or created in the database (`token init-admin`). Then every request
//! needs a token, on every address; without one the dashboard serves loopback only and
//! answers everyone, as before tokens.

pub mod command;
pub mod guard;
pub mod tokens;

pub use guard::RequestGuard;
pub use tokens::{Binding, Scope, Token};

use crate::db::Db;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How long a token or session looked up in the database is believed: a `token revoke`
/// run on the database binds a running dashboard within this.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// Entries kept at most (each is a digest and a name): a flood of made-up tokens empties
/// the cache instead of growing it.
const MAX_CACHED: usize = 100_000;
/// The name the admin token given to `ui` goes by (it has no row).
pub const CONFIGURED_ADMIN: &str = "admin (configured)";

/// Who a request is from, as the access middleware found.
#[derive(Clone, Debug)]
pub enum Principal {
    /// Access control is off: everyone may do everything.
    Open,
    /// A token, given as a bearer, in the `/t/TOKEN` path, or through a session cookie.
    Token(Arc<Token>),
    /// No credentials on the registry's routes while `--open-registration` is on.
    Unauthenticated,
}

#[derive(Clone)]
pub struct AccessControl(Arc<Inner>);

/// Digest → what it was found to be (None: nothing), and when it was looked up.
type Cache<T> = Mutex<HashMap<String, (Instant, Option<T>)>>;

struct Inner {
    db: Db,
    on: bool,
    open_registration: bool,
    session_lifetime: Duration,
    /// The digest of the admin token given to `ui`, if any, and the token it is (built
    /// once: it answers every request).
    configured_admin: Option<(String, Arc<Token>)>,
    tokens: Cache<Arc<Token>>,
    sessions: Cache<tokens::Session>,
    /// Agents whose heartbeats came without a token (refused), and when last.
    tokenless: Mutex<HashMap<String, Instant>>,
    /// Failed sign-ins by client address: when the count began, and how many.
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// Failed sign-ins allowed from one address per `FAILED_SIGN_IN_WINDOW`; then it waits.
pub const MAX_FAILED_SIGN_INS: u32 = 10;
pub const FAILED_SIGN_IN_WINDOW: Duration = Duration::from_secs(300);

/// What a sign-in did.
pub enum SignIn {
    Signed {
        cookie: String,
        expires_at: DateTime<Utc>,
    },
    /// Not an admin token.
    Refused,
    /// Too many failed attempts from this address lately.
    TooMany {
        retry_after: Duration,
    },
}

/// Agents that heartbeat without a token are listed for this long after the last one.
pub const TOKENLESS_FOR: Duration = Duration::from_secs(600);
/// At most this many are remembered (the IDs come from unauthenticated requests).
const MAX_TOKENLESS: usize = 10_000;

/// The settings `ui` reads for access control.
#[derive(Clone, Debug, Default)]
pub struct AccessSettings {
    /// The admin token's text, from `--admin-token-file` or `CA_ADMIN_TOKEN`.
    pub admin_token: Option<String>,
    pub open_registration: bool,
    pub session_lifetime: Duration,
}

/// Shorter than this, a token given to `ui` could be guessed.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

impl AccessControl {
    /// Reads whether an admin token exists (given or in the database).
    pub async fn start(db: Db, settings: AccessSettings) -> Result<Self, crate::StartError> {
        let configured_admin = match settings.admin_token.as_deref().map(str::trim) {
            Some(token) if token.len() < MIN_ADMIN_TOKEN_LEN => {
                return Err(format!(
                    "the admin token is {} characters; it must be at least {MIN_ADMIN_TOKEN_LEN} (make one with \
                     `configurable-agents token init-admin`, or `openssl rand -hex 32`)",
                    token.len()
                )
                .into())
            }
            Some(token) => Some((
                tokens::digest(token),
                Arc::new(Token {
                    name: CONFIGURED_ADMIN.to_owned(),
                    scope: Scope::Admin,
                    binding: Binding::Any,
                    created_at: DateTime::<Utc>::MIN_UTC,
                }),
            )),
            None => None,
        };
        let admin_in_db = tokens::admin_exists(&db).await?;
        let on = configured_admin.is_some() || admin_in_db;
        Ok(Self(Arc::new(Inner {
            db,
            on,
            open_registration: settings.open_registration,
            session_lifetime: settings.session_lifetime,
            configured_admin,
            tokens: Mutex::default(),
            sessions: Mutex::default(),
            tokenless: Mutex::default(),
            failures: Mutex::default(),
        })))
    }

    pub fn is_on(&self) -> bool {
        self.0.on
    }

    pub fn open_registration(&self) -> bool {
        self.0.open_registration
    }

    pub fn session_lifetime(&self) -> Duration {
        self.0.session_lifetime
    }

    /// The token this text is, if it is one (believed for `FRESH_FOR`).
    pub async fn token(&self, secret: &str) -> Result<Option<Arc<Token>>, sea_orm::DbErr> {
        self.token_by_digest(&tokens::digest(secret)).await
    }

    async fn token_by_digest(&self, digest: &str) -> Result<Option<Arc<Token>>, sea_orm::DbErr> {
        if let Some((configured, token)) = &self.0.configured_admin {
            // Constant time: the comparison must not tell how much of a guess was right.
            if bool::from(digest.as_bytes().ct_eq(configured.as_bytes())) {
                return Ok(Some(token.clone()));
            }
        }
        // Looked up by digest: timing can tell at most how much of a digest matched, and
        // a digest does not give its token away.
        if let Some(found) = fresh(&self.0.tokens, digest) {
            return Ok(found);
        }
        let found = tokens::find(&self.0.db, digest).await?.map(Arc::new);
        remember(&self.0.tokens, digest, found.clone());
        Ok(found)
    }

    /// The token of a session cookie, while the session lasts and its token exists.
    pub async fn session(&self, cookie: &str) -> Result<Option<(Arc<Token>, DateTime<Utc>)>, sea_orm::DbErr> {
        let digest = tokens::digest(cookie);
        let session = match fresh(&self.0.sessions, &digest) {
            Some(session) => session,
            None => {
                let found = tokens::find_session(&self.0.db, &digest).await?;
                remember(&self.0.sessions, &digest, found.clone());
                found
            }
        };
        let Some(session) = session.filter(|s| s.expires_at > Utc::now()) else { return Ok(None) };
        Ok(self.token_by_digest(&session.token_digest).await?.map(|token| (token, session.expires_at)))
    }

    /// Signs in with a token's text from `client`: the session cookie's value and its
    /// expiry, unless the text is no admin token or the address has failed too often.
    pub async fn sign_in(&self, secret: &str, client: IpAddr) -> Result<SignIn, sea_orm::DbErr> {
        if let Some(retry_after) = self.locked_out(client) {
            return Ok(SignIn::TooMany { retry_after });
        }
        let token_digest = tokens::digest(secret);
        match self.token_by_digest(&token_digest).await? {
            Some(token) if token.scope == Scope::Admin => {
                let lifetime =
                    chrono::Duration::from_std(self.0.session_lifetime).unwrap_or(chrono::Duration::hours(12));
                let expires_at = Utc::now() + lifetime;
                let cookie = tokens::open_session(&self.0.db, &token_digest, expires_at).await?;
                Ok(SignIn::Signed { cookie, expires_at })
            }
            _ => {
                let mut failures = lock(&self.0.failures);
                if failures.len() >= MAX_CACHED {
                    failures.retain(|_, (since, _)| since.elapsed() < FAILED_SIGN_IN_WINDOW);
                }
                let entry = failures.entry(client).or_insert((Instant::now(), 0));
                if entry.0.elapsed() >= FAILED_SIGN_IN_WINDOW {
                    *entry = (Instant::now(), 0);
                }
                entry.1 += 1;
                Ok(SignIn::Refused)
            }
        }
    }

    /// How long `client` must wait before trying again, if it has failed too often.
    fn locked_out(&self, client: IpAddr) -> Option<Duration> {
        let failures = lock(&self.0.failures);
        let (since, count) = failures.get(&client)?;
        let left = FAILED_SIGN_IN_WINDOW.checked_sub(since.elapsed())?;
        (*count >= MAX_FAILED_SIGN_INS).then_some(left)
    }

    /// Ends the session at once (its cached entry goes with it, so its event streams close
    /// at their next check).
    pub async fn sign_out(&self, cookie: &str) -> Result<(), sea_orm::DbErr> {
        let digest = tokens::digest(cookie);
        tokens::end_session(&self.0.db, &digest).await?;
        remember(&self.0.sessions, &digest, None);
        Ok(())
    }

    /// An agent heartbeat came without a token (and was refused).
    pub fn note_tokenless(&self, agent_id: &str) {
        let mut seen = lock(&self.0.tokenless);
        if seen.len() >= MAX_TOKENLESS && !seen.contains_key(agent_id) {
            seen.retain(|_, at| at.elapsed() < TOKENLESS_FOR);
            if seen.len() >= MAX_TOKENLESS {
                return;
            }
        }
        seen.insert(agent_id.to_owned(), Instant::now());
    }

    /// The agents that heartbeat without a token lately, sorted.
    pub fn tokenless(&self) -> Vec<String> {
        let mut seen = lock(&self.0.tokenless);
        seen.retain(|_, at| at.elapsed() < TOKENLESS_FOR);
        let mut ids: Vec<String> = seen.keys().cloned().collect();
        ids.sort();
        ids
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("access caches are never poisoned: nothing panics while holding them")
}

fn fresh<T: Clone>(cache: &Cache<T>, digest: &str) -> Option<Option<T>> {
    let cache = lock(cache);
    let (at, found) = cache.get(digest)?;
    (at.elapsed() < FRESH_FOR).then(|| found.clone())
}

fn remember<T>(cache: &Cache<T>, digest: &str, found: Option<T>) {
    let mut cache = lock(cache);
    if cache.len() >= MAX_CACHED {
        cache.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
    }
    cache.insert(digest.to_owned(), (Instant::now(), found));
}

#[async_trait::async_trait]
impl app::services::AccessService for AccessControl {
    async fn tokens(&self) -> Result<app::model::TokensPage, app::error::ApiError> {
        let db = &self.0.db;
        let owned = tokens::owned_counts(db).await.map_err(crate::error::ServiceError::from)?;
        let list = tokens::list(db).await.map_err(crate::error::ServiceError::from)?;
        let tokens = list
            .into_iter()
            .map(|t| app::model::TokenView {
                agents: owned.iter().find(|(name, _)| *name == t.name).map_or(0, |(_, n)| *n),
                may_register: (t.scope == Scope::Agent).then(|| t.binding.to_string()),
                scope: t.scope.as_str().to_owned(),
                created_at: crate::time::timestamp(t.created_at),
                name: t.name,
            })
            .collect();
        let tokenless = self.tokenless();
        Ok(app::model::TokensPage {
            access_control: self.is_on(),
            open_registration: self.open_registration(),
            tokens,
            tokenless_total: tokenless.len(),
            tokenless: tokenless.into_iter().take(100).collect(),
        })
    }

    async fn create_token(
        &self,
        request: app::model::CreateToken,
    ) -> Result<app::model::CreatedToken, app::error::ApiError> {
        let invalid = |field: &str, message: String| crate::error::ServiceError::invalid_field(field, message);
        let scope = match request.scope.as_str() {
            "admin" => Scope::Admin,
            "metrics" => Scope::Metrics,
            "agent" | "" => Scope::Agent,
            other => return Err(invalid("scope", format!("unknown scope {other:?}: admin, metrics or agent")).into()),
        };
        let text = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let binding = match (text(request.agent_id), text(request.agent_prefix)) {
            (Some(_), Some(_)) => {
                return Err(invalid("agent_prefix", "give an agent ID or a prefix, not both".into()).into());
            }
            (Some(id), None) => Binding::Id(
                app::validation::AgentId::parse(&id).map_err(|m| invalid("agent_id", m))?.as_str().to_owned(),
            ),
            (None, Some(prefix)) => Binding::Prefix(prefix),
            (None, None) => Binding::Any,
        };
        let token = tokens::create(&self.0.db, &request.name, scope, &binding).await?;
        let name = tokens::parse_name(&request.name).unwrap_or(request.name);
        tracing::info!(token = %name, scope = scope.as_str(), "token created from the tokens page");
        Ok(app::model::CreatedToken { name, token })
    }

    async fn revoke_token(&self, name: &str) -> Result<(), app::error::ApiError> {
        if !tokens::revoke(&self.0.db, name).await.map_err(crate::error::ServiceError::from)? {
            return Err(app::error::ApiError::new(app::error::ErrorCode::NotFound, format!("no token named {name:?}")));
        }
        // This dashboard forgets it at once; others within FRESH_FOR.
        lock(&self.0.tokens).clear();
        lock(&self.0.sessions).clear();
        tracing::info!(token = %name, "token revoked from the tokens page");
        Ok(())
    }
}
