//! The command line and its environment variables.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// Self-hostable usage server for in-browser media tools.
#[derive(Debug, Parser)]
#[command(name = "usage-server", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Create, list and revoke licence keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Where the data lives; every subcommand takes it.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long = "database", env = "USAGE_DATABASE_URL", default_value = "sqlite://usage.db")]
    pub database_url: String,
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the chosen one is printed).
    #[arg(long, env = "USAGE_SERVER_ADDR", default_value = "127.0.0.1:8787")]
    pub addr: SocketAddr,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key pair and print it once as a JSON line; the secret is stored only hashed.
    Create {
        /// A unique name for the key pair (a customer, an app).
        #[arg(long)]
        name: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print every key pair as JSON lines, without secrets.
    List {
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a key pair: both keys stop working at once; its counts stay.
    Revoke {
        /// The name given at creation.
        name: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
}
