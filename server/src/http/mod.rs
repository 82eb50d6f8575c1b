//! HTTP adapters: the JSON API under /api/v1, and the request guard in front of every
//! route. Handlers parse, call one service method and map the result; the rules are in
//! the services (`registry`, `runs`).

mod agents;
mod error;
pub mod guard;
mod runs;

pub use error::HttpError;

use crate::state::AppState;
use axum::Router;

pub fn api_router(state: AppState) -> Router {
    Router::new()
        .nest(
            "/api/v1",
            agents::router()
                .merge(runs::router())
                .fallback(error::unknown_endpoint)
                .method_not_allowed_fallback(error::method_not_allowed),
        )
        .with_state(state)
}
