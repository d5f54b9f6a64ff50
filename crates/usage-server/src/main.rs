//! `usage-server`: serve the usage API, or manage licence keys.

use std::process::ExitCode;

use clap::Parser;
use usage_server::config::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    usage_server::telemetry::init_tracing();
    match usage_server::cli::run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("usage-server: {err:#}");
            ExitCode::FAILURE
        }
    }
}
