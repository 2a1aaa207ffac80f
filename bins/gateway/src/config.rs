//! The gateway's settings: embedded defaults, overridden by a TOML file, then by environment
//! variables, then by flags.
//!
//! One struct, [`Settings`], is at once the command line (clap, every flag also read from a
//! `SWARMGATE_*` variable) and the TOML file's schema (serde, same names with `_`), with every
//! field optional; [`Settings::resolve`] layers them and validates the result into a [`Config`].
//! Keeping one list of settings means the file, the environment and `--help` cannot drift apart.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;

/// `gateway`: upload a file once, then fetch it over HTTP, BitTorrent and magnet links.
///
/// Every option has an embedded default, so `gateway` alone serves ./data on port 9877 (API,
/// HTTP tracker, web seed), UDP 9877 (tracker) and TCP 6881 (peers). A TOML file (`--config`)
/// sets any option by the same name with underscores (`http_addr = "127.0.0.1:9877"`); an
/// environment variable `SWARMGATE_<NAME>` overrides the file; a flag overrides both.
#[derive(Debug, Default, Clone, Parser, Deserialize)]
#[command(name = "gateway", version, about, long_about)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A TOML file of settings (flags and environment variables override it).
    #[arg(long, env = "SWARMGATE_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Folder of the database (gateway.db) and the content (blobs/, chunks/). [default: ./data]
    #[arg(long, env = "SWARMGATE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address of the HTTP API, the HTTP tracker (/announce, /scrape) and the web seed
    /// (/webseed/). [default: 0.0.0.0:9877]
    #[arg(long, env = "SWARMGATE_HTTP_ADDR", value_name = "ADDR")]
    pub http_addr: Option<SocketAddr>,

    /// Address of the UDP tracker (BEP 15). [default: the HTTP address's, on UDP]
    #[arg(long, env = "SWARMGATE_UDP_TRACKER_ADDR", value_name = "ADDR")]
    pub udp_tracker_addr: Option<SocketAddr>,

    /// Address the gateway accepts BitTorrent peers on, seeding every stored file.
    /// [default: 0.0.0.0:6881]
    #[arg(long, env = "SWARMGATE_PEER_ADDR", value_name = "ADDR")]
    pub peer_addr: Option<SocketAddr>,

    /// Base URL written into .torrent files, magnet links and upload answers (announce URL,
    /// web seed). [default: `http://` and the HTTP address, with 127.0.0.1 for an unspecified IP]
    #[arg(long, env = "SWARMGATE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// The address the tracker hands out for the gateway's own peer. [default: the peer
    /// address; when its IP is unspecified, the public URL's host if it is an IP, else
    /// 127.0.0.1]
    #[arg(long, env = "SWARMGATE_PEER_ANNOUNCE_ADDR", value_name = "ADDR")]
    pub peer_announce_addr: Option<SocketAddr>,

    /// Largest upload accepted, in bytes (K, M, G suffixes are powers of 1024); larger ones
    /// get 413. [default: 10G]
    #[arg(long, env = "SWARMGATE_MAX_UPLOAD_SIZE", value_name = "BYTES", value_parser = parse_size)]
    #[serde(default, deserialize_with = "deserialize_size")]
    pub max_upload_size: Option<u64>,

    /// Files of at least this size are stored as 2 MiB chunks, smaller ones as one blob.
    /// [default: 100M]
    #[arg(long, env = "SWARMGATE_BLOB_THRESHOLD", value_name = "BYTES", value_parser = parse_size)]
    #[serde(default, deserialize_with = "deserialize_size")]
    pub blob_threshold: Option<u64>,

    /// Memory for the piece cache in front of peer and web seed reads. [default: 256M]
    #[arg(long, env = "SWARMGATE_CACHE_SIZE", value_name = "BYTES", value_parser = parse_size)]
    #[serde(default, deserialize_with = "deserialize_size")]
    pub cache_size: Option<u64>,

    /// Uploads in progress at once, at most; more get 503 with Retry-After. [default: 8]
    #[arg(long, env = "SWARMGATE_MAX_CONCURRENT_UPLOADS", value_name = "N")]
    pub max_concurrent_uploads: Option<usize>,

    /// Uploads per minute from one IP address; more get 429. 0 = no limit. [default: 60]
    #[arg(long, env = "SWARMGATE_UPLOADS_PER_MINUTE", value_name = "N")]
    pub uploads_per_minute: Option<u32>,

    /// Download, web seed and API requests per second from one IP address (with a burst of
    /// twice that); more get 429. 0 = no limit. [default: 200]
    #[arg(long, env = "SWARMGATE_REQUESTS_PER_SECOND", value_name = "N")]
    pub requests_per_second: Option<u32>,

    /// Tracker announces and scrapes per second from one IP address (burst: twice that); more
    /// get 429 (HTTP) or an error (UDP). 0 = no limit. [default: 50]
    #[arg(long, env = "SWARMGATE_ANNOUNCES_PER_SECOND", value_name = "N")]
    pub announces_per_second: Option<u32>,

    /// Seconds a request may take, except the bodies of uploads and downloads (which must
    /// only keep moving: an upload idle this long is dropped). [default: 30]
    #[arg(long, env = "SWARMGATE_REQUEST_TIMEOUT", value_name = "SECONDS")]
    pub request_timeout: Option<u64>,

    /// Token that authorises DELETE /api/files/{sha256} (as `Authorization: Bearer TOKEN`).
    /// Without one, deletion is disabled.
    #[arg(
        long,
        env = "SWARMGATE_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// Origins allowed by CORS, comma-separated, or `*`. [default: *]
    #[arg(long, env = "SWARMGATE_CORS_ORIGINS", value_name = "ORIGINS")]
    pub cors_origins: Option<String>,

    /// Track any torrent, not only the files this gateway stores. [default: false]
    #[arg(long, env = "SWARMGATE_OPEN_TRACKER", num_args = 0..=1, default_missing_value = "true")]
    pub open_tracker: Option<bool>,

    /// Seconds between a client's announces, as the tracker tells it. [default: 1800]
    #[arg(long, env = "SWARMGATE_ANNOUNCE_INTERVAL", value_name = "SECONDS")]
    pub announce_interval: Option<u64>,

    /// Peers connected at once over all torrents, at most. [default: 500]
    #[arg(long, env = "SWARMGATE_MAX_PEERS", value_name = "N")]
    pub max_peers: Option<usize>,

    /// Log filter (tracing's EnvFilter syntax, e.g. `info,swarmgate_session=debug`).
    /// [default: info]
    #[arg(long, env = "SWARMGATE_LOG", value_name = "FILTER")]
    pub log: Option<String>,
}

