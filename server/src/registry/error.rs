use app::error::{ApiError, ErrorCode, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no agent with ID '{0}' is registered")]
    NotFound(String),
    #[error("health check of {agent_url} failed: {reason}")]
    HealthCheckFailed { agent_url: String, reason: String },
    /// The agent's /schema could not be had (and none was stored): the reason.
    #[error("could not get the agent's input schema: {0}")]
    SchemaUnavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl RegistryError {
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Invalid(fields) => ApiError::validation(fields),
            RegistryError::NotFound(id) => ApiError::agent_not_found(&id),
            RegistryError::SchemaUnavailable(reason) => ApiError {
                message: format!(
                    "Could not get the agent's input schema ({reason}). Check that the agent runs and \
                     answers GET /schema, then try again."
                ),
                reason: Some(reason),
                ..ApiError::new(ErrorCode::AgentUnavailable, "")
            },
            RegistryError::HealthCheckFailed { agent_url, reason } => ApiError {
                code: ErrorCode::HealthCheckFailed,
                message: format!(
                    "The agent did not pass its health check ({reason}) at {agent_url}/health. \
                     Nothing was stored; check that the agent runs and the URL is right, \
                     or register it anyway."
                ),
                fields: Vec::new(),
                reason: Some(reason),
            },
            RegistryError::Database(e) => database_error(e),
        }
    }
}

/// A database failure, logged here and not leaked: the details may name tables or credentials.
pub fn database_error(error: sea_orm::DbErr) -> ApiError {
    tracing::error!(%error, "database error");
    ApiError::new(ErrorCode::Internal, "The dashboard could not reach its database; see its log.")
}
