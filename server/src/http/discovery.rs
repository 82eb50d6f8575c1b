//! `POST /api/v1/discover` (what was found, streamed as NDJSON as it is found) and
//! `POST /api/v1/discover/add` (registering the candidates a person chose). Admin only.

use super::error::HttpError;
use super::openapi::ErrorBody;
use crate::discovery::Discovery;
use crate::state::AppState;
use app::model::{AddCandidates, Added, DiscoverRequest, DiscoveryEvent};
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(discover)).routes(routes!(add))
}

impl axum::extract::FromRef<AppState> for Discovery {
    fn from_ref(state: &AppState) -> Self {
        state.discovery.clone()
    }
}

/// Looks for agents where asked (a scan of addresses and ports, another registry's list,
/// a file's entries) and answers what it finds as it finds it: one JSON object per line
/// (`started`, `progress`, `candidate`, `done` or `failed`). Nothing is registered.
/// The request is checked whole first: a scan over its probe limit, or reaching an address
/// the agent network policy refuses, is refused (422) before anything is sent.
#[utoipa::path(post, path = "/discover", tag = "agents", request_body = DiscoverRequest,
    responses((status = 200, content_type = "application/x-ndjson", description = "events, one per line, as they happen", body = DiscoveryEvent),
        (status = 409, description = "two discoveries are running already", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn discover(
    State(discovery): State<Discovery>,
    body: Result<Json<DiscoverRequest>, JsonRejection>,
) -> Result<Response, HttpError> {
    let Json(request) = body?;
    let receiver = discovery.start(request)?;
    let lines = crate::discovery::lines::<std::convert::Infallible>(receiver);
    let mut response = Body::from_stream(lines).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies (nginx) must pass lines on as they come.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Registers the chosen candidates (source `discovered`), each after its health check; an
/// ID already registered is left as it is. Answers what happened to each, in order.
#[utoipa::path(post, path = "/discover/add", tag = "agents", request_body = AddCandidates,
    responses((status = 200, body = Vec<Added>), (status = 422, body = ErrorBody)))]
async fn add(
    State(discovery): State<Discovery>,
    body: Result<Json<AddCandidates>, JsonRejection>,
) -> Result<Json<Vec<Added>>, HttpError> {
    let Json(request) = body?;
    Ok(Json(discovery.add(request).await?))
}
