//! The one mapping from errors to HTTP: `{"error": {"code", "message", "fields"?}}` with a
//! fitting status.

use app::error::{ApiError, ErrorCode, FieldError};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<crate::error::ServiceError> for HttpError {
    fn from(e: crate::error::ServiceError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(serde_json::json!({ "error": self.0 }))).into_response()
    }
}

pub fn bad_request(message: impl Into<String>) -> HttpError {
    HttpError(ApiError::new(ErrorCode::BadRequest, message))
}

impl From<JsonRejection> for HttpError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return HttpError(ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the body is larger than the dashboard accepts (run inputs: --max-run-inputs, 1 MiB by default)",
            ));
        }
        bad_request(match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "send the body as JSON with Content-Type: application/json".to_owned()
            }
            other => format!("the body is not valid JSON: {}", other.body_text()),
        })
    }
}

impl From<QueryRejection> for HttpError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        // serde names the parameter first: "Failed to deserialize query string: limit: …".
        let field = text
            .split_once("query string: ")
            .and_then(|(_, rest)| rest.split_once(':'))
            .map(|(name, _)| name.trim())
            .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or("query")
            .to_owned();
        HttpError(ApiError::validation(vec![FieldError::new(&field, text)]))
    }
}

/// A path segment that is not valid percent-encoded UTF-8 names nothing that exists.
impl From<PathRejection> for HttpError {
    fn from(rejection: PathRejection) -> Self {
        HttpError(ApiError::new(ErrorCode::NotFound, format!("nothing at this path: {}", rejection.body_text())))
    }
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> HttpError {
    HttpError(ApiError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed on {}", uri.path())))
}

pub async fn unknown_endpoint(uri: Uri) -> HttpError {
    HttpError(ApiError::new(ErrorCode::NotFound, format!("no API endpoint at {}", uri.path())))
}
