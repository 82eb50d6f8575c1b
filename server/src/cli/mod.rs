//! The command line. Every option also reads an environment variable; `--help` is the
//! reference (docs/configuration.md mirrors it).

mod remote;

pub use remote::*;

use clap::{Args, Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "configurable-agents",
    version,
    about = "Register remote AI agents, watch their health, run their workflows.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard (web UI, JSON API under /api/v1) and keep agents' health current.
    Ui(Box<UiSettings>),
    /// Run the reference agent (/health, /schema, /run) for trying the dashboard out.
    TestAgent(TestAgentSettings),
    /// Apply pending database migrations and exit (`ui` also applies them at start).
    Migrate(MigrateSettings),
    /// Manage access tokens in the dashboard's database (a running dashboard sees a
    /// change within 2 s).
    Token(TokenSettings),
    /// A running dashboard at a glance: version, agents by state, runs by status, whether
    /// its event stream is up.
    #[command(after_help = EXIT_CODES)]
    Status(Remote),
    /// List, show, add and remove a running dashboard's agents.
    #[command(after_help = EXIT_CODES)]
    Agents(AgentsArgs),
    /// Start, follow, list, show, cancel and re-run runs on a running dashboard.
    #[command(after_help = EXIT_CODES)]
    Runs(RunsArgs),
    /// Find agents on request: scan ports, list another registry, check a file; shows
    /// what answered and registers only with --add.
    #[command(after_help = EXIT_CODES)]
    Discover(DiscoverArgs),
    /// The plan's names: `orchestrator start` is `ui`, `orchestrator status` is `status`,
    /// `orchestrator discover` is `discover`.
    Orchestrator(OrchestratorArgs),
    /// The old tool's registry: `agent-registry start` is `ui` (the dashboard is the registry).
    AgentRegistry(AgentRegistryArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TokenSettings {
    /// Database URL, as for `ui`.
    #[arg(long, env = "CA_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create the admin token `admin` and print it (only now): from the next start the
    /// dashboard requires a token on every address, and may listen off loopback.
    InitAdmin,
    /// Create a token and print it (only now). Agent tokens register, heartbeat and
    /// deregister their own agents only.
    Create {
        /// Its name (letters, digits, `.`, `_`, `-`), to list and revoke it by.
        #[arg(long)]
        name: String,
        /// What it may do.
        #[arg(long, value_enum, default_value_t = crate::access::Scope::Agent)]
        scope: crate::access::Scope,
        /// Only this agent ID (agent tokens).
        #[arg(long, conflicts_with = "agent_prefix")]
        agent_id: Option<String>,
        /// Only agent IDs starting with this (agent tokens).
        #[arg(long)]
        agent_prefix: Option<String>,
    },
    /// List the tokens (never their values): name, scope, what they may register, agents owned.
    List,
    /// Revoke a token: it and the sign-ins it opened stop working within 2 s.
    Revoke {
        /// The token's name.
        name: String,
    },
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://configurable_agents.db";

#[derive(Debug, Clone, Args)]
pub struct UiSettings {
    /// Address to listen on. Any other than loopback needs an admin token (then every
    /// request needs a token, on every address).
    #[arg(long, env = "CA_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// A file holding the admin token (one line). With it, every request needs a token.
    /// (`CA_ADMIN_TOKEN` may hold the token itself; `token init-admin` makes one.)
    #[arg(long, env = "CA_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// The admin token itself: from `CA_ADMIN_TOKEN` only (a flag would show in `ps`).
    #[arg(skip)]
    pub admin_token: Option<String>,

    /// With access control on, keep registration, heartbeats and deregistration open
    /// without a token, while agents move to tokens (agents owned by a token stay theirs).
    #[arg(long, env = "CA_OPEN_REGISTRATION")]
    pub open_registration: bool,

    /// How long a sign-in lasts.
    #[arg(long, env = "CA_SESSION_LIFETIME", default_value = "12h", value_parser = positive_duration)]
    pub session_lifetime: Duration,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "CA_PORT", default_value_t = 8001)]
    pub port: u16,

    /// Database: a SQLite file (`sqlite://path.db`, or just a path) or a PostgreSQL URL
    /// (`postgres://user@host/db`). SQLite files are created when missing.
    #[arg(long, env = "CA_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Leptos site settings (output name, site root); missing file means built-in defaults.
    #[arg(long, env = "CA_LEPTOS_CONFIG", default_value = "Leptos.toml")]
    pub leptos_config: PathBuf,

    /// Folder holding the built site (`pkg/` with the WASM, JS and CSS); overrides Leptos.toml.
    #[arg(long, env = "CA_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    /// How often the dashboard checks each agent's /health (e.g. 10s, 1m), unless the
    /// agent was registered with an interval of its own. Each agent has a fixed slot
    /// inside the interval, so checks are spread evenly over it.
    #[arg(long, env = "CA_HEALTH_INTERVAL", default_value = "10s", value_parser = positive_duration)]
    pub health_interval: Duration,

    /// How long one health check may take before it counts as failed.
    #[arg(long, env = "CA_HEALTH_TIMEOUT", default_value = "3s", value_parser = positive_duration)]
    pub health_timeout: Duration,

    /// Health checks open at the same time (high, so that agents that never answer do
    /// not hold up the others; each open check is one socket).
    #[arg(long, env = "CA_HEALTH_CONCURRENCY", default_value_t = 4096, value_parser = clap::value_parser!(u16).range(1..))]
    pub health_concurrency: u16,

    /// Failed checks in a row after which an agent is `unhealthy`; before that it is
    /// `failing (k of N)`, so one lost check does not flap the page.
    #[arg(long, env = "CA_UNHEALTHY_AFTER", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub unhealthy_after: u32,

    /// Width of the buckets in which check latency is kept (min/mean/max per agent).
    #[arg(long, env = "CA_LATENCY_BUCKET", default_value = "5m", value_parser = positive_duration)]
    pub latency_bucket: Duration,

    /// How long latency buckets are kept.
    #[arg(long, env = "CA_LATENCY_RETENTION", default_value = "7d", value_parser = positive_duration)]
    pub latency_retention: Duration,

    /// A host name the dashboard answers to besides loopback addresses and localhost
    /// (repeatable; env: comma-separated). Requests naming any other Host are refused
    /// (protection against DNS rebinding).
    #[arg(long = "allowed-host", env = "CA_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// A proxy (or load balancer) in front of the dashboard whose `X-Forwarded-For` and
    /// `X-Forwarded-Proto` are believed (a CIDR or one address; repeatable; env:
    /// comma-separated). Without it the client is the connection's peer and the headers
    /// are ignored; behind a proxy, give the proxy's address, or every rate limit and
    /// self-registration sees the proxy. Give proxies only: clients inside a trusted range
    /// could name any address.
    #[arg(long = "trusted-proxy", env = "CA_TRUSTED_PROXIES", value_delimiter = ',', value_parser = network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Call agents only in these networks (a CIDR such as 10.0.0.0/8, or one address;
    /// repeatable; env: comma-separated). Without it any address may be called except
    /// link-local (cloud metadata), unspecified, multicast and broadcast ones.
    #[arg(long = "allow-agent-network", env = "CA_ALLOW_AGENT_NETWORKS", value_delimiter = ',', value_parser = network)]
    pub allow_agent_networks: Vec<ipnet::IpNet>,

    /// Never call agents in these networks (repeatable; env: comma-separated); wins over
    /// --allow-agent-network.
    #[arg(long = "deny-agent-network", env = "CA_DENY_AGENT_NETWORKS", value_delimiter = ',', value_parser = network)]
    pub deny_agent_networks: Vec<ipnet::IpNet>,

    /// Call agents by IP address only: an agent URL with a host name is refused before
    /// any DNS lookup (a name's address can change after it was judged).
    #[arg(long, env = "CA_DENY_AGENT_NAMES")]
    pub deny_agent_names: bool,

    /// How long a run may take, from calling the agent to its final answer (async jobs
    /// included); past it the run is `timed_out`.
    #[arg(long, env = "CA_RUN_TIMEOUT", default_value = "10m", value_parser = positive_duration)]
    pub run_timeout: Duration,

    /// Runs sent to one agent at the same time; the rest wait, queued, in order.
    #[arg(long, env = "CA_RUN_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub run_concurrency: u32,

    /// Largest inputs object a run accepts, as JSON (e.g. 512KiB, 1MiB).
    #[arg(long, env = "CA_MAX_RUN_INPUTS", default_value = "1MiB", value_parser = byte_size)]
    pub max_run_inputs: usize,

    /// Largest answer read from an agent's /run or /status (e.g. 10MiB); a larger one
    /// fails the run with that reason.
    #[arg(long, env = "CA_MAX_RUN_OUTPUT", default_value = "10MiB", value_parser = byte_size)]
    pub max_run_output: usize,

    /// Delete finished runs older than this (e.g. 30d); off when not given.
    #[arg(long, env = "CA_RUN_RETENTION", value_parser = positive_duration)]
    pub run_retention: Option<Duration>,

    /// How long an agent's fetched /schema is reused before it is asked again (a burst of
    /// runs asks once; a changed schema is seen after this). `0s` asks every time.
    #[arg(long, env = "CA_SCHEMA_REUSE", default_value = "5s", value_parser = any_duration)]
    pub schema_reuse: Duration,

    /// An agent's unchanged check results are pushed to open pages at most this often
    /// (changes at once). Pages assume 30 s; other values are for tests.
    #[arg(long, env = "CA_HEALTH_REFRESH", default_value = "30s", value_parser = positive_duration, hide = true)]
    pub health_refresh: Duration,

    /// Delete self-registered agents that have been expired or deregistered for longer
    /// than this (e.g. 30d), history included; off when not given (they stay listed).
    #[arg(long, env = "CA_EXPIRED_RETENTION", value_parser = positive_duration)]
    pub expired_retention: Option<Duration>,

    /// Self-preservation: when more than this share of the live self-registered agents
    /// fall silent together (no heartbeat for half their TTL), expiry pauses: the
    /// dashboard's network is more likely at fault than all of them at once.
    #[arg(long, env = "CA_SELF_PRESERVATION_SHARE", default_value_t = 0.5, value_parser = share)]
    pub self_preservation_share: f64,

    /// Agents declared in a TOML or YAML file (`[[agents]] id, name, url, metadata`),
    /// applied at start and whenever it changes: the file owns them (`source: declared`);
    /// an entry removed is deregistered (kept with its history); an ID registered
    /// otherwise is left alone. A file with a mistake changes nothing (at start: refused).
    #[arg(long, env = "CA_AGENTS_FILE")]
    pub agents_file: Option<PathBuf>,

    /// How often the agents file is read for changes.
    #[arg(long, env = "CA_AGENTS_FILE_POLL", default_value = "2s", value_parser = positive_duration, hide = true)]
    pub agents_file_poll: Duration,

    /// Several dashboards on one PostgreSQL: one not seen for this long is gone, and the
    /// others take its agents and runs (docs/deploy.md). Each renews its row every fifth
    /// of it.
    #[arg(long, env = "CA_NODE_TIMEOUT", default_value = "10s", value_parser = node_timeout)]
    pub node_timeout: Duration,

    /// How this dashboard is named in `status` and on the page when several share a
    /// database (default: this machine's name and the port).
    #[arg(long, env = "CA_NODE_ADDRESS")]
    pub node_address: Option<String>,

    /// ... and they are at least this many (a small fleet's agents may all go at once).
    #[arg(long, env = "CA_SELF_PRESERVATION_MIN", default_value_t = 10)]
    pub self_preservation_min: u32,

    /// The longest expiry stays paused; then the overdue agents expire and the count
    /// starts afresh, so agents gone for good cannot hold it on.
    #[arg(long, env = "CA_SELF_PRESERVATION_MAX", default_value = "15m", value_parser = positive_duration)]
    pub self_preservation_max: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct TestAgentSettings {
    /// Address to listen on.
    #[arg(long, env = "CA_TEST_AGENT_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "CA_TEST_AGENT_PORT", default_value_t = 8002)]
    pub port: u16,

    /// The agent ID it reports in /health.
    #[arg(long, env = "CA_TEST_AGENT_ID", default_value = "test-agent")]
    pub agent_id: String,

    /// Answer /run with `{"status": "async", "job_id"}` and let /status/{job_id} report
    /// the job until it is done (1–2 s), as agents with long work do.
    #[arg(long = "async")]
    pub async_jobs: bool,

    /// How long each run's simulated work takes (e.g. `5s`), instead of 100–500 ms
    /// (1–2 s with --async).
    #[arg(long, env = "CA_TEST_AGENT_WORK", value_parser = positive_duration)]
    pub work: Option<Duration>,

    /// Publish this JSON file as /schema instead of the article writer's, and answer /run
    /// by echoing the inputs back (for trying generated forms).
    #[arg(long, env = "CA_TEST_AGENT_SCHEMA")]
    pub schema: Option<PathBuf>,

    /// Add an `items` array of small objects to every run's outputs, about this big as
    /// JSON (e.g. `9MiB`), for trying how pages and clients cope with big outputs.
    #[arg(long, env = "CA_TEST_AGENT_PAD_OUTPUT", value_parser = byte_size)]
    pub pad_output: Option<usize>,

    /// Register with this dashboard's registry (e.g. `http://127.0.0.1:8001/api/v1`) at
    /// the address it listens on, send heartbeats, and deregister at Ctrl-C or SIGTERM,
    /// as self-registering agents do.
    #[arg(long, env = "CA_TEST_AGENT_REGISTER")]
    pub register: Option<String>,

    /// With --register: without a heartbeat for this long the dashboard marks it expired
    /// (heartbeats go every third of it).
    #[arg(long, env = "CA_TEST_AGENT_TTL", default_value = "60s", value_parser = positive_duration)]
    pub ttl: Duration,

    /// With --register or --announce: the name it gives.
    #[arg(long, env = "CA_TEST_AGENT_NAME", default_value = "Test Agent")]
    pub name: String,

    /// Announce itself over mDNS (`_configurable-agent._tcp`), for `discover --mdns`.
    #[arg(long, env = "CA_TEST_AGENT_ANNOUNCE")]
    pub announce: bool,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateSettings {
    /// Database URL, as for `ui`.
    #[arg(long, env = "CA_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// The file is the old Python dashboard's: rename its tables to legacy_* (nothing is
    /// deleted), create ours, and import its agents and run history.
    #[arg(long)]
    pub import_legacy: bool,
}

/// A humantime duration of at least 100 ms (a zero interval would spin).
fn any_duration(raw: &str) -> Result<Duration, String> {
    humantime::parse_duration(raw).map_err(|e| format!("{e} (examples: 0s, 500ms, 10s)"))
}

fn node_timeout(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw).map_err(|e| format!("{e} (examples: 10s, 30s)"))?;
    if d < Duration::from_millis(500) {
        return Err("must be at least 500ms (the row is renewed every fifth of it)".into());
    }
    Ok(d)
}

fn positive_duration(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw).map_err(|e| format!("{e} (examples: 500ms, 10s, 2m)"))?;
    if d < Duration::from_millis(100) {
        return Err("must be at least 100ms".into());
    }
    Ok(d)
}

/// `1048576`, `512KiB`, `1MiB`, `10MB` (KB/MB are taken as KiB/MiB).
fn byte_size(raw: &str) -> Result<usize, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: usize = digits.parse().map_err(|_| format!("{raw:?} is not a size (examples: 512KiB, 1MiB)"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        other => return Err(format!("unknown size unit {other:?} (use B, KiB or MiB)")),
    };
    match n.checked_mul(factor) {
        Some(0) => Err("must be more than 0".into()),
        Some(size) if size <= 1024 * 1024 * 1024 => Ok(size),
        _ => Err("must be at most 1024MiB".into()),
    }
}

fn network(raw: &str) -> Result<ipnet::IpNet, String> {
    crate::agent_client::policy::parse_network(raw)
}

fn share(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{raw:?} is not a share between 0 and 1 (e.g. 0.5)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(byte_size("1MiB"), Ok(1024 * 1024));
        assert_eq!(byte_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(byte_size("10MB"), Ok(10 * 1024 * 1024));
        assert_eq!(byte_size("2048"), Ok(2048));
        assert!(byte_size("0").is_err());
        assert!(byte_size("1GiB").is_err());
        assert!(byte_size("lots").is_err());
    }
}