/// Everything the gateway runs with, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder of the database and the content.
    pub data_dir: PathBuf,
    /// API, HTTP tracker and web seed.
    pub http_addr: SocketAddr,
    /// UDP tracker.
    pub udp_tracker_addr: SocketAddr,
    /// Peer listener.
    pub peer_addr: SocketAddr,
    /// Base URL for links, without a trailing slash; `None`: `http://` and the bound HTTP
    /// address (127.0.0.1 for an unspecified IP).
    pub public_url: Option<String>,
    /// The gateway's peer as the tracker hands it out; its port is replaced by the peer
    /// listener's actual port when that was 0.
    pub peer_announce_addr: Option<SocketAddr>,
    /// Largest upload.
    pub max_upload_size: u64,
    /// Size from which files are chunked.
    pub blob_threshold: u64,
    /// Piece cache bytes.
    pub cache_size: u64,
    /// Uploads at once.
    pub max_concurrent_uploads: usize,
    /// Uploads per minute per IP (0: none).
    pub uploads_per_minute: u32,
    /// Requests per second per IP (0: none).
    pub requests_per_second: u32,
    /// Announces per second per IP (0: none).
    pub announces_per_second: u32,
    /// Request time limit (and upload idle limit).
    pub request_timeout: Duration,
    /// Deletion token.
    pub admin_token: Option<String>,
    /// CORS origins; empty means any.
    pub cors_origins: Vec<String>,
    /// Track torrents not stored here.
    pub open_tracker: bool,
    /// Tracker announce interval.
    pub announce_interval: Duration,
    /// Peers at once.
    pub max_peers: usize,
    /// Log filter.
    pub log: String,
}

impl Config {
    /// The embedded defaults with `data_dir` and every address on 127.0.0.1 port 0: what
    /// tests and benchmarks start several gateways side by side with.
    pub fn loopback(data_dir: impl Into<PathBuf>) -> Config {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let settings = Settings {
            data_dir: Some(data_dir.into()),
            http_addr: Some(any),
            udp_tracker_addr: Some(any),
            peer_addr: Some(any),
            ..Settings::default()
        };
        settings
            .resolve_with(Settings::default())
            .expect("the loopback defaults are valid")
    }
}

/// Takes each field from `$first` when set, else from `$second`.
macro_rules! layer {
    ($first:ident, $second:ident, $($field:ident),* $(,)?) => {
        Settings { $($field: $first.$field.or($second.$field),)* }
    };
}

impl Settings {
    /// Reads the TOML file named by `--config` (if any) under these settings and validates the
    /// result.
    pub fn resolve(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        self.resolve_with(file)
    }

