//! Adding what a person chose from what was found.

use super::{Discovery, ENTRY_CONCURRENCY, MAX_ADD};
use crate::error::ServiceError;
use app::model::{AddCandidates, AddOutcome, Added, AgentSource, DeclaredAgent, RegisterAgent};
use futures::StreamExt;
use serde_json::Value;

impl Discovery {
    /// Adds the candidates a person chose, as agents `discovered` (an admin's, like those
    /// registered by hand): each is checked at its `/health` first; an ID already
    /// registered is left as it is.
    pub async fn add(&self, request: AddCandidates) -> Result<Vec<Added>, ServiceError> {
        if request.agents.len() > MAX_ADD {
            return Err(ServiceError::invalid_field("agents", format!("at most {MAX_ADD} at once")));
        }
        let force = request.force;
        let added = futures::stream::iter(request.agents)
            .map(|agent| async move { self.add_one(agent, force).await })
            .buffered(ENTRY_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        Ok(added)
    }

    async fn add_one(&self, agent: DeclaredAgent, force: bool) -> Added {
        let agent_id = agent.id.clone();
        match self.registry.known(&agent.id, "").await {
            Ok(Some(_)) => return Added { agent_id, outcome: AddOutcome::Exists, message: None },
            Ok(None) => {}
            Err(e) => return Added { agent_id, outcome: AddOutcome::Failed, message: Some(e.to_string()) },
        }
        let request = RegisterAgent {
            agent_name: agent.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| agent.id.clone()),
            agent_id: agent.id,
            agent_url: agent.url,
            metadata: agent.metadata.unwrap_or(Value::Null),
            force,
            ..RegisterAgent::default()
        };
        match self.registry.register_as(request, AgentSource::Discovered).await {
            Ok(_) => Added { agent_id, outcome: AddOutcome::Added, message: None },
            Err(e) => {
                Added { agent_id, outcome: AddOutcome::Failed, message: Some(app::error::ApiError::from(e).message) }
            }
        }
    }
}
