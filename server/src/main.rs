//! `configurable-agents`: parses the command line and hands over; it decides nothing.

use clap::Parser;
use server::cli::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    server::telemetry::init();
    let result = match cli.command {
        Command::Ui(settings) => server::startup::serve(*settings).await,
        Command::TestAgent(settings) => server::test_agent::serve(settings).await,
        Command::Migrate(settings) => server::db::migrate_only(&settings).await,
        Command::Token(settings) => server::access::command::run(settings).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
