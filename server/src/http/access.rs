//! Access control on every route (inside the guard): who a request is from, and whether
//! that may do this. Pages, server functions, the JSON API, the event stream and
//! `/metrics` all pass here; only signing in, the site's files and `GET /api/v1/health`
//! are open to anyone.
//!
//! Credentials, first found wins: `Authorization: Bearer TOKEN`; the token in the path
//! (`/api/v1/t/TOKEN/…`, for old agents that cannot send headers: `token_path` takes it out
//! before routing, so nothing after it, logs included, ever sees it); the session cookie.

use super::error::HttpError;
use crate::access::{AccessControl, Principal, Scope};
use crate::metrics::Metrics;
use app::error::{ApiError, ErrorCode};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::path::PathBuf;
use std::sync::Arc;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ca_session";

/// What the access middleware needs.
pub struct AccessState {
    pub access: AccessControl,
    /// The site's files (`/pkg/…`, `/favicon.svg`) are served to anyone.
    pub site_root: PathBuf,
    pub metrics: Metrics,
}

/// The token an agent put in its registry URL, taken out of the path before routing.
#[derive(Clone)]
pub struct PathToken(pub String);

/// What a route is, for access: who may call it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// Anyone: signing in and out, the old registry's `GET /health`.
    Open,
    /// What an agent token may call: register, heartbeat, deregister.
    Registry { heartbeat: bool },
    /// `GET /metrics`: admin or metrics tokens.
    Metrics,
    /// `GET /api/v1/session`: any valid credentials.
    Session,
    /// Everything else: admins only.
    Admin,
}

impl Route {
    fn of(method: &Method, pattern: Option<&str>, path: &str) -> Self {
        match (method.as_str(), pattern.unwrap_or(path)) {
            ("GET" | "HEAD", "/sign-in") | ("POST", "/sign-out" | "/api/v1/session") => Route::Open,
            ("GET" | "HEAD", "/api/v1/health") => Route::Open,
            ("POST", "/api/v1/agents/register") | ("DELETE", "/api/v1/agents/{agent_id}") => {
                Route::Registry { heartbeat: false }
            }
            ("POST", "/api/v1/agents/{agent_id}/heartbeat") => Route::Registry { heartbeat: true },
            ("GET" | "HEAD", "/metrics") => Route::Metrics,
            ("GET" | "HEAD", "/api/v1/session") => Route::Session,
            _ => Route::Admin,
        }
    }

    /// Whether a token of `scope` may call it.
    fn allows(self, scope: Scope) -> bool {
        matches!(
            (self, scope),
            (_, Scope::Admin)
                | (Route::Open | Route::Session, _)
                | (Route::Metrics, Scope::Metrics)
                | (Route::Registry { .. }, Scope::Agent)
        )
    }
}

/// Outermost, before routing: `/api/v1/t/TOKEN/rest` becomes `/api/v1/rest` with the token
/// kept aside. Only the registry's routes are served there; the token is never logged.
pub async fn token_path(mut request: Request, next: Next) -> Response {
    let Some(rest) = request.uri().path().strip_prefix("/api/v1/t/") else { return next.run(request).await };
    let (token, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let path = format!("/api/v1/{tail}");
    if !registry_shaped(request.method(), &path) {
        return HttpError(ApiError::new(
            ErrorCode::NotFound,
            "only the registry's routes (agents/register, agents/{id}/heartbeat, DELETE agents/{id}, health) are \
             served under /api/v1/t/TOKEN/",
        ))
        .into_response();
    }
    let token = PathToken(token.to_owned());
    let rewritten = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    match rewritten.parse::<Uri>() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return super::error::bad_request("the path is not a valid URI").into_response(),
    }
    request.extensions_mut().insert(token);
    next.run(request).await
}

/// One of the registry's routes, by its path alone (before routing there is no pattern
/// to match): register, heartbeat, deregister, the old registry's health.
fn registry_shaped(method: &Method, path: &str) -> bool {
    if path == "/api/v1/health" {
        return matches!(*method, Method::GET | Method::HEAD);
    }
    let Some(rest) = path.strip_prefix("/api/v1/agents/") else { return false };
    match *method {
        Method::POST if rest == "register" => true,
        Method::POST => rest.strip_suffix("/heartbeat").is_some_and(|id| !id.is_empty() && !id.contains('/')),
        Method::DELETE => !rest.is_empty() && !rest.contains('/'),
        _ => false,
    }
}

