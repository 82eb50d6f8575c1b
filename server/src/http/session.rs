//! Signing in and out, and who the caller is.
//!
//! `POST /api/v1/session` takes a token (the sign-in page's form, or JSON) and answers
//! with the session cookie: `HttpOnly` (no script reads it), `SameSite=Strict` (no other
//! site's page sends it), `Secure` when the page came over https (as a trusted proxy says), expiring with the
//! session. Failed attempts are counted per client address and refused for a while past
//! `access::MAX_FAILED_SIGN_INS`. `POST /sign-out` ends the session.

use super::access::{session_cookie, SESSION_COOKIE};
use super::client::Client;
use super::error::HttpError;
use super::openapi::ErrorBody;
use crate::access::{AccessControl, Principal, SignIn};
use crate::state::AppState;
use app::error::{ApiError, ErrorCode};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, sign_in))
}

/// Who the credentials are.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// False when the dashboard has no access control (loopback, no admin token).
    pub access_control: bool,
    /// The token's name, when signed in or sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Who the request's credentials are (a page asks this when its event stream fails: a
/// browser's EventSource does not tell a 401 from a network error).
#[utoipa::path(get, path = "/session", tag = "access",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
async fn show(State(access): State<AccessControl>, principal: Principal) -> Json<SessionView> {
    let (token, scope) = match &principal {
        Principal::Token(token) => (Some(token.name.clone()), Some(token.scope.as_str().to_owned())),
        _ => (None, None),
    };
    Json(SessionView { access_control: access.is_on(), token, scope })
}

/// A sign-in: the form's fields, or the same as JSON.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignInForm {
    /// An admin token.
    token: String,
    /// Where the page goes after signing in (a path on this dashboard).
    #[serde(default)]
    next: Option<String>,
}

/// Signs in with an admin token: sets the session cookie. From the sign-in page's form
/// the answer is a 303 to `next` (or back to the page, saying why); as JSON, 204 or the
/// error.
#[utoipa::path(post, path = "/session", tag = "access",
    request_body(content = SignInForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204, description = "signed in: the cookie is set"), (status = 303, description = "from the form: to `next`"),
        (status = 401, body = ErrorBody), (status = 429, description = "too many failed sign-ins from this address", body = ErrorBody)))]
async fn sign_in(
    State(access): State<AccessControl>,
    Client { ip: peer, https }: Client,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let form: SignInForm = match if json {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    } else {
        serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
    } {
        Ok(form) => form,
        Err(e) => {
            return super::error::bad_request(format!("send the token as a form field or JSON: {e}")).into_response()
        }
    };
    let next = local_path(form.next.as_deref());
    let outcome = match access.sign_in(form.token.trim(), peer).await {
        Ok(outcome) => outcome,
        Err(e) => return HttpError::from(crate::error::ServiceError::from(e)).into_response(),
    };
    match outcome {
        SignIn::Signed { cookie, .. } => {
            let max_age = access.session_lifetime().as_secs();
            let secure = if https { "; Secure" } else { "" };
            let set =
                format!("{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
            let mut response =
                if json { StatusCode::NO_CONTENT.into_response() } else { Redirect::to(&next).into_response() };
            if let Ok(value) = HeaderValue::from_str(&set) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        SignIn::Refused => {
            tracing::warn!(%peer, "sign-in refused: not an admin token");
            if json {
                return HttpError(ApiError::new(
                    ErrorCode::Unauthorized,
                    "That is not an admin token of this dashboard.",
                ))
                .into_response();
            }
            Redirect::to(&format!("/sign-in?failed=token&next={}", app::model::percent_encode(&next))).into_response()
        }
        SignIn::TooMany { retry_after } => {
            tracing::warn!(%peer, "sign-in refused: too many failed attempts from this address");
            let seconds = retry_after.as_secs().max(1);
            let mut response = if json {
                let message = format!("Too many failed sign-ins from {peer}: try again in {seconds} s.");
                let mut r = HttpError(ApiError::new(ErrorCode::BadRequest, message)).into_response();
                *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                r
            } else {
                Redirect::to(&format!("/sign-in?failed=limit&next={}", app::model::percent_encode(&next)))
                    .into_response()
            };
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

/// `POST /sign-out` (the pages' button): ends the session and clears the cookie.
pub async fn sign_out(State(access): State<AccessControl>, headers: HeaderMap) -> Response {
    if let Some(cookie) = session_cookie(&headers) {
        if let Err(e) = access.sign_out(&cookie).await {
            return HttpError::from(crate::error::ServiceError::from(e)).into_response();
        }
    }
    let mut response = Redirect::to("/sign-in?signed_out=1").into_response();
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `next` when it is a path on this dashboard; anything else (another site, `//host`,
/// `/\host`) becomes the orchestrator page.
pub fn local_path(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && !path.starts_with("/sign-in") =>
        {
            path.to_owned()
        }
        _ => "/orchestrator".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_gone_back_to() {
        assert_eq!(local_path(Some("/agents/a?period=7d")), "/agents/a?period=7d");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "evil", "/sign-in?next=/x", "/a\nb"] {
            assert_eq!(local_path(Some(bad)), "/orchestrator", "{bad:?}");
        }
        assert_eq!(local_path(None), "/orchestrator");
    }
}
