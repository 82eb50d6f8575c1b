//! `/api/v1/agents`: list, register, get, remove, schema, and starting runs.

use super::error::{bad_request, HttpError};
use super::ids::AgentPath;
use super::openapi::ErrorBody;
use crate::registry::{Registry, Removal};
use crate::state::AppState;
use app::error::{ApiError, FieldError};
use app::model::{AgentQuery, AgentView, OutboundHeaders, RegisterAgent, SchemaView};
use app::services::AgentService;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(overview))
        .routes(routes!(show, remove))
        .routes(routes!(schema))
        .routes(routes!(history))
        .routes(routes!(outbound_headers, set_outbound_headers))
        .routes(routes!(super::runs::create))
}

/// `{agent_id}` in every path: percent-encoded (`Research%20Agent%20%C3%A91`).
pub(super) const AGENT_ID: &str = "The agent's ID, percent-encoded";

/// Agents ordered by ID (byte order); the matches before paging in `X-Total-Count`.
#[utoipa::path(get, path = "/agents", tag = "agents", params(AgentQuery),
    responses((status = 200, body = Vec<AgentView>, headers(("x-total-count" = u64))), (status = 422, body = ErrorBody)))]
async fn list(
    State(registry): State<Registry>,
    query: Result<Query<AgentQuery>, QueryRejection>,
) -> Result<impl IntoResponse, HttpError> {
    let Query(query) = query?;
    let page = registry.list_agents(query).await?;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    Ok((headers, Json(page.agents)))
}

/// A page of agents with the counts by state of all of them and each listed agent's
/// uptime bar for the last day (what the orchestrator page shows).
#[utoipa::path(get, path = "/overview", tag = "agents", params(AgentQuery),
    responses((status = 200, body = app::model::AgentOverview), (status = 422, body = ErrorBody)))]
async fn overview(
    State(registry): State<Registry>,
    query: Result<Query<AgentQuery>, QueryRejection>,
) -> Result<Json<app::model::AgentOverview>, HttpError> {
    let Query(query) = query?;
    Ok(Json(registry.agent_overview(query).await?))
}

/// Registers an agent by hand: its `/health` is checked first (refused with the reason
/// unless `force`); another agent's ID is replaced only with `replace`. The body is read
/// field by field so that a missing or mistyped field is named.
#[utoipa::path(post, path = "/agents", tag = "agents", request_body = RegisterAgent,
    responses((status = 201, description = "registered", body = AgentView), (status = 200, description = "updated", body = AgentView),
        (status = 409, description = "the ID is another agent's", body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, description = "its health check failed", body = ErrorBody)))]
async fn register(
    State(registry): State<Registry>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<impl IntoResponse, HttpError> {
    let Json(body) = body?;
    let request = registration_from_json(body)?;
    let registration = registry.register_agent(request).await?;
    let status = if registration.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(registration.agent)))
}

fn registration_from_json(body: Value) -> Result<RegisterAgent, HttpError> {
    let Value::Object(mut body) = body else {
        return Err(bad_request("the body must be a JSON object"));
    };
    let mut errors = Vec::new();
    let mut text = |name: &str| match body.remove(name) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => {
            errors.push(FieldError::new(name, format!("{name} must be a string")));
            String::new()
        }
    };
    let agent_id = text("agent_id");
    let agent_name = text("agent_name");
    let agent_url = text("agent_url");
    let mut flag = |name: &str| match body.remove(name) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            errors.push(FieldError::new(name, format!("{name} must be true or false")));
            false
        }
    };
    let force = flag("force");
    let replace = flag("replace");
    let metadata = body.remove("metadata").unwrap_or(Value::Null);
    let health_interval = match body.remove("health_interval") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => {
            errors.push(FieldError::new("health_interval", "health_interval must be a number of seconds"));
            None
        }
    };
    let outbound_headers = match body.remove("outbound_headers") {
        None | Some(Value::Null) => None,
        Some(value) => match headers_from_json(value) {
            Ok(headers) => Some(headers),
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    let request =
        RegisterAgent { agent_id, agent_name, agent_url, metadata, force, replace, health_interval, outbound_headers };
    // Report type errors together with the rule checks of the other fields.
    if !errors.is_empty() {
        if let Err(more) = app::validation::validate_registration(&request) {
            let more: Vec<_> = more.into_iter().filter(|m| !errors.iter().any(|e| e.field == m.field)).collect();
            errors.extend(more);
        }
        return Err(HttpError(ApiError::validation(errors)));
    }
    Ok(request)
}

/// `{"Name": "value", …}`: every value a string (never echoed in the refusal).
fn headers_from_json(value: Value) -> Result<OutboundHeaders, FieldError> {
    let Value::Object(map) = value else {
        return Err(FieldError::new(
            "outbound_headers",
            "outbound_headers must be an object of header names to values",
        ));
    };
    let mut headers = std::collections::BTreeMap::new();
    for (name, value) in map {
        match value {
            Value::String(v) => {
                headers.insert(name, v);
            }
            _ => {
                let shown: String = name.chars().take(64).collect();
                return Err(FieldError::new(
                    &format!("outbound_headers.{shown}"),
                    format!("the value of {shown} must be a string"),
                ));
            }
        }
    }
    Ok(OutboundHeaders(headers))
}

/// The names of an agent's outbound headers (never their values).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OutboundHeaderNames {
    pub agent_id: String,
    /// The URL they are sent to: the agent's, unless it moved since (then none are sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_url: Option<String>,
    /// Lower-case, sorted: the order they are sent in.
    pub names: Vec<String>,
}

