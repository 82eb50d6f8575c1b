//! The registry API old agents call (`../docs/api.md`, "Self-registration"):
//! `POST /agents/register`, `POST /agents/{id}/heartbeat`, and `GET /health`. Their
//! client cannot change, so these read what it sends as leniently as the old registry
//! did: any content type, numbers as numbers or digit strings.

use super::client::Client;
use super::error::HttpError;
use super::ids::AgentPath;
use super::openapi::ErrorBody;
use crate::access::Principal;
use crate::error::ServiceError;
use crate::registry::self_registration::SelfRegister;
use crate::registry::Caller;
use crate::registry::Registry;
use crate::state::AppState;
use app::error::{ApiError, FieldError};
use app::model::AgentView;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register)).routes(routes!(heartbeat)).routes(routes!(health))
}

/// An agent registers itself (the old registry's payload): never refused for its health,
/// first checked about 2 s later. 201 with the agent when it is new, 200 when it was
/// known. Refusals name the field, are logged with the caller's address (an agent in the
/// field will not say), and are counted in `/metrics` by field.
#[utoipa::path(post, path = "/agents/register", tag = "registry", request_body = SelfRegister,
    responses((status = 201, description = "registered", body = AgentView), (status = 200, description = "known: updated", body = AgentView),
        (status = 422, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    Client { ip: peer, .. }: Client,
    principal: Principal,
    body: Bytes,
) -> Result<impl IntoResponse, HttpError> {
    let refused = |fields: &[FieldError]| {
        if let Some(first) = fields.first() {
            state.metrics.record_refused_registration(&first.field);
        }
        let why: Vec<String> = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
        tracing::warn!(%peer, refused = %why.join("; "), "self-registration refused");
    };
    let request = match serde_json::from_slice::<Value>(&body) {
        Ok(body) => from_json(body),
        Err(e) => Err(vec![FieldError::new("body", format!("the body is not valid JSON: {e}"))]),
    };
    let request = request.inspect_err(|fields| refused(fields)).map_err(|f| HttpError(ApiError::validation(f)))?;
    match state.registry.self_register(request, peer, caller(&principal)).await {
        Ok(registration) => {
            let status = if registration.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(registration.agent)))
        }
        Err(ServiceError::Invalid(fields)) => {
            refused(&fields);
            Err(HttpError(ApiError::validation(fields)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The body's fields, each of the JSON type it must have; every mistyped one is named.
fn from_json(body: Value) -> Result<SelfRegister, Vec<FieldError>> {
    let Value::Object(mut body) = body else {
        return Err(vec![FieldError::new("body", "the body must be a JSON object")]);
    };
    let mut errors = Vec::new();
    let mut text = |name: &str| match body.remove(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.push(FieldError::new(name, format!("{name} must be a string")));
            None
        }
    };
    let agent_id = text("agent_id").unwrap_or_default();
    let agent_name = text("agent_name").unwrap_or_default();
    let host = text("host");
    let agent_url = text("agent_url");
    let mut number = |name: &str| match body.remove(name) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        // As the old registry's model did, digits in a string are a number.
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
        Some(_) => {
            errors.push(FieldError::new(name, format!("{name} must be a whole number")));
            None
        }
    };
    let port = number("port");
    let ttl_seconds = number("ttl_seconds");
    let metadata = body.remove("metadata").unwrap_or(Value::Null);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SelfRegister { agent_id, agent_name, host, port, agent_url, ttl_seconds, metadata })
}

/// A heartbeat. No body is read: old clients send none, with whatever content type.
#[utoipa::path(post, path = "/agents/{agent_id}/heartbeat", tag = "registry",
    params(("agent_id" = String, Path, description = super::agents::AGENT_ID)),
    responses((status = 200, description = r#"`{"status": "ok", "last_heartbeat"}`"#, body = Object),
        (status = 404, description = "unknown or deregistered: register again", body = ErrorBody)))]
async fn heartbeat(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
    principal: Principal,
) -> Result<Json<Value>, HttpError> {
    let at = registry.heartbeat(&agent_id, caller(&principal)).await?;
    Ok(Json(json!({ "status": "ok", "last_heartbeat": crate::time::timestamp(at) })))
}

/// Who registers an agent, from the request's credentials.
pub fn caller(principal: &Principal) -> Caller<'_> {
    match principal {
        Principal::Open => Caller::Anyone,
        Principal::Token(token) if token.scope == crate::access::Scope::Admin => Caller::Anyone,
        Principal::Token(token) => Caller::Token(token),
        Principal::Unauthenticated => Caller::Unauthenticated,
    }
}

/// The old registry's health answer: agents registered and alive (`AgentView::is_alive`).
/// With access control on, a caller without credentials gets `{"status"}` only.
#[utoipa::path(get, path = "/health", tag = "registry",
    responses((status = 200, description = r#"`{"status": "healthy", "registered_agents", "active_agents"}`"#, body = Object)))]
async fn health(State(registry): State<Registry>, principal: Principal) -> Result<Json<Value>, HttpError> {
    if matches!(principal, Principal::Unauthenticated) {
        return Ok(Json(json!({ "status": "healthy" })));
    }
    let (registered, active) = registry.counts().await?;
    Ok(Json(json!({ "status": "healthy", "registered_agents": registered, "active_agents": active })))
}
