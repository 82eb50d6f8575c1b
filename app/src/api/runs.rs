use crate::error::ApiError;
use crate::model::json_preview::{PreviewPage, RunPart};
use crate::model::{CreateRun, RunCreated, RunDetail, RunPage, RunQuery, RunView};
use leptos::prelude::*;
use server_fn::codec::Json;

// Named apart: the default name would be the request type's.
#[server(name = CreateRunCall, input = Json)]
pub async fn create_run(request: CreateRun) -> Result<RunCreated, ApiError> {
    crate::services::call(|s| async move { s.runs.create_run(request).await }).await
}

// Named apart: the default name would be the request type's.
#[server(name = ListRunsCall, input = Json)]
pub async fn list_runs(query: RunQuery) -> Result<RunPage, ApiError> {
    crate::services::call(|s| async move { s.runs.list_runs(query).await }).await
}

#[server]
pub async fn get_run(run_id: String) -> Result<RunView, ApiError> {
    crate::services::call(|s| async move { s.runs.get_run(&run_id).await }).await
}

#[server]
pub async fn cancel_run(run_id: String) -> Result<RunView, ApiError> {
    crate::services::call(|s| async move { s.runs.cancel_run(&run_id).await }).await
}

#[server]
pub async fn rerun(run_id: String) -> Result<RunCreated, ApiError> {
    crate::services::call(|s| async move { s.runs.rerun(&run_id).await }).await
}

#[server]
pub async fn delete_run(run_id: String) -> Result<(), ApiError> {
    crate::services::call(|s| async move { s.runs.delete_run(&run_id).await }).await
}

#[server]
pub async fn run_schema(run_id: String) -> Result<Option<crate::schema::InputSchema>, ApiError> {
    crate::services::call(|s| async move { s.runs.run_schema(&run_id).await }).await
}

/// The run page's view: the run and bounded previews of its documents.
// Named apart: the default name would be the answer type's.
#[server(name = RunDetailCall)]
pub async fn run_detail(run_id: String) -> Result<RunDetail, ApiError> {
    crate::services::call(|s| async move { s.runs.run_detail(&run_id).await }).await
}

/// One more page of a container in a run's inputs or outputs (the tree's "show more").
#[server]
pub async fn run_json_page(
    run_id: String,
    part: RunPart,
    pointer: String,
    offset: usize,
) -> Result<PreviewPage, ApiError> {
    crate::services::call(|s| async move { s.runs.run_json_page(&run_id, part, &pointer, offset).await }).await
}

/// A string of a run's inputs or outputs, to read as text (its first
/// `json_preview::READ_CHARS` characters).
#[server]
pub async fn run_text(
    run_id: String,
    part: RunPart,
    pointer: String,
) -> Result<crate::model::json_preview::TextPage, ApiError> {
    crate::services::call(|s| async move { s.runs.run_text(&run_id, part, &pointer).await }).await
}

/// A whole document as JSON text (Copy JSON), pretty-printed.
#[server]
pub async fn run_document_text(run_id: String, part: RunPart) -> Result<String, ApiError> {
    let document = crate::services::call(|s| async move { s.runs.run_document(&run_id, part).await }).await?;
    Ok(document.map(|d| serde_json::to_string_pretty(&d).unwrap_or_default()).unwrap_or_default())
}
