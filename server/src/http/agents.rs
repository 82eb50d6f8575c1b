//! `/api/v1/agents`: list, register, get, remove, schema, and starting runs.

use super::error::{bad_request, HttpError};
use super::ids::AgentPath;
use crate::registry::{Registry, Removal};
use crate::state::AppState;
use app::error::{ApiError, FieldError};
use app::model::{AgentQuery, AgentView, RegisterAgent, SchemaView};
use app::services::AgentService;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list).post(register))
        .route("/overview", get(overview))
        .route("/agents/{agent_id}", get(show).delete(remove))
        .route("/agents/{agent_id}/schema", get(schema))
        .route("/agents/{agent_id}/history", get(history))
        .route("/agents/{agent_id}/runs", axum::routing::post(super::runs::create))
}

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
async fn overview(
    State(registry): State<Registry>,
    query: Result<Query<AgentQuery>, QueryRejection>,
) -> Result<Json<app::model::AgentOverview>, HttpError> {
    let Query(query) = query?;
    Ok(Json(registry.agent_overview(query).await?))
}

/// The body is read field by field so that a missing or mistyped field is named.
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
    let request = RegisterAgent { agent_id, agent_name, agent_url, metadata, force, replace, health_interval };
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

async fn show(State(registry): State<Registry>, AgentPath(agent_id): AgentPath) -> Result<Json<AgentView>, HttpError> {
    Ok(Json(registry.agent(&agent_id).await?))
}

#[derive(serde::Deserialize)]
struct RemoveQuery {
    #[serde(default, deserialize_with = "app::model::lenient_bool")]
    purge: Option<bool>,
}

/// A self-registered agent deregisters (kept, not alive: the old client sends this at
/// every shutdown); `?purge=true`, or any other agent, is deleted for good.
async fn remove(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
    query: Result<Query<RemoveQuery>, QueryRejection>,
) -> Result<Json<Value>, HttpError> {
    let Query(query) = query?;
    let status = match registry.remove_or_deregister(&agent_id, query.purge.unwrap_or(false)).await? {
        Removal::Deleted => "deleted",
        Removal::Deregistered => "deregistered",
    };
    Ok(Json(serde_json::json!({ "status": status, "agent_id": agent_id.as_str() })))
}

async fn schema(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
) -> Result<Json<SchemaView>, HttpError> {
    Ok(Json(registry.current_schema(&agent_id).await?.1))
}

#[derive(serde::Deserialize)]
struct HistoryQuery {
    hours: Option<u32>,
}

async fn history(
    State(registry): State<Registry>,
    AgentPath(agent_id): AgentPath,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<app::model::HealthHistory>, HttpError> {
    let Query(query) = query?;
    Ok(Json(registry.history(&agent_id, query.hours.unwrap_or(24)).await?))
}
