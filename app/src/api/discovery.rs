use crate::error::ApiError;
use crate::model::{AddCandidates, Added, DiscoverRequest};
use leptos::prelude::*;
use server_fn::codec::{Json, StreamingText, TextStream};

/// Starts looking for agents (a scan, another registry): what is found arrives as lines
/// of JSON (`DiscoveryEvent`), as it is found. Dropping the stream stops it.
#[server(name = DiscoverCall, input = Json, output = StreamingText)]
pub async fn discover(request: DiscoverRequest) -> Result<TextStream<ApiError>, ApiError> {
    crate::services::call(|s| async move { s.discovery.discover(request) }).await
}

/// Registers the candidates a person chose (`source: discovered`).
#[server(name = AddCandidatesCall, input = Json)]
pub async fn add_candidates(request: AddCandidates) -> Result<Vec<Added>, ApiError> {
    crate::services::call(|s| async move { s.discovery.add_candidates(request).await }).await
}
