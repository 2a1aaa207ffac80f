//! Starting and stopping the gateway: bind every socket, open the stores and the catalog, build
//! the services, plug them in, then serve until the shutdown.
//!
//! Sockets are bound before anything is served, so an address in use fails the start with its
//! name rather than leave a half-started gateway. The services are plugged in one way: routes
//! merged into the one HTTP port behind the common guards, background work started on the one
//! supervisor, catalog observers registered once (the seeder before the tracker and the DHT,
//! so a torrent is seeded before the gateway's peer is handed out for it). Shutdown stops
//! accepting, lets in-flight requests finish (an upload either completes and is acknowledged,
//! or is dropped and leaves nothing), closes the peers and waits for the workers.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use prometheus_client::registry::Registry;
use swarmgate_blobstore::{ContentOptions, FsContentStore, SqliteStore};
use swarmgate_catalog::{Catalog, Links, Loaded};
use swarmgate_service::Supervisor;
use swarmgate_storage::PieceCache;
use tokio::net::TcpListener;

use crate::http::metrics::Snapshot;
use crate::http::{self, ConnectionGuard, ConnectionLimits, Guard, HttpCounters, IpRateLimit};
use crate::lock::DataDirLock;
use crate::services::Service;
use crate::services::api::ApiService;
use crate::services::blossom::{BlossomService, default_blossom_url};
use crate::services::dht::DhtService;
use crate::services::mirror::{Mirror, MirrorRequest, MirrorService};
use crate::services::nostr::{Discovered, Handoff, NostrService};
use crate::services::seeder::SeederService;
use crate::services::status::{Sources, StatusService};
use crate::services::tracker::TrackerService;
use crate::services::webseed::WebSeedService;
use crate::settings::{Config, HttpConfig, StorageConfig, default_public_url, reachable};

/// The addresses the gateway listens on, as bound (ports resolved).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// API, HTTP tracker, web seed.
    pub http: SocketAddr,
    /// UDP tracker.
    pub udp: SocketAddr,
    /// Peer listener.
    pub peer: SocketAddr,
    /// The DHT node, unless `--no-dht`.
    pub dht: Option<SocketAddr>,
    /// The Blossom server, unless `--no-blossom`.
    pub blossom: Option<SocketAddr>,
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    services: Supervisor,
    bound: Bound,
    public_url: String,
    peer_announce: SocketAddr,
    loaded: Loaded,
    mirror: Mirror,
    grace: Duration,
    /// Held until the gateway is dropped: one gateway per data folder.
    _lock: DataDirLock,
}

