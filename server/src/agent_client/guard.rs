//! The policy applied where connections are made: host names looked up (injectable) and
//! the answers filtered by the `NetworkPolicy`, for both transports (`closing` and
//! reqwest's resolver).

use super::policy::{NetworkPolicy, Refusal};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Looks host names up (injected: tests never ask DNS, and give answers that change).
#[async_trait::async_trait]
pub trait Lookup: Send + Sync + 'static {
    async fn lookup(&self, name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system's resolver (`getaddrinfo`, as reqwest's default one).
pub struct SystemLookup;

#[async_trait::async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((name, port)).await?.collect())
    }
}

/// What both transports share: the policy and the lookup it filters.
#[derive(Clone)]
pub struct Guard {
    pub policy: Arc<NetworkPolicy>,
    pub lookup: Arc<dyn Lookup>,
}

impl Guard {
    /// The addresses to connect to for `host`, each allowed, or why there are none.
    pub async fn resolve(&self, host: &url::Host<&str>, port: u16) -> Result<Vec<SocketAddr>, Resolved> {
        self.policy.screen(host).map_err(Resolved::Refused)?;
        match host {
            url::Host::Ipv4(ip) => Ok(vec![SocketAddr::new(IpAddr::V4(*ip), port)]),
            url::Host::Ipv6(ip) => Ok(vec![SocketAddr::new(IpAddr::V6(*ip), port)]),
            url::Host::Domain(name) => {
                let found = self.lookup.lookup(name, port).await.map_err(|_| Resolved::NotFound)?;
                if found.is_empty() {
                    return Err(Resolved::NotFound);
                }
                self.policy.admit(name, found).map_err(Resolved::Refused)
            }
        }
    }
}

impl Default for Guard {
    /// The default policy and the system's resolver.
    fn default() -> Self {
        Self { policy: Arc::new(NetworkPolicy::default()), lookup: Arc::new(SystemLookup) }
    }
}

/// Why a host gave no address to connect to.
#[derive(Debug)]
pub enum Resolved {
    Refused(Refusal),
    NotFound,
}

/// reqwest's resolver: the lookup, filtered by the policy. (IP literals never reach it.)
impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let name = name.as_str();
            match guard.resolve(&url::Host::Domain(name), 0).await {
                Ok(found) => Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs),
                Err(Resolved::Refused(refusal)) => Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>),
                Err(Resolved::NotFound) => Err(format!("dns error: failed to lookup address for {name}").into()),
            }
        })
    }
}
