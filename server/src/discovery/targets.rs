//! What a scan probes: `HOSTS:PORTS[,HOSTS:PORTS…]`, where HOSTS is an address, a CIDR
//! network or `localhost`, and PORTS a port or a range (`127.0.0.1:8000-8100`,
//! `10.0.0.0/28:8000-8010`, `[::1]:8000`, `[fd00::/124]:80`). Parsed whole before anything
//! is sent; the pairs are then produced one at a time, never held in a list.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[derive(Clone, Debug, PartialEq)]
pub struct Targets(Vec<Target>);

#[derive(Clone, Debug, PartialEq)]
struct Target {
    hosts: IpNet,
    ports: (u16, u16),
}

impl Targets {
    pub fn parse(raw: &str) -> Result<Targets, String> {
        let targets = raw
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Target::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if targets.is_empty() {
            return Err("give HOSTS:PORTS, e.g. 127.0.0.1:8000-8100".into());
        }
        Ok(Targets(targets))
    }

    /// How many address-port pairs (saturating: an IPv6 /64 is "too many" all the same).
    pub fn count(&self) -> u128 {
        self.0
            .iter()
            .map(|t| host_count(&t.hosts).saturating_mul(u128::from(t.ports.1 - t.ports.0) + 1))
            .fold(0, u128::saturating_add)
    }

    /// Every address probed, as each network's first and last host, for the policy to
    /// judge first (by range: a /8 is not listed).
    pub fn ranges(&self) -> impl Iterator<Item = (IpAddr, IpAddr)> + '_ {
        self.0.iter().map(|t| {
            let mut all = hosts(&t.hosts);
            let first = all.next().unwrap_or(t.hosts.addr());
            let last = match t.hosts {
                IpNet::V4(net) if net.prefix_len() < 31 => IpAddr::V4(Ipv4Addr::from(u32::from(net.broadcast()) - 1)),
                net => net.broadcast(),
            };
            (first, last)
        })
    }

    /// Every pair, address by address, each address's ports in order.
    pub fn pairs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.0.iter().flat_map(|t| {
            hosts(&t.hosts).flat_map(move |ip| (t.ports.0..=t.ports.1).map(move |p| SocketAddr::new(ip, p)))
        })
    }
}

impl Target {
    fn parse(raw: &str) -> Result<Target, String> {
        let (hosts, ports) = match raw.strip_prefix('[') {
            // IPv6 in brackets: `[::1]:8000`, `[fd00::/120]:80-90`.
            Some(rest) => {
                let (hosts, ports) =
                    rest.split_once("]:").ok_or_else(|| format!("{raw:?}: write IPv6 as [ADDRESS]:PORTS"))?;
                (hosts, ports)
            }
            None => raw.rsplit_once(':').ok_or_else(|| format!("{raw:?} has no ports (e.g. {raw}:8000-8100)"))?,
        };
        if hosts.contains(':') && !raw.starts_with('[') {
            return Err(format!("{raw:?}: write IPv6 as [ADDRESS]:PORTS"));
        }
        let hosts = match hosts {
            "localhost" => IpNet::from(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            other if other.contains('/') => {
                other.parse::<IpNet>().map_err(|_| format!("{other:?} is not a network (e.g. 10.0.0.0/24)"))?.trunc()
            }
            other => IpNet::from(
                other
                    .parse::<IpAddr>()
                    .map_err(|_| format!("{other:?} is not an IP address, a network or localhost"))?,
            ),
        };
        let port = |p: &str| match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{p:?} is not a port (1–65535)")),
        };
        let ports = match ports.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(ports)?, port(ports)?),
        };
        if ports.0 > ports.1 {
            return Err(format!("ports {}-{} run backwards", ports.0, ports.1));
        }
        Ok(Target { hosts, ports })
    }
}

/// The hosts of a network: a single address is itself; an IPv4 network of more than two
/// addresses leaves out its network and broadcast addresses.
fn hosts(net: &IpNet) -> Box<dyn Iterator<Item = IpAddr> + Send + '_> {
    if net.prefix_len() == net.max_prefix_len() {
        Box::new(std::iter::once(net.addr()))
    } else {
        Box::new(net.hosts())
    }
}

fn host_count(net: &IpNet) -> u128 {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let all = 1u128.checked_shl(bits).unwrap_or(u128::MAX);
    match net {
        IpNet::V4(_) if bits >= 2 => all - 2,
        _ => all,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_parsed_and_counted_without_listing_them() {
        let t = Targets::parse("127.0.0.1:8000-8100").unwrap();
        assert_eq!(t.count(), 101);
        assert_eq!(t.pairs().next(), Some("127.0.0.1:8000".parse().unwrap()));
        assert_eq!(t.pairs().last(), Some("127.0.0.1:8100".parse().unwrap()));

        let net = Targets::parse("10.0.0.0/24:80-81, localhost:9000").unwrap();
        assert_eq!(net.count(), 254 * 2 + 1, "network and broadcast left out");
        let hosts = |t: &Targets| t.ranges().map(|(a, b)| format!("{a}-{b}")).collect::<Vec<_>>();
        assert_eq!(hosts(&net), ["10.0.0.1-10.0.0.254", "127.0.0.1-127.0.0.1"]);
        assert_eq!(
            hosts(&Targets::parse("10.0.0.0/31:80,[fd00::/126]:1").unwrap()),
            ["10.0.0.0-10.0.0.1", "fd00::-fd00::3"]
        );
        assert_eq!(net.pairs().count() as u128, net.count(), "the count is what is probed");

        let v6 = Targets::parse("[fd00::/126]:80").unwrap();
        assert_eq!(v6.count(), 4);
        assert_eq!(Targets::parse("[::1]:8000").unwrap().pairs().next(), Some("[::1]:8000".parse().unwrap()));
        assert_eq!(
            Targets::parse("[2001:db8::/64]:1-65535").unwrap().count(),
            (1u128 << 64) * 65535,
            "huge, not listed"
        );
        assert_eq!(
            Targets::parse("10.1.2.3/24:80").unwrap().ranges().next().unwrap().0,
            "10.1.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (raw, says) in [
            ("127.0.0.1", "has no ports"),
            ("127.0.0.1:0", "not a port"),
            ("127.0.0.1:9000-8000", "backwards"),
            ("example.com:80", "not an IP address"),
            ("10.0.0.0/33:80", "not a network"),
            ("::1:8000", "write IPv6 as [ADDRESS]"),
            ("", "give HOSTS:PORTS"),
        ] {
            let err = Targets::parse(raw).unwrap_err();
            assert!(err.contains(says), "{raw:?}: {err}");
        }
    }
}
