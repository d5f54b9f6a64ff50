//! Runs the subcommands.

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::allowed_origins::AllowedOrigins;
use crate::config::{AdminCommand, Cli, Command, KeysCommand, ServeArgs, WebhooksCommand};
use crate::connections::ConnectionLimits;
use crate::http::{app_serving, AppState, ServerOptions, TrustedProxies};
use crate::keys::{hash_credential, new_admin_token, NewKeyPair};
use crate::store::{
    Actor, BatchOptions, EndpointChange, KeyInfo, LicenceChange, NewEndpoint, NewKey, Store, StoreError,
    WEBHOOK_RETENTION_DAYS,
};
use crate::webhook_sender::{SenderHandle, SenderOptions};
use crate::webhooks::{new_endpoint_id, new_secret, EndpointUrl, EventTypes};

/// Runs one command to completion.
///
/// # Errors
/// Whatever stopped the command; `main` prints it and exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Openapi => {
            println!("{}", crate::http::openapi_document().to_pretty_json()?);
            Ok(())
        }
        Command::Keys(KeysCommand::Create { name, monthly_limit, allowed_origins, database }) => {
            let allowed_origins = AllowedOrigins::parse(&allowed_origins)?;
            let store = open(&database.database_url).await?;
            let pair = new_key_pair()?;
            let secret_key_hash = hash_credential(&pair.secret_key);
            let public_key = pair.public_key.clone();
            let key = NewKey { name: name.clone(), public_key, secret_key_hash, monthly_limit, allowed_origins };
            let licence = store.create_licence(key, &Actor::Cli).await.map_err(cli_error)?;
            print_new_keys(&licence, &pair);
            store.close().await;
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate { name, grace_secs, database }) => {
            let store = open(&database.database_url).await?;
            let licence = store.active_licence_named(&name).await?;
            let pair = new_key_pair()?;
            let hash = hash_credential(&pair.secret_key);
            store
                .rotate_licence(licence.id, &pair.public_key, &hash, grace_secs, &Actor::Cli)
                .await
                .map_err(cli_error)?;
            print_new_keys(&licence, &pair);
            eprintln!("key `{name}` has a new key pair; the previous keys are refused in {grace_secs} s");
            store.close().await;
            Ok(())
        }
        Command::Keys(KeysCommand::SetLimit { name, limit, database }) => {
            let store = open(&database.database_url).await?;
            let licence = store.active_licence_named(&name).await?;
            let change = LicenceChange { monthly_limit: Some(limit.0), ..LicenceChange::default() };
            store.change_licence(licence.id, change, &Actor::Cli).await?;
            match limit.0 {
                Some(n) => eprintln!("key `{name}` now covers {n} billable events a month"),
                None => eprintln!("key `{name}` has no monthly limit now"),
            }
            store.close().await;
            Ok(())
        }
        Command::Keys(KeysCommand::SetAllowedOrigins { name, origins, any: _, database }) => {
            let allowed = AllowedOrigins::parse(&origins)?;
            let store = open(&database.database_url).await?;
            let licence = store.active_licence_named(&name).await?;
            let change = LicenceChange { allowed_origins: Some(allowed.clone()), ..LicenceChange::default() };
            store.change_licence(licence.id, change, &Actor::Cli).await?;
            match allowed.patterns() {
                patterns if patterns.is_empty() => eprintln!("key `{name}` now counts from any origin"),
                patterns => eprintln!("key `{name}` now counts from {} only", patterns.join(", ")),
            }
            store.close().await;
            Ok(())
        }
        Command::BenchLoad(args) => {
            let store = open(&args.database.database_url).await?;
            crate::bench::load(&store, &args).await?;
            store.close().await;
            Ok(())
        }
        Command::Admin(AdminCommand::CreateToken { name, read_only, database }) => {
            let store = open(&database.database_url).await?;
            let token =
                new_admin_token().map_err(|err| anyhow::anyhow!("the operating system gave no randomness: {err}"))?;
            store
                .create_admin_token(&name, &hash_credential(&token), read_only, &Actor::Cli)
                .await
                .map_err(cli_error)?;
            println!("{}", serde_json::json!({"name": name, "token": token, "readOnly": read_only}));
            store.close().await;
            Ok(())
        }
        Command::Admin(AdminCommand::List { database }) => {
            let store = open(&database.database_url).await?;
            for token in store.list_admin_tokens().await? {
                println!("{}", serde_json::to_string(&token)?);
            }
            store.close().await;
            Ok(())
        }
        Command::Admin(AdminCommand::Revoke { name, database }) => {
            let store = open(&database.database_url).await?;
            store.revoke_admin_token(&name, &Actor::Cli).await?;
            eprintln!("revoked admin token `{name}`");
            store.close().await;
            Ok(())
        }
        Command::Admin(AdminCommand::Audit { limit, database }) => {
            let store = open(&database.database_url).await?;
            for entry in store.audit_log(i64::MAX, i64::from(limit)).await? {
                println!("{}", serde_json::to_string(&entry)?);
            }
            store.close().await;
            Ok(())
        }
        Command::Keys(KeysCommand::List { database }) => {
            let store = open(&database.database_url).await?;
            for key in store.licences().await? {
                println!("{}", serde_json::to_string(&key)?);
            }
            store.close().await;
            Ok(())
        }
        Command::Webhooks(command) => webhooks(command).await,
        Command::Backup { to, database } => {
            let source = crate::backup::sqlite_file(&database.database_url)?;
            let copied = tokio::task::spawn_blocking(move || crate::backup::backup(&source, &to)).await??;
            println!("{}", serde_json::to_string(&copied)?);
            Ok(())
        }
        Command::Restore { file, database } => {
            let target = crate::backup::sqlite_file(&database.database_url)?;
            let restored = tokio::task::spawn_blocking(move || crate::backup::restore(&file, &target)).await??;
            println!("{}", serde_json::to_string(&restored)?);
            Ok(())
        }
        Command::Keys(KeysCommand::Revoke { name, database }) => {
            let store = open(&database.database_url).await?;
            let licence = store.active_licence_named(&name).await?;
            store.revoke_licence(licence.id, &Actor::Cli).await?;
            eprintln!("revoked key `{name}`");
            store.close().await;
            Ok(())
        }
    }
}

