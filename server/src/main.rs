//! `configurable-agents`: parses the command line and hands over; it decides nothing.

use clap::Parser;
use server::cli::{AgentRegistryCommand, Cli, Command, OrchestratorCommand};
use server::remote::Verb;
use std::process::ExitCode;

/// jemalloc rather than glibc's malloc. glibc kept what 1,000 closed event streams had
/// used (21.7 of 24.3 KiB a stream stayed resident); jemalloc gives it back (1.9 KiB
/// kept) and was faster in the runs bench (1,000 runs recorded in 1.99 s against 2.19 s,
/// 1.85 s of CPU against 2.07), for 3 KiB more per open stream (27.4 KiB then; 9.1 since
/// the stream left the compression layer and axum::serve) and 3% more peak memory. `cargo bench -p
/// server --bench streams` / `--bench runs`, A/B with BENCH_DASHBOARD_BIN.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings: a background thread returns freed pages within a second.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: Option<&'static std::ffi::c_char> =
    Some(unsafe { &*c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() });

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // The remote verbs print their own errors and choose their exit codes
        // (`cli::EXIT_CODES`); they log nothing.
        Command::Status(remote)
        | Command::Orchestrator(server::cli::OrchestratorArgs { command: OrchestratorCommand::Status(remote) }) => {
            return server::remote::run(Verb::Status(remote)).await
        }
        Command::Agents(args) => return server::remote::run(Verb::Agents(args)).await,
        Command::Runs(args) => return server::remote::run(Verb::Runs(args)).await,
        Command::Discover(args)
        | Command::Orchestrator(server::cli::OrchestratorArgs { command: OrchestratorCommand::Discover(args) }) => {
            return server::remote::run(Verb::Discover(args)).await
        }
        command => {
            server::telemetry::init();
            serve(command).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(command: Command) -> Result<(), server::StartError> {
    match command {
        Command::Ui(settings) => server::startup::serve(*settings).await,
        Command::Orchestrator(server::cli::OrchestratorArgs { command: OrchestratorCommand::Start(start) })
        | Command::AgentRegistry(server::cli::AgentRegistryArgs { command: AgentRegistryCommand::Start(start) }) => {
            match start.into_ui() {
                Ok(settings) => server::startup::serve(settings).await,
                Err(refused) => {
                    eprintln!("error: {refused}");
                    std::process::exit(2);
                }
            }
        }
        Command::TestAgent(settings) => server::test_agent::serve(settings).await,
        Command::Migrate(settings) => server::db::migrate_only(&settings).await,
        Command::Token(settings) => server::access::command::run(settings).await,
        Command::Status(_)
        | Command::Agents(_)
        | Command::Runs(_)
        | Command::Discover(_)
        | Command::Orchestrator(_) => {
            unreachable!("remote verbs are run by main")
        }
    }
}
