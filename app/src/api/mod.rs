//! The server functions the SPA calls, one module per domain. Each takes its request
//! whole and calls one service method (`crate::services`), the same one the REST API
//! calls; the rules live in the server's services.

mod agents;
mod discovery;
mod runs;

pub use agents::*;
pub use discovery::*;
pub use runs::*;

use crate::error::ApiError;
use crate::model::{CreateToken, CreatedToken, TokensPage, Viewer};
use leptos::prelude::*;
use server_fn::codec::Json;

/// Who is looking (the access middleware's verdict on this request). Over HTTP it needs
/// credentials like any server function, so a page whose session ended gets a 401 here
/// (and is sent to sign in); rendered on the server it is read from the page's request.
// Named apart: the default name would be the answer's type.
#[server(name = ViewerCall)]
pub async fn viewer() -> Result<Viewer, ApiError> {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>();
    Ok(parts.and_then(|p| p.extensions.get::<Viewer>().cloned()).unwrap_or_default())
}

/// The tokens (never their values) and the agents heartbeating without one.
#[server]
pub async fn list_tokens() -> Result<TokensPage, ApiError> {
    crate::services::call(|s| async move { s.access.tokens().await }).await
}

/// Creates a token; its text is in the answer, this once.
#[server(name = CreateTokenCall, input = Json)]
pub async fn create_token(request: CreateToken) -> Result<CreatedToken, ApiError> {
    crate::services::call(|s| async move { s.access.create_token(request).await }).await
}

/// Revokes a token: it and its sign-ins stop working within 2 s.
#[server]
pub async fn revoke_token(name: String) -> Result<(), ApiError> {
    crate::services::call(|s| async move { s.access.revoke_token(&name).await }).await
}