/// The `webhooks` commands: the same store code as `/api/admin/webhooks`.
async fn webhooks(command: WebhooksCommand) -> anyhow::Result<()> {
    let (database, toggle) = match &command {
        WebhooksCommand::Create { database, .. }
        | WebhooksCommand::List { database }
        | WebhooksCommand::Delete { database, .. }
        | WebhooksCommand::Deliveries { database, .. } => (database, None),
        WebhooksCommand::Disable { id, database } => (database, Some((id, true))),
        WebhooksCommand::Enable { id, database } => (database, Some((id, false))),
    };
    let store = open(&database.database_url).await?;
    if let Some((id, disabled)) = toggle {
        let change = EndpointChange { disabled: Some(disabled), ..EndpointChange::default() };
        let endpoint = store.change_webhook_endpoint(id, change, &Actor::Cli).await?;
        println!("{}", serde_json::to_string(&endpoint)?);
    }
    match command {
        WebhooksCommand::Create { url, events, description, .. } => {
            let url = EndpointUrl::parse(&url).map_err(|rule| anyhow::anyhow!("--url {rule}"))?;
            let names: Vec<&String> = events.iter().filter(|name| !name.is_empty()).collect();
            let event_types = EventTypes::parse(&names).map_err(|rule| anyhow::anyhow!("--events: {rule}"))?;
            let secret = new_secret()?;
            let endpoint =
                NewEndpoint { id: new_endpoint_id()?, url, description, event_types, secret: secret.clone() };
            let endpoint = store.create_webhook_endpoint(endpoint, &Actor::Cli).await.map_err(cli_error)?;
            let mut line = serde_json::to_value(&endpoint)?;
            line["secret"] = secret.into();
            println!("{line}");
        }
        WebhooksCommand::List { .. } => {
            for endpoint in store.webhook_endpoints().await? {
                println!("{}", serde_json::to_string(&endpoint)?);
            }
        }
        WebhooksCommand::Delete { id, .. } => {
            store.delete_webhook_endpoint(&id, &Actor::Cli).await?;
            eprintln!("deleted webhook endpoint {id}");
        }
        WebhooksCommand::Deliveries { id, limit, .. } => {
            store.webhook_endpoint(&id).await?;
            for delivery in store.list_webhook_deliveries(&id, i64::MAX, i64::from(limit)).await? {
                println!("{}", serde_json::to_string(&delivery)?);
            }
        }
        WebhooksCommand::Disable { .. } | WebhooksCommand::Enable { .. } => {}
    }
    store.close().await;
    Ok(())
}

