//! `/api/v1/runs` (history, one run, cancel, re-run, delete) and run creation on
//! `/api/v1/agents/{id}/runs`.

use super::error::{bad_request, HttpError};
use super::ids::{AgentPath, RunPath};
use super::openapi::ErrorBody;
use crate::runs::Runs;
use crate::state::AppState;
use app::error::{ApiError, FieldError};
use app::model::json_preview::RunPart;
use app::model::{CreateRun, RunCreated, RunQuery, RunView};
use app::services::RunService;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, remove))
        .routes(routes!(cancel))
        .routes(routes!(rerun))
        .routes(routes!(schema))
        .routes(routes!(inputs))
        .routes(routes!(outputs))
}

const RUN_ID: &str = "The run's ID";

/// The input schema the run was validated against, with its hash; 404 when it was not
/// kept.
#[utoipa::path(get, path = "/runs/{run_id}/schema", tag = "runs", params(("run_id" = String, Path, description = RUN_ID)),
    responses((status = 200, description = r#"`{"schema_hash", "schema"}`"#, body = Object), (status = 404, body = ErrorBody)))]
async fn schema(State(runs): State<Runs>, RunPath(run_id): RunPath) -> Result<impl IntoResponse, HttpError> {
    let view = runs.get(&run_id).await?;
    match runs.schema(&run_id).await? {
        Some(schema) => Ok(Json(serde_json::json!({"schema_hash": view.schema_hash, "schema": schema}))),
        None => Err(HttpError(ApiError::new(
            app::error::ErrorCode::NotFound,
            format!("Run {run_id}'s input schema was not kept (runs from before schemas were kept, and imported runs, have none)"),
        ))),
    }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DocumentQuery {
    /// Answer as a file to save (`Content-Disposition: attachment`).
    #[serde(default)]
    download: Option<String>,
}

/// The run's inputs, whole, as stored (the run page's Download).
#[utoipa::path(get, path = "/runs/{run_id}/inputs", tag = "runs", params(("run_id" = String, Path, description = RUN_ID), DocumentQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn inputs(
    state: State<Runs>,
    run_id: RunPath,
    query: Result<Query<DocumentQuery>, QueryRejection>,
) -> Result<impl IntoResponse, HttpError> {
    document(state, run_id, query, RunPart::Inputs).await
}

/// The run's outputs, whole, as stored; 404 while it has none.
#[utoipa::path(get, path = "/runs/{run_id}/outputs", tag = "runs", params(("run_id" = String, Path, description = RUN_ID), DocumentQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
async fn outputs(
    state: State<Runs>,
    run_id: RunPath,
    query: Result<Query<DocumentQuery>, QueryRejection>,
) -> Result<impl IntoResponse, HttpError> {
    document(state, run_id, query, RunPart::Outputs).await
}

/// `GET /runs/{id}/inputs|outputs`: the document alone, whole, as stored (the run page's
/// Download; the page itself loads it a page at a time). 404 when a run has no outputs.
async fn document(
    State(runs): State<Runs>,
    RunPath(run_id): RunPath,
    query: Result<Query<DocumentQuery>, QueryRejection>,
    part: RunPart,
) -> Result<impl IntoResponse, HttpError> {
    let Query(query) = query?;
    let Some(document) = runs.document(&run_id, part).await? else {
        return Err(HttpError(ApiError::new(
            app::error::ErrorCode::NotFound,
            format!("Run {run_id} has no {} (yet)", part.as_str()),
        )));
    };
    let mut headers = HeaderMap::new();
    if query.download.is_some() {
        // Run IDs are UUIDs (or legacy-…): safe in a header as they are.
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"run-{run_id}-{}.json\"", part.as_str())) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok((headers, Json(document)))
}

/// Starts a run: the inputs are checked against the agent's schema, the run is queued
/// (`202` with its ID; follow it at `Location` or on the event stream). An optional
/// `Idempotency-Key` makes a retry get the same run.
#[utoipa::path(post, path = "/agents/{agent_id}/runs", tag = "runs",
    params(("agent_id" = String, Path, description = super::agents::AGENT_ID),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key gets the same run")),
    request_body = CreateRun,
    responses((status = 202, body = RunCreated), (status = 404, body = ErrorBody),
        (status = 409, description = "the agent expired or deregistered, or the key was used for other inputs", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, description = "its schema could not be had", body = ErrorBody)))]
