//! Accepting connections: how many, for how long, and how they end.
//!
//! The server is on the public internet, so every connection is bounded:
//! - a global cap and a cap per client address: past either, a new connection
//!   is answered with a 503 and closed at once, without waiting for its request;
//! - hyper's header-read timeout, which runs from when a connection opens or its
//!   last answer was sent until the next request's headers are in: idle
//!   keep-alive connections and headers sent byte by byte are closed alike (the
//!   body's own deadline is `JsonBody`'s);
//! - a write timeout: an answer a client does not read closes the connection;
//! - on SIGTERM, requests under way get the shutdown timeout to finish, then
//!   whatever is left is closed. An event is acknowledged only once stored, so
//!   nothing acknowledged is lost.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use crate::http::{address_block, TrustedProxies};
use crate::metrics::{self, Refusal};
use crate::telemetry::LogThrottle;

/// `serve`'s limits on connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The most open connections.
    pub max_connections: usize,
    /// The most open connections from one client address (IPv6: one /64).
    pub max_per_address: usize,
    /// From a connection's opening, or its last answer, to the next request's
    /// complete headers.
    pub header_timeout: Duration,
    /// How long one write to a client may wait.
    pub write_timeout: Duration,
    /// How long SIGTERM waits for requests under way.
    pub shutdown_timeout: Duration,
}

/// What a connection over a cap is told before it is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: 96\r\n\r\n\
{\"success\":false,\"error\":\"too many connections to the usage server; try again in a few seconds\"}";

/// Refusals repeat with every connection of a flood: one line a minute.
static REFUSALS: LogThrottle = LogThrottle::per_minute();
static ACCEPT_ERRORS: LogThrottle = LogThrottle::per_minute();

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests under
/// way finish for up to the shutdown timeout.
///
/// # Errors
/// None so far: accept errors (out of file descriptors, say) are logged and
/// waited out.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    proxies: TrustedProxies,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    // Connections watch `stop` to begin a graceful shutdown and hold `running`
    // until they end, so its sender learns when the last one has.
    let (stop, stopping) = watch::channel(false);
    let (running_tx, running) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    if let Some(held_back) = ACCEPT_ERRORS.admit() {
                        tracing::warn!(error = %err, held_back, "cannot accept a connection; waiting");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slots) = take_slots(&open, &per_address, &limits, &proxies, peer.ip()) else {
            metrics::refused(Refusal::Connections);
            refuse(&stream);
            continue;
        };
        let connection = Connection { app: app.clone(), peer, header_timeout: limits.header_timeout };
        let (mut stopping, running) = (stopping.clone(), running.clone());
        let write_timeout = limits.write_timeout;
        tokio::spawn(async move {
            connection.run(stream, write_timeout, &mut stopping).await;
            drop((slots, running));
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(running);
    let open_now = running_tx.receiver_count();
    if tokio::time::timeout(limits.shutdown_timeout, running_tx.closed()).await.is_err() {
        tracing::warn!(
            open = running_tx.receiver_count(),
            of = open_now,
            "shutdown timeout reached; closing the connections still open (nothing they sent was acknowledged)"
        );
    }
    Ok(())
}

/// The places a connection holds while it is open.
type Slots = (OwnedSemaphorePermit, Option<AddressSlot>);

fn take_slots(
    open: &Arc<Semaphore>,
    per_address: &Arc<PerAddress>,
    limits: &ConnectionLimits,
    proxies: &TrustedProxies,
    peer: IpAddr,
) -> Option<Slots> {
    let permit = open.clone().try_acquire_owned().ok();
    let Some(permit) = permit else {
        log_refusal("the server's connection cap", limits.max_connections);
        return None;
    };
    // Behind a proxy every connection comes from the proxy: only the global cap applies.
    if proxies.is_proxy(peer) {
        return Some((permit, None));
    }
    match per_address.take(per_address, peer, limits.max_per_address) {
        Some(slot) => Some((permit, Some(slot))),
        None => {
            log_refusal("the per-address connection cap", limits.max_per_address);
            None
        }
    }
}

fn log_refusal(cap: &str, limit: usize) {
    if let Some(held_back) = REFUSALS.admit() {
        tracing::warn!(cap, limit, held_back, "connection refused with 503: over a cap");
    }
}

/// Tells a connection over a cap why, if its socket takes the bytes at once, and
/// closes it: nothing waits on a client that is one too many.
fn refuse(stream: &TcpStream) {
    let _ = stream.try_write(OVER_CAPACITY);
}

/// One accepted connection.
struct Connection {
    app: Router,
    peer: SocketAddr,
    header_timeout: Duration,
}

impl Connection {
    async fn run(self, stream: TcpStream, write_timeout: Duration, stopping: &mut watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(write_timeout));
        let Connection { app, peer, header_timeout } = self;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // Read by the per-address rate limits (never stored or logged).
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(Box::pin(stream)), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stopping.wait_for(|stop| *stop) => {}
        }
        // Finish the request under way (if any), answer it with `Connection: close`.
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}

/// Open connections per client address block.
#[derive(Debug, Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's count, given back when dropped.
struct AddressSlot {
    counts: Arc<PerAddress>,
    block: IpAddr,
}

impl PerAddress {
    fn take(&self, this: &Arc<PerAddress>, peer: IpAddr, max: usize) -> Option<AddressSlot> {
        let block = address_block(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(block).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot { counts: this.clone(), block })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.block) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.block);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_503() {
        let text = std::str::from_utf8(OVER_CAPACITY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["success"], false);
    }

    #[test]
    fn per_address_slots_are_capped_and_given_back() {
        let counts = Arc::new(PerAddress::default());
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let first = counts.take(&counts, a, 2).unwrap();
        let _second = counts.take(&counts, a, 2).unwrap();
        assert!(counts.take(&counts, a, 2).is_none());
        assert!(counts.take(&counts, "203.0.113.2".parse().unwrap(), 2).is_some());
        // One /64 is one client.
        let _v6 = counts.take(&counts, "2001:db8::1".parse().unwrap(), 1).unwrap();
        assert!(counts.take(&counts, "2001:db8::2".parse().unwrap(), 1).is_none());
        drop(first);
        assert!(counts.take(&counts, a, 2).is_some());
    }
}
