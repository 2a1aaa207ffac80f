//! What every request handler shares: the configuration, the catalog, the tracker, the seeder,
//! the limits and the counters.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use swarmgate_session::Seeder;
use swarmgate_tracker::Tracker;
use tokio::sync::Semaphore;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::limits::Limits;
use crate::links::Links;
use crate::metrics::Metrics;

/// The gateway's shared state, one `Arc` per request.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// The URLs handed out.
    pub links: Links,
    /// The stored files.
    pub catalog: Arc<Catalog>,
    /// The embedded tracker.
    pub tracker: Arc<Tracker>,
    /// The peer-wire seeder of every stored file.
    pub seeder: Seeder,
    /// The gateway's own peer address as the tracker hands it out.
    pub peer_announce: SocketAddr,
    /// Uploads in progress, bounded.
    pub uploads: Arc<Semaphore>,
    /// Per-IP rate limits.
    pub limits: Limits,
    /// Counters for /metrics and /api/stats.
    pub metrics: Metrics,
    /// When the gateway started.
    pub started: Instant,
    /// The bound addresses: HTTP, UDP tracker, peers.
    pub bound: Bound,
}

/// The addresses the gateway listens on, as bound (ports resolved).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// API, HTTP tracker, web seed.
    pub http: SocketAddr,
    /// UDP tracker.
    pub udp: SocketAddr,
    /// Peer listener.
    pub peer: SocketAddr,
}

/// The shared state as handlers receive it.
pub(crate) type Shared = Arc<AppState>;
