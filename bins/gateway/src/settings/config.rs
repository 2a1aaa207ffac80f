//! Everything the gateway runs with, validated: one section per part, each handed to the
//! service that owns it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

use super::Settings;
use super::nostr::NostrConfig;
use super::sections::{DhtSettings, HttpSettings, MirrorSettings, PeerSettings, StorageSettings};

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Log filter.
    pub log: String,
    /// Where to write the bound addresses, if anywhere.
    pub addresses_file: Option<PathBuf>,
    /// Stored files.
    pub storage: StorageConfig,
    /// The HTTP port and its guards.
    pub http: HttpConfig,
    /// Uploads and deletion.
    pub api: ApiConfig,
    /// The embedded tracker.
    pub tracker: TrackerServiceConfig,
    /// The seeder.
    pub peers: PeerConfig,
    /// The DHT node.
    pub dht: DhtServiceConfig,
    /// The Blossom server.
    pub blossom: super::blossom::BlossomConfig,
    /// The mirror of followed gateways' files.
    pub mirror: MirrorConfig,
    /// The Nostr key, relays and followed keys.
    pub nostr: NostrConfig,
}

/// `[storage]`.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Folder of the database and the content.
    pub data_dir: PathBuf,
    /// Size from which files are chunked.
    pub blob_threshold: u64,
    /// Piece cache bytes.
    pub cache_size: u64,
    /// Files stored at most.
    pub max_files: usize,
}

/// `[http]`.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// API, HTTP tracker and web seed.
    pub addr: SocketAddr,
    /// Base URL for links, without a trailing slash; `None`: `http://` and the bound HTTP
    /// address (127.0.0.1 for an unspecified IP).
    pub public_url: Option<String>,
    /// CORS origins; empty means any.
    pub cors_origins: Vec<String>,
    /// Request time limit (and upload idle limit).
    pub request_timeout: Duration,
    /// Requests per second per IP (0: none).
    pub requests_per_second: u32,
    /// Time a connection has to send a whole request head.
    pub header_read_timeout: Duration,
    /// Open connections per IP address (IPv6: per /64) on each HTTP port.
    pub max_connections_per_ip: usize,
    /// Open connections on each HTTP port.
    pub max_connections: usize,
}

/// `[api]`.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest upload.
    pub max_upload_size: u64,
    /// Uploads at once.
    pub max_concurrent_uploads: usize,
    /// Uploads per minute per IP (0: none).
    pub uploads_per_minute: u32,
    /// Deletion token.
    pub admin_token: Option<String>,
}

/// `[tracker]`.
#[derive(Debug, Clone)]
pub struct TrackerServiceConfig {
    /// UDP tracker.
    pub udp_addr: SocketAddr,
    /// Track torrents not stored here.
    pub open: bool,
    /// Tracker announce interval.
    pub announce_interval: Duration,
    /// Announces per second per IP (0: none).
    pub announces_per_second: u32,
    /// Peers kept per torrent.
    pub max_peers_per_torrent: usize,
    /// Torrents kept by an open tracker.
    pub max_torrents: usize,
}

/// `[dht]`.
#[derive(Debug, Clone)]
pub struct DhtServiceConfig {
    /// Run a DHT node.
    pub enabled: bool,
    /// Its UDP address.
    pub addr: SocketAddr,
    /// Nodes to join through, `HOST:PORT` (after the saved table).
    pub bootstrap: Vec<String>,
}

/// `[peers]`.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Peer listener.
    pub addr: SocketAddr,
    /// The gateway's peer as the tracker hands it out; `None`: derived from the bound address.
    pub announce_addr: Option<SocketAddr>,
    /// Peers at once.
    pub max_peers: usize,
    /// Incoming connections from one address at once.
    pub max_peers_per_ip: usize,
    /// Incoming connections from one /24 or /64 at once.
    pub max_peers_per_subnet: usize,
    /// Incoming connections before their handshake at once.
    pub max_half_open: usize,
}

