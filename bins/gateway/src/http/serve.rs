//! The accept loop of an HTTP port (the API's and Blossom's): hyper's HTTP/1 server, one task
//! per connection, with the limits that protect a public server from one hostile address.
//!
//! - **Header read timeout** (`--header-read-timeout`, 10 s by default): a connection must send
//!   a whole request head within it, or hyper closes it. This is what defeats slowloris (a few
//!   bytes a second, or nothing, on thousands of connections). hyper's own default is 30 s once
//!   a timer is set (axum::serve sets none, hence this loop), nginx's `client_header_timeout` is
//!   60 s, Apache's mod_reqtimeout 20 s; 10 s is ample for any real client on a live network.
//! - **Connections per IP address** (`--max-connections-per-ip`, 64; IPv6 counted per /64, the
//!   block one subscriber gets): over it a new connection is closed at accept, before any byte
//!   is read, so a flood from one address costs one `accept` and one `close` per connection.
//!   Browsers open 6 per origin, download managers 16; 64 leaves room for NAT.
//! - **Connections in all** (`--max-connections`, 4096): the port never holds more file
//!   descriptors than this, whatever the number of addresses (nginx's `worker_connections` is
//!   512 per worker, 1024 in the usual packaged configuration).
//! - **Size of a request head**: hyper reads at most [`MAX_HEAD_BUFFER`] bytes (64 KiB; its
//!   default is about 400 KiB) and at most [`MAX_HEADERS`] header lines (100, hyper's and
//!   Apache's `LimitRequestFields` default); past either, hyper itself answers 431 (414 past
//!   its URI limit) without a body and closes. Below those, the guard answers 414 and 431 as
//!   JSON for a URI or header block over nginx's sizes (see `guard.rs`).
//!
//! - **Accept backlog** of 4096 (tokio's `bind` asks for 1024, nginx for 511; Linux caps it at
//!   `net.core.somaxconn`, 4096 by default): a burst of connects waits in the kernel's queue for
//!   the accept loop instead of having its handshakes dropped and retried seconds later.
//!
//! Each refusal is counted in `swarmgate_http_refused_total{reason}`, the open connections are
//! `swarmgate_http_connections{port}`. Shutting down stops the
//! accepts, asks each connection to finish its request in flight (HTTP/1 graceful close), and
//! waits for them; the supervisor aborts what remains after its grace period.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::metrics::gauge::Gauge;
use swarmgate_core::limited_client;
use swarmgate_service::Shutdown;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::HttpCounters;

/// The most bytes hyper buffers for one request head (and for one read or write).
pub(crate) const MAX_HEAD_BUFFER: usize = 64 * 1024;

/// The most header lines in one request.
pub(crate) const MAX_HEADERS: usize = 100;

/// Connections the kernel may hold, handshake done, until the loop accepts them.
const ACCEPT_BACKLOG: u32 = 4096;

/// How long the loop pauses when `accept` fails for want of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The connection limits of one port (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Time to receive a whole request head.
    pub header_read_timeout: Duration,
    /// Open connections from one address (one /64 for IPv6).
    pub max_per_ip: usize,
    /// Open connections in all.
    pub max_total: usize,
}

/// A port's connection limits and the counters its refusals go to.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionGuard {
    /// The limits.
    pub limits: ConnectionLimits,
    /// Where refusals are counted (`http_refused_total`).
    pub counters: HttpCounters,
    /// The port's open connections (`http_connections{port}`).
    pub open: Gauge,
}

