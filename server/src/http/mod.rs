//! HTTP adapters: the JSON API under /api/v1, the event stream, /metrics, and the request
//! guard in front of every route. Handlers parse, call one service method and map the
//! result; the rules are in the services (`registry`, `runs`).

mod agents;
mod error;
mod events;
pub mod guard;
mod ids;
mod registry;
mod runs;

pub use error::HttpError;

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub fn api_router(state: AppState) -> Router {
    Router::new()
        .nest(
            "/api/v1",
            agents::router()
                .merge(registry::router())
                .merge(runs::router())
                .route("/events", get(events::stream))
                .fallback(error::unknown_endpoint)
                .method_not_allowed_fallback(error::method_not_allowed),
        )
        .route("/metrics", get(events::metrics))
        .with_state(state)
}

/// Counts every answered request by route (the pattern, not the path: one series per
/// route however many agents and runs there are) and status.
pub async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        // Pages, server functions and static files are matched inside Leptos' routes.
        None => page_route(request.uri().path()).to_owned(),
    };
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    state.metrics.record_request(&method, &route, response.status().as_u16());
    response
}

fn page_route(path: &str) -> &'static str {
    match path {
        "/" => "/",
        "/orchestrator" => "/orchestrator",
        "/workflows" => "/workflows",
        _ if path.starts_with("/api/v1/") => "/api/v1/{unknown}",
        _ if path.starts_with("/api/") => "/api/{server_fn}",
        _ if path.starts_with("/pkg/") => "/pkg/{file}",
        _ if path.starts_with("/workflows/") => "/workflows/{run_id}",
        _ if path.starts_with("/agents/") => "/agents/{agent_id}",
        _ => "other",
    }
}
