//! `usage-server`: serve the usage API, or manage licence keys.

use std::process::ExitCode;

use clap::Parser;
use usage_server::config::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    usage_server::telemetry::init_tracing(cli.log_format);
    match usage_server::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("usage-server: {err:#}");
            ExitCode::FAILURE
        }
    }
}
