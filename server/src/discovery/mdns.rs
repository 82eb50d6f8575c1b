//! Browsing mDNS for agents that announce themselves (`_configurable-agent._tcp`, see
//! `registry_client::announce`), for as long as asked, only when asked. What answers is
//! then probed like any address, under the agent network policy: an announcement can name
//! any address, and is believed no more than a typed one.

use super::{probe, send, ENTRY_CONCURRENCY};
use app::model::{Answered, DeclaredAgent, DiscoveryEvent};
use futures::StreamExt;
use mdns_sd::{ServiceDaemon, ServiceEvent};
use registry_client::announce::SERVICE_TYPE;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Longest browse a request may ask for.
pub const MAX_BROWSE: Duration = Duration::from_secs(30);
/// Most services one browse passes on: a network where anyone may announce can announce
/// without end.
const MAX_SERVICES: usize = 1_000;

/// Browses for `how_long` on a thread of its own (the daemon's calls block), sending each
/// agent as it resolves; returns when the time is up or the receiver is gone.
pub fn browse(how_long: Duration, found: mpsc::Sender<DeclaredAgent>) -> Result<(), String> {
    let daemon = ServiceDaemon::new().map_err(|e| format!("cannot browse mDNS: {e}"))?;
    let events = daemon.browse(SERVICE_TYPE).map_err(|e| format!("cannot browse mDNS: {e}"))?;
    let end = Instant::now() + how_long;
    let mut seen = HashSet::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        // Waits in slices: an asker that went away (Stop, Ctrl-C) ends the browse, and
        // frees its slot, within one.
        if found.is_closed() {
            break;
        }
        let event = match events.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(event) => event,
            Err(_) if !events.is_disconnected() => continue,
            Err(_) => break,
        };
        let ServiceEvent::ServiceResolved(service) = event else { continue };
        // IPv4 first: a link-local IPv6 address needs a scope a URL cannot carry.
        let mut addresses: Vec<std::net::IpAddr> = service.get_addresses().iter().map(|a| a.to_ip_addr()).collect();
        addresses.sort_by_key(|a| (a.is_ipv6(), *a));
        let Some(address) = addresses.first() else { continue };
        let host = if address.is_ipv6() { format!("[{address}]") } else { address.to_string() };
        let path = service.get_property_val_str("path").unwrap_or("").trim_end_matches('/');
        let path = if path.is_empty() || path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        let scheme = match service.get_property_val_str("scheme") {
            Some(s) if s.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let url = format!("{scheme}://{host}:{}{path}", service.get_port());
        if !seen.insert(url.clone()) {
            continue;
        }
        if seen.len() > MAX_SERVICES {
            tracing::info!("mDNS browse stopped at {MAX_SERVICES} services");
            break;
        }
        let instance = service.get_fullname().split('.').next().unwrap_or_default().to_owned();
        let agent = DeclaredAgent {
            id: service.get_property_val_str("agent_id").filter(|id| !id.is_empty()).map_or(instance, str::to_owned),
            name: service.get_property_val_str("agent_name").map(|n| super::probe::one_line(n, 200)),
            url,
            metadata: None,
        };
        // Waits while the probes catch up, never past the end.
        let Some(left) = end.checked_duration_since(Instant::now()) else { break };
        if send_by(&found, agent, left).is_err() {
            break;
        }
    }
    drop(found);
    let _ = daemon.stop_browse(SERVICE_TYPE);
    if let Ok(done) = daemon.shutdown() {
        let _ = done.recv_timeout(Duration::from_secs(1));
    }
    Ok(())
}

/// `blocking_send` with a deadline: the receiver full for longer than `left` ends the browse.
fn send_by(found: &mpsc::Sender<DeclaredAgent>, mut agent: DeclaredAgent, left: Duration) -> Result<(), ()> {
    let end = Instant::now() + left;
    loop {
        match found.try_send(agent) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(()),
            Err(mpsc::error::TrySendError::Full(back)) if Instant::now() < end => {
                agent = back;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(mpsc::error::TrySendError::Full(_)) => return Err(()),
        }
    }
}

impl super::Discovery {
    /// Agents announcing themselves, each probed at the address it announced (under the
    /// network policy) as it resolves.
    pub(super) async fn browse(&self, how_long: Duration, tx: &super::Events) -> Result<(u64, u64), String> {
        // The total is not known in advance.
        if !send(tx, DiscoveryEvent::Started { total: 0 }).await {
            return Ok((0, 0));
        }
        let (found_tx, found) = mpsc::channel(ENTRY_CONCURRENCY);
        let browsing = tokio::task::spawn_blocking(move || browse(how_long, found_tx));
        let announced = futures::stream::unfold(found, |mut found| async move { Some((found.recv().await?, found)) });
        let checks = announced.map(|agent| self.check_entry(agent)).buffer_unordered(ENTRY_CONCURRENCY);
        let mut checks = Box::pin(checks);
        // The browse ends on time; the probes of what it found last get this long after.
        let deadline = tokio::time::sleep(how_long + probe::LONGEST);
        tokio::pin!(deadline);
        let (mut done, mut answered) = (0u64, 0u64);
        loop {
            let candidate = tokio::select! {
                next = checks.next() => match next { Some(c) => c, None => break },
                _ = &mut deadline => break,
            };
            done += 1;
            answered += u64::from(candidate.answered != Answered::NoAnswer);
            if !self.send_candidate(candidate, tx).await {
                break;
            }
        }
        drop(checks);
        match browsing.await {
            Ok(Err(message)) => Err(message),
            _ => Ok((done, answered)),
        }
    }
}
