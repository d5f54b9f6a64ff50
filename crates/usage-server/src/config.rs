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
    /// Create, list and revoke licence keys; set their monthly limits.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create, list and revoke the vendor's admin tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Fill a database with synthetic events for benchmarks, through the store's
    /// real write path (rollups included); run it again to add more.
    BenchLoad(BenchLoadArgs),
}

/// Options of `bench-load`.
#[derive(Debug, Clone, Args)]
pub struct BenchLoadArgs {
    /// How many events to add, spread over every active licence key.
    #[arg(long)]
    pub events: u64,
    /// How many origins each key's events come from.
    #[arg(long, default_value_t = 20)]
    pub origins: u32,
    /// Over how many past days (UTC) the events are spread.
    #[arg(long, default_value_t = 85, value_parser = clap::value_parser!(u32).range(1..=90))]
    pub days: u32,
    /// Events per transaction.
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
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
    /// Keyless and free-license events accepted per client address per minute; 0: no limit.
    #[arg(long, env = "USAGE_RATE_LIMIT_PER_ADDRESS", default_value_t = 120)]
    pub rate_limit_per_address: u32,
    /// Events accepted per licence key per minute; 0: no limit.
    #[arg(long, env = "USAGE_RATE_LIMIT_PER_KEY", default_value_t = 6000)]
    pub rate_limit_per_key: u32,
    /// Take the client address from the first `X-Forwarded-For` entry (only behind
    /// a proxy that sets it; otherwise clients could pick their own address).
    #[arg(long, env = "USAGE_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// The most registrations committed in one transaction (group commit).
    #[arg(long, env = "USAGE_BATCH_MAX_EVENTS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_max_events: u32,
    /// How long the writer waits for more registrations after the first of a
    /// batch, in milliseconds; 0 commits whatever is queued at once.
    #[arg(long, env = "USAGE_BATCH_WINDOW_MS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub batch_window_ms: u32,
    /// Days raw events are kept for idempotency and audit (at least 91); rollups
    /// are kept. Older events are pruned every hour.
    #[arg(long, env = "USAGE_RETAIN_DAYS", default_value_t = 400, value_parser = clap::value_parser!(u32).range(91..))]
    pub retain_days: u32,
    /// Also serve the files of this directory (the built demo, `www/dist`) at every
    /// path the API does not use, from the same origin as the API.
    #[arg(long = "static", env = "USAGE_STATIC_DIR", value_name = "DIR")]
    pub static_dir: Option<std::path::PathBuf>,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// A monthly limit on the command line: a number of billable events, or `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyLimit(pub Option<u64>);

impl std::str::FromStr for MonthlyLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "none" {
            return Ok(MonthlyLimit(None));
        }
        text.parse::<u64>()
            .map(|n| MonthlyLimit(Some(n)))
            .map_err(|_| format!("a monthly limit is a whole number of billable events, or `none` (got `{text}`)"))
    }
}

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key pair and print it once as a JSON line; the secret is stored only hashed.
    Create {
        /// A unique name for the key pair (a customer, an app).
        #[arg(long)]
        name: String,
        /// Billable events (all kinds) the licence covers per calendar month (UTC).
        #[arg(long)]
        monthly_limit: Option<u64>,
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
    /// Set a key pair's monthly limit of billable events, or `none` to remove it.
    SetLimit {
        /// The name given at creation.
        name: String,
        /// Billable events per calendar month (UTC), or `none`.
        limit: MonthlyLimit,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// The `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin token and print it once as a JSON line; it is stored only hashed.
    CreateToken {
        /// A unique name for the token (a person, a dashboard).
        #[arg(long)]
        name: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print every admin token's name and dates as JSON lines, never the token.
    List {
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke an admin token: it stops working at once.
    Revoke {
        /// The name given at creation.
        name: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
}
