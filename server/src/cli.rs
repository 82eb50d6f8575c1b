//! The command line. Every option also reads an environment variable; `--help` is the
//! reference (docs/configuration.md mirrors it).

use clap::{Args, Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "configurable-agents", version, about = "Register remote AI agents, watch their health, run their workflows.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard (web UI, JSON API under /api/v1) and keep agents' health current.
    Ui(UiSettings),
    /// Run the reference agent (/health, /schema, /run) for trying the dashboard out.
    TestAgent(TestAgentSettings),
    /// Apply pending database migrations and exit (`ui` also applies them at start).
    Migrate(MigrateSettings),
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://configurable_agents.db";

#[derive(Debug, Clone, Args)]
pub struct UiSettings {
    /// Address to listen on. Only loopback addresses are allowed until access tokens exist.
    #[arg(long, env = "CA_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

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

    /// How often the dashboard checks every agent's /health (e.g. 10s, 1m).
    #[arg(long, env = "CA_HEALTH_INTERVAL", default_value = "10s", value_parser = positive_duration)]
    pub health_interval: Duration,

    /// How long one health check may take before the agent counts as unhealthy.
    #[arg(long, env = "CA_HEALTH_TIMEOUT", default_value = "5s", value_parser = positive_duration)]
    pub health_timeout: Duration,

    /// How many agents are checked at the same time.
    #[arg(long, env = "CA_HEALTH_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub health_concurrency: u16,
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
}

#[derive(Debug, Clone, Args)]
pub struct MigrateSettings {
    /// Database URL, as for `ui`.
    #[arg(long, env = "CA_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

/// A humantime duration of at least 100 ms (a zero interval would spin).
fn positive_duration(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw).map_err(|e| format!("{e} (examples: 500ms, 10s, 2m)"))?;
    if d < Duration::from_millis(100) {
        return Err("must be at least 100ms".into());
    }
    Ok(d)
}
