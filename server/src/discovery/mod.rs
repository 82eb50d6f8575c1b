//! Finding agents, only when a person asks (seed 000: no automatic discovery): probing
//! addresses and ports, importing another registry's list, checking a configuration
//! file's entries. It runs here, in the dashboard, so the agent network policy, its limits
//! and its logs apply, whoever asks (the page's "Find agents", `configurable-agents
//! discover`). What is found is streamed as it is found; nothing is added until a person
//! chooses (`add`).

mod add;
mod entries;
pub mod file;
mod mdns;
mod probe;
mod scan;
pub mod targets;

use crate::agent_client::{AgentClient, CallLimits, Outbound};
use crate::error::ServiceError;
use crate::registry::Registry;
use app::model::{AddCandidates, Added, Candidate, DeclaredAgent, DiscoverRequest, DiscoveryEvent};
use app::validation::AgentUrl;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use targets::Targets;
use tokio::sync::{mpsc, Semaphore};

/// A scan's probes by default at most; `max_probes` raises it, up to `PROBES_CEILING`
/// (16.7 million: about 20 minutes at the measured 14,000 probes a second on loopback,
/// but a day over addresses that drop packets, 256 at a time for 1.5 s each).
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
        let tx = Events { tx, gone: AtomicBool::new(false) };
        let this = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let started = Instant::now();
            // It ends with `done`, or with `failed` when it could not go on.
            let ended = match plan {
                Plan::Scan(targets) => Ok(this.scan(&targets, &tx).await),
                Plan::Registry(base, auth) => match this.registry_list(&base, &auth).await {
                    Ok(entries) => Ok(this.check_entries(entries, &tx).await),
                    Err(message) => Err(message),
                },
                Plan::Entries(entries) => Ok(this.check_entries(entries, &tx).await),
                Plan::Mdns(how_long) => this.browse(how_long, &tx).await,
            };
            match ended {
                Ok((done, found)) if tx.gone() => {
                    tracing::info!(done, found, "discovery stopped: the asker went away or stopped reading");
                }
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
            DiscoverRequest::Registry { url, token } => {
                let base = AgentUrl::parse(url.trim_end_matches('/'))
                    .map_err(|e| ServiceError::invalid_field("registry.url", e))?;
                let token = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
                let headers = token.map(|t| [("Authorization".to_owned(), format!("Bearer {t}"))].into());
                let auth = match headers {
                    Some(headers) => Outbound::parse(&headers).map_err(|_| {
                        ServiceError::invalid_field("registry.token", "a token is one line of printable ASCII")
                    })?,
                    None => Outbound::none(),
                };
                tracing::info!(registry = %base.as_str(), token = !auth.is_empty(), "registry import started");
                Ok(Plan::Registry(base, auth))
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

    /// Marks a candidate already registered (by ID or URL) and sends it; false when the
    /// asker went away.
    async fn send_candidate(&self, mut candidate: Candidate, tx: &Events) -> bool {
        candidate.registered =
            self.registry.known(&candidate.agent_id, &candidate.agent_url).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not look up a candidate");
                None
            });
        send(tx, DiscoveryEvent::Candidate(candidate)).await
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

/// Where a discovery's events go, and whether the asker is still there to read them.
struct Events {
    tx: mpsc::Sender<DiscoveryEvent>,
    /// An event could not be delivered: nothing more is sent (one stalled send is enough
    /// to wait for).
    gone: AtomicBool,
}

impl Events {
    fn gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed) || self.tx.is_closed()
    }
}

/// Sends an event; false when the asker went away or stopped reading, and from then on.
async fn send(tx: &Events, event: DiscoveryEvent) -> bool {
    if tx.gone() {
        return false;
    }
    let sent = matches!(tokio::time::timeout(STALLED, tx.tx.send(event)).await, Ok(Ok(())));
    if !sent {
        tx.gone.store(true, Ordering::Relaxed);
    }
    sent
}

enum Plan {
    Scan(Targets),
    /// With the token to send, if any.
    Registry(AgentUrl, Outbound),
    Entries(Vec<DeclaredAgent>),
    Mdns(Duration),
}
