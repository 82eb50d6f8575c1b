//! The seam between the UI and the server (server side only): one trait per domain,
//! implemented by the server's services themselves and put in Leptos context. A server
//! function takes its request whole and reaches the service in one step; the REST API
//! calls the same methods. `app` never sees SeaORM or reqwest.

use crate::error::{ApiError, ErrorCode};
use crate::model::*;
use std::future::Future;
use std::sync::Arc;

#[async_trait::async_trait]
pub trait AgentService: Send + Sync + 'static {
    async fn list_agents(&self, query: AgentQuery) -> Result<AgentPage, ApiError>;
    /// One page of agents (50 unless `limit` says otherwise, at most 200) with the counts
    /// by state of all agents and each listed agent's uptime bar for the last day.
    async fn agent_overview(&self, query: AgentQuery) -> Result<AgentOverview, ApiError>;
    async fn get_agent(&self, agent_id: &str) -> Result<AgentView, ApiError>;
    async fn register_agent(&self, request: RegisterAgent) -> Result<Registration, ApiError>;
    async fn remove_agent(&self, agent_id: &str) -> Result<(), ApiError>;
    /// Removes each agent for good, as `remove_agent` does, reporting agent by agent.
    async fn remove_agents(&self, request: AgentIds) -> Result<Removed, ApiError>;
    /// Checks each agent now instead of at its next turn.
    async fn check_agents(&self, request: AgentIds) -> Result<Checking, ApiError>;
    /// Fetches the agent's `/schema` now (it may have changed) and normalises it.
    async fn agent_schema(&self, agent_id: &str) -> Result<SchemaView, ApiError>;
    /// State changes, latency buckets and the uptime bar over the last `hours` (1–168).
    async fn agent_history(&self, agent_id: &str, hours: u32) -> Result<HealthHistory, ApiError>;
}

/// Access tokens, for the tokens page.
#[async_trait::async_trait]
pub trait AccessService: Send + Sync + 'static {
    async fn tokens(&self) -> Result<TokensPage, ApiError>;
    async fn create_token(&self, request: CreateToken) -> Result<CreatedToken, ApiError>;
    async fn revoke_token(&self, name: &str) -> Result<(), ApiError>;
}

#[async_trait::async_trait]
pub trait RunService: Send + Sync + 'static {
    /// Validates the inputs against the agent's schema, stores the run as queued and
    /// returns at once; the agent is called in the background.
    async fn create_run(&self, request: CreateRun) -> Result<RunCreated, ApiError>;
    async fn list_runs(&self, query: RunQuery) -> Result<RunPage, ApiError>;
    async fn get_run(&self, run_id: &str) -> Result<RunView, ApiError>;
    /// The run with previews of its inputs and outputs instead of the documents.
    async fn run_detail(&self, run_id: &str) -> Result<RunDetail, ApiError>;
    /// One page of the container at `pointer` (a JSON Pointer) in the run's inputs or
    /// outputs, from `offset`.
    async fn run_json_page(
        &self,
        run_id: &str,
        part: json_preview::RunPart,
        pointer: &str,
        offset: usize,
    ) -> Result<json_preview::PreviewPage, ApiError>;
    /// The whole document, as stored (None: the run has no outputs).
    /// The string at `pointer` in the run's inputs or outputs, to read as text (at most
    /// `json_preview::READ_CHARS` characters).
    async fn run_text(
        &self,
        run_id: &str,
        part: json_preview::RunPart,
        pointer: &str,
    ) -> Result<json_preview::TextPage, ApiError>;
    async fn run_document(
        &self,
        run_id: &str,
        part: json_preview::RunPart,
    ) -> Result<Option<serde_json::Value>, ApiError>;
    async fn cancel_run(&self, run_id: &str) -> Result<RunView, ApiError>;
    /// A new run of the same agent with the same inputs.
    async fn rerun(&self, run_id: &str) -> Result<RunCreated, ApiError>;
    async fn delete_run(&self, run_id: &str) -> Result<(), ApiError>;
    /// The input schema the run was validated against, when the dashboard kept it (runs
    /// from before it kept schemas, and imported ones, have none): for schema drift.
    async fn run_schema(&self, run_id: &str) -> Result<Option<crate::schema::InputSchema>, ApiError>;
}

/// Finding agents on request, and adding those a person chose.
#[async_trait::async_trait]
pub trait DiscoveryService: Send + Sync + 'static {
    /// Checks the request whole and starts looking: each `DiscoveryEvent` as one line of
    /// JSON, as it happens. Dropping the stream stops the discovery.
    fn discover(&self, request: DiscoverRequest) -> Result<server_fn::codec::TextStream<ApiError>, ApiError>;
    async fn add_candidates(&self, request: AddCandidates) -> Result<Vec<Added>, ApiError>;
}

/// What the server provides as Leptos context.
#[derive(Clone)]
pub struct Services {
    pub agents: Arc<dyn AgentService>,
    pub runs: Arc<dyn RunService>,
    pub access: Arc<dyn AccessService>,
    pub discovery: Arc<dyn DiscoveryService>,
}

/// Runs `call` with the services from context and gives a failure the HTTP status the
/// REST API would answer with.
pub async fn call<T, F, Fut>(call: F) -> Result<T, ApiError>
where
    F: FnOnce(Services) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let result = match leptos::prelude::use_context::<Services>() {
        Some(services) => call(services).await,
        None => Err(ApiError::new(ErrorCode::Internal, "services missing from context")),
    };
    if let Err(error) = &result {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = axum::http::StatusCode::from_u16(error.http_status()) {
                response.set_status(status);
            }
        }
    }
    result
}
