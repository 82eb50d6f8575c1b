//! A scan: every address and port of the targets probed, at most `CONCURRENCY` at once;
//! what answered is a candidate.

use super::targets::Targets;
use super::{probe, send, Discovery, CONCURRENCY, PROGRESS_EVERY};
use app::model::{Answered, DiscoveryEvent};
use app::validation::AgentUrl;
use futures::StreamExt;
use std::time::Instant;

impl Discovery {
    /// Probes every pair; those where something answered are candidates.
    pub(super) async fn scan(&self, targets: &Targets, tx: &super::Events) -> (u64, u64) {
        let total = targets.count() as u64;
        if !send(tx, DiscoveryEvent::Started { total }).await {
            return (0, 0);
        }
        let mut probes = futures::stream::iter(targets.pairs())
            .map(|address| {
                let client = &self.client;
                async move {
                    let base = AgentUrl::parse(&format!("http://{address}")).ok()?;
                    Some(probe::probe(client, &base).await)
                }
            })
            .buffer_unordered(CONCURRENCY);
        let (mut done, mut found) = (0u64, 0u64);
        let mut reported = Instant::now();
        while let Some(result) = probes.next().await {
            done += 1;
            if let Some(candidate) = result.filter(|c| c.answered != Answered::NoAnswer) {
                found += 1;
                if !self.send_candidate(candidate, tx).await {
                    return (done, found);
                }
            }
            if reported.elapsed() >= PROGRESS_EVERY {
                reported = Instant::now();
                if !send(tx, DiscoveryEvent::Progress { done, total }).await {
                    return (done, found);
                }
            }
        }
        (done, found)
    }
}