/// `[mirror]`.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// Files fetched at once, at most.
    pub concurrency: usize,
    /// Fetches of one file before it is given up.
    pub max_attempts: u32,
    /// How long one fetch may take.
    pub fetch_timeout: Duration,
    /// The wait before the first retry, doubled at each failure (at most an hour).
    pub retry_delay: Duration,
}

impl MirrorConfig {
    /// From `[mirror]`, with the defaults.
    fn validate(s: MirrorSettings) -> anyhow::Result<MirrorConfig> {
        let config = MirrorConfig {
            concurrency: s.concurrency.unwrap_or(2),
            max_attempts: s.max_attempts.unwrap_or(5),
            fetch_timeout: Duration::from_secs(s.fetch_timeout.unwrap_or(3600)),
            retry_delay: Duration::from_secs(s.retry_delay.unwrap_or(60)),
        };
        if config.concurrency == 0 || config.max_attempts == 0 {
            bail!("mirror concurrency and attempts must be at least 1");
        }
        if config.fetch_timeout.is_zero() {
            bail!("mirror_fetch_timeout must be at least 1 second");
        }
        Ok(config)
    }
}

impl Config {
    /// The embedded defaults with `data_dir`, every address on 127.0.0.1 port 0 and no DHT
    /// bootstrap: what tests and benchmarks start several gateways side by side with.
    pub fn loopback(data_dir: impl Into<PathBuf>) -> Config {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let mut settings = Settings {
            storage: StorageSettings {
                data_dir: Some(data_dir.into()),
                ..StorageSettings::default()
            },
            dht: DhtSettings {
                addr: Some(any),
                bootstrap: Some(Vec::new()),
                disabled: None,
            },
            http: HttpSettings {
                addr: Some(any),
                ..HttpSettings::default()
            },
            peers: PeerSettings {
                addr: Some(any),
                ..PeerSettings::default()
            },
            ..Settings::default()
        };
        settings.tracker.udp_addr = Some(any);
        settings.blossom.addr = Some(any);
        settings
            .resolve_with(Settings::default())
            .expect("the loopback defaults are valid")
    }

