//! The services' one error type: what went wrong, in the domain's words. A service method
//! returns it and uses `?` on database calls; it becomes the API's `ApiError` once, where
//! a service answers (its `AgentService`/`RunService` method, or an HTTP handler), so no
//! call site maps errors by hand.

use app::error::{ApiError, ErrorCode, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input broke rules; each names its field.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no agent with ID '{0}' is registered")]
    AgentNotFound(String),
    #[error("no run with ID '{0}'")]
    RunNotFound(String),
    /// A registration would replace another agent that has this ID.
    #[error("agent ID '{agent_id}' is taken by '{agent_name}' at {agent_url}")]
    AgentExists { agent_id: String, agent_name: String, agent_url: String },
    /// The thing is in the wrong state for the request (a finished run cancelled).
    #[error("{0}")]
    Conflict(String),
    /// The caller's token may not do this to this thing (another token's agent).
    #[error("{0}")]
    Forbidden(String),
    #[error("health check of {agent_url} failed: {reason}")]
    HealthCheckFailed { agent_url: String, reason: String },
    /// The agent's /schema could not be had (and none was stored): the reason.
    #[error("could not get the agent's input schema: {0}")]
    SchemaUnavailable(String),
    /// Already in the API's words (a 422 whose message says more than its fields).
    #[error("{0}")]
    Api(ApiError),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl ServiceError {
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<ApiError> for ServiceError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(fields) => ApiError::validation(fields),
            ServiceError::AgentNotFound(id) => ApiError::agent_not_found(&id),
            ServiceError::RunNotFound(id) => ApiError::run_not_found(&id),
            ServiceError::AgentExists { agent_id, agent_name, agent_url } => ApiError {
                fields: vec![FieldError::new(
                    "agent_id",
                    format!("Already registered to '{agent_name}' at {agent_url}"),
                )],
                // The agent that has the ID, for a form to word its own question.
                reason: Some(format!("'{agent_name}' at {agent_url}")),
                ..ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "Agent ID '{agent_id}' is already registered to '{agent_name}' at {agent_url}. \
                         Replace it (send \"replace\": true; its runs stay in the history) or choose another ID."
                    ),
                )
            },
            ServiceError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            ServiceError::Forbidden(message) => ApiError::new(ErrorCode::Forbidden, message),
            ServiceError::SchemaUnavailable(reason) => ApiError {
                message: format!(
                    "Could not get the agent's input schema ({reason}). Check that the agent runs and \
                     answers GET /schema, then try again."
                ),
                reason: Some(reason),
                ..ApiError::new(ErrorCode::AgentUnavailable, "")
            },
            ServiceError::HealthCheckFailed { agent_url, reason } => ApiError {
                code: ErrorCode::HealthCheckFailed,
                message: format!(
                    "The agent did not pass its health check ({reason}) at {agent_url}/health. \
                     Nothing was stored; check that the agent runs and the URL is right, \
                     or register it anyway."
                ),
                fields: Vec::new(),
                reason: Some(reason),
            },
            ServiceError::Api(error) => error,
            ServiceError::Database(error) => {
                // Logged here and not leaked: the details may name tables or credentials.
                tracing::error!(%error, "database error");
                ApiError::new(ErrorCode::Internal, "The dashboard could not reach its database; see its log.")
            }
        }
    }
}