impl Gateway {
    /// Binds, opens and loads everything, and starts serving.
    pub async fn start(config: Config) -> anyhow::Result<Gateway> {
        let started = Instant::now();
        let http_listener = http::bind(config.http.addr)
            .with_context(|| format!("binding the HTTP address {}", config.http.addr))?;
        let udp = UdpSocket::bind(config.tracker.udp_addr).with_context(|| {
            format!(
                "binding the UDP tracker address {}",
                config.tracker.udp_addr
            )
        })?;
        let peers = TcpListener::bind(config.peers.addr)
            .await
            .with_context(|| format!("binding the peer address {}", config.peers.addr))?;
        let dht_socket = match config.dht.enabled {
            true => Some(
                tokio::net::UdpSocket::bind(config.dht.addr)
                    .await
                    .with_context(|| format!("binding the DHT address {}", config.dht.addr))?,
            ),
            false => None,
        };
        let blossom_listener =
            match config.blossom.enabled {
                true => Some(http::bind(config.blossom.addr).with_context(|| {
                    format!("binding the Blossom address {}", config.blossom.addr)
                })?),
                false => None,
            };
        let bound = Bound {
            http: http_listener.local_addr()?,
            udp: udp.local_addr()?,
            peer: peers.local_addr()?,
            dht: dht_socket.as_ref().map(|s| s.local_addr()).transpose()?,
            blossom: blossom_listener
                .as_ref()
                .map(|l| l.local_addr())
                .transpose()?,
        };
        let public_url = config
            .http
            .public_url
            .clone()
            .unwrap_or_else(|| default_public_url(bound.http));
        let mut links = Links::new(&public_url, Some(bound.udp));
        if let Some(addr) = bound.blossom {
            let base = config
                .blossom
                .public_url
                .clone()
                .unwrap_or_else(|| default_blossom_url(&public_url, addr));
            links = links.with_blossom(&base);
        }
        let peer_announce = config
            .peers
            .announce_addr
            .unwrap_or_else(|| announce_addr(bound.peer, &public_url));

        let storage = config.storage.clone();
        let (catalog, loaded, lock) =
            tokio::task::spawn_blocking(move || open_catalog(&storage, links)).await??;
        let catalog = Arc::new(catalog);

        let mut registry = Registry::with_prefix("swarmgate");
        register_catalog_metrics(&mut registry, &catalog);
        register_runtime_metrics(&mut registry);
        let counters = HttpCounters::register(&mut registry);
        let seeder = Arc::new(
            SeederService::start(peers, &config.peers, &mut registry)
                .context("starting the seeder")?,
        );
        let tracker = Arc::new(
            TrackerService::new(
                &config.tracker,
                udp,
                Arc::clone(&catalog),
                peer_announce,
                seeder.dialler(),
                &mut registry,
            )
            .context("configuring the tracker")?,
        );
        let api = Arc::new(ApiService::new(
            Arc::clone(&catalog),
            config.api.clone(),
            config.http.request_timeout,
            counters.rate_limited.clone(),
            &mut registry,
        ));
        let webseed = Arc::new(WebSeedService::new(Arc::clone(&catalog), &mut registry));
        let dht = match dht_socket {
            Some(socket) => Some(Arc::new(
                DhtService::start(
                    socket,
                    &config.dht,
                    &config.storage.data_dir,
                    peer_announce,
                    &mut registry,
                )
                .context("starting the DHT node")?,
            )),
            None => None,
        };
        let blossom = match blossom_listener {
            Some(listener) => Some(Arc::new(
                BlossomService::new(
                    listener,
                    Arc::clone(&catalog),
                    &config,
                    connection_guard(&config.http, &counters, "blossom"),
                    &mut registry,
                )
                .context("starting the Blossom server")?,
            )),
            None => None,
        };
        let mirror = Arc::new(MirrorService::new(
            Arc::clone(&catalog),
            &config.mirror,
            config.api.max_upload_size,
            config.storage.data_dir.clone(),
            bound.peer.ip(),
            &mut registry,
        ));
        // `--mirror-followed`: each complete record of a followed key goes to the mirror's queue.
        let handoff: Handoff = {
            let mirror = mirror.mirror();
            Box::new(move |found: Discovered| {
                mirror.submit(MirrorRequest {
                    sha256: found.sha256,
                    info_hash: found.info_hash,
                    size: found.size,
                    name: found.title,
                    magnet: found.magnet,
                    webseed: found.webseed,
                    url: found.url,
                    source: found.source,
                })
            })
        };
        let nostr = Arc::new(
            NostrService::new(
                &config.nostr,
                &config.storage.data_dir,
                catalog.links().clone(),
                Some(handoff),
                &mut registry,
            )
            .context("starting Nostr")?,
        );
        catalog.observe(Arc::clone(&seeder) as _);
        catalog.observe(Arc::clone(&tracker) as _);
        if let Some(dht) = &dht {
            catalog.observe(Arc::clone(dht) as _);
        }
        catalog.observe(Arc::clone(&nostr) as _);
        nostr.announce_from_now();

        let mut services: Vec<Arc<dyn Service>> = vec![
            Arc::clone(&api) as _,
            Arc::clone(&webseed) as _,
            Arc::clone(&tracker) as _,
            Arc::clone(&seeder) as _,
            Arc::clone(&mirror) as _,
        ];
        if let Some(dht) = &dht {
            services.push(Arc::clone(dht) as _);
        }
        if let Some(blossom) = &blossom {
            services.push(Arc::clone(blossom) as _);
        }
        services.push(Arc::clone(&nostr) as _);
        let guard = Arc::new(Guard {
            request_limit: IpRateLimit::per_second(config.http.requests_per_second),
            request_timeout: config.http.request_timeout,
            cors_origins: config.http.cors_origins.clone(),
            counters: counters.clone(),
        });
        let status = StatusService::new(Sources {
            catalog,
            api,
            webseed,
            tracker,
            seeder,
            dht,
            mirror: Arc::clone(&mirror),
            nostr,
            http: counters.clone(),
            services: services.clone(),
            registry,
            config: config.clone(),
            bound,
            started,
            database: Default::default(),
        });
        services.push(Arc::new(status));

        let http_counters = counters;
        let mut supervisor = Supervisor::new();
        let router = services
            .iter()
            .fold(Router::new(), |router, service| {
                router.merge(service.routes())
            })
            .fallback(http::no_route);
        let router = http::security_layers(router, guard);
        supervisor.spawn(
            "http",
            http::serve(
                http_listener,
                router,
                connection_guard(&config.http, &http_counters, "api"),
                supervisor.shutdown(),
            ),
        );
        for service in &services {
            service.start(&mut supervisor);
            tracing::debug!(service = service.name(), "started");
        }
        if let Some(path) = &config.addresses_file {
            write_addresses(path, &bound)?;
        }
        Ok(Gateway {
            services: supervisor,
            bound,
            public_url,
            peer_announce,
            loaded,
            mirror: mirror.mirror(),
            grace: config.http.request_timeout.max(Duration::from_secs(5)),
            _lock: lock,
        })
    }

