//! Finding agents, only when a person asks (seed 000: no automatic discovery): probing
//! addresses and ports, importing another registry's list, checking a configuration
//! file's entries. It runs here, in the dashboard, so the agent network policy, its limits
//! and its logs apply, whoever asks (the page's "Find agents", `configurable-agents
//! discover`). What is found is streamed as it is found; nothing is added until a person
//! chooses (`add`).

pub mod file;
mod mdns;
mod probe;
pub mod targets;

use crate::agent_client::{AgentClient, CallLimits};
use crate::error::ServiceError;
use crate::registry::Registry;
use app::model::{AddCandidates, AddOutcome, Added, AgentSource, Answered, Candidate, DeclaredAgent, DiscoverRequest};
use app::model::{DiscoveryEvent, RegisterAgent};
use app::validation::AgentUrl;
use futures::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use targets::Targets;
use tokio::sync::{mpsc, Semaphore};

/// A scan's probes by default at most; `max_probes` raises it, up to `PROBES_CEILING`
/// (16.7 million: about 20 minutes at the measured 14,000 probes a second on loopback).
pub const MAX_PROBES: u64 = 65_536;
pub const PROBES_CEILING: u64 = 1 << 24;
/// Probes in flight at once. On loopback a closed port answers at once; elsewhere an
/// address that drops packets holds its probe for the connect timeout, so this many are
/// waited on together (measured: `benches/discovery.rs`).
const CONCURRENCY: usize = 256;
/// Entries of a file or a registry checked at once (each is one agent, asked a few things).
const ENTRY_CONCURRENCY: usize = 32;
/// Most entries one request may give, and most candidates added at once.
pub const MAX_ENTRIES: usize = 10_000;
pub const MAX_ADD: usize = 1_000;
/// Discoveries running at once on one dashboard; a third is refused until one ends.
const RUNNING: usize = 2;
/// How often progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// Another registry's list: up to 10,000 agents of a few hundred bytes each (our agent
/// object is about 700 with its health; metadata is what may make it more).
const REGISTRY_LIST: CallLimits = CallLimits { timeout: Duration::from_secs(15), max_body: 16 * 1024 * 1024 };

#[derive(Clone)]
pub struct Discovery {
    registry: Registry,
    client: AgentClient,
    running: Arc<Semaphore>,
}

impl Discovery {
    pub fn new(registry: Registry, client: AgentClient) -> Self {
        Discovery { registry, client, running: Arc::new(Semaphore::new(RUNNING)) }
    }