    /// Fills in the defaults and checks what cannot be right.
    pub(super) fn validate(s: Settings) -> anyhow::Result<Config> {
        let http_addr = s
            .http
            .addr
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 9877)));
        let public_url = match s.http.public_url {
            Some(url) => {
                let url = url.trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("public_url must start with http:// or https://, got {url:?}");
                }
                Some(url)
            }
            None => None,
        };
        let max_concurrent_uploads = s.api.max_concurrent_uploads.unwrap_or(8);
        if max_concurrent_uploads == 0 {
            bail!("max_concurrent_uploads must be at least 1");
        }
        let request_timeout = Duration::from_secs(s.http.request_timeout.unwrap_or(30));
        if request_timeout.is_zero() {
            bail!("request_timeout must be at least 1 second");
        }
        let header_read_timeout = Duration::from_secs(s.http.header_read_timeout.unwrap_or(10));
        if header_read_timeout.is_zero() {
            bail!("header_read_timeout must be at least 1 second");
        }
        let max_connections_per_ip = s.http.max_connections_per_ip.unwrap_or(64);
        let max_connections = s.http.max_connections.unwrap_or(4096);
        if max_connections_per_ip == 0 || max_connections == 0 {
            bail!("max_connections_per_ip and max_connections must be at least 1");
        }
        let announce_interval = Duration::from_secs(s.tracker.announce_interval.unwrap_or(1800));
        let max_peers = s.peers.max_peers.unwrap_or(500);
        let peer_caps = [
            s.peers.max_peers_per_ip,
            s.peers.max_peers_per_subnet,
            s.peers.max_half_open,
        ];
        if peer_caps.contains(&Some(0)) {
            bail!("max_peers_per_ip, max_peers_per_subnet and max_half_open must be at least 1");
        }
        if announce_interval < Duration::from_secs(10) {
            bail!("announce_interval must be at least 10 seconds");
        }
        if s.storage.max_files == Some(0) {
            bail!("max_files must be at least 1");
        }
        if s.tracker.max_peers_per_torrent == Some(0) || s.tracker.max_torrents == Some(0) {
            bail!("tracker max_peers_per_torrent and max_torrents must be at least 1");
        }
        let cors_origins = match s.http.cors_origins.as_deref().map(str::trim) {
            None | Some("*") | Some("") => Vec::new(),
            Some(list) => list.split(',').map(|o| o.trim().to_owned()).collect(),
        };
        if s.api.admin_token.as_deref().is_some_and(|t| t.len() < 16) {
            bail!("admin_token must be at least 16 characters");
        }
        let blossom = s.blossom.validate()?;
        let nostr = NostrConfig::validate(s.nostr)?;
        Ok(Config {
            blossom,
            log: s.log.unwrap_or_else(|| "info".to_owned()),
            addresses_file: s.addresses_file,
            storage: StorageConfig {
                data_dir: s.storage.data_dir.unwrap_or_else(|| PathBuf::from("data")),
                blob_threshold: s
                    .storage
                    .blob_threshold
                    .unwrap_or(swarmgate_blobstore::DEFAULT_BLOB_THRESHOLD),
                cache_size: s.storage.cache_size.unwrap_or(256 << 20),
                max_files: s.storage.max_files.unwrap_or(1_000_000),
            },
            http: HttpConfig {
                addr: http_addr,
                public_url,
                cors_origins,
                request_timeout,
                requests_per_second: s.http.requests_per_second.unwrap_or(200),
                header_read_timeout,
                max_connections_per_ip,
                max_connections,
            },
            api: ApiConfig {
                max_upload_size: s.api.max_upload_size.unwrap_or(10 << 30),
                max_concurrent_uploads,
                uploads_per_minute: s.api.uploads_per_minute.unwrap_or(60),
                admin_token: s.api.admin_token,
            },
            tracker: TrackerServiceConfig {
                udp_addr: s.tracker.udp_addr.unwrap_or(http_addr),
                open: s.tracker.open.unwrap_or(false),
                announce_interval,
                announces_per_second: s.tracker.announces_per_second.unwrap_or(50),
                max_peers_per_torrent: s.tracker.max_peers_per_torrent.unwrap_or(5_000),
                max_torrents: s.tracker.max_torrents.unwrap_or(100_000),
            },
            peers: PeerConfig {
                addr: s
                    .peers
                    .addr
                    .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 6881))),
                announce_addr: s.peers.announce_addr,
                max_peers,
                max_peers_per_ip: s.peers.max_peers_per_ip.unwrap_or(8),
                max_peers_per_subnet: s.peers.max_peers_per_subnet.unwrap_or(32),
                max_half_open: s
                    .peers
                    .max_half_open
                    .unwrap_or_else(|| (max_peers / 2).min(64)),
            },
            dht: DhtServiceConfig {
                enabled: !s.dht.disabled.unwrap_or(false),
                addr: s.dht.addr.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 6883))),
                bootstrap: match s.dht.bootstrap {
                    Some(list) => list
                        .into_iter()
                        .map(|entry| entry.trim().to_owned())
                        .filter(|entry| !entry.is_empty())
                        .collect(),
                    None => swarmgate_dht::WELL_KNOWN_ROUTERS
                        .iter()
                        .map(|r| (*r).to_owned())
                        .collect(),
                },
            },
            mirror: MirrorConfig::validate(s.mirror)?,
            nostr,
        })
    }
}

/// The base URL of a gateway whose HTTP socket is bound to `addr`.
pub(crate) fn default_public_url(addr: SocketAddr) -> String {
    format!(
        "http://{}",
        SocketAddr::new(reachable(addr.ip()), addr.port())
    )
}

