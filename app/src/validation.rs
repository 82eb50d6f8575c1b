//! Input rules for agents, compiled into the browser and the server alike so the form and
//! the API judge an input with the same code ("parse, don't validate": a parsed value
//! carries its guarantee).

use crate::error::FieldError;
use crate::model::RegisterAgent;
use serde_json::{Map, Value};

pub const MAX_ID_LEN: usize = 255;
pub const MAX_NAME_LEN: usize = 200;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// An agent ID: what worked with the old registry, so that no agent in the field is lost
/// to a stricter rule: 1–255 characters kept exactly as sent (no trimming: an old agent
/// heartbeats with the ID it registered), no control characters, none of `/ ? # %`
/// (they would split or end a path, or half-encode it), and not `.`, `..` or `register`
/// (path segments of the API). Anything else, spaces and accents included, is fine:
/// pages, links and the API encode IDs wherever they go into a URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentId(String);

impl AgentId {
    pub fn parse(id: &str) -> Result<Self, String> {
        if id.is_empty() {
            return Err("Agent ID is required".into());
        }
        if id.chars().count() > MAX_ID_LEN {
            return Err(format!("Agent ID must be at most {MAX_ID_LEN} characters"));
        }
        if id.chars().any(char::is_control) {
            return Err("Agent ID cannot contain control characters".into());
        }
        if let Some(bad) = id.chars().find(|c| matches!(c, '/' | '?' | '#' | '%')) {
            return Err(format!("Agent ID cannot contain / ? # or % (found {bad:?})"));
        }
        if matches!(id, "." | ".." | "register") {
            return Err(format!("Agent ID cannot be \"{id}\" (reserved)"));
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for AgentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run's ID: a UUID (imported runs keep the old tool's): 1–64 of `A-Z a-z 0-9 - _`.
/// Anything else names no run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let plausible = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if plausible {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!("no run has the ID {raw:?}"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name: trimmed, 1–200 characters, no control characters.
pub fn parse_agent_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Agent name is required".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(format!("Agent name must be at most {MAX_NAME_LEN} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("Agent name cannot contain control characters".into());
    }
    Ok(name.to_owned())
}

/// An agent's base URL, kept whole (scheme, host, port, path prefix); the agent's
/// endpoints are this plus `/health`, `/schema`, `/run`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentUrl(String);

impl AgentUrl {
    /// Checks the URL by hand rather than with the `url` crate: that crate's parser is
    /// ~70 KB of the compressed browser bundle. The server also runs the result through
    /// `url::Url` (`server::registry`), which must accept anything this accepts.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("Agent URL is required".into());
        }
        if raw.len() > MAX_URL_LEN {
            return Err(format!("Agent URL must be at most {MAX_URL_LEN} characters"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("Agent URL cannot contain spaces or control characters".into());
        }
        let (scheme, rest) = match raw.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => {
                return Err(match raw.split_once(':') {
                    // `localhost:8002` is a host and port without a scheme, not a scheme.
                    Some((scheme, after)) if is_scheme(scheme) && !after.starts_with(|c: char| c.is_ascii_digit()) => {
                        format!("Agent URL must use http or https, not {scheme}:")
                    }
                    _ => "Agent URL must start with http:// or https://".into(),
                });
            }
        };
        if !is_scheme(&scheme) {
            return Err("Agent URL must start with http:// or https://".into());
        }
        if scheme != "http" && scheme != "https" {
            return Err(format!("Agent URL must use http or https, not {scheme}:"));
        }
        if rest.contains('?') || rest.contains('#') {
            return Err("Agent URL must be a base URL without ?query or #fragment".into());
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err("Agent URL must not contain a user name or password".into());
        }
        let (host, port) = split_host_port(authority)?;
        if let Some(port) = port {
            match port.parse::<u16>() {
                Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
                _ => return Err(format!("Agent URL has an invalid port {port:?} (1–65535)")),
            }
        }
        let host = host.to_lowercase();
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        // Without a trailing slash, so `{base}/health` is well formed.
        let path = path.trim_end_matches('/');
        Ok(Self(format!("{scheme}://{host}{port}{path}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{base}/{endpoint}` — the path prefix kept.
    pub fn endpoint(&self, endpoint: &str) -> String {
        format!("{}/{}", self.0, endpoint.trim_start_matches('/'))
    }
}

fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `host[:port]` or `[v6]:port`; the host must be a name, an IPv4 or a bracketed IPv6.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("Agent URL has an unclosed [IPv6] address")?;
        if rest[..end].parse::<std::net::Ipv6Addr>().is_err() {
            return Err("Agent URL has an invalid IPv6 address".into());
        }
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("Agent URL has an invalid host".into()),
        };
        (&authority[..end + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let name = host.trim_start_matches('[');
    if name.is_empty() {
        return Err("Agent URL must name a host".into());
    }
    if !host.starts_with('[') {
        let ok = host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        });
        if !ok {
            return Err(format!("Agent URL has an invalid host name {host:?}"));
        }
        // As URL parsers do: a host whose last label is numeric must be an IPv4 address.
        let last = host.rsplit('.').next().unwrap_or_default();
        if last.bytes().all(|b| b.is_ascii_digit()) && host.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(format!("Agent URL has an invalid IPv4 address {host:?}"));
        }
    }
    Ok((host, port))
}

