//! `configurable-agents`: parses the command line and hands over; it decides nothing.

use clap::Parser;
use server::cli::{AgentRegistryCommand, Cli, Command, OrchestratorCommand};
use server::remote::Verb;
use std::process::ExitCode;

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