    /// The bound addresses.
    pub fn bound(&self) -> Bound {
        self.bound
    }

    /// The public base URL in use.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The address the tracker hands out for the gateway's peer.
    pub fn peer_announce(&self) -> SocketAddr {
        self.peer_announce
    }

    /// What start-up loaded.
    pub fn loaded(&self) -> Loaded {
        self.loaded
    }

    /// The way into the mirror: each file a followed gateway announces, handed to
    /// [`Mirror::submit`], is fetched over BitTorrent and its web seeds, verified against its
    /// announced sha256, then published and seeded here.
    pub fn mirror(&self) -> Mirror {
        self.mirror.clone()
    }

    /// Stops serving: the HTTP server finishes in-flight requests (for at most the request
    /// time limit, at least 5 s; then they are dropped, and a dropped upload leaves nothing),
    /// the UDP tracker and the seeder stop; returns the first failure of any part.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        Ok(self.services.stop(self.grace).await?)
    }

    /// Runs until `shutdown` resolves or a part fails, then stops.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        Ok(self.services.run_until(shutdown, self.grace).await?)
    }
}

/// Locks the data folder, opens the stores and loads the catalog (blocking).
/// The connection limits of an HTTP port (the API's and Blossom's), from `[http]`; `port`
/// labels its open connections in `/metrics`.
fn connection_guard(
    http: &HttpConfig,
    counters: &HttpCounters,
    port: &'static str,
) -> ConnectionGuard {
    ConnectionGuard {
        open: counters.open_connections(port),
        limits: ConnectionLimits {
            header_read_timeout: http.header_read_timeout,
            max_per_ip: http.max_connections_per_ip,
            max_total: http.max_connections,
        },
        counters: counters.clone(),
    }
}

