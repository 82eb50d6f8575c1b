//! HTTP adapters: the JSON API under /api/v1. Handlers parse, call one registry method
//! and map the result; the rules are in `registry`.

mod agents;
mod error;

pub use error::HttpError;

use crate::registry::Registry;
use axum::Router;

pub fn api_router(registry: Registry) -> Router {
    Router::new()
        .nest(
            "/api/v1",
            agents::router()
                .fallback(error::unknown_endpoint)
                .method_not_allowed_fallback(error::method_not_allowed),
        )
        .with_state(registry)
}