/// Who holds the port's connections: the count per address and in all.
#[derive(Debug)]
struct Table {
    limits: ConnectionLimits,
    open: Mutex<Open>,
    gauge: Gauge,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// Why a connection was closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    PerIp,
    Total,
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
struct Place {
    table: Arc<Table>,
    source: IpAddr,
}

impl Table {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Place, Refusal> {
        let source = limited_client(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.limits.max_total {
            return Err(Refusal::Total);
        }
        let from_source = open.by_source.entry(source).or_insert(0);
        if *from_source >= self.limits.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *from_source += 1;
        open.total += 1;
        self.gauge.set(open.total as i64);
        Ok(Place {
            table: Arc::clone(self),
            source,
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        self.table.gauge.set(open.total as i64);
        if let Some(count) = open.by_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.by_source.remove(&self.source);
            }
        }
    }
}

/// A listener on `addr` with the port's accept backlog (address reuse on, as tokio's `bind`).
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Serves `router` on `listener` under `guard` until `shutdown`, then lets in-flight requests
/// finish (the supervisor aborts what is still running after its grace period). Requests carry
/// `ConnectInfo<SocketAddr>`, as with axum's `into_make_service_with_connect_info`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    guard: ConnectionGuard,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let ConnectionGuard {
        limits,
        counters,
        open: gauge,
    } = guard;
    let table = Arc::new(Table {
        limits,
        open: Mutex::default(),
        gauge,
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BUFFER)
        .max_headers(MAX_HEADERS);
    let mut connections = JoinSet::new();
    let stop = shutdown.signalled();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE / ENFILE / ENOBUFS: wait for connections to close; a reset before
                // accept: nothing to do.
                if !is_per_connection(&error) {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let place = match table.admit(peer.ip()) {
            Ok(place) => place,
            Err(refusal) => {
                counters.refuse(match refusal {
                    Refusal::PerIp => Refused::ConnectionsPerIp,
                    Refusal::Total => Refused::Connections,
                });
                drop(stream);
                continue;
            }
        };
        let connection = serve_connection(
            builder.clone(),
            stream,
            peer,
            router.clone(),
            counters.clone(),
            shutdown.clone(),
        );
        connections.spawn(async move {
            connection.await;
            drop(place);
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Why a request or connection was refused before a handler saw it (the label of
/// `swarmgate_http_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Refused {
    /// Closed at accept: the address already holds its share of connections.
    ConnectionsPerIp,
    /// Closed at accept: the port holds all the connections it may.
    Connections,
    /// Closed: no whole request head within the header read timeout.
    HeaderTimeout,
    /// A request head over hyper's buffer or header count (hyper answered 431 or 414).
    HeadTooLarge,
    /// A request hyper could not parse (hyper answered 400 or closed).
    Malformed,
    /// A URI over the guard's limit (answered 414).
    UriTooLong,
    /// Header lines over the guard's limit (answered 431).
    HeadersTooLarge,
}

impl Refused {
    /// Every reason, for registering the counters.
    pub(crate) const ALL: [Refused; 7] = [
        Refused::ConnectionsPerIp,
        Refused::Connections,
        Refused::HeaderTimeout,
        Refused::HeadTooLarge,
        Refused::Malformed,
        Refused::UriTooLong,
        Refused::HeadersTooLarge,
    ];

    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refused::ConnectionsPerIp => "connections_per_ip",
            Refused::Connections => "connections",
            Refused::HeaderTimeout => "header_timeout",
            Refused::HeadTooLarge => "head_too_large",
            Refused::Malformed => "malformed",
            Refused::UriTooLong => "uri_too_long",
            Refused::HeadersTooLarge => "headers_too_large",
        }
    }
}

/// One connection, to its end; hyper's errors that are refusals are counted.
async fn serve_connection(
    builder: http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    counters: HttpCounters,
    mut shutdown: Shutdown,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response)
        }
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = &mut connection => result,
        () = shutdown.wait() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        if error.is_timeout() {
            counters.refuse(Refused::HeaderTimeout);
        } else if error.is_parse_too_large() {
            counters.refuse(Refused::HeadTooLarge);
        } else if error.is_parse() {
            counters.refuse(Refused::Malformed);
        }
    }
}

/// An `accept` error that concerns one connection only (the loop goes on at once).
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max_per_ip: usize, max_total: usize) -> Arc<Table> {
        Arc::new(Table {
            limits: ConnectionLimits {
                header_read_timeout: Duration::from_secs(1),
                max_per_ip,
                max_total,
            },
            open: Mutex::default(),
            gauge: Gauge::default(),
        })
    }

    #[test]
    fn an_address_gets_its_share_and_gets_it_back_when_a_connection_closes() {
        let table = table(2, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = table.admit(a).unwrap();
        let _second = table.admit(a).unwrap();
        assert_eq!(table.gauge.get(), 2);
        assert_eq!(table.admit(a).unwrap_err(), Refusal::PerIp);
        let _other = table.admit(b).unwrap();
        assert_eq!(table.admit(b).unwrap_err(), Refusal::Total);
        drop(first);
        assert_eq!(table.gauge.get(), 2);
        assert!(table.admit(a).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_source_and_mapped_ipv4_as_its_address() {
        let table = table(1, 10);
        let one: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let other_64: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let _held = table.admit(one).unwrap();
        assert_eq!(table.admit(same_64).unwrap_err(), Refusal::PerIp);
        assert!(table.admit(other_64).is_ok());
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let _v4 = table.admit(v4).unwrap();
        assert_eq!(table.admit(mapped).unwrap_err(), Refusal::PerIp);
    }
}