async fn open(url: &str) -> anyhow::Result<Store> {
    Store::open(url).await.with_context(|| format!("cannot open database {}", redact_password(url)))
}

/// The one line that shows a licence's new key pair, its secret key the only time.
fn print_new_keys(licence: &KeyInfo, pair: &NewKeyPair) {
    let line = serde_json::json!({
        "id": licence.id.0, "name": licence.name, "publicKey": pair.public_key, "secretKey": pair.secret_key
    });
    println!("{line}");
}

/// A fresh key pair from the operating system's randomness.
fn new_key_pair() -> anyhow::Result<NewKeyPair> {
    NewKeyPair::generate().map_err(|err| anyhow::anyhow!("the operating system gave no randomness: {err}"))
}

/// A store error as the command line says it: a field error names the flag.
fn cli_error(err: StoreError) -> anyhow::Error {
    match err {
        StoreError::InvalidField { field: "name", rule } => anyhow::anyhow!("--name {rule}"),
        StoreError::InvalidField { field: "graceSeconds", rule } => anyhow::anyhow!("--grace-secs {rule}"),
        StoreError::InvalidField { field: "description", rule } => anyhow::anyhow!("--description {rule}"),
        err => err.into(),
    }
}

/// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = open(&args.database.database_url).await?.with_max_new_origins_per_day(args.max_new_origins_per_day);
    // Held while serving: `usage-server restore` refuses to replace the file under us.
    let sqlite_file = crate::backup::sqlite_file(&args.database.database_url).ok();
    let _in_use = sqlite_file.as_deref().map(crate::backup::hold_shared).transpose()?;
    let trusted_proxies = match (args.trust_forwarded_for, args.trusted_proxy_hops, &args.trusted_proxies[..]) {
        (true, _, _) => TrustedProxies::Hops(1),
        (_, Some(hops), _) => TrustedProxies::Hops(hops),
        (_, None, []) => TrustedProxies::None,
        (_, None, networks) => TrustedProxies::Networks(networks.to_vec()),
    };
    let options = ServerOptions {
        rate_limit_per_address: args.rate_limit_per_address,
        rate_limit_per_key: args.rate_limit_per_key,
        trusted_proxies: trusted_proxies.clone(),
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        batch: BatchOptions {
            max_events: args.batch_max_events as usize,
            window: Duration::from_millis(u64::from(args.batch_window_ms)),
        },
    };
    let limits = ConnectionLimits {
        max_connections: args.max_connections as usize,
        max_per_address: args.max_connections_per_address as usize,
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        write_timeout: Duration::from_secs(args.write_timeout_secs),
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout_secs),
    };
    if let Some(dir) = &args.static_dir {
        anyhow::ensure!(dir.join("index.html").is_file(), "--static {}: no index.html there", dir.display());
    }
    let state = AppState::new(store.clone(), options);
    let rate_limits = state.rate_limits();
    tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            rate_limits.forget_idle();
        }
    });
    tokio::spawn(prune_every_hour(store.clone(), args.retain_days));
    let sender_options = SenderOptions { timeout: Duration::from_secs(args.webhook_timeout_secs) };
    let sender = SenderHandle::spawn(store.clone(), sender_options).context("cannot start the webhook sender")?;
    let shutdown = shutdown_signal()?;
    let metrics = match args.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, limits.shutdown_timeout).await?),
        None => None,
    };
    if let (Some(_), Some(file)) = (&metrics, sqlite_file) {
        tokio::spawn(measure_disk_every_15s(file));
    }
    let listener = TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, engine = ?store.engine(), "usage-server ready");
    // Scripts and tests read this line to learn the port (with --addr …:0).
    println!("usage-server listening on http://{addr}");
    if let Some((metrics_addr, ..)) = &metrics {
        tracing::info!(addr = %metrics_addr, "metrics listening");
        println!("usage-server metrics on http://{metrics_addr}/metrics");
    }
    let app = app_serving(state, args.static_dir.as_deref());
    crate::connections::serve(listener, app, limits, trusted_proxies, shutdown).await.context("server failed")?;
    if let Some((_, stop_metrics, metrics_task)) = metrics {
        let _ = stop_metrics.send(());
        let _ = metrics_task.await;
    }
    sender.stop().await;
    store.close().await;
    tracing::info!("usage-server stopped; every acknowledged event is stored");
    Ok(())
}