/// An IP others can reach this host at when the socket is bound to "any".
pub(crate) fn reachable(ip: IpAddr) -> IpAddr {
    if ip.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        ip
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::parse_size;
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes_and_refuse_nonsense() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("100m"), Ok(100 << 20));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn defaults_then_file_then_flags() {
        let config = Settings::default()
            .resolve_with(Settings::default())
            .unwrap();
        assert_eq!(config.http.addr, "0.0.0.0:9877".parse().unwrap());
        assert_eq!(config.tracker.udp_addr, config.http.addr);
        assert_eq!(config.peers.addr, "0.0.0.0:6881".parse().unwrap());
        assert_eq!(config.http.public_url, None);
        assert_eq!(config.storage.data_dir, PathBuf::from("data"));
        assert_eq!(config.storage.blob_threshold, 100 << 20);

        // The first gateway's flat file, and the same in sections.
        let flat = "http_addr = \"127.0.0.1:8000\"\nmax_upload_size = \"5M\"\ncache_size = 1024\n\
                    public_url = \"https://files.example/\"\n";
        let sectioned = "[http]\naddr = \"127.0.0.1:8000\"\npublic_url = \"https://files.example/\"\n\
                         [api]\nmax_upload_size = \"5M\"\n[storage]\ncache_size = 1024\n";
        for text in [flat, sectioned] {
            let file = Settings::from_toml(text).unwrap();
            let flags =
                Settings::try_parse_from(["gateway", "--http-addr", "127.0.0.1:9000"]).unwrap();
            let config = flags.resolve_with(file).unwrap();
            assert_eq!(config.http.addr, "127.0.0.1:9000".parse().unwrap());
            assert_eq!(config.api.max_upload_size, 5 << 20);
            assert_eq!(config.storage.cache_size, 1024);
            assert_eq!(
                config.http.public_url.as_deref(),
                Some("https://files.example")
            );
        }
    }

    #[test]
    fn every_flag_keeps_its_name() {
        let flags = Settings::try_parse_from([
            "gateway",
            "--data-dir",
            "/srv/data",
            "--udp-tracker-addr",
            "127.0.0.1:7000",
            "--peer-addr",
            "127.0.0.1:7001",
            "--peer-announce-addr",
            "192.0.2.7:7001",
            "--open-tracker",
            "--announce-interval",
            "60",
            "--max-peers",
            "9",
            "--max-concurrent-uploads",
            "3",
            "--addresses-file",
            "/tmp/addresses.json",
        ])
        .unwrap();
        let config = flags.resolve_with(Settings::default()).unwrap();
        assert_eq!(config.storage.data_dir, PathBuf::from("/srv/data"));
        assert_eq!(config.tracker.udp_addr, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(config.peers.addr, "127.0.0.1:7001".parse().unwrap());
        assert_eq!(
            config.peers.announce_addr,
            Some("192.0.2.7:7001".parse().unwrap())
        );
        assert!(config.tracker.open);
        assert_eq!(config.tracker.announce_interval, Duration::from_secs(60));
        assert_eq!(config.peers.max_peers, 9);
        assert_eq!(config.api.max_concurrent_uploads, 3);
        assert_eq!(
            config.addresses_file,
            Some(PathBuf::from("/tmp/addresses.json"))
        );
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        let unknown = Settings::from_toml("htp_addr = \"1.2.3.4:5\"");
        assert!(format!("{:#}", unknown.unwrap_err()).contains("htp_addr"));
        let unknown = Settings::from_toml("[http]\nadr = \"1.2.3.4:5\"");
        assert!(format!("{:#}", unknown.unwrap_err()).contains("adr"));
        let twice = Settings::from_toml("http_addr = \"1.2.3.4:5\"\n[http]\naddr = \"1.2.3.4:6\"");
        assert!(twice.unwrap_err().to_string().contains("keep one"));
        let mut bad = Settings::default();
        bad.http.public_url = Some("ftp://x".into());
        assert!(
            bad.resolve_with(Settings::default())
                .unwrap_err()
                .to_string()
                .contains("public_url")
        );
        let mut short = Settings::default();
        short.api.admin_token = Some("short".into());
        assert!(short.resolve_with(Settings::default()).is_err());
    }

    #[test]
    fn the_loopback_config_binds_port_zero_on_127_0_0_1() {
        let config = Config::loopback("/tmp/x");
        assert_eq!(config.http.addr, "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.peers.addr, "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.tracker.udp_addr, "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.dht.addr, "127.0.0.1:0".parse().unwrap());
        assert!(config.dht.bootstrap.is_empty());
    }

    #[test]
    fn the_dht_is_on_by_default_with_the_public_routers_and_its_flags_work() {
        let config = Settings::default()
            .resolve_with(Settings::default())
            .unwrap();
        assert!(config.dht.enabled);
        assert_eq!(config.dht.addr, "0.0.0.0:6883".parse().unwrap());
        assert_eq!(
            config.dht.bootstrap.len(),
            swarmgate_dht::WELL_KNOWN_ROUTERS.len()
        );
        let flags = Settings::try_parse_from([
            "gateway",
            "--dht-addr",
            "127.0.0.1:7000",
            "--dht-bootstrap",
            "127.0.0.1:1,127.0.0.2:2",
            "--dht-bootstrap",
            "127.0.0.3:3",
            "--no-dht",
        ])
        .unwrap();
        let config = flags.resolve_with(Settings::default()).unwrap();
        assert!(!config.dht.enabled);
        assert_eq!(
            config.dht.bootstrap,
            ["127.0.0.1:1", "127.0.0.2:2", "127.0.0.3:3"]
        );
        let none = Settings::try_parse_from(["gateway", "--dht-bootstrap", ""]).unwrap();
        assert!(
            none.resolve_with(Settings::default())
                .unwrap()
                .dht
                .bootstrap
                .is_empty()
        );
        let file =
            Settings::from_toml("[dht]\naddr = \"127.0.0.1:9\"\ndisabled = false\n").unwrap();
        let config = Settings::default().resolve_with(file).unwrap();
        assert_eq!(config.dht.addr, "127.0.0.1:9".parse().unwrap());
    }

    #[test]
    fn the_mirror_section_has_defaults_flags_and_limits() {
        let config = Settings::default()
            .resolve_with(Settings::default())
            .unwrap();
        assert_eq!(config.mirror.concurrency, 2);
        assert_eq!(config.mirror.max_attempts, 5);
        assert_eq!(config.mirror.fetch_timeout, Duration::from_secs(3600));
        assert_eq!(config.mirror.retry_delay, Duration::from_secs(60));
        let flags = Settings::try_parse_from([
            "gateway",
            "--mirror-concurrency",
            "4",
            "--mirror-attempts",
            "2",
        ])
        .unwrap();
        let file = Settings::from_toml(
            "[mirror]\nconcurrency = 1\nfetch_timeout = 600\nretry_delay = 5\n",
        )
        .unwrap();
        let config = flags.resolve_with(file).unwrap();
        assert_eq!(config.mirror.concurrency, 4);
        assert_eq!(config.mirror.max_attempts, 2);
        assert_eq!(config.mirror.fetch_timeout, Duration::from_secs(600));
        assert_eq!(config.mirror.retry_delay, Duration::from_secs(5));
        for bad in ["concurrency = 0", "max_attempts = 0", "fetch_timeout = 0"] {
            let file = Settings::from_toml(&format!("[mirror]\n{bad}\n")).unwrap();
            assert!(Settings::default().resolve_with(file).is_err(), "{bad}");
        }
    }
}
