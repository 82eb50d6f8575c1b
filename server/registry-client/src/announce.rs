//! Announcing an agent over mDNS (DNS-SD), so that a dashboard asked to look
//! (`configurable-agents discover --mdns`) can find it. Off unless the agent asks: the
//! dashboard never discovers by itself, and an agent need not say it exists.
//!
//! The service type is `_configurable-agent._tcp.local.`; the TXT record holds
//! `agent_id`, `agent_name`, `scheme` (`http` or `https`) and `path` (the agent's path
//! prefix, empty for none).

use mdns_sd::{ServiceDaemon, ServiceInfo};
use std::net::IpAddr;
use std::time::Duration;

/// The DNS-SD service type agents announce and dashboards browse.
pub const SERVICE_TYPE: &str = "_configurable-agent._tcp.local.";

/// An announcement; it is withdrawn (a goodbye packet) when dropped.
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot announce over mDNS: {0}")]
pub struct AnnounceError(String);

impl Announcement {
    /// Announces the agent at `scheme://address:port` (with `path` as its URL's prefix).
    pub fn start(
        agent_id: &str,
        agent_name: &str,
        scheme: &str,
        address: IpAddr,
        port: u16,
        path: &str,
    ) -> Result<Self, AnnounceError> {
        let failed = |e: mdns_sd::Error| AnnounceError(e.to_string());
        let daemon = ServiceDaemon::new().map_err(failed)?;
        // `_configurable-agent` is 18 bytes; DNS-SD's advice is 15, which mdns-sd enforces
        // by default (by dropping the service silently).
        daemon.set_service_name_len_max(30).map_err(failed)?;
        // An instance name is one DNS label: at most 63 bytes (not characters), no dots.
        let mut instance = String::new();
        for c in agent_id.chars().map(|c| if c == '.' { '-' } else { c }) {
            if instance.len() + c.len_utf8() > 63 {
                break;
            }
            instance.push(c);
        }
        let host: String = instance.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let properties = [("agent_id", agent_id), ("agent_name", agent_name), ("scheme", scheme), ("path", path)];
        let info = ServiceInfo::new(SERVICE_TYPE, &instance, &format!("{host}.local."), address, port, &properties[..])
            .map_err(failed)?;
        let fullname = info.get_fullname().to_owned();
        daemon.register(info).map_err(failed)?;
        Ok(Announcement { daemon, fullname })
    }
}

impl Drop for Announcement {
    fn drop(&mut self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
    }
}
