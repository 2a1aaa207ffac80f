//! The tracker service (BEP 3 `/announce`, BEP 48 `/scrape` on the HTTP port, BEP 15 on its
//! UDP socket), answered by swarmgate-tracker's transport-neutral `Tracker`.
//!
//! It observes the catalog: a published file goes on the allow-list and the gateway's own peer
//! into its swarm, with [`Tracker::announce_local`] (no rate limit, no round trip), so a
//! leecher's first announce already lists it; a removed file comes off. Every few seconds it
//! expires peers and refreshes its own peer in every served swarm (every half interval).

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use swarmgate_catalog::{Catalog, CatalogObserver, Entry};
use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_service::Supervisor;
use swarmgate_tracker::{
    Access, AnnounceEvent, AnnounceObserver, AnnounceRequest, RateLimit, Tracker, TrackerConfig,
    TrackerStats,
};

use super::{Health, Service};
use crate::http::metrics::Snapshot;
use crate::settings::TrackerServiceConfig;

/// How often peers are expired and the own peer refreshed.
const MAINTAIN_EVERY: Duration = Duration::from_secs(5);

/// The tracker; see the module docs.
#[derive(Debug)]
pub(crate) struct TrackerService {
    tracker: Arc<Tracker>,
    own: Arc<OwnPeer>,
    catalog: Arc<Catalog>,
    udp: Mutex<Option<UdpSocket>>,
    interval: Duration,
}

impl TrackerService {
    /// A tracker of the catalog's files (or of any torrent, when open) on `udp` and the HTTP
    /// port; `dialler` hears of every announce.
    pub(crate) fn new(
        config: &TrackerServiceConfig,
        udp: UdpSocket,
        catalog: Arc<Catalog>,
        peer_announce: SocketAddr,
        dialler: Arc<dyn AnnounceObserver>,
        registry: &mut Registry,
    ) -> anyhow::Result<TrackerService> {
        let mut tracker_config = TrackerConfig::default();
        tracker_config.interval = config.announce_interval;
        tracker_config.access = if config.open {
            Access::Open
        } else {
            Access::AllowList
        };
        tracker_config.rate_limit = (config.announces_per_second > 0).then(|| RateLimit {
            per_second: config.announces_per_second,
            burst: config.announces_per_second.saturating_mul(2),
        });
        tracker_config.min_interval = tracker_config.min_interval.min(config.announce_interval);
        tracker_config.max_peers_per_torrent = config.max_peers_per_torrent;
        tracker_config.max_torrents = config.max_torrents;
        let tracker = Tracker::new(tracker_config, Instant::now(), connection_id_secret()?)?;
        let tracker = Arc::new(tracker.with_observer(dialler));
        let observed = Arc::clone(&tracker);
        Snapshot::register(registry, "tracker", move |samples| {
            let stats = observed.stats();
            samples.counter("announces", "Tracker announces handled.", stats.announces);
            samples.counter("scrapes", "Tracker torrents scraped.", stats.scrapes);
            samples.gauge(
                "tracker_peers",
                "Peers in the tracker's swarms.",
                stats.seeders + stats.leechers,
            );
            samples.counter(
                "udp_dropped_not_tracker",
                "UDP datagrams dropped as not tracker requests.",
                stats.udp_not_tracker,
            );
            samples.counter(
                "udp_dropped_bad_connection_id",
                "UDP tracker requests dropped for a connection id not issued to their source.",
                stats.udp_bad_connection_id,
            );
        });
        Ok(TrackerService {
            own: Arc::new(OwnPeer {
                tracker: Arc::clone(&tracker),
                addr: peer_announce,
            }),
            tracker,
            catalog,
            udp: Mutex::new(Some(udp)),
            interval: config.announce_interval,
        })
    }

    /// The figures so far.
    pub(crate) fn stats(&self) -> TrackerStats {
        self.tracker.stats()
    }

    /// The gateway's own peer, as the tracker hands it out.
    pub(crate) fn peer_announce(&self) -> SocketAddr {
        self.own.addr
    }
}

