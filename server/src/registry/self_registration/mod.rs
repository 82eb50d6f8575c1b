//! The rules of `POST /api/v1/agents/register`: the old registry's payload, read so that
//! no agent in the field is lost to a rule stricter than the old one's, and the address
//! the dashboard will call the agent at.
//!
//! Old agents send `host` and `port` (by default the machine's or container's host name
//! and 8000) and often `0.0.0.0`, what they listen on. The dashboard calls the agent at
//! what it sent when it can, and otherwise at the address the registration came from.

use super::store::SelfRegistration;
use crate::agent_client::{Guard, NetworkPolicy};
use app::error::FieldError;
use app::validation::{AgentId, AgentUrl, MAX_METADATA_BYTES, MAX_NAME_LEN};
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::time::Duration;

pub const DEFAULT_TTL: u32 = 60;
pub const MAX_TTL: u32 = 3600;

/// A registration as the body carried it, each field with the JSON type it must have.
/// It is also the body's schema in the OpenAPI document: the field comments are its docs.
#[derive(Clone, Debug, Default, utoipa::ToSchema)]
#[schema(as = SelfRegistration)]
pub struct SelfRegister {
    /// 1–255 characters, kept as sent; none of `/ ? # %`.
    pub agent_id: String,
    /// Cut to 200 characters; the ID when empty.
    #[schema(required = false)]
    pub agent_name: String,
    /// Where the agent listens; `0.0.0.0`, or a name the dashboard cannot resolve, becomes
    /// the caller's address.
    pub host: Option<String>,
    /// 1–65535 (digits in a string are read as a number, as the old registry did).
    #[schema(value_type = Option<u16>)]
    pub port: Option<i64>,
    /// Instead of host and port: the whole base URL (https, a path prefix).
    pub agent_url: Option<String>,
    /// 1–3600, 60 by default (digits in a string are read as a number).
    #[schema(value_type = Option<u32>)]
    pub ttl_seconds: Option<i64>,
    /// A JSON object, or text (the old client sends a JSON string): a string holding an
    /// object is parsed, other text is kept as `{"description": text}`; or null.
    #[schema(value_type = Option<Object>)]
    pub metadata: Value,
}

/// Whether a host name resolves from the dashboard (injected: tests never ask DNS).
#[async_trait::async_trait]
pub trait Resolver: Send + Sync {
    async fn resolves(&self, host: &str) -> bool;
}

/// The agent client's lookup, with a timeout: a registration never waits long on DNS.
#[async_trait::async_trait]
impl Resolver for Guard {
    async fn resolves(&self, host: &str) -> bool {
        let lookup = self.lookup.lookup(host, 0);
        match tokio::time::timeout(Duration::from_secs(2), lookup).await {
            Ok(Ok(found)) => !found.is_empty(),
            _ => false,
        }
    }
}

/// Checks every field and reports all that fail, each by its API name. The address is
/// judged by the network policy as an IP literal only: a name the dashboard cannot
/// resolve yet must not cost an old agent its registration (its calls are judged later).
pub async fn parse(
    request: &SelfRegister,
    peer: IpAddr,
    policy: &NetworkPolicy,
    resolver: &dyn Resolver,
) -> Result<SelfRegistration, Vec<FieldError>> {
    let mut errors = Vec::new();
    let agent_id = AgentId::parse(&request.agent_id).map_err(|m| errors.push(FieldError::new("agent_id", m))).ok();
    let ttl_seconds = match request.ttl_seconds {
        None => Some(DEFAULT_TTL),
        Some(t) if (1..=i64::from(MAX_TTL)).contains(&t) => Some(t as u32),
        Some(t) => {
            errors
                .push(FieldError::new("ttl_seconds", format!("ttl_seconds must be between 1 and {MAX_TTL} (got {t})")));
            None
        }
    };
    let metadata = metadata(&request.metadata).map_err(|m| errors.push(FieldError::new("metadata", m))).ok();
    let address = address(request, peer, policy, resolver).await.map_err(|e| errors.push(e)).ok();
    match (agent_id, ttl_seconds, metadata, address) {
        (Some(agent_id), Some(ttl_seconds), Some(metadata), Some((agent_url, address_note))) if errors.is_empty() => {
            Ok(SelfRegistration {
                agent_name: name(&request.agent_name, agent_id.as_str()),
                agent_id,
                agent_url,
                ttl_seconds,
                metadata,
                address_note,
            })
        }
        _ => Err(errors),
    }
}

/// Never refused: longer than ours is cut, control characters become spaces, and an
/// empty name is the ID.
fn name(raw: &str, agent_id: &str) -> String {
    let cleaned: String = raw.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_NAME_LEN).collect();
    match cleaned.trim() {
        "" => agent_id.chars().take(MAX_NAME_LEN).collect(),
        name => name.to_owned(),
    }
}

