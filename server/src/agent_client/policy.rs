//! Where the dashboard may call agents (protection against server-side request forgery).
//!
//! Every agent URL is somebody's input, and the monitor, schema reads and runs call it. So
//! the address is judged where the connection is made, on both transports: `closing`
//! filters what `lookup_host` found before connecting; reqwest gets a resolver
//! (`guard::Guard`) that returns only allowed addresses or the refusal; IP literals, which skip
//! any resolver, are judged before sending (`screen`). A name that resolved to an allowed
//! address at registration and to a refused one later (DNS rebinding) is refused then.
//!
//! By default link-local (cloud metadata services), unspecified, multicast and broadcast
//! addresses are refused; loopback and private networks are allowed (agents usually run
//! beside the dashboard or on the same LAN). `--allow-agent-network` narrows to its
//! networks; `--deny-agent-network` refuses more; `--deny-agent-names` refuses host names
//! before any lookup.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Ranges refused unless an `--allow-agent-network` entry inside them names them on
/// purpose (`0.0.0.0/0` does not: allowing everything still keeps the metadata service out).
const REFUSED_BY_DEFAULT: [(&str, &str); 8] = [
    ("169.254.0.0/16", "link-local (where cloud metadata services answer)"),
    ("fe80::/10", "link-local"),
    // Connecting to 0.0.0.0 reaches this very machine on Linux.
    ("0.0.0.0/8", "unspecified (\"this host\")"),
    ("::/128", "unspecified (\"this host\")"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    // Class E, reserved; never an agent.
    ("240.0.0.0/4", "reserved"),
];

/// NAT64 (RFC 6052): a gateway turns `64:ff9b::a.b.c.d` into the IPv4 address inside it.
const NAT64: &str = "64:ff9b::/96";

#[derive(Clone, Debug)]
pub struct NetworkPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    deny_names: bool,
    by_default: Vec<(IpNet, &'static str)>,
    nat64: IpNet,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new(), false)
    }
}

/// Which rule refused an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// One of the ranges refused by default, and what it is.
    ByDefault {
        range: IpNet,
        what: &'static str,
    },
    Denied(IpNet),
    /// Outside every `--allow-agent-network` network (listed).
    NotAllowed(Vec<IpNet>),
    /// A host name, with `--deny-agent-names`.
    Name,
}

/// Why the dashboard will not call an address: the address (or name) and the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    /// The name the address came from, when it came from a lookup (or was not looked up).
    pub name: Option<String>,
    pub address: Option<IpAddr>,
    pub rule: Rule,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("refused by the agent network policy: ")?;
        match (&self.name, self.address) {
            (Some(name), None) => {
                return write!(
                    f,
                    "{name} is a host name and --deny-agent-names is set (register the agent by IP address)"
                )
            }
            (Some(name), Some(address)) => write!(f, "{name} resolves to {address}, which")?,
            (None, Some(address)) => write!(f, "{address}")?,
            (None, None) => return f.write_str("no address"),
        }
        match &self.rule {
            Rule::ByDefault { range, what } => {
                write!(f, " is {what}, refused by default (--allow-agent-network {range} would allow it)")
            }
            Rule::Denied(net) => write!(f, " is in --deny-agent-network {net}"),
            Rule::NotAllowed(allowed) => {
                let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
                write!(f, " is outside --allow-agent-network ({})", list.join(", "))
            }
            Rule::Name => f.write_str(" is a host name"),
        }
    }
}