    /// Checks the request whole (targets parsed, counted and judged by the network policy
    /// before anything is sent) and starts it; its events arrive on the receiver. Dropping
    /// the receiver (the client went away) stops it.
    pub fn start(&self, request: DiscoverRequest) -> Result<mpsc::Receiver<DiscoveryEvent>, ServiceError> {
        let plan = self.plan(request)?;
        let permit = self.running.clone().try_acquire_owned().map_err(|_| {
            ServiceError::Conflict(format!("{RUNNING} discoveries are running already: wait for one to end"))
        })?;
        let (tx, rx) = mpsc::channel(64);
        let this = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let started = Instant::now();
            // It ends with `done`, or with `failed` when it could not go on.
            let ended = match plan {
                Plan::Scan(targets) => Ok(this.scan(&targets, &tx).await),
                Plan::Registry(base) => match this.registry_list(&base).await {
                    Ok(entries) => Ok(this.check_entries(entries, &tx).await),
                    Err(message) => Err(message),
                },
                Plan::Entries(entries) => Ok(this.check_entries(entries, &tx).await),
                Plan::Mdns(how_long) => this.browse(how_long, &tx).await,
            };
            match ended {
                Ok((done, found)) => {
                    let seconds = started.elapsed().as_secs_f64();
                    tracing::info!(done, found, seconds, "discovery finished");
                    send(&tx, DiscoveryEvent::Done { done, found, seconds }).await;
                }
                Err(message) => {
                    tracing::info!(%message, "discovery failed");
                    send(&tx, DiscoveryEvent::Failed { message }).await;
                }
            }
        });
        Ok(rx)
    }

    fn plan(&self, request: DiscoverRequest) -> Result<Plan, ServiceError> {
        match request {
            DiscoverRequest::Scan { targets, max_probes } => {
                let parsed = Targets::parse(&targets).map_err(|e| ServiceError::invalid_field("scan.targets", e))?;
                let max = max_probes.unwrap_or(MAX_PROBES);
                if max > PROBES_CEILING {
                    return Err(ServiceError::invalid_field(
                        "scan.max_probes",
                        format!("{max} is more than one scan may make ({PROBES_CEILING}); split the scan"),
                    ));
                }
                let count = parsed.count();
                if count > u128::from(max) {
                    return Err(ServiceError::invalid_field(
                        "scan.targets",
                        format!("{targets} is {count} probes, more than {max} (--max-probes on the command line, max_probes in the API, allows more)"),
                    ));
                }
                // Before anything is sent: every address the scan would call.
                for (first, last) in parsed.ranges() {
                    if let Err(refusal) = self.client.policy().verdict_range(first, last) {
                        return Err(ServiceError::invalid_field("scan.targets", refusal.to_string()));
                    }
                }
                tracing::info!(%targets, probes = %count, "scan started");
                Ok(Plan::Scan(parsed))
            }
            DiscoverRequest::Registry { url } => {
                let base = AgentUrl::parse(url.trim_end_matches('/'))
                    .map_err(|e| ServiceError::invalid_field("registry.url", e))?;
                tracing::info!(registry = %base.as_str(), "registry import started");
                Ok(Plan::Registry(base))
            }
            DiscoverRequest::Mdns { seconds } => {
                let seconds = seconds.unwrap_or(3.0);
                if !(0.5..=mdns::MAX_BROWSE.as_secs_f64()).contains(&seconds) {
                    return Err(ServiceError::invalid_field("mdns.seconds", "between 0.5 and 30 seconds"));
                }
                tracing::info!(seconds, "mDNS browse started");
                Ok(Plan::Mdns(Duration::from_secs_f64(seconds)))
            }
            DiscoverRequest::Entries { agents } => {
                if agents.len() > MAX_ENTRIES {
                    return Err(ServiceError::invalid_field(
                        "entries.agents",
                        format!("{} entries, at most {MAX_ENTRIES} at once", agents.len()),
                    ));
                }
                Ok(Plan::Entries(agents))
            }
        }
    }

    /// Probes every pair; those where something answered are candidates.
    async fn scan(&self, targets: &Targets, tx: &mpsc::Sender<DiscoveryEvent>) -> (u64, u64) {
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

    /// Agents announcing themselves, each probed at the address it announced (under the
    /// network policy) as it resolves.
    async fn browse(&self, how_long: Duration, tx: &mpsc::Sender<DiscoveryEvent>) -> Result<(u64, u64), String> {
        // The total is not known in advance.
        if !send(tx, DiscoveryEvent::Started { total: 0 }).await {
            return Ok((0, 0));
        }
        let (found_tx, found) = mpsc::channel(ENTRY_CONCURRENCY);
        let browsing = tokio::task::spawn_blocking(move || mdns::browse(how_long, found_tx));
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

    /// Each entry probed at its URL; every entry is a candidate, down or not.
    async fn check_entries(&self, entries: Vec<DeclaredAgent>, tx: &mpsc::Sender<DiscoveryEvent>) -> (u64, u64) {
        let total = entries.len() as u64;
        if !send(tx, DiscoveryEvent::Started { total }).await {
            return (0, 0);
        }
        let mut checks = futures::stream::iter(entries)
            .map(|entry| async move { self.check_entry(entry).await })
            .buffer_unordered(ENTRY_CONCURRENCY);
        let (mut done, mut found) = (0u64, 0u64);
        while let Some(candidate) = checks.next().await {
            done += 1;
            found += u64::from(candidate.answered.addable() && candidate.answered != Answered::NoAnswer);
            if !self.send_candidate(candidate, tx).await {
                break;
            }
        }
        (done, found)
    }

    async fn check_entry(&self, entry: DeclaredAgent) -> Candidate {
        let metadata =
            entry.metadata.as_ref().and_then(|m| app::validation::parse_metadata(m).ok()).unwrap_or_default();
        let mut candidate = match AgentUrl::parse(&entry.url) {
            Ok(base) => probe::probe(&self.client, &base).await,
            Err(e) => Candidate {
                agent_id: String::new(),
                agent_name: String::new(),
                agent_url: entry.url.clone(),
                metadata: Default::default(),
                answered: Answered::NoAnswer,
                detail: Some(e),
                registered: None,
            },
        };
        // The entry's own words win over what the agent says of itself.
        candidate.agent_id = entry.id;
        if let Some(name) = entry.name.filter(|n| !n.trim().is_empty()) {
            candidate.agent_name = name;
        } else if candidate.agent_name.is_empty() {
            candidate.agent_name = candidate.agent_id.clone();
        }
        candidate.metadata.extend(metadata);
        candidate
    }

    /// Marks a candidate already registered (by ID or URL) and sends it; false when the
    /// asker went away.
    async fn send_candidate(&self, mut candidate: Candidate, tx: &mpsc::Sender<DiscoveryEvent>) -> bool {
        candidate.registered =
            self.registry.known(&candidate.agent_id, &candidate.agent_url).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not look up a candidate");
                None
            });
        send(tx, DiscoveryEvent::Candidate(candidate)).await
    }

    /// Another registry's agents: the old Python registry (`GET /agents?include_dead=true`:
    /// its default lists live agents only) or another dashboard (`…/api/v1`).
    async fn registry_list(&self, base: &AgentUrl) -> Result<Vec<DeclaredAgent>, String> {
        let answer = self
            .client
            .get_once(base, "agents?include_dead=true", REGISTRY_LIST)
            .await
            .map_err(|e| format!("{}/agents: {e}", base.as_str()))?;
        if !answer.status.is_success() {
            return Err(format!(
                "{}/agents answered {} (another dashboard's registry is at …/api/v1)",
                base.as_str(),
                crate::agent_client::status_text(answer.status)
            ));
        }
        // Read into the fields used, the rest skipped unread: a list of 10,000 agents as
        // `Value`s would take ten times its size.
        let listed: Vec<Listed> = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("{}/agents is not a registry's list of agents: {e}", base.as_str()))?;
        if listed.len() > MAX_ENTRIES {
            return Err(format!("{} agents listed, at most {MAX_ENTRIES} at once", listed.len()));
        }
        Ok(listed.into_iter().filter_map(Listed::entry).collect())
    }

    /// Adds the candidates a person chose, as agents `discovered` (an admin's, like those
    /// registered by hand): each is checked at its `/health` first; an ID already
    /// registered is left as it is.
    pub async fn add(&self, request: AddCandidates) -> Result<Vec<Added>, ServiceError> {
        if request.agents.len() > MAX_ADD {
            return Err(ServiceError::invalid_field("agents", format!("at most {MAX_ADD} at once")));
        }
        let force = request.force;
        let added = futures::stream::iter(request.agents)
            .map(|agent| async move { self.add_one(agent, force).await })
            .buffered(ENTRY_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        Ok(added)
    }

    async fn add_one(&self, agent: DeclaredAgent, force: bool) -> Added {
        let agent_id = agent.id.clone();
        match self.registry.known(&agent.id, "").await {
            Ok(Some(_)) => return Added { agent_id, outcome: AddOutcome::Exists, message: None },
            Ok(None) => {}
            Err(e) => return Added { agent_id, outcome: AddOutcome::Failed, message: Some(e.to_string()) },
        }
        let request = RegisterAgent {
            agent_name: agent.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| agent.id.clone()),
            agent_id: agent.id,
            agent_url: agent.url,
            metadata: agent.metadata.unwrap_or(Value::Null),
            force,
            ..RegisterAgent::default()
        };
        match self.registry.register_as(request, AgentSource::Discovered).await {
            Ok(_) => Added { agent_id, outcome: AddOutcome::Added, message: None },
            Err(e) => {
                Added { agent_id, outcome: AddOutcome::Failed, message: Some(app::error::ApiError::from(e).message) }
            }
        }
    }
}