    /// Parses a TOML settings file.
    pub fn from_file(path: &Path) -> anyhow::Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
    }

    /// These settings over `file`'s, then over the defaults, validated.
    pub fn resolve_with(self, file: Settings) -> anyhow::Result<Config> {
        let s = layer!(
            self,
            file,
            config,
            data_dir,
            http_addr,
            udp_tracker_addr,
            peer_addr,
            public_url,
            peer_announce_addr,
            max_upload_size,
            blob_threshold,
            cache_size,
            max_concurrent_uploads,
            uploads_per_minute,
            requests_per_second,
            announces_per_second,
            request_timeout,
            admin_token,
            cors_origins,
            open_tracker,
            announce_interval,
            max_peers,
            log,
        );
        let http_addr = s
            .http_addr
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 9877)));
        let public_url = match s.public_url {
            Some(url) => {
                let url = url.trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("public_url must start with http:// or https://, got {url:?}");
                }
                Some(url)
            }
            None => None,
        };
        let max_concurrent_uploads = s.max_concurrent_uploads.unwrap_or(8);
        if max_concurrent_uploads == 0 {
            bail!("max_concurrent_uploads must be at least 1");
        }
        let request_timeout = Duration::from_secs(s.request_timeout.unwrap_or(30));
        if request_timeout.is_zero() {
            bail!("request_timeout must be at least 1 second");
        }
        let announce_interval = Duration::from_secs(s.announce_interval.unwrap_or(1800));
        if announce_interval < Duration::from_secs(10) {
            bail!("announce_interval must be at least 10 seconds");
        }
        let cors_origins = match s.cors_origins.as_deref().map(str::trim) {
            None | Some("*") | Some("") => Vec::new(),
            Some(list) => list.split(',').map(|o| o.trim().to_owned()).collect(),
        };
        if s.admin_token.as_deref().is_some_and(|t| t.len() < 16) {
            bail!("admin_token must be at least 16 characters");
        }
        Ok(Config {
            data_dir: s.data_dir.unwrap_or_else(|| PathBuf::from("data")),
            http_addr,
            udp_tracker_addr: s.udp_tracker_addr.unwrap_or(http_addr),
            peer_addr: s
                .peer_addr
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 6881))),
            public_url,
            peer_announce_addr: s.peer_announce_addr,
            max_upload_size: s.max_upload_size.unwrap_or(10 << 30),
            blob_threshold: s
                .blob_threshold
                .unwrap_or(swarmgate_blobstore::DEFAULT_BLOB_THRESHOLD),
            cache_size: s.cache_size.unwrap_or(256 << 20),
            max_concurrent_uploads,
            uploads_per_minute: s.uploads_per_minute.unwrap_or(60),
            requests_per_second: s.requests_per_second.unwrap_or(200),
            announces_per_second: s.announces_per_second.unwrap_or(50),
            request_timeout,
            admin_token: s.admin_token,
            cors_origins,
            open_tracker: s.open_tracker.unwrap_or(false),
            announce_interval,
            max_peers: s.max_peers.unwrap_or(500),
            log: s.log.unwrap_or_else(|| "info".to_owned()),
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

/// `1048576`, `64K`, `100M`, `10G` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 10),
        Some((at, 'm' | 'M')) => (&text[..at], 20),
        Some((at, 'g' | 'G')) => (&text[..at], 30),
        Some((at, 't' | 'T')) => (&text[..at], 40),
        _ => (text, 0),
    };
    let number: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size (a number, optionally with K, M, G or T)"))?;
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// A size in a TOML file: a number of bytes or a string such as "100M".
fn deserialize_size<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(de)? {
        None => Ok(None),
        Some(Size::Bytes(n)) => Ok(Some(n)),
        Some(Size::Text(text)) => parse_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(config.http_addr, "0.0.0.0:9877".parse().unwrap());
        assert_eq!(config.udp_tracker_addr, config.http_addr);
        assert_eq!(config.peer_addr, "0.0.0.0:6881".parse().unwrap());
        assert_eq!(config.public_url, None);
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.blob_threshold, 100 << 20);

        let file: Settings = toml::from_str(
            "http_addr = \"127.0.0.1:8000\"\nmax_upload_size = \"5M\"\ncache_size = 1024\n\
             public_url = \"https://files.example/\"\n",
        )
        .unwrap();
        let flags = Settings::try_parse_from(["gateway", "--http-addr", "127.0.0.1:9000"]).unwrap();
        let config = flags.resolve_with(file).unwrap();
        assert_eq!(config.http_addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.max_upload_size, 5 << 20);
        assert_eq!(config.cache_size, 1024);
        assert_eq!(config.public_url.as_deref(), Some("https://files.example"));
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        let unknown = toml::from_str::<Settings>("htp_addr = \"1.2.3.4:5\"");
        assert!(unknown.unwrap_err().to_string().contains("htp_addr"));
        let bad = Settings {
            public_url: Some("ftp://x".into()),
            ..Settings::default()
        };
        assert!(
            bad.resolve_with(Settings::default())
                .unwrap_err()
                .to_string()
                .contains("public_url")
        );
        let short = Settings {
            admin_token: Some("short".into()),
            ..Settings::default()
        };
        assert!(short.resolve_with(Settings::default()).is_err());
    }

    #[test]
    fn the_loopback_config_binds_port_zero_on_127_0_0_1() {
        let config = Config::loopback("/tmp/x");
        assert_eq!(config.http_addr, "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.peer_addr, "127.0.0.1:0".parse().unwrap());
    }
}