/// Metadata is always stored as a JSON object. Text that holds a JSON object is parsed
/// (old agents send metadata as a JSON string); other text is kept as a description.
pub fn parse_metadata(raw: &Value) -> Result<Map<String, Value>, String> {
    let map = match raw {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        Value::String(text) => parse_metadata_text(text)?,
        _ => return Err("Metadata must be a JSON object or text".into()),
    };
    let size = serde_json::to_string(&map).map(|s| s.len()).unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(format!("Metadata must be at most {} KiB (got {} bytes)", MAX_METADATA_BYTES / 1024, size));
    }
    Ok(map)
}

fn parse_metadata_text(text: &str) -> Result<Map<String, Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Map::new());
    }
    if text.starts_with('{') && text.ends_with('}') {
        // Meant as a JSON object: storing a typo as a description would hide the mistake.
        // Text that merely starts with a brace ("{beta} summarizer") is a description.
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("Metadata must be a JSON object".into()),
            Err(e) => Err(format!("Metadata looks like JSON but does not parse: {e}")),
        };
    }
    let mut map = Map::new();
    map.insert("description".into(), Value::String(text.to_owned()));
    Ok(map)
}

/// A registration whose every field passed its rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidRegistration {
    pub agent_id: AgentId,
    pub agent_name: String,
    pub agent_url: AgentUrl,
    pub metadata: Map<String, Value>,
    pub force: bool,
    /// Replace another agent that has this ID (a different URL or name).
    pub replace: bool,
    /// Milliseconds between health checks, when the agent asks for its own interval.
    pub health_interval_ms: Option<u64>,
}

/// The shortest and longest per-agent health-check interval, in seconds.
pub const MIN_HEALTH_INTERVAL: f64 = 1.0;
pub const MAX_HEALTH_INTERVAL: f64 = 3600.0;

/// An agent's own health-check interval, in whole milliseconds.
pub fn parse_health_interval(seconds: f64) -> Result<u64, String> {
    if !seconds.is_finite() || !(MIN_HEALTH_INTERVAL..=MAX_HEALTH_INTERVAL).contains(&seconds) {
        return Err(format!("health_interval must be between {MIN_HEALTH_INTERVAL} and {MAX_HEALTH_INTERVAL} seconds"));
    }
    Ok((seconds * 1000.0).round() as u64)
}