/// An object as it is; text holding a JSON object, parsed; any other text, even broken
/// JSON, kept as `{"description": text}` (the old registry kept whatever it was sent).
pub(crate) fn metadata(raw: &Value) -> Result<Map<String, Value>, String> {
    let map = match raw {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        Value::String(text) if text.trim().is_empty() => Map::new(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => Map::from_iter([("description".to_owned(), Value::String(text.clone()))]),
        },
        _ => return Err("metadata must be a JSON object, text or null".into()),
    };
    let size = serde_json::to_string(&map).map(|s| s.len()).unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(format!("metadata must be at most {} KiB (got {size} bytes)", MAX_METADATA_BYTES / 1024));
    }
    Ok(map)
}

/// The URL the dashboard will call, and a note when it is not what the agent sent.
async fn address(
    request: &SelfRegister,
    peer: IpAddr,
    policy: &NetworkPolicy,
    resolver: &dyn Resolver,
) -> Result<(AgentUrl, Option<String>), FieldError> {
    let both = |ours: AgentUrl| url::Url::parse(ours.as_str()).ok().map(|theirs| (ours, theirs));
    let (field, (ours, mut url)) = match (&request.agent_url, &request.host, request.port) {
        (Some(url), _, _) => {
            let parsed = AgentUrl::parse(url)
                .ok()
                .and_then(both)
                .ok_or_else(|| FieldError::new("agent_url", format!("agent_url {url:?} is not a valid http(s) URL")))?;
            ("agent_url", parsed)
        }
        (None, host, port) => {
            let host = host
                .as_deref()
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .ok_or_else(|| FieldError::new("host", "host is required (or send agent_url)"))?;
            let port = match port {
                Some(p) if (1..=65535).contains(&p) => p,
                Some(p) => return Err(FieldError::new("port", format!("port must be between 1 and 65535 (got {p})"))),
                None => return Err(FieldError::new("port", "port is required (or send agent_url)")),
            };
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let authority = match bare.parse::<IpAddr>() {
                Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
                _ => host.to_owned(),
            };
            let url = AgentUrl::parse(&format!("http://{authority}:{port}"))
                .ok()
                .and_then(both)
                .ok_or_else(|| FieldError::new("host", format!("host {host:?} is not a valid host name or address")))?;
            ("host", url)
        }
    };
    let sent = match url.host() {
        Some(url::Host::Domain(name)) => Sent::Name(name.to_owned()),
        Some(url::Host::Ipv4(ip)) => Sent::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Sent::Ip(IpAddr::V6(ip)),
        None => return Err(FieldError::new(field, "the address must name a host")),
    };
    let resolves = match &sent {
        // Never looked up: the caller's address is the one the dashboard can call.
        Sent::Name(_) if policy.denies_names() => Some(false),
        Sent::Name(name) if !name.eq_ignore_ascii_case("localhost") => Some(resolver.resolves(name).await),
        _ => None,
    };
    let Some((chosen, note)) = choose_host(&sent, peer, resolves) else {
        policy.screen(&url.host().expect("checked above")).map_err(|r| FieldError::new(field, r.to_string()))?;
        return Ok((ours, None));
    };
    policy.verdict(chosen).map_err(|r| FieldError::new(field, format!("{note} But {r}.")))?;
    let set = match chosen {
        IpAddr::V4(v4) => url.set_ip_host(IpAddr::V4(v4)),
        IpAddr::V6(v6) => url.set_ip_host(IpAddr::V6(v6)),
    };
    set.map_err(|()| FieldError::new(field, "the agent's address cannot be rewritten"))?;
    let url = AgentUrl::parse(url.as_str()).map_err(|m| FieldError::new(field, m))?;
    Ok((url, Some(note)))
}

/// The host an agent sent.
#[derive(Debug)]
pub enum Sent {
    Ip(IpAddr),
    Name(String),
}

/// The rule, on its own: None keeps what the agent sent; otherwise the address to call
/// instead (the caller's) and why. `resolves` is whether a host name resolved (None: not
/// asked, for addresses and `localhost`).
///
/// - `0.0.0.0` or `::` is what an agent listens on, not where it can be reached.
/// - A loopback host from a caller that is not on loopback is the caller's own loopback,
///   not ours.
/// - A name the dashboard cannot resolve (often a container's name) cannot be called.
pub fn choose_host(sent: &Sent, peer: IpAddr, resolves: Option<bool>) -> Option<(IpAddr, String)> {
    let peer = peer.to_canonical();
    match sent {
        Sent::Ip(ip) if ip.is_unspecified() => Some((
            peer,
            format!("It sent {ip} (every address it listens on); the dashboard calls it at {peer}, where it registered from."),
        )),
        Sent::Ip(ip) if ip.to_canonical().is_loopback() && !peer.is_loopback() => Some((
            peer,
            format!("It sent {ip}, its own loopback address; the dashboard calls it at {peer}, where it registered from."),
        )),
        Sent::Name(name) if name.eq_ignore_ascii_case("localhost") && !peer.is_loopback() => Some((
            peer,
            format!("It sent {name}, its own loopback name; the dashboard calls it at {peer}, where it registered from."),
        )),
        Sent::Name(name) if resolves == Some(false) => Some((
            peer,
            format!(
                "Its host name {name:?} does not resolve from the dashboard (or names are not called: \
                 --deny-agent-names); it is called at {peer}, where it registered from (set AGENT_HOST on the \
                 agent to an address the dashboard can reach)."
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
