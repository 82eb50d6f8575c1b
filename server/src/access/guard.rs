//! Who may be answered: the policy `http::guard` applies to every request, before any
//! handler (kept apart from the HTTP layer: the state and, later, access control use it).
//! Two checks:
//! - DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1
//!   would reach us as same-origin; so only `Host` names we expect are answered
//!   (loopback literals and `localhost` on any port, the address literal the connection
//!   arrived on, plus `--allowed-host` names).
//! - Cross-site requests: a page on another site can send a plain form POST here; every
//!   state-changing request must come from our own origin (`Origin` equal to
//!   `scheme://Host`) and must not say `Sec-Fetch-Site: cross-site`. Requests without
//!   `Origin` (curl, scripts, old agents) are not from a browser page and pass.

use app::error::{ApiError, ErrorCode};
use axum::http::{header, HeaderMap, Method};
use std::net::IpAddr;

#[derive(Clone, Debug, Default)]
pub struct RequestGuard {
    /// Extra host names to answer to, lowercase, without port.
    allowed_hosts: Vec<String>,
}

impl RequestGuard {
    pub fn new(allowed_hosts: &[String]) -> Self {
        Self {
            // Names are compared without port, so `dash.example.org:8443` means the name.
            allowed_hosts: allowed_hosts.iter().map(|h| host_name(h)).filter(|h| !h.is_empty()).collect(),
        }
    }

    /// Why this request must not be answered, if it must not. `local`: the address the
    /// connection arrived on (its literal is a name we answer to).
    pub fn refusal(&self, method: &Method, headers: &HeaderMap, local: Option<IpAddr>) -> Option<ApiError> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if let Some(host) = host {
            let name = host_name(host);
            if !self.host_allowed(&name, local) {
                return Some(ApiError::new(
                    ErrorCode::Forbidden,
                    format!(
                        "This dashboard does not answer to the host name {name:?} (protection against DNS \
                         rebinding). If you reach it under that name on purpose, start it with \
                         --allowed-host {name} (or CA_ALLOWED_HOSTS={name})."
                    ),
                ));
            }
        }
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return None;
        }
        let cross_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
        let origin = headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or("(not text)"));
        let foreign_origin = match (origin, host) {
            (None, _) => false,
            (Some(origin), Some(host)) => !same_origin(origin, host),
            (Some(_), None) => true,
        };
        if cross_site || foreign_origin {
            let from = origin.unwrap_or("another site");
            return Some(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "Refused a {method} request from {from}: changes are accepted only from the dashboard's \
                     own pages, or from clients that send no Origin header (curl, scripts, agents)."
                ),
            ));
        }
        None
    }

    fn host_allowed(&self, name: &str, local: Option<IpAddr>) -> bool {
        if name == "localhost" {
            return true;
        }
        if let Ok(ip) = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            let ip = ip.to_canonical();
            if ip.is_loopback() || local.is_some_and(|l| !l.is_unspecified() && l.to_canonical() == ip) {
                return true;
            }
        }
        self.allowed_hosts.iter().any(|h| h == name)
    }
}

/// The name part of a Host header: lowercase, without port or trailing dot; IPv6 keeps
/// its brackets.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        match host.split_once(']') {
            // Only `:port` may follow the bracket; anything else is not a loopback literal.
            Some((v6, rest)) if rest.is_empty() || rest.starts_with(':') => &host[..v6.len() + 1],
            _ => host,
        }
    } else {
        host.rsplit_once(':').map(|(n, _)| n).unwrap_or(host)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `Origin: http://127.0.0.1:8001` against `Host: 127.0.0.1:8001` (http or https, since a
/// TLS proxy may sit in front).
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") && authority.eq_ignore_ascii_case(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn loopback_and_localhost_are_answered_on_any_port() {
        let guard = RequestGuard::new(&[]);
        for host in ["127.0.0.1:8001", "localhost:9", "LOCALHOST", "[::1]:8001", "127.8.9.10", "localhost."] {
            assert!(guard.refusal(&Method::GET, &headers(&[("host", host)]), None).is_none(), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8001",
            "10.0.0.1:8001",
            "localhost.evil.example",
            "[::2]:1",
            "[::1]evil.example",
        ] {
            let refusal = guard.refusal(&Method::GET, &headers(&[("host", host)]), None).expect(host);
            assert_eq!(refusal.code, ErrorCode::Forbidden);
            assert!(refusal.message.contains("--allowed-host"), "{}", refusal.message);
        }
        let named = RequestGuard::new(&["Dash.Example.org".into(), "other.example:8443".into()]);
        assert!(named.refusal(&Method::GET, &headers(&[("host", "dash.example.org:443")]), None).is_none());
        assert!(named.refusal(&Method::GET, &headers(&[("host", "other.example")]), None).is_none());
    }

    #[test]
    fn the_address_a_connection_arrived_on_is_answered_to() {
        let guard = RequestGuard::new(&[]);
        let local = Some("10.1.2.3".parse().unwrap());
        assert!(guard.refusal(&Method::GET, &headers(&[("host", "10.1.2.3:8001")]), local).is_none());
        assert!(guard.refusal(&Method::GET, &headers(&[("host", "10.1.2.4:8001")]), local).is_some());
        let mapped = Some("::ffff:10.1.2.3".parse().unwrap());
        assert!(guard.refusal(&Method::GET, &headers(&[("host", "10.1.2.3")]), mapped).is_none());
        let any = Some("0.0.0.0".parse().unwrap());
        assert!(guard.refusal(&Method::GET, &headers(&[("host", "0.0.0.0:8001")]), any).is_some());
    }

    #[test]
    fn changes_from_other_sites_are_refused() {
        let guard = RequestGuard::new(&[]);
        let own = headers(&[("host", "127.0.0.1:8001"), ("origin", "http://127.0.0.1:8001")]);
        assert!(guard.refusal(&Method::POST, &own, None).is_none());
        let curl = headers(&[("host", "127.0.0.1:8001")]);
        assert!(guard.refusal(&Method::DELETE, &curl, None).is_none());
        for (origin, site) in [
            ("http://evil.example", "cross-site"),
            ("http://evil.example", "none"),
            ("http://127.0.0.1:9999", "same-site"),
            ("null", "none"),
        ] {
            let mut h = headers(&[("host", "127.0.0.1:8001"), ("sec-fetch-site", site)]);
            h.insert("origin", HeaderValue::from_static(origin));
            assert!(guard.refusal(&Method::POST, &h, None).is_some(), "{origin}");
        }
        let cross = headers(&[("host", "127.0.0.1:8001"), ("sec-fetch-site", "cross-site")]);
        assert!(guard.refusal(&Method::POST, &cross, None).is_some(), "cross-site without Origin");
        let read = headers(&[("host", "127.0.0.1:8001"), ("origin", "http://evil.example")]);
        assert!(guard.refusal(&Method::GET, &read, None).is_none(), "reads are not changes");
    }
}
