//! The API's OpenAPI document, generated from the code: every `/api/v1` route is added
//! with utoipa-axum's `routes!`, which registers the handler and its `#[utoipa::path]`
//! together, so the routes and the document cannot drift (`tests/api/openapi.rs` checks
//! that every documented operation is routed). Served at `/api/v1/openapi.json`, and
//! browsable at `/api/docs` (Swagger UI, its files compiled in: no CDN).

use app::error::ApiError;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{OpenApi, ToSchema};

/// Every error: `{"error": {"code", "message", "fields"?, "reason"?}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ApiError,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "configurable-agents",
        description = "Register remote AI agents, watch their health, run their workflows. \
            Timestamps are RFC 3339 in UTC with milliseconds. Every error answers the one JSON \
            error body. Requests are refused with 403 `forbidden` when their Host is not one the \
            dashboard serves (loopback, localhost, --allowed-host) or when a state-changing \
            request comes from another site's page. See docs/api.md for the rules behind each field."
    ),
    tags(
        (name = "agents", description = "Agents registered by hand, their health and schemas"),
        (name = "registry", description = "Agents that register themselves and send heartbeats (the old registry's API)"),
        (name = "runs", description = "Starting runs and their history"),
        (name = "live", description = "The event stream and the metrics"),
        (name = "access", description = "Signing in, and who the caller is (access control: docs/api.md)"),
    ),
    components(schemas(ErrorBody, app::model::AgentState))
)]
pub struct ApiDoc;

/// Adds the answers any operation may give (after the routes' paths are in: a
/// `modifiers(…)` would run before): the request guard's 403, and with access control on
/// 401 without valid credentials and 403 beyond the token's scope.
pub fn with_access_answers(openapi: &mut utoipa::openapi::OpenApi) {
    let answer = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build()
    };
    let forbidden =
        answer("refused for where the request came from (Host, or another site's page), or beyond the token's scope");
    let unauthorized = answer("access control is on and the request has no valid token or sign-in");
    let unreadable = answer("the body is not what the operation reads (no body, not JSON, another content type)");
    let too_large = answer("the body is larger than the dashboard accepts (--max-run-inputs and a margin)");
    let invalid = answer("a parameter or field breaks a rule; `fields` names each");
    for item in openapi.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.delete, &mut item.put, &mut item.patch];
        for op in operations.into_iter().flatten() {
            op.responses.responses.entry("403".into()).or_insert(RefOr::T(forbidden.clone()));
            op.responses.responses.entry("401".into()).or_insert(RefOr::T(unauthorized.clone()));
            if op.request_body.is_some() {
                op.responses.responses.entry("400".into()).or_insert(RefOr::T(unreadable.clone()));
                op.responses.responses.entry("413".into()).or_insert(RefOr::T(too_large.clone()));
            }
            let has_query = op.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query);
            if op.request_body.is_some() || has_query {
                op.responses.responses.entry("422".into()).or_insert(RefOr::T(invalid.clone()));
            }
        }
    }
}