#[async_trait::async_trait]
impl app::services::DiscoveryService for Discovery {
    fn discover(
        &self,
        request: DiscoverRequest,
    ) -> Result<server_fn::codec::TextStream<app::error::ApiError>, app::error::ApiError> {
        Ok(server_fn::codec::TextStream::new(lines(self.start(request)?)))
    }

    async fn add_candidates(&self, request: AddCandidates) -> Result<Vec<Added>, app::error::ApiError> {
        Ok(self.add(request).await?)
    }
}

/// The events as lines of JSON, for the API's NDJSON answer and the page's stream alike.
/// Fused: server_fn polls a streamed answer once more after its end, which an unfold
/// answers with a panic.
pub fn lines<E>(receiver: mpsc::Receiver<DiscoveryEvent>) -> impl futures::Stream<Item = Result<String, E>> + Send {
    futures::stream::unfold(receiver, |mut receiver| async move {
        let event = receiver.recv().await?;
        let mut line = serde_json::to_string(&event).unwrap_or_default();
        line.push('\n');
        Some((Ok(line), receiver))
    })
    .fuse()
}

/// How long an event may wait for the asker to read: one who stopped reading without
/// closing the connection must not hold a discovery (and its slot) for ever.
const STALLED: Duration = Duration::from_secs(60);

