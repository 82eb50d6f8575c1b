//! Who a request came from: the one client address used everywhere (sign-in rate limits,
//! logs, the registry's host rewriting) and whether the browser spoke https.
//!
//! Without `--trusted-proxy` that is the socket's peer and plain HTTP, whatever the
//! request's headers say: anyone can send `X-Forwarded-For`. When the peer is a trusted
//! proxy, `X-Forwarded-For` is read from the right (each proxy appends the address it
//! was reached from) past the trusted hops; the first untrusted address is the client, so
//! a client cannot choose its address by sending the header itself. `X-Forwarded-Proto`
//! is believed from a trusted peer only. `Forwarded` (RFC 7239) is not read: nginx and
//! the common balancers set the `X-` pair.

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client as the request's connection and its trusted proxies say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    pub https: bool,
}

/// `--trusted-proxy`: the networks whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Client {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return Client { ip: peer, https: false };
        }
        // Several header lines are one list, in order (RFC 9110 §5.3).
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut ip = peer;
        for hop in hops.iter().rev() {
            // Past an entry that is not an address nothing further left can be trusted:
            // the client is the last trusted hop's sender seen so far.
            let Some(address) = parse_hop(hop) else { break };
            ip = address;
            if !self.trusts(address) {
                break;
            }
        }
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Client { ip, https }
    }
}

/// `203.0.113.7`, `2001:db8::1`, and the forms with a port some proxies write
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| hop.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>())
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Outermost middleware: puts the request's `Client` in its extensions, for handlers
/// (the `Client` extractor), the guard's and access control's logs and the trace span.
pub async fn resolve(State(trusted): State<Arc<TrustedProxies>>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<super::Connection>>().map(|ConnectInfo(c)| c.peer.ip());
    if let Some(peer) = peer {
        let client = trusted.client(peer, request.headers());
        request.extensions_mut().insert(client);
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = super::HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, super::HttpError> {
        parts.extensions.get::<Client>().copied().ok_or_else(|| {
            super::HttpError(app::error::ApiError::new(
                app::error::ErrorCode::Internal,
                "the caller's address is unknown (served without connect info)",
            ))
        })
    }
}

/// The client's address for a log line, when the request has one.
pub fn of(request: &Request) -> Option<IpAddr> {
    request.extensions().get::<Client>().map(|c| c.ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusting(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7"), ("x-forwarded-proto", "https")]);
        assert_eq!(TrustedProxies::default().client(ip("127.0.0.1"), &h), Client { ip: ip("127.0.0.1"), https: false });
        // A peer outside the trusted networks is not believed either.
        let c = trusting(&["10.0.0.0/8"]).client(ip("192.0.2.1"), &h);
        assert_eq!(c, Client { ip: ip("192.0.2.1"), https: false });
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7"), ("x-forwarded-proto", "https")]);
        let c = trusting(&["127.0.0.1/32"]).client(ip("127.0.0.1"), &h);
        assert_eq!(c, Client { ip: ip("203.0.113.7"), https: true });
    }

    #[test]
    fn an_address_the_client_sent_itself_is_not_believed() {
        // The client sent "198.51.100.1" itself; nginx appended the address it saw.
        let h = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.7")]);
        assert_eq!(trusting(&["127.0.0.1/32"]).client(ip("127.0.0.1"), &h).ip, ip("203.0.113.7"));
    }

    #[test]
    fn trusted_hops_are_walked_past_across_header_lines() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7, 10.0.0.5"), ("x-forwarded-for", "10.0.0.6:4711")]);
        assert_eq!(trusting(&["10.0.0.0/8", "127.0.0.1/32"]).client(ip("127.0.0.1"), &h).ip, ip("203.0.113.7"));
        // Every hop trusted: the leftmost is as far as anyone can see.
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.5")]);
        assert_eq!(trusting(&["10.0.0.0/8", "127.0.0.1/32"]).client(ip("127.0.0.1"), &h).ip, ip("10.0.0.9"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_address_seen() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7, unknown, 10.0.0.5")]);
        assert_eq!(trusting(&["10.0.0.0/8", "127.0.0.1/32"]).client(ip("127.0.0.1"), &h).ip, ip("10.0.0.5"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:80")]);
        assert_eq!(trusting(&["127.0.0.1/32"]).client(ip("127.0.0.1"), &h).ip, ip("2001:db8::1"));
    }

    #[test]
    fn ipv4_mapped_peers_are_judged_as_ipv4() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(trusting(&["127.0.0.1/32"]).client(ip("::ffff:127.0.0.1"), &h).ip, ip("203.0.113.7"));
    }
}