pub async fn check(State(state): State<Arc<AccessState>>, mut request: Request, next: Next) -> Response {
    if !state.access.is_on() {
        request.extensions_mut().insert(Principal::Open);
        request.extensions_mut().insert(app::model::Viewer::default());
        return next.run(request).await;
    }
    let route = Route::of(
        request.method(),
        request.extensions().get::<MatchedPath>().map(MatchedPath::as_str),
        request.uri().path(),
    );
    // Some(Ok(token)), or Some(Err(why)) for credentials that are not valid, or None.
    let found: Result<Option<Result<Arc<crate::access::Token>, Invalid>>, sea_orm::DbErr> = match credentials(&request)
    {
        None => Ok(None),
        Some(Credential::Bearer(secret)) => state.access.token(&secret).await.map(|t| Some(t.ok_or(Invalid::Token))),
        Some(Credential::Cookie(cookie)) => {
            state.access.session(&cookie).await.map(|s| Some(s.map(|(token, _)| token).ok_or(Invalid::Session)))
        }
    };
    let found = match found {
        Ok(found) => found,
        Err(e) => return HttpError::from(crate::error::ServiceError::from(e)).into_response(),
    };
    let principal = match found {
        Some(Ok(token)) => {
            if !route.allows(token.scope) {
                return HttpError(ApiError::new(
                    ErrorCode::Forbidden,
                    format!("this token ({}, scope {}) {}", token.name, token.scope.as_str(), scope_text(token.scope)),
                ))
                .into_response();
            }
            Principal::Token(token)
        }
        refused => {
            let open = route == Route::Open
                || (matches!(route, Route::Registry { .. }) && state.access.open_registration())
                || site_file(&state.site_root, request.method(), request.uri().path());
            if !open {
                if route == (Route::Registry { heartbeat: true }) {
                    state.metrics.record_tokenless_heartbeat();
                    if let Some(id) = heartbeat_id(request.uri().path()) {
                        state.access.note_tokenless(id);
                    }
                }
                return unauthorized(&request, refused.and_then(Result::err));
            }
            Principal::Unauthenticated
        }
    };
    let token = match &principal {
        Principal::Token(token) => Some(token.name.clone()),
        _ => None,
    };
    request.extensions_mut().insert(app::model::Viewer { access_control: true, token });
    request.extensions_mut().insert(principal);
    next.run(request).await
}

fn scope_text(scope: Scope) -> &'static str {
    match scope {
        Scope::Admin => "may do everything",
        Scope::Metrics => "may read /metrics only",
        Scope::Agent => "may only register, heartbeat and deregister its own agents",
    }
}

enum Credential {
    Bearer(String),
    Cookie(String),
}

/// Why credentials that were given are not valid.
#[derive(Clone, Copy, Debug)]
enum Invalid {
    Token,
    Session,
}

fn credentials(request: &Request) -> Option<Credential> {
    if let Some(secret) = bearer(request.headers()) {
        return Some(Credential::Bearer(secret));
    }
    if let Some(PathToken(secret)) = request.extensions().get::<PathToken>() {
        return Some(Credential::Bearer(secret.clone()));
    }
    session_cookie(request.headers()).map(Credential::Cookie)
}

/// An `Authorization: Bearer` token, if the request carries one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (kind, secret) = value.split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer").then(|| secret.trim().to_owned())
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE && !value.is_empty()).then(|| value.to_owned())
    })
}

/// A page is sent to sign in (and back after it); anything else gets a 401.
fn unauthorized(request: &Request, invalid: Option<Invalid>) -> Response {
    let path = request.uri().path();
    // The API docs page is a page too (for a browser); the rest of /api is not.
    let page = matches!(*request.method(), Method::GET | Method::HEAD)
        && (path.starts_with("/api/docs") || !path.starts_with("/api/"))
        && path != "/metrics"
        && !path.starts_with("/pkg/");
    if page {
        let next = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        return Redirect::to(&format!("/sign-in?next={}", app::model::percent_encode(next))).into_response();
    }
    let message = match invalid {
        Some(Invalid::Token) => "The token is not valid: unknown, revoked or mistyped.",
        Some(Invalid::Session) => "Your session has ended (signed out, expired or revoked): sign in again.",
        None => {
            "This dashboard requires a token: send Authorization: Bearer TOKEN, or sign in (agents that cannot send \
             headers register at /api/v1/t/TOKEN/)."
        }
    };
    let mut response = HttpError(ApiError::new(ErrorCode::Unauthorized, message)).into_response();
    let challenge = match invalid {
        Some(_) => r#"Bearer realm="configurable-agents", error="invalid_token""#,
        None => r#"Bearer realm="configurable-agents""#,
    };
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    debug_assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    response
}

