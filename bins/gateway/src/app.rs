//! Starting and stopping the gateway: bind every socket, open the stores, load the catalog,
//! serve every stored file, then run the HTTP server, the UDP tracker and the seeder until
//! shutdown.
//!
//! Sockets are bound before anything is served, so an address in use fails the start with its
//! name rather than leave a half-started gateway. Shutdown stops accepting, lets in-flight
//! requests finish (an upload either completes and is acknowledged, or is dropped and leaves
//! nothing), closes the peers and waits for the workers.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use swarmgate_core::PeerId;
use swarmgate_session::{Seeder, SeederConfig};
use swarmgate_storage::{ContentOptions, FsContentStore, PieceCache, SqliteStore};
use swarmgate_tracker::{Access, RateLimit, Tracker, TrackerConfig};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::catalog::{Catalog, Loaded};
use crate::config::{Config, default_public_url, reachable};
use crate::limits::Limits;
use crate::links::Links;
use crate::lock::DataDirLock;
use crate::metrics::Metrics;
use crate::serving::{DialLeechers, maintain, serve};
use crate::state::{AppState, Bound, Shared};

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    state: Shared,
    stop: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
    loaded: Loaded,
    /// Held until the gateway is dropped: one gateway per data folder.
    _lock: DataDirLock,
}

impl Gateway {
    /// Binds, opens and loads everything, and starts serving.
    pub async fn start(config: Config) -> anyhow::Result<Gateway> {
        let http = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding the HTTP address {}", config.http_addr))?;
        let udp = UdpSocket::bind(config.udp_tracker_addr).with_context(|| {
            format!(
                "binding the UDP tracker address {}",
                config.udp_tracker_addr
            )
        })?;
        let peers = TcpListener::bind(config.peer_addr)
            .await
            .with_context(|| format!("binding the peer address {}", config.peer_addr))?;
        let bound = Bound {
            http: http.local_addr()?,
            udp: udp.local_addr()?,
            peer: peers.local_addr()?,
        };
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| default_public_url(bound.http));
        let links = Links::new(&public_url, Some(bound.udp));
        let peer_announce = config
            .peer_announce_addr
            .unwrap_or_else(|| announce_addr(bound.peer, &public_url));

