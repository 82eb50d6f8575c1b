use crate::error::ApiError;
use crate::model::{CreateRun, RunCreated, RunPage, RunQuery, RunView};
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