/// Whether the path names a file that exists under the site root (the rendered 404 page
/// is not one).
fn site_file(root: &std::path::Path, method: &Method, path: &str) -> bool {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return false;
    }
    let relative = path.trim_start_matches('/');
    if relative.is_empty() || relative.split('/').any(|part| part.is_empty() || part == ".." || part.starts_with('.')) {
        return false;
    }
    root.join(relative).is_file()
}

fn heartbeat_id(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/agents/")?.strip_suffix("/heartbeat").filter(|id| !id.is_empty() && !id.contains('/'))
}

/// The request's principal, as the middleware found it.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| {
            HttpError(ApiError::new(
                ErrorCode::Internal,
                "the request did not pass access control (a bug: it is logged)",
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_open_to_whom_they_should_be() {
        let route = |m: Method, p: &str| Route::of(&m, Some(p), p);
        assert_eq!(route(Method::GET, "/sign-in"), Route::Open);
        assert_eq!(route(Method::POST, "/api/v1/session"), Route::Open, "signing in");
        assert_eq!(route(Method::GET, "/api/v1/session"), Route::Session);
        assert_eq!(route(Method::GET, "/api/v1/health"), Route::Open);
        assert_eq!(route(Method::POST, "/api/v1/agents/register"), Route::Registry { heartbeat: false });
        assert_eq!(route(Method::POST, "/api/v1/agents/{agent_id}/heartbeat"), Route::Registry { heartbeat: true });
        assert_eq!(route(Method::DELETE, "/api/v1/agents/{agent_id}"), Route::Registry { heartbeat: false });
        assert_eq!(route(Method::GET, "/api/v1/agents/{agent_id}"), Route::Admin, "reading an agent is not registry");
        assert_eq!(route(Method::POST, "/api/v1/agents"), Route::Admin);
        assert_eq!(route(Method::GET, "/metrics"), Route::Metrics);
        assert_eq!(route(Method::GET, "/orchestrator"), Route::Admin);
        assert_eq!(route(Method::POST, "/api/list_agents"), Route::Admin, "server functions");
        for scope in [Scope::Metrics, Scope::Agent] {
            assert!(!Route::Admin.allows(scope));
            assert!(Route::Session.allows(scope));
        }
        assert!(Route::Metrics.allows(Scope::Metrics) && !Route::Metrics.allows(Scope::Agent));
        assert!(Route::Registry { heartbeat: true }.allows(Scope::Agent));
        assert!(!Route::Registry { heartbeat: true }.allows(Scope::Metrics));
    }

    #[test]
    fn registry_paths_are_known_before_routing() {
        assert!(registry_shaped(&Method::POST, "/api/v1/agents/a b/heartbeat"));
        assert!(registry_shaped(&Method::DELETE, "/api/v1/agents/a"));
        assert!(!registry_shaped(&Method::GET, "/api/v1/agents/a"));
        assert!(!registry_shaped(&Method::POST, "/api/v1/agents/a/runs"));
        assert!(!registry_shaped(&Method::DELETE, "/api/v1/agents/a/b"));
        assert!(registry_shaped(&Method::POST, "/api/v1/agents/register"));
        assert!(registry_shaped(&Method::GET, "/api/v1/health"));
        assert!(!registry_shaped(&Method::POST, "/api/v1/session"), "signing in is not the registry's");
        assert_eq!(heartbeat_id("/api/v1/agents/x/heartbeat"), Some("x"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; ca_session=abc; other=1"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("ca_session_x=abc"));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn only_files_inside_the_site_root_are_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/app.wasm"), b"x").unwrap();
        assert!(site_file(dir.path(), &Method::GET, "/pkg/app.wasm"));
        assert!(!site_file(dir.path(), &Method::POST, "/pkg/app.wasm"));
        assert!(!site_file(dir.path(), &Method::GET, "/pkg"), "a folder is no file");
        assert!(!site_file(dir.path(), &Method::GET, "/pkg/../pkg/app.wasm"));
        assert!(!site_file(dir.path(), &Method::GET, "/orchestrator"));
    }
}