pub async fn create(
    State(runs): State<Runs>,
    AgentPath(agent_id): AgentPath,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<impl IntoResponse, HttpError> {
    let Json(body) = body?;
    let Value::Object(mut body) = body else {
        return Err(bad_request(r#"the body must be a JSON object: {"inputs": {...}}"#));
    };
    let inputs = match body.remove("inputs") {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(inputs)) => inputs,
        Some(_) => {
            return Err(HttpError(ApiError::validation(vec![FieldError::new(
                "inputs",
                "inputs must be a JSON object",
            )])))
        }
    };
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            Some(v.to_str().map_err(|_| bad_request("the Idempotency-Key header must be plain text"))?.to_owned())
        }
    };
    let rerun_of = match body.remove("rerun_of") {
        None | Some(Value::Null) => None,
        Some(Value::String(from)) => Some(from),
        Some(_) => {
            return Err(HttpError(ApiError::validation(vec![FieldError::new(
                "rerun_of",
                "rerun_of must be the ID of a run",
            )])))
        }
    };
    let created =
        runs.create_run(CreateRun { agent_id: agent_id.to_string(), inputs, idempotency_key, rerun_of }).await?;
    Ok(accepted(created))
}

fn accepted(created: RunCreated) -> impl IntoResponse {
    let location = format!("/api/v1/runs/{}", created.run_id);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    (StatusCode::ACCEPTED, headers, Json(created))
}

/// Runs, newest first, by cursor (`Link: rel="next"`); matches in `X-Total-Count`.
#[utoipa::path(get, path = "/runs", tag = "runs", params(RunQuery),
    responses((status = 200, body = Vec<RunView>), (status = 422, body = ErrorBody)))]
async fn list(
    State(runs): State<Runs>,
    query: Result<Query<RunQuery>, QueryRejection>,
) -> Result<impl IntoResponse, HttpError> {
    let Query(query) = query?;
    let page = runs.list_runs(query.clone()).await?;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    if let Some(cursor) = page.next_cursor {
        let next = RunQuery { cursor: Some(cursor), ..query };
        if let Ok(v) = HeaderValue::from_str(&format!("</api/v1/runs?{}>; rel=\"next\"", next.to_query_string())) {
            headers.insert(header::LINK, v);
        }
    }
    Ok((headers, Json(page.runs)))
}

#[utoipa::path(get, path = "/runs/{run_id}", tag = "runs", params(("run_id" = String, Path, description = RUN_ID)),
    responses((status = 200, body = RunView), (status = 404, body = ErrorBody)))]
async fn show(State(runs): State<Runs>, RunPath(run_id): RunPath) -> Result<Json<RunView>, HttpError> {
    Ok(Json(runs.get(&run_id).await?))
}

/// Cancels a queued or running run (the agent has no cancel call: it may still finish).
#[utoipa::path(post, path = "/runs/{run_id}/cancel", tag = "runs", params(("run_id" = String, Path, description = RUN_ID)),
    responses((status = 200, body = RunView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel(State(runs): State<Runs>, RunPath(run_id): RunPath) -> Result<Json<RunView>, HttpError> {
    Ok(Json(runs.cancel(&run_id).await?))
}

/// A new run with the same agent and inputs (refused when it had secrets: they are kept nowhere).
#[utoipa::path(post, path = "/runs/{run_id}/rerun", tag = "runs", params(("run_id" = String, Path, description = RUN_ID)),
    responses((status = 202, body = RunCreated), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rerun(State(runs): State<Runs>, RunPath(run_id): RunPath) -> Result<impl IntoResponse, HttpError> {
    Ok(accepted(runs.rerun(&run_id).await?))
}

#[utoipa::path(delete, path = "/runs/{run_id}", tag = "runs", params(("run_id" = String, Path, description = RUN_ID)),
    responses((status = 200, description = r#"`{"status": "deleted", "run_id"}`"#, body = Object), (status = 404, body = ErrorBody)))]
async fn remove(State(runs): State<Runs>, RunPath(run_id): RunPath) -> Result<Json<Value>, HttpError> {
    runs.delete(&run_id).await?;
    Ok(Json(serde_json::json!({ "status": "deleted", "run_id": run_id.as_str() })))
}
