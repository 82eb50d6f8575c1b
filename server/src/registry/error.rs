use app::error::{ApiError, ErrorCode, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no agent with ID '{0}' is registered")]
    NotFound(String),
    #[error("health check of {agent_url} failed: {reason}")]
    HealthCheckFailed { agent_url: String, reason: String },
    /// An agent the dashboard had to ask could not answer usefully.
    #[error("the agent could not be asked: {0}")]
    AgentUnavailable(String),
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
            RegistryError::AgentUnavailable(reason) => ApiError {
                reason: Some(reason.clone()),
                ..ApiError::new(ErrorCode::AgentUnavailable, format!("The agent {reason}."))
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
