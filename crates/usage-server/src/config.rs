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
    /// How log lines (on stderr) are written: `text` for people, `json` (one
    /// object per line) for a log pipeline.
    #[arg(long, global = true, env = "USAGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the request's span (its request id).
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Create, list, rotate and revoke licences; set their limits and allowed origins.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create, list and revoke the vendor's admin tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Add, list, pause, resume and delete webhook endpoints; read their deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Fill a database with synthetic events for benchmarks, through the store's
    /// real write path (rollups included); run it again to add more.
    BenchLoad(BenchLoadArgs),
    /// Print the OpenAPI 3.1 document of the HTTP API (what `GET /api/openapi.json` serves).
    Openapi,
    /// Write a consistent, checked copy of a live SQLite database (servers may keep
    /// writing); PostgreSQL: use pg_dump (docs/DEPLOY.md).
    Backup {
        /// The copy to write; it must not exist.
        #[arg(long)]
        to: std::path::PathBuf,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Replace an SQLite database with a backup, after checking it; refused while
    /// a server is using the database.
    Restore {
        /// The backup to restore.
        file: std::path::PathBuf,
        /// The database to replace (created if missing).
        #[command(flatten)]
        database: DatabaseArgs,
    },
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
    /// Events no licence pays for (keyless, free-license, a key used on an origin it
    /// is not allowed on) accepted per client address per minute; 0: no limit.
    #[arg(long, env = "USAGE_RATE_LIMIT_PER_ADDRESS", default_value_t = 120)]
    pub rate_limit_per_address: u32,
    /// Licensed events accepted per licence key and client address per minute
    /// (an office behind one address running a batch converter); 0: no limit.
    /// Kept per address so that nobody else's flood can spend a licensee's rate.
    #[arg(long, env = "USAGE_RATE_LIMIT_PER_KEY", default_value_t = 1200)]
    pub rate_limit_per_key: u32,
    /// Behind one reverse proxy: take the client address from `X-Forwarded-For`
    /// as that proxy appends it (the right-most entry). Same as
    /// `--trusted-proxy-hops 1`.
    #[arg(long, env = "USAGE_TRUST_FORWARDED_FOR", conflicts_with_all = ["trusted_proxy_hops", "trusted_proxies"])]
    pub trust_forwarded_for: bool,
    /// Behind this many reverse proxies, each appending to `X-Forwarded-For`: the
    /// client address is the entry this many places from the right.
    #[arg(long, env = "USAGE_TRUSTED_PROXY_HOPS", conflicts_with = "trusted_proxies",
          value_parser = clap::value_parser!(u8).range(1..=16))]
    pub trusted_proxy_hops: Option<u8>,
    /// Reverse proxies by address range (`10.0.0.0/8`, `2001:db8::/32`; repeat the
    /// flag, or separate with commas): a request from one of them is taken to come
    /// from the right-most `X-Forwarded-For` entry outside these ranges, as nginx's
    /// `real_ip_recursive` does.
    #[arg(long = "trusted-proxy", env = "USAGE_TRUSTED_PROXIES", value_name = "CIDR", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The most open connections; past it a new connection gets a 503 and is
    /// closed. The default fits a 1,024 file limit with room for the database.
    #[arg(long, env = "USAGE_MAX_CONNECTIONS", default_value_t = 768, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// The most open connections from one client address (not counted for trusted
    /// proxies); past it a new connection gets a 503 and is closed.
    #[arg(long, env = "USAGE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: u32,
    /// Seconds a connection may wait for a request's headers, counted from when
    /// it opens or its last answer was sent: it bounds idle keep-alive
    /// connections and headers sent slowly alike.
    #[arg(long, env = "USAGE_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
    /// Seconds a request body may take to arrive in full.
    #[arg(long, env = "USAGE_BODY_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,
    /// Seconds an answer may wait for a client that does not read it.
    #[arg(long, env = "USAGE_WRITE_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub write_timeout_secs: u64,
    /// Seconds SIGTERM or SIGINT waits for requests under way before the server
    /// closes what is left and exits (events are acknowledged only once stored).
    #[arg(long, env = "USAGE_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout_secs: u64,
    /// New origins each account (a licence, unlicensed, free-license) may be
    /// counted from per UTC day; past it, its events from origins it was never
    /// counted from are counted under "(other origins)", and the views say how
    /// many. 0: no cap.
    #[arg(long, env = "USAGE_MAX_NEW_ORIGINS_PER_DAY", default_value_t = crate::store::DEFAULT_MAX_NEW_ORIGINS_PER_DAY)]
    pub max_new_origins_per_day: u32,
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
    /// Seconds a webhook endpoint has to answer an attempt before it counts as
    /// failed (and is retried on the schedule in docs/API.md).
    #[arg(long, env = "USAGE_WEBHOOK_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout_secs: u64,
    /// Serve Prometheus metrics at `http://ADDR/metrics` on this separate address
    /// (keep it off the public port: a private interface or loopback). Off by default.
    #[arg(long, env = "USAGE_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
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
        /// An origin the key counts toward its licence from: `https://acme.com`,
        /// or `https://*.acme.com` for every subdomain; repeat for more. None:
        /// any origin. Used elsewhere, the key's events are shown, never billed.
        #[arg(long = "allowed-origin", value_name = "ORIGIN")]
        allowed_origins: Vec<String>,
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
    /// Set the origins a key pair counts toward its licence from (replacing the
    /// ones it had), or `--any` for any origin.
    SetAllowedOrigins {
        /// The name given at creation.
        name: String,
        /// `https://acme.com`, `https://*.acme.com`, …
        #[arg(value_name = "ORIGIN", required_unless_present = "any", conflicts_with = "any")]
        origins: Vec<String>,
        /// Any origin (how keys work without allowed origins).
        #[arg(long)]
        any: bool,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Give a licence a new key pair and print it once as a JSON line; the
    /// previous keys keep working for `--grace-secs`, then are refused.
    Rotate {
        /// The name given at creation.
        name: String,
        /// How long the previous keys stay accepted, in seconds (at most 30 days).
        #[arg(long, default_value_t = 86_400)]
        grace_secs: u64,
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

/// The `webhooks` subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint and print it with its signing secret once, as a JSON line.
    Create {
        /// Where messages are POSTed: an http or https URL.
        #[arg(long)]
        url: String,
        /// The event types it wants, comma-separated (`license.created,origin.unlicensed`); none: all.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print every endpoint as JSON lines, never its secret.
    List {
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Pause an endpoint's attempts: its messages wait until it is enabled.
    Disable {
        /// The endpoint's id (`ep_…`).
        id: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Resume an endpoint's attempts, waiting messages first.
    Enable {
        /// The endpoint's id (`ep_…`).
        id: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Delete an endpoint: nothing more is sent to it.
    Delete {
        /// The endpoint's id (`ep_…`).
        id: String,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print an endpoint's deliveries as JSON lines, newest first.
    Deliveries {
        /// The endpoint's id (`ep_…`).
        id: String,
        /// How many, at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
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
        /// A token that reads everything and changes nothing (dashboards, reporting).
        #[arg(long)]
        read_only: bool,
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
    /// Print the audit log (every change to licences and admin tokens: who, what,
    /// when) as JSON lines, newest first.
    Audit {
        /// How many entries, at most.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// The database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
}
