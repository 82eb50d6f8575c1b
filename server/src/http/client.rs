//! Who a request came from: the one client address used everywhere (sign-in rate limits,
//! logs, the registry's host rewriting) and whether the browser spoke https.
//!
//! Without `--trusted-proxy` that is the socket's peer and plain HTTP, whatever the
//! request's headers say: anyone can send `X-Forwarded-For`. When the peer is a trusted
//! proxy, `X-Forwarded-For` is read from the right (each proxy appends the address it
//! was reached from) past the trusted hops; the first untrusted address is the client, so
//! a client outside the trusted ranges cannot choose its address by sending the header
//! itself (the ranges must hold proxies only: a client inside one is walked past). An
//! entry that is not an address (or not text) stops the walk there. `X-Forwarded-Proto`
//! is believed from a trusted peer only, as the nearest proxy wrote it (the last entry).
//! `Forwarded` (RFC 7239) is not read: nginx and the common balancers set the `X-` pair.
//!
//! Worked out when a handler asks (the `Client` extractor), not for every request: a
//! heartbeat never needs it (a middleware for it cost ~10 % of heartbeats/s).

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
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
        // Peers are judged as IPv4 when IPv4-mapped, so ranges written that way are too.
        let canonical = networks
            .into_iter()
            .map(|net| match net {
                IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                    Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map(IpNet::V4).unwrap_or(net),
                    None => net,
                },
                other => other,
            })
            .collect();
        TrustedProxies(canonical)
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
        // Several header lines are one list, in order (RFC 9110 §5.3). Split as bytes: a
        // line that is not text must stop the walk at that entry, not vanish whole (the
        // client's own part of nginx's line would take the real address with it).
        let hops: Vec<&[u8]> =
            headers.get_all("x-forwarded-for").iter().flat_map(|v| v.as_bytes().split(|b| *b == b',')).collect();
        let mut ip = peer;
        for hop in hops.iter().rev() {
            // Past an entry that is not an address nothing further left can be trusted:
            // the client is the last address seen so far.
            let Some(address) = std::str::from_utf8(hop).ok().and_then(|h| parse_hop(h.trim())) else { break };
            ip = address;
            if !self.trusts(address) {
                break;
            }
        }
        let https = headers
            .get_all("x-forwarded-proto")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
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

/// The client of a request, from its connection and the trusted proxies.
pub fn of(trusted: &TrustedProxies, parts: &axum::http::Extensions, headers: &HeaderMap) -> Option<Client> {
    let peer = parts.get::<ConnectInfo<super::Connection>>().map(|ConnectInfo(c)| c.peer.ip())?;
    Some(trusted.client(peer, headers))
}

impl<S: Send + Sync> FromRequestParts<S> for Client
where
    Arc<TrustedProxies>: FromRef<S>,
{
    type Rejection = super::HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, super::HttpError> {
        let trusted = Arc::<TrustedProxies>::from_ref(state);
        of(&trusted, &parts.extensions, &parts.headers).ok_or_else(|| {
            super::HttpError(app::error::ApiError::new(
                app::error::ErrorCode::Internal,
                "the caller's address is unknown (served without connect info)",
            ))
        })
    }
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
    fn ipv4_mapped_peers_and_ranges_are_judged_as_ipv4() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(trusting(&["127.0.0.1/32"]).client(ip("::ffff:127.0.0.1"), &h).ip, ip("203.0.113.7"));
        assert_eq!(trusting(&["::ffff:10.0.0.0/104"]).client(ip("10.1.2.3"), &h).ip, ip("203.0.113.7"));
    }

    #[test]
    fn a_client_part_that_is_not_text_does_not_hide_the_real_address() {
        // nginx's line: what the client sent ("é", not ASCII), then the address it saw.
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", axum::http::HeaderValue::from_bytes(b"\xc3\xa9, 203.0.113.7").unwrap());
        assert_eq!(trusting(&["127.0.0.1/32"]).client(ip("127.0.0.1"), &h).ip, ip("203.0.113.7"));
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", axum::http::HeaderValue::from_bytes(b"203.0.113.7, \xff").unwrap());
        assert_eq!(trusting(&["127.0.0.1/32"]).client(ip("127.0.0.1"), &h).ip, ip("127.0.0.1"), "stops at the proxy");
    }

    #[test]
    fn the_scheme_is_the_nearest_proxys() {
        let h = headers(&[("x-forwarded-proto", "https, http")]);
        assert!(!trusting(&["127.0.0.1/32"]).client(ip("127.0.0.1"), &h).https);
        let h = headers(&[("x-forwarded-proto", "http"), ("x-forwarded-proto", "https")]);
        assert!(trusting(&["127.0.0.1/32"]).client(ip("127.0.0.1"), &h).https);
    }
}
