//! The command line's remote verbs (`status`, `agents …`, `runs …`, `discover`): a client of a running
//! dashboard's JSON API, for terminals and scripts. It never opens a database: what the
//! dashboard allows, checks and logs applies to it as to the pages.
//!
//! Every failure is one [`Failure`], which says its exit code (`cli::EXIT_CODES`).

mod agents;
mod client;
mod discover;
mod follow;
mod inputs;
mod output;
mod runs;
mod sse;
mod status;

pub use client::Dashboard;

use crate::cli::{AgentsArgs, DiscoverArgs, Remote, RunsArgs};
use app::error::{ApiError, ErrorCode};
use output::Out;
use std::process::ExitCode;

/// A remote verb.
pub enum Verb {
    Status(Remote),
    Agents(AgentsArgs),
    Runs(RunsArgs),
    Discover(DiscoverArgs),
}

/// Runs one verb and says how the process ends. Errors are printed here, once: a line on
/// standard error, and with `--json` the API's error object on standard output too.
pub async fn run(verb: Verb) -> ExitCode {
    let remote = match &verb {
        Verb::Status(r) => r,
        Verb::Agents(a) => &a.remote,
        Verb::Runs(r) => &r.remote,
        Verb::Discover(d) => &d.remote,
    };
    let out = Out::new(remote.json);
    let result = match Dashboard::connect(remote) {
        Err(failure) => Err(failure),
        Ok(dashboard) => match verb {
            Verb::Status(_) => status::show(&dashboard, &out).await,
            Verb::Agents(args) => agents::run(&dashboard, &out, args.command).await,
            Verb::Runs(args) => runs::run(&dashboard, &out, args.command).await,
            Verb::Discover(args) => discover::run(&dashboard, &out, args).await,
        },
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            out.failure(&failure);
            ExitCode::from(failure.code())
        }
    }
}

/// Why a command did not do what it was asked.
#[derive(Debug)]
pub enum Failure {
    /// The command line asked for something impossible (exit 2).
    Usage(String),
    /// No dashboard answered at the address, or what answered is not one (exit 3).
    Unreachable { url: String, reason: String },
    /// The dashboard refused (exit 4 for not found, 2 for refused values, else 1).
    Api(ApiError),
    /// What was asked for failed (exit 1).
    Failed(String),
}

impl Failure {
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Unreachable { .. } => 3,
            Failure::Api(e) => match e.code {
                ErrorCode::NotFound => 4,
                ErrorCode::Validation | ErrorCode::BadRequest | ErrorCode::PayloadTooLarge => 2,
                _ => 1,
            },
            Failure::Failed(_) => 1,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Failed(m) => f.write_str(m),
            Failure::Unreachable { url, reason } => write!(f, "cannot reach the dashboard at {url}: {reason}"),
            Failure::Api(e) => {
                f.write_str(&e.message)?;
                if let Some(reason) = e.reason.as_deref().filter(|r| !e.message.contains(r)) {
                    write!(f, " ({reason})")?;
                }
                match e.code {
                    ErrorCode::Unauthorized => {
                        f.write_str("; give a token with CA_TOKEN or --token-file (`configurable-agents token create`)")
                    }
                    ErrorCode::HealthCheckFailed => f.write_str("; --force stores it anyway"),
                    _ => Ok(()),
                }
            }
        }
    }
}