/// Installs the metrics recorder and serves it on `addr` (with the public
/// listener's deadlines, and few connections: a scraper or two) until told to
/// stop; the bound address, the stop switch and the task.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    shutdown_timeout: Duration,
) -> anyhow::Result<(std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)> {
    let handle = crate::metrics::install().context("cannot install the metrics recorder")?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on --metrics-addr {addr}"))?;
    let bound = listener.local_addr()?;
    let limits = ConnectionLimits {
        max_connections: 16,
        max_per_address: 16,
        header_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
        shutdown_timeout,
    };
    let upkeep = handle.clone();
    // Histograms are summarised on render; upkeep keeps memory flat between scrapes.
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        let app = crate::metrics::router(handle);
        if let Err(err) = crate::connections::serve(listener, app, limits, TrustedProxies::None, shutdown).await {
            tracing::error!(error = %err, "the metrics listener failed");
        }
    });
    Ok((bound, stop, task))
}

/// Measures the free space under the SQLite database now and every 15 s, for
/// the metrics, as `/readyz` does before it admits events.
async fn measure_disk_every_15s(database: std::path::PathBuf) {
    let path = database.to_string_lossy().into_owned();
    let mut every = tokio::time::interval(Duration::from_secs(15));
    loop {
        every.tick().await;
        if let Ok(bytes) = crate::store::free_bytes(&path) {
            crate::metrics::disk_free(bytes);
        }
    }
}

/// Deletes raw events older than `retain_days` now and every hour (rollups
/// stay), and settled webhook deliveries older than [`WEBHOOK_RETENTION_DAYS`].
async fn prune_every_hour(store: Store, retain_days: u32) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        every_hour.tick().await;
        let cutoff = crate::store::now_ms() - i64::from(retain_days) * usage_core::MS_PER_DAY;
        match store.prune_events_before(cutoff).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, retain_days, "pruned raw events; rollups keep their counts"),
            Err(err) => tracing::warn!(error = %err, "pruning raw events failed; will retry in an hour"),
        }
        let cutoff = crate::store::now_ms() - WEBHOOK_RETENTION_DAYS * usage_core::MS_PER_DAY;
        if let Err(err) = store.prune_webhooks_before(cutoff).await {
            tracing::warn!(error = %err, "pruning webhook deliveries failed; will retry in an hour");
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers now, so a signal that arrives between
/// "listening" and the first poll of the server is not the default (fatal) action,
/// and returns the future that resolves on either.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
    })
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for error messages.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact_password("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_password("sqlite://usage.db"), "sqlite://usage.db");
    }

    #[test]
    fn a_name_error_names_the_flag() {
        let err = cli_error(StoreError::InvalidField { field: "name", rule: "must be short".into() });
        assert_eq!(err.to_string(), "--name must be short");
    }
}