impl NetworkPolicy {
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>, deny_names: bool) -> Self {
        let by_default = REFUSED_BY_DEFAULT
            .iter()
            .map(|(range, what)| (range.parse().expect("a valid range, tested"), *what))
            .collect();
        Self { allow, deny, deny_names, by_default, nat64: NAT64.parse().expect("a valid range, tested") }
    }

    pub fn denies_names(&self) -> bool {
        self.deny_names
    }

    /// Whether the dashboard may connect to `address`.
    pub fn verdict(&self, address: IpAddr) -> Result<(), Refusal> {
        self.rule(address).map_or(Ok(()), |rule| Err(Refusal { name: None, address: Some(address), rule }))
    }

    fn rule(&self, address: IpAddr) -> Option<Rule> {
        // `::ffff:169.254.169.254` is an IPv4 address on the wire.
        let ip = address.to_canonical();
        if let Some(rule) = self.denied(ip) {
            return Some(rule);
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|net| net.contains(&ip)) {
            return Some(Rule::NotAllowed(self.allow.clone()));
        }
        match ip {
            IpAddr::V6(v6) if self.nat64.contains(&ip) => {
                let [.., a, b, c, d] = v6.octets();
                self.denied(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
            }
            _ => None,
        }
    }

    /// The deny rules alone: `--deny-agent-network`, then the ranges refused by default.
    fn denied(&self, ip: IpAddr) -> Option<Rule> {
        if let Some(net) = self.deny.iter().find(|net| net.contains(&ip)) {
            return Some(Rule::Denied(*net));
        }
        let (range, what) = self.by_default.iter().find(|(range, _)| range.contains(&ip))?;
        let named = self.allow.iter().any(|net| net.contains(&ip) && range.contains(net));
        (!named).then_some(Rule::ByDefault { range: *range, what })
    }

    /// Whether the dashboard may connect to every address from `first` to `last` (one
    /// family), judged without visiting them: a scan of a /8 is 16 million addresses. The
    /// verdict can only change where one of the policy's networks (or its IPv4 image
    /// inside `::ffff:0:0/96` and NAT64) starts or ends, so judging `first` and every such
    /// point inside the range finds a refused address when there is one: the first.
    pub fn verdict_range(&self, first: IpAddr, last: IpAddr) -> Result<(), Refusal> {
        let (low, high) = (number(first), number(last));
        if first.is_ipv4() != last.is_ipv4() || low > high {
            return self.verdict(first);
        }
        let v4 = first.is_ipv4();
        let mapped: IpNet = "::ffff:0:0/96".parse().expect("a valid range, tested");
        let nets = self.deny.iter().chain(&self.allow).chain(self.by_default.iter().map(|(net, _)| net));
        let mut points = vec![low];
        for net in nets.chain([&self.nat64, &mapped]) {
            let (start, end) = (number(net.network()), number(net.broadcast()));
            let mut edges = vec![(net.network().is_ipv4(), start, end.checked_add(1))];
            if let IpNet::V4(_) = net {
                for prefix in [&self.nat64, &mapped] {
                    let base = number(prefix.network());
                    edges.push((false, base + start, Some(base + end + 1)));
                }
            }
            for (is_v4, start, after) in edges {
                if is_v4 == v4 {
                    points.extend([Some(start), after].into_iter().flatten().filter(|p| (low..=high).contains(p)));
                }
            }
        }
        points.sort_unstable();
        points.dedup();
        points.into_iter().try_for_each(|p| self.verdict(address(v4, p)))
    }

    /// Before any lookup: an IP literal's verdict; a name refused with `--deny-agent-names`.
    pub fn screen(&self, host: &url::Host<&str>) -> Result<(), Refusal> {
        match host {
            url::Host::Ipv4(ip) => self.verdict(IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => self.verdict(IpAddr::V6(*ip)),
            url::Host::Domain(name) if self.deny_names => {
                Err(Refusal { name: Some((*name).to_owned()), address: None, rule: Rule::Name })
            }
            url::Host::Domain(_) => Ok(()),
        }
    }

    /// What a lookup of `name` found, keeping only the allowed addresses, or why none is:
    /// the first refused one and its rule.
    pub fn admit(&self, name: &str, found: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refusal> {
        let mut first_refused = None;
        let mut allowed = Vec::with_capacity(found.len());
        for address in found {
            match self.rule(address.ip()) {
                None => allowed.push(address),
                Some(rule) => {
                    first_refused.get_or_insert(Refusal {
                        name: Some(name.to_owned()),
                        address: Some(address.ip()),
                        rule,
                    });
                }
            }
        }
        match first_refused {
            Some(refusal) if allowed.is_empty() => Err(refusal),
            _ => Ok(allowed),
        }
    }
}

fn number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn address(v4: bool, n: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(std::net::Ipv6Addr::from(n))
    }
}

/// `10.0.0.0/8`, or a single address (`127.0.0.2` is `127.0.0.2/32`).
pub fn parse_network(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{raw:?} is not a network (examples: 10.0.0.0/8, 127.0.0.2, fd00::/8)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| parse_network(n).unwrap()).collect()
    }

    fn refused(policy: &NetworkPolicy, address: &str) -> Option<String> {
        policy.verdict(address.parse().unwrap()).err().map(|r| r.to_string())
    }

    #[test]
    fn by_default_loopback_and_private_pass_metadata_and_the_like_do_not() {
        let policy = NetworkPolicy::default();
        for ok in ["127.0.0.1", "127.0.0.2", "10.1.2.3", "192.168.1.20", "172.16.0.5", "::1", "fd00::1", "8.8.8.8"] {
            assert_eq!(refused(&policy, ok), None, "{ok}");
        }
        for (bad, what) in [
            ("169.254.169.254", "link-local (where cloud metadata services answer)"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("fe80::1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
        ] {
            let reason = refused(&policy, bad).unwrap_or_else(|| panic!("{bad} allowed"));
            assert!(reason.contains(what), "{bad}: {reason}");
            assert!(reason.starts_with("refused by the agent network policy: "), "{reason}");
        }
        assert_eq!(
            refused(&policy, "169.254.169.254").unwrap(),
            "refused by the agent network policy: 169.254.169.254 is link-local (where cloud metadata services \
             answer), refused by default (--allow-agent-network 169.254.0.0/16 would allow it)"
        );
    }

    #[test]
    fn an_allow_list_means_only_those_and_names_a_default_range_only_inside_it() {
        let policy = NetworkPolicy::new(nets(&["127.0.0.0/8", "::1/128"]), vec![], false);
        assert_eq!(refused(&policy, "127.9.9.9"), None);
        assert_eq!(refused(&policy, "::1"), None);
        assert_eq!(refused(&policy, "::ffff:127.0.0.1"), None, "IPv4-mapped loopback is loopback");
        assert_eq!(
            refused(&policy, "10.0.0.1").unwrap(),
            "refused by the agent network policy: 10.0.0.1 is outside --allow-agent-network (127.0.0.0/8, ::1/128)"
        );
        let everything = NetworkPolicy::new(nets(&["0.0.0.0/0", "::/0"]), vec![], false);
        assert!(refused(&everything, "169.254.169.254").is_some(), "allowing everything keeps metadata out");
        let metadata_on_purpose = NetworkPolicy::new(nets(&["169.254.10.0/24"]), vec![], false);
        assert_eq!(refused(&metadata_on_purpose, "169.254.10.7"), None);
        assert!(refused(&metadata_on_purpose, "169.254.169.254").is_some());
    }

    #[test]
    fn a_deny_list_wins_over_everything() {
        let policy = NetworkPolicy::new(nets(&["127.0.0.0/8"]), nets(&["127.0.0.2"]), false);
        assert_eq!(
            refused(&policy, "127.0.0.2").unwrap(),
            "refused by the agent network policy: 127.0.0.2 is in --deny-agent-network 127.0.0.2/32"
        );
        assert!(refused(&policy, "::ffff:127.0.0.2").unwrap().ends_with("is in --deny-agent-network 127.0.0.2/32"));
        assert_eq!(refused(&policy, "127.0.0.3"), None);
        let nat64 = NetworkPolicy::new(vec![], nets(&["10.0.0.0/8"]), false);
        assert!(refused(&nat64, "64:ff9b::a00:1").unwrap().contains("--deny-agent-network 10.0.0.0/8"));
    }

    #[test]
    fn names_are_screened_before_lookup_and_their_answers_filtered() {
        let names = NetworkPolicy::new(vec![], vec![], true);
        assert_eq!(
            names.screen(&url::Host::Domain("agent.example")).unwrap_err().to_string(),
            "refused by the agent network policy: agent.example is a host name and --deny-agent-names is set \
             (register the agent by IP address)"
        );
        assert!(names.screen(&url::Host::Ipv4(Ipv4Addr::LOCALHOST)).is_ok());
        assert!(names.screen(&url::Host::Ipv4(Ipv4Addr::new(169, 254, 169, 254))).is_err());

        let policy = NetworkPolicy::new(vec![], nets(&["127.0.0.2"]), false);
        let found = |list: &[&str]| list.iter().map(|a| SocketAddr::new(a.parse().unwrap(), 80)).collect::<Vec<_>>();
        assert_eq!(policy.admit("a.test", found(&["127.0.0.2", "127.0.0.1"])).unwrap(), found(&["127.0.0.1"]));
        assert_eq!(
            policy.admit("a.test", found(&["127.0.0.2", "169.254.1.1"])).unwrap_err().to_string(),
            "refused by the agent network policy: a.test resolves to 127.0.0.2, which is in --deny-agent-network \
             127.0.0.2/32"
        );
    }

    #[test]
    fn a_range_is_judged_as_its_addresses_are_one_by_one() {
        // Small ranges against policies with every kind of rule, address by address.
        let policies = [
            NetworkPolicy::default(),
            NetworkPolicy::new(nets(&["10.0.0.0/24", "169.254.169.0/28"]), nets(&["10.0.0.64/27"]), false),
            NetworkPolicy::new(nets(&["10.0.0.0/25", "10.0.0.128/26"]), Vec::new(), false),
            NetworkPolicy::new(Vec::new(), nets(&["10.0.0.7", "fd00::40/122", "192.0.2.0/24"]), false),
            NetworkPolicy::new(nets(&["fd00::/120", "64:ff9b::/96"]), nets(&["fd00::80/121"]), false),
        ];
        let ranges = [
            ("10.0.0.0", "10.0.0.255"),
            ("10.0.0.1", "10.0.0.63"),
            ("10.0.0.100", "10.0.0.200"),
            ("10.0.0.192", "10.0.0.254"),
            ("169.254.168.250", "169.254.169.20"),
            ("223.255.255.200", "224.0.0.10"),
            ("fd00::", "fd00::ff"),
            ("fd00::1", "fd00::7f"),
            ("64:ff9b::c000:1f0", "64:ff9b::c000:2ff"),
            ("::ffff:169.254.0.0", "::ffff:169.254.0.9"),
            ("::ffff:10.0.0.0", "::ffff:10.0.0.9"),
        ];
        for (p, policy) in policies.iter().enumerate() {
            for (first, last) in ranges {
                let (a, b): (IpAddr, IpAddr) = (first.parse().unwrap(), last.parse().unwrap());
                let one_by_one =
                    (number(a)..=number(b)).map(|n| address(a.is_ipv4(), n)).find_map(|ip| policy.verdict(ip).err());
                assert_eq!(policy.verdict_range(a, b).err(), one_by_one, "policy {p}, {first}-{last}");
            }
        }
        // A /8 and all of IPv6 are judged at once.
        assert!(NetworkPolicy::default()
            .verdict_range("10.0.0.1".parse().unwrap(), "10.255.255.254".parse().unwrap())
            .is_ok());
        let everything = NetworkPolicy::default()
            .verdict_range("::".parse().unwrap(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap());
        assert_eq!(everything.unwrap_err().address, Some("::".parse().unwrap()));
    }

    #[test]
    fn networks_read_like_people_write_them() {
        assert_eq!(parse_network("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_network(" 127.0.0.2 ").unwrap().to_string(), "127.0.0.2/32");
        assert_eq!(parse_network("::1").unwrap().to_string(), "::1/128");
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("agents.example").unwrap_err().contains("not a network"));
    }
}
