//! HTTP adapters: the JSON API under /api/v1, the event stream, /metrics, and the request
//! guard in front of every route. Handlers parse, call one service method and map the
//! result; the rules are in the services (`registry`, `runs`).

pub mod access;
mod agents;
pub mod client;
mod discovery;
mod error;
mod events;
pub mod guard;
mod ids;
pub mod openapi;
mod registry;
mod runs;
mod session;
mod status;

pub use error::HttpError;

use crate::metrics::Metrics;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The JSON API under `/api/v1`, `/metrics`, and the API's document and docs page.
pub fn api_router(state: AppState) -> Router {
    let (v1, v1_doc) = v1_routes().split_for_parts();
    let (root, root_doc) = root_routes().split_for_parts();
    Router::new()
        .nest("/api/v1", v1.fallback(error::unknown_endpoint).method_not_allowed_fallback(error::method_not_allowed))
        .merge(root)
        .route("/sign-out", axum::routing::post(session::sign_out))
        .merge(api_docs(document(v1_doc, root_doc)))
        .with_state(state)
}

/// The API docs page (Swagger UI, its files compiled in) with a policy of its own: its
/// scripts are files of this origin, but it styles elements inline.
fn api_docs(document: utoipa::openapi::OpenApi) -> Router<AppState> {
    use axum::http::{header, HeaderValue};
    let policy = HeaderValue::from_static(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    Router::from(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", document))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, policy))
        .layer(compression())
}

/// Every route under `/api/v1`, each added with its documentation (`routes!`).
fn v1_routes() -> OpenApiRouter<AppState> {
    agents::router()
        .merge(registry::router())
        .merge(runs::router())
        .merge(session::router())
        .merge(discovery::router())
        .routes(routes!(status::show))
        .layer(compression())
        // The event stream is never compressed (`compressible`), and around it the layer
        // cost every open stream 5.8 KB: its body type holds each encoder's state inline,
        // a Brotli encoder's among them (benches/streams.rs).
        .routes(routes!(events::stream))
}

fn root_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events::metrics)).layer(compression())
}

/// Compression for every answer but the event stream's: only bodies over 1 KiB (the old
/// agents' HTTP library asks for gzip, and gzipping a 60-byte heartbeat answer cost about
/// as much as the rest of the request, ~260 vs ~140 µs of CPU a heartbeat, fleet bench
/// scenario 5, to save nothing). Inside the guard and access control: their refusals are
/// short.
pub fn compression() -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    tower_http::compression::CompressionLayer::new().compress_when(compressible())
}

fn document(v1: utoipa::openapi::OpenApi, root: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut document = openapi::ApiDoc::openapi().nest("/api/v1", v1);
    document.merge(root);
    openapi::with_access_answers(&mut document);
    document
}

/// The API's document, as served at `/api/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    document(v1_routes().into_openapi(), root_routes().into_openapi())
}

/// What the dashboard keeps of each connection: where it came from (the client, unless
/// it is a trusted proxy: `client`) and where it arrived (off loopback, the
/// guard answers to that address literal: `0.0.0.0` has no single address). Set on each
/// request by `startup::serve::serve_http1`.
#[derive(Clone, Copy, Debug)]
pub struct Connection {
    pub peer: std::net::SocketAddr,
    pub local: std::net::SocketAddr,
}

/// Counts every answered request by route (the pattern, not the path: one series per
/// route however many agents and runs there are) and status.
pub async fn count_requests(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        // Pages, server functions and static files are matched inside Leptos' routes.
        None => page_route(request.uri().path()).to_owned(),
    };
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    metrics.record_request(&method, &route, response.status().as_u16());
    response
}

/// Which responses are compressed: tower-http's defaults (no images, gRPC or event
/// streams), and only bodies over 1 KiB, where gzip saves a packet or more. Nor answers
/// streamed as they happen (a discovery's lines, through the API or a server function):
/// the compressor would hold them until its buffer fills.
pub fn compressible() -> impl tower_http::compression::Predicate {
    use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
    SizeAbove::new(1024)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::const_new("application/x-ndjson"))
        .and(NotForContentType::const_new("application/octet-stream"))
}

fn page_route(path: &str) -> &'static str {
    match path {
        "/" => "/",
        "/orchestrator" => "/orchestrator",
        "/workflows" => "/workflows",
        _ if path.starts_with("/api/v1/") => "/api/v1/{unknown}",
        _ if path.starts_with("/api/") => "/api/{server_fn}",
        _ if path.starts_with("/pkg/") => "/pkg/{file}",
        _ if path.starts_with("/workflows/") => "/workflows/{run_id}",
        _ if path.starts_with("/agents/") => "/agents/{agent_id}",
        _ => "other",
    }
}
