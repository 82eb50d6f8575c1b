//! The commands that talk to a running dashboard over its JSON API (`crate::remote` runs
//! them). None of them opens a database.

use super::UiSettings;
use app::model::{AgentState, RunStatus};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Printed under `--help`; docs/cli.md says the same.
pub const EXIT_CODES: &str = "\
Exit codes: 0 done; 1 what was asked for failed (the run failed, the dashboard refused);
2 usage (a bad option or value, inputs the agent's schema refuses); 3 the dashboard could
not be reached; 4 not found (no such agent or run).";

/// Where the dashboard is and how to speak to it; every remote command takes these.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The dashboard's address.
    #[arg(long, env = "CA_URL", default_value = "http://127.0.0.1:8001", global = true)]
    pub url: String,

    /// A file holding the token (one line), when the dashboard has access control on.
    /// `CA_TOKEN` may hold the token itself.
    #[arg(long, env = "CA_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,

    /// JSON for scripts: the API's own objects, one document per command (one per line
    /// while following); no colour, no progress.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AgentsArgs {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub command: AgentsCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AgentsCommand {
    /// Agents, ordered by ID.
    List {
        /// Only agents in this state: healthy, failing, unhealthy, unknown, expired.
        #[arg(long, value_parser = agent_state)]
        state: Option<AgentState>,
        /// Only agents whose ID, name or URL contains this.
        #[arg(long)]
        search: Option<String>,
        /// At most this many (all when not given).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
    },
    /// One agent, whole.
    Show {
        /// The agent's ID.
        id: String,
    },
    /// Register an agent by its URL (its /health is checked first).
    Add {
        /// The agent's ID.
        id: String,
        /// Its base URL (`http://host:port`, with any path prefix).
        #[arg(value_name = "URL")]
        agent_url: String,
        /// Its name (the ID when not given).
        #[arg(long)]
        name: Option<String>,
        /// Metadata: a JSON object, or text kept as its description.
        #[arg(long)]
        metadata: Option<String>,
        /// Store it even if its health check fails.
        #[arg(long)]
        force: bool,
        /// Replace the agent that already has this ID at another URL or name.
        #[arg(long)]
        replace: bool,
    },
    /// Remove an agent. A self-registered agent is deregistered (kept, with its history);
    /// any other, or with --purge, is deleted with its health history (runs stay).
    Remove {
        /// The agent's ID.
        id: String,
        /// Delete it for good, whatever its source.
        #[arg(long)]
        purge: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub command: RunsCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum RunsCommand {
    /// Start a run of an agent's workflow. Inputs are read by the agent's schema and
    /// checked before anything is sent.
    Start {
        /// The agent's ID.
        agent: String,
        /// One input, `KEY=VALUE` (repeatable): numbers and true/false as the field asks,
        /// JSON for lists and objects. Secrets are better given with --inputs (a command
        /// line shows in `ps`).
        #[arg(long = "input", short = 'i', value_name = "KEY=VALUE", value_parser = key_value)]
        input: Vec<(String, String)>,
        /// A JSON object of inputs from a file, or `-` for standard input; --input wins.
        #[arg(long = "inputs", value_name = "FILE")]
        inputs_file: Option<PathBuf>,
        /// The same key and inputs again return the same run instead of starting another.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Follow the run to its end and print its outputs (exit 1 unless it succeeded).
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Runs, newest first.
    List {
        /// Only this agent's.
        #[arg(long)]
        agent: Option<String>,
        /// Only runs in this status (repeatable, or comma-separated).
        #[arg(long, value_delimiter = ',', value_parser = run_status)]
        status: Vec<RunStatus>,
        /// Only runs created in this last stretch (`1h`, `30m`, `7d`) or since a date or
        /// RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        limit: u64,
    },
    /// One run, whole: inputs, outputs, error.
    Show {
        /// The run's ID.
        id: String,
    },
    /// Cancel a queued or running run.
    Cancel {
        /// The run's ID.
        id: String,
    },
    /// Run the same agent with the same inputs again.
    Rerun {
        /// The run's ID.
        id: String,
        /// Follow the new run to its end, as `start --follow`.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Print run changes as they happen, until Ctrl-C.
    Watch {
        /// Only this agent's runs.
        #[arg(long)]
        agent: Option<String>,
    },
}

/// Where to look for agents: exactly one.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct DiscoverSource {
    /// Probe addresses and ports, from the dashboard: `127.0.0.1:8000-8100`,
    /// `10.0.0.0/28:8000-8010`, `[::1]:8000` (comma-separated for several).
    #[arg(long, value_name = "HOSTS:PORTS")]
    pub scan: Option<String>,
    /// List another registry's agents: the old Python registry (`http://host:8000`) or
    /// another dashboard (`http://host:8001/api/v1`).
    #[arg(long, visible_alias = "registry-url", value_name = "URL")]
    pub registry: Option<String>,
    /// Check the agents of a TOML or YAML file (read here, checked by the dashboard).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen for agents announcing themselves over mDNS (`_configurable-agent._tcp`),
    /// on the dashboard's network, for --for.
    #[arg(long)]
    pub mdns: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DiscoverArgs {
    #[command(flatten)]
    pub remote: Remote,
    #[command(flatten)]
    pub source: DiscoverSource,
    /// With --mdns: how long to listen (at most 30s).
    #[arg(long = "for", value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub listen_for: std::time::Duration,
    /// With --scan: allow more than 65,536 probes (at most 16,777,216).
    #[arg(long, requires = "scan")]
    pub max_probes: Option<u64>,
    /// Register what was found: all agents not registered yet (`--add`), or these IDs
    /// (`--add a,b`). Without it nothing is registered.
    #[arg(long, num_args = 0.., value_delimiter = ',', value_name = "ID")]
    pub add: Option<Vec<String>>,
    /// With --add: register them even when they do not answer now (another registry's
    /// dead agents); `--add` alone then takes every agent not registered yet, down or not.
    #[arg(long, requires = "add")]
    pub force: bool,
    /// With --registry: a file holding the token another dashboard with access control on
    /// wants (`CA_REGISTRY_TOKEN` may hold the token itself). Sent to that registry only.
    // No `requires = "registry"`: clap counts a value from the environment as given, and
    // an exported CA_REGISTRY_TOKEN_FILE would refuse every scan.
    #[arg(long, env = "CA_REGISTRY_TOKEN_FILE", value_name = "FILE")]
    pub registry_token_file: Option<PathBuf>,
    /// Only candidates whose ID, name or URL contains this (the plan's `--filters`).
    #[arg(long, visible_alias = "filters")]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct OrchestratorArgs {
    #[command(subcommand)]
    pub command: OrchestratorCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum OrchestratorCommand {
    /// `ui`: serve the dashboard.
    Start(Box<LegacyStart>),
    /// `status`.
    Status(Remote),
    /// `discover` (the plan's `--registry-url` is `--registry`).
    Discover(DiscoverArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AgentRegistryArgs {
    #[command(subcommand)]
    pub command: AgentRegistryCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AgentRegistryCommand {
    /// `ui`: serve the dashboard, which is the registry (agents point at
    /// `http://DASHBOARD/api/v1`).
    Start(Box<LegacyStart>),
}

/// `ui` under an old name, with the option that no longer means anything refused.
#[derive(Debug, Clone, Args)]
pub struct LegacyStart {
    #[command(flatten)]
    pub ui: UiSettings,
    /// Refused: the dashboard is the registry.
    #[arg(long, hide = true)]
    pub registry_url: Option<String>,
}

impl LegacyStart {
    /// The settings of `ui`, or why not: the plan's orchestrator took a separate registry's
    /// URL; here agents register with the dashboard itself.
    pub fn into_ui(self) -> Result<UiSettings, String> {
        match self.registry_url {
            Some(url) => Err(format!(
                "--registry-url {url}: the dashboard is the registry; point agents at http://{}:{}/api/v1 instead",
                self.ui.host, self.ui.port
            )),
            None => Ok(self.ui),
        }
    }
}

fn key_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{raw:?} is not KEY=VALUE (e.g. --input topic=tea)")),
    }
}

fn agent_state(raw: &str) -> Result<AgentState, String> {
    AgentState::parse(raw)
        .ok_or_else(|| format!("{raw:?} is not a state: healthy, failing, unhealthy, unknown, expired"))
}

fn run_status(raw: &str) -> Result<RunStatus, String> {
    let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
    RunStatus::parse(raw.trim()).ok_or_else(|| format!("{raw:?} is not a status: {}", names.join(", ")))
}
