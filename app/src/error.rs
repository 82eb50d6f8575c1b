//! The one error shape every client of the dashboard sees: the SPA (through server
//! functions), the JSON API (wrapped as `{"error": …}`) and the CLI.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};
use std::fmt;

/// What kind of failure this is; the server maps each to one HTTP status.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input broke a rule; `fields` names which (422).
    Validation,
    /// No such agent, run or endpoint (404).
    NotFound,
    /// No valid credentials: sign in, or send a token (401).
    Unauthorized,
    /// Refused for where the request came from (another site's page, a Host name the
    /// dashboard does not serve), or beyond what the caller's token may do (403).
    Forbidden,
    /// The request is valid but the thing is in the wrong state for it, e.g. cancelling a
    /// finished run (409).
    Conflict,
    /// An agent the dashboard had to ask failed or could not be reached (502).
    AgentUnavailable,
    /// The agent's health check failed, so nothing was stored (502).
    HealthCheckFailed,
    /// The request itself was malformed: bad JSON, wrong content type (400).
    BadRequest,
    /// The endpoint exists but not with this HTTP method (405).
    MethodNotAllowed,
    /// The body is larger than the dashboard accepts (413).
    PayloadTooLarge,
    /// The dashboard could not be reached or answered garbage (client side only).
    Unavailable,
    /// A fault on our side; details are in the server log, not here (500).
    Internal,
}

/// A rule one input field broke, named so a form can show it beside the field.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), message: message.into() }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// For `health_check_failed`: the precise reason alone (e.g. "connection refused").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The lazy parts of the bundle (the execute panel, the Markdown renderer) are split
/// points declared `fallible`: a part that cannot be fetched is this error, said where the
/// part was wanted, and the next try fetches it afresh (a failed load is not kept).
/// Leptos 0.8's `#[lazy]` panics instead, and a panic ends the app (the release profile
/// aborts); its 0.9 has `#[lazy(fallible)]`, which this mirrors.
#[cfg(feature = "hydrate")]
impl From<leptos::wasm_split::SplitLoaderError> for ApiError {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        Self::part_missing()
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), fields: Vec::new(), reason: None }
    }

    /// A validation error carrying every field that failed; the message lists them.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let message = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
        Self { code: ErrorCode::Validation, message, fields, reason: None }
    }

    pub fn agent_not_found(agent_id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no agent with ID '{agent_id}' is registered"))
    }

    pub fn run_not_found(run_id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no run with ID '{run_id}'"))
    }

    /// A lazy part of the bundle that did not arrive (see the `From` below).
    pub fn part_missing() -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "this part of the page could not be fetched from the dashboard (the network failed); nothing was lost, try again",
        )
    }

    /// The HTTP status this error answers with (REST API and server functions alike).
    pub fn http_status(&self) -> u16 {
        match self.code {
            ErrorCode::Validation => 422,
            ErrorCode::NotFound => 404,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::Conflict => 409,
            ErrorCode::AgentUnavailable => 502,
            ErrorCode::HealthCheckFailed => 502,
            ErrorCode::BadRequest => 400,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }

    /// The message for one field, if this error names it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.field == name).map(|f| f.message.as_str())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// Transport-level failures (network down, server gone, undecodable answer).
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let message = match value {
            ServerFnErrorErr::Request(e) => format!("could not reach the dashboard server: {e}"),
            other => format!("the dashboard server answered unexpectedly: {other}"),
        };
        Self::new(ErrorCode::Unavailable, message)
    }

    /// A server function's own error, or the REST body (`{"error": …}`) that the
    /// dashboard's middleware answers before any server function runs: the guard's 403,
    /// access control's 401. Either way the page sees the real code.
    fn de(data: server_fn::Bytes) -> Self {
        #[derive(Deserialize)]
        struct Wrapped {
            error: ApiError,
        }
        let error = serde_json::from_slice::<ApiError>(&data)
            .or_else(|_| serde_json::from_slice::<Wrapped>(&data).map(|w| w.error))
            .unwrap_or_else(|e| Self::from_server_fn_error(ServerFnErrorErr::Deserialization(e.to_string())));
        // Every server function's error passes here: the one place where a page learns
        // that its sign-in ended, whichever call found out.
        #[cfg(feature = "hydrate")]
        if error.code == ErrorCode::Unauthorized {
            go_sign_in();
        }
        error
    }
}

/// Sends the browser to sign in, and back here afterwards (not from the sign-in page).
#[cfg(feature = "hydrate")]
pub fn go_sign_in() {
    let location = leptos::prelude::window().location();
    let path = location.pathname().unwrap_or_default();
    if path == "/sign-in" {
        return;
    }
    let here = format!("{path}{}", location.search().unwrap_or_default());
    let _ = location.set_href(&format!("/sign-in?next={}", crate::model::percent_encode(&here)));
}
