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
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed(bool);

    #[async_trait::async_trait]
    impl Resolver for Fixed {
        async fn resolves(&self, _: &str) -> bool {
            self.0
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn old(host: &str, port: i64) -> SelfRegister {
        SelfRegister {
            agent_id: "research agent é1".into(),
            agent_name: "Research".into(),
            host: Some(host.into()),
            port: Some(port),
            metadata: json!("{\"team\": \"a\"}"),
            ..Default::default()
        }
    }

    async fn url_for(request: &SelfRegister, peer: &str, resolves: bool) -> (String, Option<String>) {
        let reg = parse(request, ip(peer), &NetworkPolicy::default(), &Fixed(resolves)).await.unwrap();
        (reg.agent_url.as_str().to_owned(), reg.address_note)
    }

    #[tokio::test]
    async fn the_old_payload_is_taken_as_it_is() {
        let reg =
            parse(&old("127.0.0.1", 8000), ip("127.0.0.1"), &NetworkPolicy::default(), &Fixed(true)).await.unwrap();
        assert_eq!(reg.agent_id.as_str(), "research agent é1");
        assert_eq!(reg.agent_url.as_str(), "http://127.0.0.1:8000");
        assert_eq!(reg.ttl_seconds, DEFAULT_TTL);
        assert_eq!(reg.metadata["team"], "a");
        assert_eq!(reg.address_note, None);
    }

    #[tokio::test]
    async fn unspecified_and_foreign_loopback_hosts_become_the_callers_address() {
        assert_eq!(url_for(&old("0.0.0.0", 8000), "127.0.0.1", true).await.0, "http://127.0.0.1:8000");
        assert_eq!(url_for(&old("::", 8000), "::1", true).await.0, "http://[::1]:8000");
        // From another machine, its loopback is not ours.
        let (url, note) = url_for(&old("127.0.0.1", 9000), "10.1.2.3", true).await;
        assert_eq!(url, "http://10.1.2.3:9000");
        assert!(note.unwrap().contains("own loopback"));
        assert_eq!(url_for(&old("localhost", 9000), "10.1.2.3", true).await.0, "http://10.1.2.3:9000");
        assert_eq!(url_for(&old("[::1]", 9000), "fd00::7", true).await.0, "http://[fd00::7]:9000");
        // An IPv4 caller seen through an IPv6 socket is an IPv4 address.
        assert_eq!(url_for(&old("0.0.0.0", 1), "::ffff:10.0.0.9", true).await.0, "http://10.0.0.9:1");
        // On loopback, loopback stays; any other address stays.
        assert_eq!(url_for(&old("localhost", 9000), "127.0.0.1", false).await, ("http://localhost:9000".into(), None));
        assert_eq!(url_for(&old("10.9.9.9", 80), "10.1.2.3", true).await.0, "http://10.9.9.9:80");
    }

    struct NeverAsked;

    #[async_trait::async_trait]
    impl Resolver for NeverAsked {
        async fn resolves(&self, host: &str) -> bool {
            panic!("{host} was looked up");
        }
    }

    #[tokio::test]
    async fn the_network_policy_judges_addresses_not_names() {
        let deny = NetworkPolicy::new(vec![], vec!["10.9.0.0/16".parse().unwrap()], false);
        let errors = parse(&old("10.9.9.9", 80), ip("127.0.0.1"), &deny, &Fixed(true)).await.unwrap_err();
        assert_eq!(errors[0].field, "host");
        assert!(errors[0].message.ends_with("10.9.9.9 is in --deny-agent-network 10.9.0.0/16"), "{errors:?}");
        let errors = parse(&old("0.0.0.0", 80), ip("10.9.1.1"), &deny, &Fixed(true)).await.unwrap_err();
        assert!(errors[0].message.starts_with("It sent 0.0.0.0"), "the rewrite is explained: {errors:?}");
        assert!(errors[0].message.contains("10.9.1.1 is in --deny-agent-network"), "{errors:?}");
        // A name is judged when it is called: one not in DNS yet must not lose an agent.
        let kept = parse(&old("agents.example", 80), ip("10.1.2.3"), &deny, &Fixed(true)).await.unwrap();
        assert_eq!(kept.agent_url.as_str(), "http://agents.example:80");

        // With --deny-agent-names a name is never looked up: the caller's address is used.
        let names = NetworkPolicy::new(vec![], vec![], true);
        for (host, peer, url) in [
            ("agents.example", "10.1.2.3", "http://10.1.2.3:8000"),
            ("localhost", "127.0.0.1", "http://127.0.0.1:8000"),
        ] {
            let reg = parse(&old(host, 8000), ip(peer), &names, &NeverAsked).await.unwrap();
            assert_eq!(reg.agent_url.as_str(), url);
            assert!(reg.address_note.unwrap().contains("--deny-agent-names"));
        }
        let errors = parse(
            &SelfRegister { agent_url: Some("https://agents.example/a".into()), ..old("h", 1) },
            ip("10.1.2.3"),
            &names,
            &NeverAsked,
        )
        .await;
        assert_eq!(errors.unwrap().agent_url.as_str(), "https://10.1.2.3/a", "an agent_url's name too");
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_falls_back_to_the_callers_address() {
        let (url, note) = url_for(&old("agent-container", 8000), "172.17.0.5", false).await;
        assert_eq!(url, "http://172.17.0.5:8000");
        assert!(note.unwrap().contains("does not resolve"));
        assert_eq!(url_for(&old("agents.example", 8000), "172.17.0.5", true).await.0, "http://agents.example:8000");
    }

    #[tokio::test]
    async fn a_whole_url_keeps_its_scheme_and_prefix() {
        let request = SelfRegister {
            host: None,
            port: None,
            agent_url: Some("https://127.0.0.1:8443/a/b/".into()),
            ..old("x", 1)
        };
        assert_eq!(url_for(&request, "127.0.0.1", true).await.0, "https://127.0.0.1:8443/a/b");
        let request = SelfRegister { agent_url: Some("http://0.0.0.0:81/p".into()), ..request };
        assert_eq!(url_for(&request, "127.0.0.2", true).await.0, "http://127.0.0.2:81/p");
    }

    #[tokio::test]
    async fn every_bad_field_is_named() {
        let request =
            SelfRegister { agent_id: "a/b".into(), ttl_seconds: Some(0), metadata: json!([1]), ..old("x", 70000) };
        let errors = parse(&request, ip("127.0.0.1"), &NetworkPolicy::default(), &Fixed(true)).await.unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["agent_id", "ttl_seconds", "metadata", "port"]);
        for (host, port, field) in [("", 1, "host"), ("a b", 1, "host"), ("h", 0, "port")] {
            let errors =
                parse(&old(host, port), ip("127.0.0.1"), &NetworkPolicy::default(), &Fixed(true)).await.unwrap_err();
            assert_eq!(errors[0].field, field, "{host:?}:{port}");
        }
        let no_port = SelfRegister { port: None, ..old("h", 1) };
        assert_eq!(
            parse(&no_port, ip("127.0.0.1"), &NetworkPolicy::default(), &Fixed(true)).await.unwrap_err()[0].field,
            "port"
        );
        assert_eq!(
            parse(
                &SelfRegister { ttl_seconds: Some(3601), ..old("h", 1) },
                ip("127.0.0.1"),
                &NetworkPolicy::default(),
                &Fixed(true)
            )
            .await
            .unwrap_err()[0]
                .field,
            "ttl_seconds"
        );
    }

    #[test]
    fn names_are_cut_not_refused_and_text_metadata_is_kept() {
        assert_eq!(name(&"n".repeat(500), "id").chars().count(), MAX_NAME_LEN);
        assert_eq!(name("", "the-id"), "the-id");
        assert_eq!(name("a\tb", "id"), "a b");
        assert_eq!(metadata(&json!("{broken")).unwrap()["description"], "{broken");
        assert_eq!(metadata(&json!("[1, 2]")).unwrap()["description"], "[1, 2]");
        assert_eq!(metadata(&json!("{\"k\": 1}")).unwrap()["k"], 1);
        assert_eq!(metadata(&json!({"k": 2})).unwrap()["k"], 2);
        assert!(metadata(&Value::Null).unwrap().is_empty());
        assert!(metadata(&json!(5)).is_err());
    }
}
