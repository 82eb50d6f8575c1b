//! The agent registry: the rules for registering, listing and removing agents. The REST
//! API, the server functions (and later the CLI) all call these methods.

mod error;
pub mod store;

pub use error::RegistryError;

use crate::agent_client::AgentClient;
use app::model::{AgentPage, AgentQuery, AgentSource, AgentView, HealthState, RegisterAgent, Registration};
use app::validation::{validate_registration, AgentId};
use sea_orm::DatabaseConnection;

/// The most agents one list call returns when a limit is given.
pub const MAX_PAGE: u64 = 1000;

#[derive(Clone)]
pub struct Registry {
    db: DatabaseConnection,
    client: AgentClient,
}

impl Registry {
    pub fn new(db: DatabaseConnection, client: AgentClient) -> Self {
        Self { db, client }
    }

    /// Registers or updates an agent by hand. Its /health is checked first: a failing agent
    /// is refused with the reason and nothing is stored, unless `force` is set, which
    /// stores it as unhealthy with that reason.
    pub async fn register(&self, request: RegisterAgent) -> Result<Registration, RegistryError> {
        let valid = validate_registration(&request).map_err(RegistryError::Invalid)?;
        // The shared rules are hand-written to keep the browser bundle small; the HTTP
        // client's own parser has the last word.
        if let Err(e) = url::Url::parse(valid.agent_url.as_str()) {
            return Err(RegistryError::invalid_field("agent_url", format!("Agent URL is not a valid URL ({e})")));
        }
        let probe = self.client.check_health(&valid.agent_url).await;
        if probe.state != HealthState::Healthy && !valid.force {
            return Err(RegistryError::HealthCheckFailed {
                agent_url: valid.agent_url.as_str().to_owned(),
                reason: probe.reason.unwrap_or_else(|| "unhealthy".into()),
            });
        }
        let (model, created) = store::upsert(&self.db, &valid, AgentSource::Manual, &probe).await?;
        tracing::info!(
            agent_id = %model.agent_id, url = %model.agent_url, created,
            health = %model.health_state, "agent registered"
        );
        Ok(Registration { agent: store::to_view(model), created })
    }

    pub async fn list(&self, query: AgentQuery) -> Result<AgentPage, RegistryError> {
        if let Some(limit) = query.limit {
            if limit == 0 || limit > MAX_PAGE {
                return Err(RegistryError::invalid_field("limit", format!("limit must be between 1 and {MAX_PAGE}")));
            }
        }
        if query.offset.is_some_and(|o| o > i64::MAX as u64) {
            return Err(RegistryError::invalid_field("offset", format!("offset must be at most {}", i64::MAX)));
        }
        let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > 200) {
            return Err(RegistryError::invalid_field("q", "search text must be at most 200 characters"));
        }
        let (models, total) = store::list(&self.db, q, query.limit, query.offset.unwrap_or(0)).await?;
        Ok(AgentPage { agents: models.into_iter().map(store::to_view).collect(), total })
    }

    pub async fn get(&self, agent_id: &str) -> Result<AgentView, RegistryError> {
        let id = parse_path_id(agent_id)?;
        store::find(&self.db, id.as_str())
            .await?
            .map(store::to_view)
            .ok_or_else(|| RegistryError::NotFound(id.into_string()))
    }

    pub async fn remove(&self, agent_id: &str) -> Result<(), RegistryError> {
        let id = parse_path_id(agent_id)?;
        if store::delete(&self.db, id.as_str()).await? {
            tracing::info!(agent_id = %id.as_str(), "agent removed");
            Ok(())
        } else {
            Err(RegistryError::NotFound(id.into_string()))
        }
    }
}

/// An ID that arrives in a path: a malformed one cannot name a stored agent.
fn parse_path_id(raw: &str) -> Result<AgentId, RegistryError> {
    AgentId::parse(raw).map_err(|_| RegistryError::NotFound(raw.to_owned()))
}