fn open_catalog(
    storage: &StorageConfig,
    links: Links,
) -> anyhow::Result<(Catalog, Loaded, DataDirLock)> {
    let data_dir = &storage.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data folder {}", data_dir.display()))?;
    // Before anything reads the folder: a second gateway would sweep the first's uploads as
    // orphans.
    let lock = DataDirLock::acquire(data_dir)?;
    let database = data_dir.join("gateway.db");
    let meta =
        SqliteStore::open(&database).with_context(|| format!("opening {}", database.display()))?;
    let options = ContentOptions {
        blob_threshold: storage.blob_threshold,
    };
    let content = FsContentStore::open_with(data_dir, options)
        .with_context(|| format!("opening the content store in {}", data_dir.display()))?;
    let cache = Arc::new(PieceCache::new(storage.cache_size));
    let (catalog, loaded) = Catalog::open(Arc::new(meta), Arc::new(content), cache, links)
        .context("loading the stored files")?;
    Ok((catalog.with_max_files(storage.max_files), loaded, lock))
}

/// The stored files and the piece cache, read at each scrape.
fn register_catalog_metrics(registry: &mut Registry, catalog: &Arc<Catalog>) {
    let catalog = Arc::clone(catalog);
    Snapshot::register(registry, "catalog", move |samples| {
        let (files, bytes) = catalog.totals();
        let cache = catalog.cache().stats();
        samples.gauge("files", "Files stored.", files as u64);
        samples.gauge("stored_bytes", "Bytes of stored files.", bytes);
        samples.counter("cache_hits", "Piece cache hits.", cache.hits);
        samples.counter("cache_misses", "Piece cache misses.", cache.misses);
        samples.ratio(
            "cache_hit_ratio",
            "Piece cache hit ratio.",
            cache.hit_ratio(),
        );
    });
}

/// The async runtime's tasks and queue, read at each scrape: a task count that keeps rising
/// under steady load is a leak no other figure shows (a task holds no descriptor or thread).
fn register_runtime_metrics(registry: &mut Registry) {
    let runtime = tokio::runtime::Handle::current().metrics();
    Snapshot::register(registry, "runtime", move |samples| {
        samples.gauge(
            "runtime_tasks",
            "Tasks alive on the async runtime.",
            runtime.num_alive_tasks() as u64,
        );
        samples.gauge(
            "runtime_global_queue_depth",
            "Tasks waiting in the runtime's global queue.",
            runtime.global_queue_depth() as u64,
        );
        samples.gauge(
            "runtime_workers",
            "Worker threads of the async runtime.",
            runtime.num_workers() as u64,
        );
    });
}

/// Writes the bound addresses as JSON, by a rename, so a reader never sees half of it.
fn write_addresses(path: &Path, bound: &Bound) -> anyhow::Result<()> {
    let text = serde_json::json!({
        "http": bound.http.to_string(),
        "udp_tracker": bound.udp.to_string(),
        "peers": bound.peer.to_string(),
        "dht": bound.dht.map(|addr| addr.to_string()),
        "blossom": bound.blossom.map(|addr| addr.to_string()),
    })
    .to_string();
    let partial = path.with_extension(format!("partial{}", std::process::id()));
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("writing the addresses to {}", path.display()))
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
    }

    #[test]
    fn the_addresses_file_is_json_with_the_bound_ports() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("addresses.json");
        let bound = Bound {
            http: "127.0.0.1:4001".parse().unwrap(),
            udp: "127.0.0.1:4002".parse().unwrap(),
            peer: "127.0.0.1:4003".parse().unwrap(),
            dht: Some("127.0.0.1:4004".parse().unwrap()),
            blossom: Some("127.0.0.1:4005".parse().unwrap()),
        };
        write_addresses(&path, &bound).unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["http"], "127.0.0.1:4001");
        assert_eq!(written["udp_tracker"], "127.0.0.1:4002");
        assert_eq!(written["peers"], "127.0.0.1:4003");
        assert_eq!(written["dht"], "127.0.0.1:4004");
        assert_eq!(written["blossom"], "127.0.0.1:4005");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
