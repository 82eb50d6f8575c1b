//! The backend the Leptos app receives through context: each server function lands on one
//! registry method, the same ones the REST API calls.

use crate::registry::Registry;
use app::api::backend::Backend;
use app::error::ApiError;
use app::model::{AgentPage, AgentQuery, AgentView, RegisterAgent, Registration};

#[async_trait::async_trait]
impl Backend for Registry {
    async fn list_agents(&self, query: AgentQuery) -> Result<AgentPage, ApiError> {
        Ok(self.list(query).await?)
    }

    async fn get_agent(&self, agent_id: &str) -> Result<AgentView, ApiError> {
        Ok(self.get(agent_id).await?)
    }

    async fn register_agent(&self, request: RegisterAgent) -> Result<Registration, ApiError> {
        Ok(self.register(request).await?)
    }

    async fn remove_agent(&self, agent_id: &str) -> Result<(), ApiError> {
        Ok(self.remove(agent_id).await?)
    }
}