        let data_dir = config.data_dir.clone();
        let content_options = ContentOptions {
            blob_threshold: config.blob_threshold,
        };
        let cache = Arc::new(PieceCache::new(config.cache_size));
        let (catalog, loaded, lock) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating the data folder {}", data_dir.display()))?;
            // Before anything reads the folder: a second gateway would sweep the first's
            // uploads as orphans.
            let lock = DataDirLock::acquire(&data_dir)?;
            let meta = SqliteStore::open(data_dir.join("gateway.db"))
                .with_context(|| format!("opening {}", data_dir.join("gateway.db").display()))?;
            let content = FsContentStore::open_with(&data_dir, content_options)
                .with_context(|| format!("opening the content store in {}", data_dir.display()))?;
            let (catalog, loaded) = Catalog::open(meta, Arc::new(content), cache)
                .context("loading the stored files")?;
            Ok((catalog, loaded, lock))
        })
        .await??;

        let mut seeder_config = SeederConfig::new(PeerId::swarmgate(random_suffix()));
        seeder_config.max_connections = config.max_peers;
        let seeder = Seeder::start(peers, seeder_config).context("starting the seeder")?;
        let mut tracker_config = TrackerConfig::default();
        tracker_config.interval = config.announce_interval;
        tracker_config.access = if config.open_tracker {
            Access::Open
        } else {
            Access::AllowList
        };
        tracker_config.rate_limit = (config.announces_per_second > 0).then(|| RateLimit {
            per_second: config.announces_per_second,
            burst: config.announces_per_second.saturating_mul(2),
        });
        tracker_config.min_interval = tracker_config.min_interval.min(config.announce_interval);
        let tracker = Tracker::new(tracker_config, Instant::now(), connection_id_secret()?)
            .context("configuring the tracker")?
            .with_observer(Arc::new(DialLeechers {
                seeder: seeder.clone(),
            }));
        let state: Shared = Arc::new(AppState {
            links,
            catalog: Arc::new(catalog),
            tracker: Arc::new(tracker),
            seeder,
            peer_announce,
            uploads: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
            limits: Limits::new(config.uploads_per_minute, config.requests_per_second),
            metrics: Metrics::default(),
            started: Instant::now(),
            bound,
            config,
        });
        for entry in state.catalog.all() {
            serve(&state, &entry);
        }

        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let router = crate::server::router(state.clone());
        let mut http_stop = stopped.clone();
        tasks.spawn(async move {
            axum::serve(
                http,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await
            .context("the HTTP server failed")
        });
        let mut udp_stop = stopped.clone();
        let udp_tracker = Arc::clone(&state.tracker);
        tasks.spawn(async move {
            swarmgate_tracker::serve_udp(udp, udp_tracker, 2, async move {
                let _ = udp_stop.wait_for(|stop| *stop).await;
            })
            .await
            .context("the UDP tracker failed")
        });
        let mut maintain_stop = stopped;
        let maintained = state.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = maintain(maintained) => {}
                _ = maintain_stop.wait_for(|stop| *stop) => {}
            }
            Ok(())
        });
        Ok(Gateway {
            state,
            stop,
            tasks,
            loaded,
            _lock: lock,
        })
    }

    /// The bound addresses.
    pub fn bound(&self) -> Bound {
        self.state.bound
    }

    /// The public base URL in use.
    pub fn public_url(&self) -> &str {
        self.state.links.base()
    }

    /// The address the tracker hands out for the gateway's peer.
    pub fn peer_announce(&self) -> SocketAddr {
        self.state.peer_announce
    }

    /// What start-up loaded.
    pub fn loaded(&self) -> Loaded {
        self.loaded
    }

    /// Stops serving: the HTTP server finishes in-flight requests (for at most the request
    /// time limit, at least 5 s; then they are dropped, and a dropped upload leaves nothing),
    /// the UDP tracker and the seeder stop; returns the first failure of any part.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let grace = self
            .state
            .config
            .request_timeout
            .max(Duration::from_secs(5));
        let deadline = tokio::time::Instant::now() + grace;
        let mut result = Ok(());
        let mut aborted = false;
        loop {
            let joined = if aborted {
                self.tasks.join_next().await
            } else {
                match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                    Ok(joined) => joined,
                    Err(_) => {
                        tracing::warn!("requests still running after {grace:?}: dropping them");
                        self.tasks.abort_all();
                        aborted = true;
                        continue;
                    }
                }
            };
            let Some(joined) = joined else { break };
            let outcome = match joined {
                Err(error) if error.is_cancelled() => Ok(()),
                joined => joined.context("a gateway task panicked").and_then(|r| r),
            };
            if result.is_ok() {
                result = outcome;
            }
        }
        self.state.seeder.clone().shutdown().await;
        result
    }

    /// Runs until `shutdown` resolves or a part fails, then stops.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            () = shutdown => self.shutdown().await,
            Some(joined) = self.tasks.join_next() => {
                let failure = joined.context("a gateway task panicked").and_then(|r| r);
                let stopped = self.shutdown().await;
                failure.and(stopped).and(Err(anyhow::anyhow!("a gateway part stopped")))
            }
        }
    }
}

/// The peer address to hand out: the bound one, or for an unspecified IP the public URL's
/// host when it is an IP literal, else loopback.
fn announce_addr(bound: SocketAddr, public_url: &str) -> SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let host = public_url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or(""))
        .unwrap_or("");
    let ip = host.parse().unwrap_or_else(|_| reachable(bound.ip()));
    SocketAddr::new(ip, bound.port())
}

/// The key of the UDP tracker's connection ids: new on every start (clients holding an old id
/// simply connect again).
fn connection_id_secret() -> anyhow::Result<[u8; 16]> {
    let mut secret = [0u8; 16];
    getrandom::fill(&mut secret)
        .map_err(|e| anyhow::anyhow!("no OS randomness for the tracker's connection ids: {e}"))?;
    Ok(secret)
}

/// Twelve random peer-id characters (the seeder's id differs per run, as clients' do).
fn random_suffix() -> [u8; 12] {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = *b"gateway-seed";
        return bytes;
    }
    bytes.map(|b| ALPHABET[usize::from(b) % ALPHABET.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announced_peer_follows_the_bound_address_then_the_public_host() {
        let any: SocketAddr = "0.0.0.0:6881".parse().unwrap();
        assert_eq!(
            announce_addr(any, "http://203.0.113.9:9877"),
            "203.0.113.9:6881".parse().unwrap()
        );
        assert_eq!(
            announce_addr(any, "https://files.example"),
            "127.0.0.1:6881".parse().unwrap()
        );
        let bound: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(announce_addr(bound, "http://203.0.113.9"), bound);
        assert!(random_suffix().iter().all(u8::is_ascii_alphanumeric));
    }
}
