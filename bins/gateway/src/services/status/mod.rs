//! The status service: what the gateway is doing, as JSON for people and UIs and as Prometheus
//! metrics for machines: `/api/stats`, `/api/p2p/stats`, `/api/diagnostics`, `/api/health`,
//! `/api/webseed/health` and `/metrics`.
//!
//! Every answer is a typed struct (the field docs are the API's documentation) built from the
//! other services' typed statistics; `/metrics` renders the prometheus-client registry that
//! holds the very counters those statistics read. Health is in [`health`].

mod database;
mod health;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use serde::Serialize;
use swarmgate_catalog::Catalog;
use swarmgate_session::SeederStats;
use swarmgate_tracker::TrackerStats;

use super::Service;
use super::api::{ApiService, ApiStats};
use super::dht::{DhtAnswer, DhtService};
use super::mirror::{MirrorService, MirrorStats};
use super::nostr::{NostrAnswer, NostrService};
use super::seeder::SeederService;
use super::tracker::TrackerService;
use super::webseed::WebSeedService;
use crate::Bound;
use crate::http::metrics::render;
use crate::http::{ApiError, HttpCounters, HttpStats};
use crate::settings::Config;
pub(crate) use database::DatabaseCheck;

/// The status endpoints; see the module docs.
pub(crate) struct StatusService {
    sources: Arc<Sources>,
}

/// What the status endpoints read: every other service's figures.
pub(crate) struct Sources {
    /// The stored files.
    pub catalog: Arc<Catalog>,
    /// The API.
    pub api: Arc<ApiService>,
    /// The web seed.
    pub webseed: Arc<WebSeedService>,
    /// The tracker.
    pub tracker: Arc<TrackerService>,
    /// The seeder.
    pub seeder: Arc<SeederService>,
    /// The DHT node, unless `--no-dht`.
    pub dht: Option<Arc<DhtService>>,
    /// The mirror of followed gateways' files.
    pub mirror: Arc<MirrorService>,
    /// The Nostr key, relays and followed keys.
    pub nostr: Arc<NostrService>,
    /// The HTTP port's counters.
    pub http: HttpCounters,
    /// Every service, for their health.
    pub services: Vec<Arc<dyn Service>>,
    /// Every metric.
    pub registry: Registry,
    /// The configuration, for the diagnostics.
    pub config: Config,
    /// The bound addresses.
    pub bound: Bound,
    /// When the gateway started.
    pub started: Instant,
    /// The diagnostics' database verdict, reused for a minute.
    pub database: DatabaseCheck,
}

/// `GET /api/stats`.
#[derive(Debug, Serialize)]
pub(crate) struct StatsAnswer {
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Files stored.
    pub files: usize,
    /// Bytes of stored files.
    pub bytes_stored: u64,
    /// The API's figures (uploads, downloads, deletes).
    #[serde(flatten)]
    pub api: ApiStats,
    /// Web seed requests answered.
    pub webseed_requests: u64,
    /// Body bytes sent by the web seed.
    pub webseed_bytes: u64,
    /// Payload bytes uploaded to peers.
    pub peer_bytes: u64,
    /// The HTTP port's figures (requests, rate-limited).
    #[serde(flatten)]
    pub http: HttpStats,
    /// The piece cache.
    pub cache: CacheAnswer,
}

/// The piece cache's figures.
#[derive(Debug, Serialize)]
pub(crate) struct CacheAnswer {
    /// Bytes it may hold.
    pub capacity: u64,
    /// Bytes it holds.
    pub bytes: u64,
    /// Reads answered from it.
    pub hits: u64,
    /// Reads that loaded a piece.
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f64,
}

/// `GET /api/p2p/stats`.
#[derive(Debug, Serialize)]
pub(crate) struct P2pAnswer {
    /// The bound peer address.
    pub peer_addr: String,
    /// The gateway's peer as the tracker hands it out.
    pub announced_as: String,
    /// The seeder (swarmgate-session's `SeederStats`: torrents, peers, uploaded, ...).
    pub seeder: SeederStats,
    /// The tracker (swarmgate-tracker's `TrackerStats`: torrents, allowed, announces, ...).
    pub tracker: TrackerStats,
    /// The DHT node.
    pub dht: DhtAnswer,
    /// The mirror of followed gateways' files.
    pub mirror: MirrorStats,
    /// The Nostr key, each relay's state and answers, the followed keys.
    pub nostr: NostrAnswer,
}

/// `GET /api/diagnostics`: what a bug report needs.
#[derive(Debug, Serialize)]
pub(crate) struct DiagnosticsAnswer {
    /// The gateway's version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// The data folder.
    pub data_dir: String,
    /// The base URL of links.
    pub public_url: String,
    /// The bound addresses.
    pub listening: Listening,
    /// `ok`, or what the database's integrity check found.
    pub database: String,
    /// The limits in force.
    pub limits: LimitsAnswer,
    /// Whether the tracker tracks torrents not stored here.
    pub tracker_open: bool,
    /// Whether DELETE is enabled (an admin token is set).
    pub deletion_enabled: bool,
}