/// Sends an event; false when the asker went away or stopped reading.
async fn send(tx: &mpsc::Sender<DiscoveryEvent>, event: DiscoveryEvent) -> bool {
    matches!(tokio::time::timeout(STALLED, tx.send(event)).await, Ok(Ok(())))
}

enum Plan {
    Scan(Targets),
    Registry(AgentUrl),
    Entries(Vec<DeclaredAgent>),
    Mdns(Duration),
}

/// One agent of another registry's list: the old registry's record (`host`, `port`) or
/// our agent object (`agent_url`). Other fields are skipped; an entry without an ID or an
/// address is left out.
#[derive(serde::Deserialize)]
struct Listed {
    agent_id: Option<String>,
    agent_name: Option<String>,
    agent_url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    metadata: Option<Value>,
}

impl Listed {
    fn entry(self) -> Option<DeclaredAgent> {
        let url = match self.agent_url {
            Some(url) => url,
            None => {
                let host = self.host?;
                let host = if host.contains(':') { format!("[{host}]") } else { host };
                format!("http://{host}:{}", self.port?)
            }
        };
        Some(DeclaredAgent {
            id: self.agent_id?,
            name: self.agent_name.map(|n| probe::one_line(&n, 200)),
            url,
            metadata: self.metadata.filter(|m| !m.is_null()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed(raw: Value) -> Option<DeclaredAgent> {
        serde_json::from_value::<Listed>(raw).unwrap().entry()
    }

    #[test]
    fn both_registries_lists_are_read() {
        let old = json!({"agent_id": "a", "agent_name": "A", "host": "10.0.0.5", "port": 8000, "metadata": "{\"team\": \"x\"}",
                         "is_alive": false, "ttl_seconds": 60});
        assert_eq!(
            listed(old),
            Some(DeclaredAgent {
                id: "a".into(),
                name: Some("A".into()),
                url: "http://10.0.0.5:8000".into(),
                metadata: Some(json!("{\"team\": \"x\"}"))
            })
        );
        let ours = json!({"agent_id": "b", "agent_name": "B", "agent_url": "http://h:1/p", "metadata": {}});
        assert_eq!(listed(ours).unwrap().url, "http://h:1/p");
        assert_eq!(listed(json!({"agent_id": "c", "host": "::1", "port": 9})).unwrap().url, "http://[::1]:9");
        assert_eq!(listed(json!({"agent_name": "no id"})), None);
    }
}