impl Service for TrackerService {
    fn name(&self) -> &'static str {
        "tracker"
    }

    fn routes(&self) -> Router {
        Router::new()
            .route("/announce", get(answer))
            .route("/scrape", get(answer))
            .with_state(Arc::clone(&self.tracker))
    }

    fn start(&self, services: &mut Supervisor) {
        if let Some(udp) = self.udp.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let tracker = Arc::clone(&self.tracker);
            let stop = services.shutdown().signalled();
            services.spawn(
                "udp tracker",
                swarmgate_tracker::serve_udp(udp, tracker, 2, stop),
            );
        }
        let (own, catalog) = (Arc::clone(&self.own), Arc::clone(&self.catalog));
        let refresh = self.interval / 2;
        let mut shutdown = services.shutdown();
        services.spawn("tracker maintenance", async move {
            tokio::select! {
                () = own.maintain(catalog, refresh) => {}
                () = shutdown.wait() => {}
            }
            Ok::<(), std::convert::Infallible>(())
        });
    }

    fn health(&self) -> Option<Health> {
        let stats = self.tracker.stats();
        let mut issues = Vec::new();
        let mut score: i32 = 100;
        let handled = stats.announces + stats.scrapes + stats.refused;
        if handled >= 20 && stats.rate_limited * 2 > handled {
            score -= 30;
            issues.push(format!(
                "{} of {handled} tracker requests were rate-limited",
                stats.rate_limited
            ));
        }
        Some(Health {
            name: "tracker",
            score: score.clamp(0, 100) as u8,
            weight: 35,
            issues,
        })
    }
}

impl CatalogObserver for TrackerService {
    fn published(&self, entry: &Arc<Entry>) {
        self.tracker.allow(entry.info_hash);
        self.own
            .announce(Instant::now(), entry.info_hash, AnnounceEvent::Started);
    }

    fn removed(&self, entry: &Arc<Entry>) {
        self.own
            .announce(Instant::now(), entry.info_hash, AnnounceEvent::Stopped);
        self.tracker.disallow(&entry.info_hash);
    }
}

/// The gateway's own peer in the tracker's swarms.
#[derive(Debug)]
struct OwnPeer {
    tracker: Arc<Tracker>,
    /// Its address, as handed out.
    addr: SocketAddr,
}

impl OwnPeer {
    /// Puts (or, with `stopped`, takes) the own peer into (out of) a swarm, as a seed.
    fn announce(&self, now: Instant, info_hash: InfoHashV1, event: AnnounceEvent) {
        let mut request = AnnounceRequest::new(info_hash, own_peer_id(), self.addr.port());
        request.left = 0;
        request.event = event;
        if let Err(refusal) = self.tracker.announce_local(now, &request, self.addr) {
            tracing::warn!(%refusal, %info_hash, "the tracker refused our own announce");
        }
    }

    /// Expires peers every few seconds and refreshes the own peer every `refresh`, forever.
    async fn maintain(&self, catalog: Arc<Catalog>, refresh: Duration) {
        let mut tick = tokio::time::interval(MAINTAIN_EVERY);
        let mut last_refresh = Instant::now();
        loop {
            tick.tick().await;
            let now = Instant::now();
            self.tracker.maintain(now);
            if now.duration_since(last_refresh) >= refresh {
                last_refresh = now;
                for entry in catalog.all() {
                    self.announce(now, entry.info_hash, AnnounceEvent::None);
                }
            }
        }
    }
}

/// The secret the UDP tracker's connection ids are keyed with, fresh from the OS at each start.
fn connection_id_secret() -> anyhow::Result<[u8; 16]> {
    let mut secret = [0u8; 16];
    getrandom::fill(&mut secret)
        .map_err(|e| anyhow::anyhow!("no OS randomness for the tracker's connection ids: {e}"))?;
    Ok(secret)
}

/// The gateway's peer id as its tracker records it (the seeder has its own random one).
fn own_peer_id() -> PeerId {
    PeerId::swarmgate(*b"gateway-self")
}

async fn answer(
    State(tracker): State<Arc<Tracker>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
) -> Response {
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let answer = tracker.handle_http(Instant::now(), target.as_bytes(), peer);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    if let Some(seconds) = answer.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
