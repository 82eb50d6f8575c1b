//! The server functions the SPA calls. Each is a thin adapter: it takes the backend the
//! server put in context and calls one of its methods; the rules live in the server's
//! services, shared with the REST API.

use crate::error::ApiError;
use crate::model::{AgentView, Registration};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub mod backend {
    //! The seam between the UI and the server: `app` never sees SeaORM or reqwest.
    use crate::error::{ApiError, ErrorCode};
    use crate::model::{AgentPage, AgentQuery, AgentView, RegisterAgent, Registration};
    use std::sync::Arc;

    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn list_agents(&self, query: AgentQuery) -> Result<AgentPage, ApiError>;
        async fn get_agent(&self, agent_id: &str) -> Result<AgentView, ApiError>;
        async fn register_agent(&self, request: RegisterAgent) -> Result<Registration, ApiError>;
        async fn remove_agent(&self, agent_id: &str) -> Result<(), ApiError>;
    }

    /// What the server provides as Leptos context.
    #[derive(Clone)]
    pub struct BackendHandle(pub Arc<dyn Backend>);

    /// Gives a failed server function the same HTTP status the REST API would.
    pub fn with_status<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
        if let Err(error) = &result {
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                if let Ok(status) = axum::http::StatusCode::from_u16(error.http_status()) {
                    response.set_status(status);
                }
            }
        }
        result
    }

    pub fn backend() -> Result<Arc<dyn Backend>, ApiError> {
        leptos::prelude::use_context::<BackendHandle>()
            .map(|h| h.0)
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "backend missing from context"))
    }
}

/// Every registered agent with its last observed health.
#[server]
pub async fn list_agents() -> Result<Vec<AgentView>, ApiError> {
    let page = async { backend::backend()?.list_agents(Default::default()).await }.await;
    backend::with_status(page.map(|p| p.agents))
}

/// Registers (or updates) an agent after checking its health; `force` stores it even
/// when the check fails. `metadata` is the form's text: a JSON object or a description.
#[server]
pub async fn register_agent(
    agent_id: String,
    agent_name: String,
    agent_url: String,
    metadata: String,
    force: bool,
) -> Result<Registration, ApiError> {
    let request = crate::model::RegisterAgent {
        agent_id,
        agent_name,
        agent_url,
        metadata: serde_json::Value::String(metadata),
        force,
    };
    backend::with_status(async { backend::backend()?.register_agent(request).await }.await)
}

#[server]
pub async fn remove_agent(agent_id: String) -> Result<(), ApiError> {
    backend::with_status(async { backend::backend()?.remove_agent(&agent_id).await }.await)
}