/// Checks every field and reports all that fail, each by its API name.
pub fn validate_registration(input: &RegisterAgent) -> Result<ValidRegistration, Vec<FieldError>> {
    let mut errors = Vec::new();
    let agent_id = AgentId::parse(&input.agent_id).map_err(|m| errors.push(FieldError::new("agent_id", m))).ok();
    let agent_name =
        parse_agent_name(&input.agent_name).map_err(|m| errors.push(FieldError::new("agent_name", m))).ok();
    let agent_url = AgentUrl::parse(&input.agent_url).map_err(|m| errors.push(FieldError::new("agent_url", m))).ok();
    let metadata = parse_metadata(&input.metadata).map_err(|m| errors.push(FieldError::new("metadata", m))).ok();
    let health_interval_ms = match input.health_interval.map(parse_health_interval).transpose() {
        Ok(ms) => ms,
        Err(m) => {
            errors.push(FieldError::new("health_interval", m));
            None
        }
    };
    match (agent_id, agent_name, agent_url, metadata) {
        (Some(agent_id), Some(agent_name), Some(agent_url), Some(metadata)) if errors.is_empty() => {
            Ok(ValidRegistration {
                agent_id,
                agent_name,
                agent_url,
                metadata,
                force: input.force,
                replace: input.replace,
                health_interval_ms,
            })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_take_what_the_old_registry_took() {
        for ok in ["a", "test-agent", "a.b_c:d@e~f", "Research Agent é1", " spaced ", "…", &"é".repeat(255)] {
            assert_eq!(AgentId::parse(ok).map(|id| id.into_string()), Ok(ok.to_owned()), "{ok:?} is kept as sent");
        }
        for bad in ["", ".", "..", "register", "a/b", "a?b", "a#b", "50%", "tab\there", "nl\n", &"x".repeat(256)] {
            assert!(AgentId::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert!(AgentId::parse("a/b").unwrap_err().contains("'/'"));
        assert!(AgentId::parse(&"x".repeat(256)).unwrap_err().contains("255"));
    }

    #[test]
    fn urls_are_kept_whole_and_must_be_http() {
        let u = AgentUrl::parse("https://example.org/agents/writer/").unwrap();
        assert_eq!(u.as_str(), "https://example.org/agents/writer");
        assert_eq!(u.endpoint("health"), "https://example.org/agents/writer/health");
        assert_eq!(AgentUrl::parse("http://127.0.0.1:8002").unwrap().as_str(), "http://127.0.0.1:8002");
        assert!(AgentUrl::parse("ftp://x").unwrap_err().contains("http or https"));
        assert!(AgentUrl::parse("localhost:8002").is_err());
        assert!(AgentUrl::parse("example.org").unwrap_err().contains("http://"));
        assert!(AgentUrl::parse("http://u:p@h").unwrap_err().contains("password"));
        assert!(AgentUrl::parse("http://h/?q=1").is_err());
        assert!(AgentUrl::parse("").is_err());
        assert_eq!(AgentUrl::parse("HTTP://Example.ORG:8080/A/b/").unwrap().as_str(), "http://example.org:8080/A/b");
        assert_eq!(AgentUrl::parse("http://[::1]:8002").unwrap().as_str(), "http://[::1]:8002");
        assert_eq!(AgentUrl::parse("https://agents.internal").unwrap().as_str(), "https://agents.internal");
        for bad in [
            "http://",
            "http://:80",
            "http://h:0",
            "http://h:99999",
            "http://h:x",
            "http://a b",
            "http://h..x",
            "http://[zz]:1",
            "http://[1::2::3]",
            "http://999.1.1.1",
            "http://1.2.3.4.5",
            "mailto:x@y",
            "http://-h",
            "http://h#f",
        ] {
            assert!(AgentUrl::parse(bad).is_err(), "{bad} should fail");
        }
        assert!(AgentUrl::parse("mailto:x@y").unwrap_err().contains("not mailto:"));
        assert!(AgentUrl::parse("localhost:8002").unwrap_err().contains("start with http://"));
    }

    #[test]
    fn whatever_the_browser_accepts_the_url_crate_parses_the_same() {
        for ok in
            ["http://127.0.0.1:8002", "https://example.org/agents/writer", "http://[::1]:9/x", "http://münchen.de"]
        {
            let ours = AgentUrl::parse(ok).unwrap();
            let theirs = url::Url::parse(ours.as_str()).unwrap();
            assert_eq!(theirs.scheme(), ours.as_str().split("://").next().unwrap());
            assert!(theirs.host_str().is_some());
        }
    }

    #[test]
    fn metadata_is_always_an_object() {
        assert_eq!(parse_metadata(&Value::Null).unwrap(), Map::new());
        assert_eq!(parse_metadata(&json!("")).unwrap(), Map::new());
        assert_eq!(
            parse_metadata(&json!("writes poems")).unwrap(),
            json!({"description": "writes poems"}).as_object().unwrap().clone()
        );
        assert_eq!(
            parse_metadata(&json!("{\"team\": \"a\"}")).unwrap(),
            json!({"team": "a"}).as_object().unwrap().clone()
        );
        assert_eq!(parse_metadata(&json!({"k": 1})).unwrap()["k"], 1);
        assert!(parse_metadata(&json!("{broken}")).unwrap_err().contains("does not parse"));
        assert_eq!(parse_metadata(&json!("{beta} summarizer")).unwrap()["description"], "{beta} summarizer");
        assert!(parse_metadata(&json!([1])).is_err());
        assert!(parse_metadata(&json!("x".repeat(MAX_METADATA_BYTES + 1))).is_err());
    }

    #[test]
    fn registration_reports_every_bad_field() {
        let errs = validate_registration(&RegisterAgent {
            agent_id: "..".into(),
            agent_name: "".into(),
            agent_url: "ftp://x".into(),
            metadata: json!(5),
            force: false,
            replace: false,
            health_interval: Some(0.5),
            outbound_headers: None,
        })
        .unwrap_err();
        let names: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["agent_id", "agent_name", "agent_url", "metadata", "health_interval"]);
    }
}
