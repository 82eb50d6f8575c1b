//! The dashboard's JSON API as the command line calls it: one base URL, the token, and
//! every way a call can go wrong turned into a [`Failure`] once, here.

use super::sse::EventStream;
use super::Failure;
use crate::cli::Remote;
use app::error::{ApiError, ErrorCode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// How long a dashboard may take to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call may take. Registering an agent waits for its health check (3 s by
/// default, the dashboard's `--health-timeout`), so this is well above it.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// An event stream sends a `ping` every 15 s; silence past this is a dead connection.
const STREAM_SILENCE: Duration = Duration::from_secs(40);

#[derive(Clone)]
pub struct Dashboard {
    http: reqwest::Client,
    /// `http://host:port`, as people gave it (for messages).
    url: String,
    /// `{url}/api/v1`.
    api: String,
    token: Option<String>,
}

impl Dashboard {
    /// Reads the address and the token; nothing is sent yet.
    pub fn connect(remote: &Remote) -> Result<Dashboard, Failure> {
        let url = base_url(&remote.url)?;
        let token = token(remote.token_file.as_deref(), "CA_TOKEN")?;
        // https dashboards: reqwest is built without a default TLS provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(STREAM_SILENCE)
            .user_agent(concat!("configurable-agents-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Failed(format!("cannot set up HTTP: {e}")))?;
        Ok(Dashboard { http, api: format!("{url}/api/v1"), url, token })
    }

    /// `http://host:port`, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A request to `/api/v1{path}` (the path's IDs already encoded).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.api));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request and reads a JSON answer.
    pub async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, Failure> {
        let (answer, _) = self.call_with_headers(request).await?;
        Ok(answer)
    }

    /// As `call`, with the answer's headers (`X-Total-Count`, `Link`).
    pub async fn call_with_headers<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<(T, reqwest::header::HeaderMap), Failure> {
        let response = self.send(request.timeout(CALL_TIMEOUT)).await?;
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        let answer = serde_json::from_slice(&body)
            .map_err(|e| self.not_a_dashboard(&format!("its answer is not what the API gives ({e})")))?;
        Ok((answer, headers))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        self.call(self.request(Method::GET, path)).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, Failure> {
        self.call(self.request(Method::POST, path).json(body)).await
    }

    /// `POST` whose answer is read as it streams (no deadline on the whole: the read
    /// timeout still ends a silent one).
    pub async fn post_streaming(&self, path: &str, body: &impl Serialize) -> Result<Response, Failure> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// The live event stream, `only` runs or agents, resuming after `last_id`.
    pub async fn events(&self, only: &str, last_id: Option<&str>) -> Result<EventStream, Failure> {
        let mut request = self.request(Method::GET, &format!("/events?only={only}"));
        if let Some(id) = last_id {
            request = request.header("last-event-id", id);
        }
        let response = self.send(request).await?;
        Ok(EventStream::new(response))
    }

    /// Sends, and turns every failure into a `Failure`: no answer (unreachable), an
    /// answer that is not the dashboard's, or the API's own error.
    async fn send(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        #[derive(serde::Deserialize)]
        struct Body {
            error: ApiError,
        }
        match serde_json::from_slice::<Body>(&body) {
            Ok(Body { error }) => Err(Failure::Api(error)),
            // A 404 without our error body: something else listens there.
            Err(_) if status == StatusCode::NOT_FOUND || !status.is_server_error() => {
                Err(self.not_a_dashboard(&format!("it answered HTTP {status} without the API's error")))
            }
            Err(_) => Err(Failure::Api(ApiError::new(
                ErrorCode::Unavailable,
                format!("the dashboard at {} answered HTTP {status}", self.url),
            ))),
        }
    }

    pub(super) fn unreachable(&self, e: &reqwest::Error) -> Failure {
        Failure::Unreachable { url: self.url.clone(), reason: reason(e) }
    }

    fn not_a_dashboard(&self, why: &str) -> Failure {
        Failure::Unreachable {
            url: self.url.clone(),
            reason: format!("no configurable-agents dashboard answers there: {why}"),
        }
    }
}

/// `http://host:port` from what people type: a trailing `/`, or the registry URL agents
/// are given (`…/api/v1`), are taken off.
fn base_url(raw: &str) -> Result<String, Failure> {
    let trimmed = raw.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api/v1").unwrap_or(trimmed);
    // `localhost:8001` would parse as a URL of scheme `localhost`.
    let owned = if trimmed.contains("://") { trimmed.to_owned() } else { format!("http://{trimmed}") };
    let trimmed = owned.as_str();
    let parsed = url::Url::parse(trimmed).map_err(|e| Failure::Usage(format!("--url {raw:?} is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(Failure::Usage(format!("--url {raw:?} must be http:// or https:// and name a host")));
    }
    Ok(trimmed.to_owned())
}

/// A token from `--…-token-file`, else from the environment variable `env`.
pub fn token(file: Option<&std::path::Path>, env: &str) -> Result<Option<String>, Failure> {
    match file {
        Some(path) => read_token(path).map(Some),
        None => Ok(std::env::var(env).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())),
    }
}

fn read_token(path: &std::path::Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read the token file {}: {e}", path.display())))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(Failure::Usage(format!("the token file {} is empty", path.display())));
    }
    Ok(token)
}

/// "connection refused", "timed out": the innermost cause, which is the one people act on.
fn reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".into();
    }
    let mut innermost: &dyn std::error::Error = e;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let text = innermost.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("connection refused") {
        "connection refused (is it running? `configurable-agents ui` starts it; --url or CA_URL point elsewhere)".into()
    } else {
        text
    }
}

/// `path?k=v&…`, the values encoded.
pub fn with_query(path: &str, query: &[(&str, String)]) -> String {
    match serde_urlencoded::to_string(query) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

/// One path segment, percent-encoded (agent IDs may hold spaces and accents).
pub fn segment(raw: &str) -> String {
    app::model::percent_encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_like_people_write_them() {
        assert_eq!(base_url("http://127.0.0.1:8001/").unwrap(), "http://127.0.0.1:8001");
        assert_eq!(base_url("http://127.0.0.1:8001/api/v1").unwrap(), "http://127.0.0.1:8001");
        assert_eq!(base_url("https://dash.example/prefix").unwrap(), "https://dash.example/prefix");
        assert_eq!(base_url("localhost:8001").unwrap(), "http://localhost:8001");
        assert!(matches!(base_url("http://exa mple"), Err(Failure::Usage(_))));
        assert!(matches!(base_url("ftp://host"), Err(Failure::Usage(_))));
    }
}
