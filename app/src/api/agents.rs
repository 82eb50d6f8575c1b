use crate::error::ApiError;
use crate::model::{AgentChoice, AgentView, RegisterAgent, Registration, SchemaView};
use leptos::prelude::*;
use server_fn::codec::Json;

/// How many agents a picker suggests at once: enough to choose from, never the fleet.
pub const SUGGESTIONS: u64 = 20;

/// Agents whose ID, name or URL holds `q` (all when empty), the first `SUGGESTIONS` by
/// ID: what a picker offers as someone types.
#[server]
pub async fn suggest_agents(q: String) -> Result<Vec<AgentChoice>, ApiError> {
    let query = crate::model::AgentQuery {
        q: Some(q).filter(|q| !q.trim().is_empty()),
        limit: Some(SUGGESTIONS),
        ..Default::default()
    };
    crate::services::call(|s| async move {
        let page = s.agents.list_agents(query).await?;
        Ok(page.agents.into_iter().map(|a| AgentChoice { agent_id: a.agent_id, agent_name: a.agent_name }).collect())
    })
    .await
}

/// The orchestrator page's view: a page of agents, the counts by state, uptime bars.
#[server(input = Json)]
pub async fn agent_overview(query: crate::model::AgentQuery) -> Result<crate::model::AgentOverview, ApiError> {
    crate::services::call(|s| async move { s.agents.agent_overview(query).await }).await
}

/// One agent as it is now.
#[server]
pub async fn get_agent(agent_id: String) -> Result<AgentView, ApiError> {
    crate::services::call(|s| async move { s.agents.get_agent(&agent_id).await }).await
}

/// Registers (or updates) an agent after checking its health; `force` stores it even
/// when the check fails.
// Named apart: the default name would be the request type's.
#[server(name = RegisterAgentCall, input = Json)]
pub async fn register_agent(request: RegisterAgent) -> Result<Registration, ApiError> {
    crate::services::call(|s| async move { s.agents.register_agent(request).await }).await
}

#[server]
pub async fn remove_agent(agent_id: String) -> Result<(), ApiError> {
    crate::services::call(|s| async move { s.agents.remove_agent(&agent_id).await }).await
}

/// Removes the agents for good (the list's bulk Remove).
#[server(input = Json)]
pub async fn remove_agents(request: crate::model::AgentIds) -> Result<crate::model::Removed, ApiError> {
    crate::services::call(|s| async move { s.agents.remove_agents(request).await }).await
}

/// Checks the agents now (the list's bulk Re-check); results arrive on the event stream.
#[server(input = Json)]
pub async fn check_agents(request: crate::model::AgentIds) -> Result<crate::model::Checking, ApiError> {
    crate::services::call(|s| async move { s.agents.check_agents(request).await }).await
}

/// The agent's health over the last `hours`: changes, latency, uptime.
#[server]
pub async fn agent_history(agent_id: String, hours: u32) -> Result<crate::model::HealthHistory, ApiError> {
    crate::services::call(|s| async move { s.agents.agent_history(&agent_id, hours).await }).await
}

/// The agent's input schema, fetched from the agent now.
#[server]
pub async fn agent_schema(agent_id: String) -> Result<SchemaView, ApiError> {
    crate::services::call(|s| async move { s.agents.agent_schema(&agent_id).await }).await
}