/// The names of the headers sent with every call to the agent.
#[utoipa::path(get, path = "/agents/{agent_id}/outbound-headers", tag = "agents",
    params(("agent_id" = String, Path, description = AGENT_ID)),
    responses((status = 200, body = OutboundHeaderNames), (status = 404, body = ErrorBody)))]
async fn outbound_headers(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
) -> Result<Json<OutboundHeaderNames>, HttpError> {
    let (agent_url, names) = registry.outbound_header_names(&agent_id).await?;
    Ok(Json(OutboundHeaderNames { agent_id: agent_id.as_str().to_owned(), agent_url, names }))
}

/// Replaces the headers sent with every call to the agent (health checks, `/schema`,
/// `/run`, `/status`), for its current URL: a later URL change drops them. `{}` clears
/// them. Answered by name only; the agent is checked again at once with them.
#[utoipa::path(put, path = "/agents/{agent_id}/outbound-headers", tag = "agents",
    params(("agent_id" = String, Path, description = AGENT_ID)), request_body = OutboundHeaders,
    responses((status = 200, body = OutboundHeaderNames), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 409, description = "the agent moved to other URLs while they were set", body = ErrorBody)))]
async fn set_outbound_headers(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<OutboundHeaderNames>, HttpError> {
    let Json(body) = body?;
    let headers = headers_from_json(body).map_err(|e| HttpError(ApiError::validation(vec![e])))?;
    let (agent_url, names) = registry.set_outbound_headers(&agent_id, &headers).await?;
    Ok(Json(OutboundHeaderNames { agent_id: agent_id.as_str().to_owned(), agent_url: Some(agent_url), names }))
}

#[utoipa::path(get, path = "/agents/{agent_id}", tag = "agents", params(("agent_id" = String, Path, description = AGENT_ID)),
    responses((status = 200, body = AgentView), (status = 404, body = ErrorBody)))]
async fn show(State(registry): State<Registry>, AgentPath(agent_id): AgentPath) -> Result<Json<AgentView>, HttpError> {
    Ok(Json(registry.agent(&agent_id).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RemoveQuery {
    /// Delete for good, even a self-registered agent.
    #[serde(default, deserialize_with = "app::model::lenient_bool")]
    purge: Option<bool>,
}

/// A self-registered agent deregisters (kept, not alive: the old client sends this at
/// every shutdown); `?purge=true`, or any other agent, is deleted for good.
#[utoipa::path(delete, path = "/agents/{agent_id}", tag = "agents",
    params(("agent_id" = String, Path, description = AGENT_ID), RemoveQuery),
    responses((status = 200, description = r#"`{"status": "deregistered" | "deleted", "agent_id"}`"#, body = Object),
        (status = 404, body = ErrorBody)))]
async fn remove(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
    principal: crate::access::Principal,
    query: Result<Query<RemoveQuery>, QueryRejection>,
) -> Result<Json<Value>, HttpError> {
    let Query(query) = query?;
    let caller = super::registry::caller(&principal);
    let status = match registry.remove_or_deregister(&agent_id, query.purge.unwrap_or(false), caller).await? {
        Removal::Deleted => "deleted",
        Removal::Deregistered => "deregistered",
    };
    Ok(Json(serde_json::json!({ "status": status, "agent_id": agent_id.as_str() })))
}

/// The agent's input schema as it is now (fetched at most every `--schema-reuse`; the
/// last one stored when the agent cannot answer).
#[utoipa::path(get, path = "/agents/{agent_id}/schema", tag = "agents", params(("agent_id" = String, Path, description = AGENT_ID)),
    responses((status = 200, body = SchemaView), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn schema(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
) -> Result<Json<SchemaView>, HttpError> {
    Ok(Json(registry.current_schema(&agent_id).await?.1))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// The window, 1–168 hours (24 by default).
    hours: Option<u32>,
}

/// The agent's health over the last `hours`: state changes, latency buckets, uptime.
#[utoipa::path(get, path = "/agents/{agent_id}/history", tag = "agents",
    params(("agent_id" = String, Path, description = AGENT_ID), HistoryQuery),
    responses((status = 200, body = app::model::HealthHistory), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn history(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<app::model::HealthHistory>, HttpError> {
    let Query(query) = query?;
    Ok(Json(registry.history(&agent_id, query.hours.unwrap_or(24)).await?))
}