/// The bound addresses.
#[derive(Debug, Serialize)]
pub(crate) struct Listening {
    /// API, HTTP tracker, web seed.
    pub http: String,
    /// UDP tracker.
    pub udp_tracker: String,
    /// Peers.
    pub peers: String,
    /// The DHT node, unless `--no-dht`.
    pub dht: Option<String>,
}

/// The limits in force.
#[derive(Debug, Serialize)]
pub(crate) struct LimitsAnswer {
    /// Largest upload, bytes.
    pub max_upload_size: u64,
    /// Uploads at once, at most.
    pub max_concurrent_uploads: usize,
    /// Uploads in progress now.
    pub uploads_in_progress: usize,
    /// Uploads per minute per IP (0: none).
    pub uploads_per_minute: u32,
    /// Requests per second per IP (0: none).
    pub requests_per_second: u32,
    /// Announces per second per IP (0: none).
    pub announces_per_second: u32,
    /// The request time limit, seconds.
    pub request_timeout_seconds: u64,
    /// The time to send a whole request head, seconds.
    pub header_read_timeout_seconds: u64,
    /// Open connections per IP address on each HTTP port.
    pub max_connections_per_ip: usize,
    /// Open connections on each HTTP port.
    pub max_connections: usize,
}

impl StatusService {
    /// The status endpoints over `sources`.
    pub(crate) fn new(sources: Sources) -> StatusService {
        StatusService {
            sources: Arc::new(sources),
        }
    }
}

impl Service for StatusService {
    fn name(&self) -> &'static str {
        "status"
    }

    fn routes(&self) -> Router {
        Router::new()
            .route("/api/stats", get(stats))
            .route("/api/p2p/stats", get(p2p))
            .route("/api/health", get(health::health))
            .route("/api/diagnostics", get(diagnostics))
            .route("/api/webseed/health", get(health::webseed_health))
            .route("/metrics", get(metrics))
            .with_state(Arc::clone(&self.sources))
    }
}

async fn stats(State(sources): State<Arc<Sources>>) -> Json<StatsAnswer> {
    let (files, bytes_stored) = sources.catalog.totals();
    let cache = sources.catalog.cache();
    let cached = cache.stats();
    let webseed = sources.webseed.stats();
    Json(StatsAnswer {
        uptime_seconds: sources.started.elapsed().as_secs(),
        files,
        bytes_stored,
        api: sources.api.stats(),
        webseed_requests: webseed.requests,
        webseed_bytes: webseed.bytes,
        peer_bytes: sources.seeder.stats().uploaded,
        http: sources.http.stats(),
        cache: CacheAnswer {
            capacity: cache.capacity(),
            bytes: cached.bytes,
            hits: cached.hits,
            misses: cached.misses,
            hit_ratio: cached.hit_ratio(),
        },
    })
}

async fn p2p(State(sources): State<Arc<Sources>>) -> Json<P2pAnswer> {
    Json(P2pAnswer {
        peer_addr: sources.bound.peer.to_string(),
        announced_as: sources.tracker.peer_announce().to_string(),
        seeder: sources.seeder.stats(),
        tracker: sources.tracker.stats(),
        dht: sources.dht.as_ref().map_or(
            DhtAnswer {
                running: false,
                addr: None,
                id: None,
                stats: None,
            },
            |dht| dht.answer(),
        ),
        mirror: sources.mirror.stats(),
        nostr: sources.nostr.answer(),
    })
}

async fn diagnostics(
    State(sources): State<Arc<Sources>>,
) -> Result<Json<DiagnosticsAnswer>, ApiError> {
    let database = sources.database.verdict(&sources.catalog).await?;
    let config = &sources.config;
    let addr = |a: SocketAddr| a.to_string();
    Ok(Json(DiagnosticsAnswer {
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: sources.started.elapsed().as_secs(),
        data_dir: config.storage.data_dir.display().to_string(),
        public_url: sources.catalog.links().base().to_owned(),
        listening: Listening {
            http: addr(sources.bound.http),
            udp_tracker: addr(sources.bound.udp),
            peers: addr(sources.bound.peer),
            dht: sources.bound.dht.map(addr),
        },
        database,
        limits: LimitsAnswer {
            max_upload_size: config.api.max_upload_size,
            max_concurrent_uploads: config.api.max_concurrent_uploads,
            uploads_in_progress: sources.api.stats().uploads_in_progress,
            uploads_per_minute: config.api.uploads_per_minute,
            requests_per_second: config.http.requests_per_second,
            announces_per_second: config.tracker.announces_per_second,
            request_timeout_seconds: config.http.request_timeout.as_secs(),
            header_read_timeout_seconds: config.http.header_read_timeout.as_secs(),
            max_connections_per_ip: config.http.max_connections_per_ip,
            max_connections: config.http.max_connections,
        },
        tracker_open: config.tracker.open,
        deletion_enabled: config.api.admin_token.is_some(),
    }))
}

/// `GET /metrics`: Prometheus text format 0.0.4.
async fn metrics(State(sources): State<Arc<Sources>>) -> Response {
    let mut response = render(&sources.registry).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
