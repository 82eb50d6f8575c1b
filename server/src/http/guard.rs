//! The request guard in front of every route: it asks `access::RequestGuard` whether a
//! request may be answered and refuses it, logged, with the one JSON error body if not.

use super::error::HttpError;
use crate::access::RequestGuard;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn check(
    State((guard, trusted)): State<(Arc<RequestGuard>, Arc<super::client::TrustedProxies>)>,
    request: Request,
    next: Next,
) -> Response {
    let local = request.extensions().get::<ConnectInfo<super::Connection>>().map(|ConnectInfo(c)| c.local.ip());
    if let Some(error) = guard.refusal(request.method(), request.headers(), local) {
        let client = super::client::of(&trusted, request.extensions(), request.headers())
            .map(|c| c.ip.to_string())
            .unwrap_or_default();
        tracing::warn!(%client, method = %request.method(), uri = %request.uri(), reason = %error.message, "request refused");
        return HttpError(error).into_response();
    }
    next.run(request).await
}
