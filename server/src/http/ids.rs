//! IDs in paths, parsed once at the edge: a handler receives an `AgentId` or a `RunId`,
//! never a string to check. A segment that is not valid percent-encoded UTF-8, or cannot
//! be an ID, names nothing: 404 with the one JSON error body.

use super::error::HttpError;
use app::error::ApiError;
use app::validation::{AgentId, RunId};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

/// `{agent_id}`.
pub struct AgentPath(pub AgentId);

impl<S: Send + Sync> FromRequestParts<S> for AgentPath {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        AgentId::parse(&raw).map(AgentPath).map_err(|_| HttpError(ApiError::agent_not_found(&raw)))
    }
}

/// `{run_id}`.
pub struct RunPath(pub RunId);

impl<S: Send + Sync> FromRequestParts<S> for RunPath {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        RunId::parse(&raw).map(RunPath).map_err(|_| HttpError(ApiError::run_not_found(&raw)))
    }
}
