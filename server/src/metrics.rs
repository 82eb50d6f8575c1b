//! `GET /metrics`: the dashboard's own figures in the Prometheus (OpenMetrics) text
//! format, written by the Prometheus project's client crate.
//!
//! Counters and the latency histogram are updated where things happen; gauges that
//! describe current state (agents by health, runs by status, open event streams) are
//! read when scraped, so they can never drift from the truth.

use app::model::{AgentState, RunStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FieldLabel {
    field: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    agents: Family<StateLabel, Gauge>,
    runs: Family<StatusLabel, Gauge>,
    sse_clients: Gauge,
    probes: Family<OutcomeLabel, Counter>,
    probe_seconds: Histogram,
    requests: Family<RequestLabels, Counter>,
    refused_registrations: Family<FieldLabel, Counter>,
    self_preservation: Gauge,
    tokenless_heartbeats: Counter,
    tokenless_agents: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("configurable_agents");
        let agents = Family::<StateLabel, Gauge>::default();
        registry.register("agents", "Registered agents by health state (expired ones as expired)", agents.clone());
        let runs = Family::<StatusLabel, Gauge>::default();
        registry.register("runs", "Recorded runs by status", runs.clone());
        let sse_clients = Gauge::default();
        registry.register("event_stream_clients", "Open live event streams (one per browser)", sse_clients.clone());
        let probes = Family::<OutcomeLabel, Counter>::default();
        registry.register("health_checks", "Health checks made, by outcome", probes.clone());
        // 1 ms to ~16 s.
        let probe_seconds = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15));
        registry.register("health_check_duration_seconds", "How long health checks took", probe_seconds.clone());
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let refused_registrations = Family::<FieldLabel, Counter>::default();
        registry.register(
            "refused_registrations",
            "Self-registrations refused as invalid, by the first field at fault",
            refused_registrations.clone(),
        );
        let self_preservation = Gauge::default();
        registry.register(
            "self_preservation",
            "1 while expiry is paused because many agents stopped heartbeating at once",
            self_preservation.clone(),
        );
        let tokenless_heartbeats = Counter::default();
        registry.register(
            "tokenless_heartbeats",
            "Heartbeats refused (401) for want of a token since access control went on: agents still to move",
            tokenless_heartbeats.clone(),
        );
        let tokenless_agents = Gauge::default();
        registry.register(
            "tokenless_agents",
            "Agents that heartbeat without a token (in the last 10 minutes)",
            tokenless_agents.clone(),
        );
        for state in AgentState::ALL {
            agents.get_or_create(&StateLabel { state: state.as_str().into() }).set(0);
        }
        for outcome in ["healthy", "unhealthy"] {
            let _ = probes.get_or_create(&OutcomeLabel { outcome: outcome.into() });
        }
        Self {
            registry: Arc::new(Mutex::new(registry)),
            agents,
            runs,
            sse_clients,
            probes,
            probe_seconds,
            requests,
            refused_registrations,
            self_preservation,
            tokenless_heartbeats,
            tokenless_agents,
        }
    }

    pub fn record_tokenless_heartbeat(&self) {
        self.tokenless_heartbeats.inc();
    }

    pub fn set_tokenless_agents(&self, count: usize) {
        self.tokenless_agents.set(count as i64);
    }

    pub fn record_refused_registration(&self, field: &str) {
        self.refused_registrations.get_or_create(&FieldLabel { field: field.into() }).inc();
    }

    pub fn set_self_preservation(&self, on: bool) {
        self.self_preservation.set(i64::from(on));
    }

    pub fn record_check(&self, healthy: bool, latency_ms: Option<u64>) {
        let outcome = if healthy { "healthy" } else { "unhealthy" };
        self.probes.get_or_create(&OutcomeLabel { outcome: outcome.into() }).inc();
        // Only answers have a latency; checks that got none are counted above.
        if let Some(ms) = latency_ms {
            self.probe_seconds.observe(ms as f64 / 1000.0);
        }
    }

    pub fn record_request(&self, method: &str, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { method: method.into(), route: route.into(), status: status.to_string() })
            .inc();
    }

    /// The text a scrape returns, with the current-state gauges set first.
    pub fn render(&self, agents: &[(AgentState, i64)], runs: &[(RunStatus, i64)], sse_clients: usize) -> String {
        for (state, n) in agents {
            self.agents.get_or_create(&StateLabel { state: state.as_str().into() }).set(*n);
        }
        for status in RunStatus::ALL {
            let n = runs.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
            self.runs.get_or_create(&StatusLabel { status: status.as_str().into() }).set(n);
        }
        self.sse_clients.set(sse_clients as i64);
        let mut text = String::new();
        let registry = self.registry.lock().expect("metrics registry lock is never poisoned: no panics while held");
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}

/// The content type of `render`'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
