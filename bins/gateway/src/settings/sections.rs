//! One settings section per part of the gateway: the command-line flags (each also a
//! `SWARMGATE_*` variable) and the TOML table of that part, with every field optional so that
//! the layers (file, environment, flags) can be merged field by field.
//!
//! A section's TOML keys are its own short names (`[http] addr`), its flags keep the gateway's
//! long names (`--http-addr`), which are what scripts and tests already pass.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

use super::{deserialize_size, parse_size};

/// Fills each unset field of `$self` from `$below`.
macro_rules! layered {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $ty {
            /// These settings over `below`'s, field by field.
            pub(crate) fn over(self, below: $ty) -> $ty {
                $ty { $($field: self.$field.or(below.$field),)* }
            }
        }
    };
}

/// `[storage]`: where and how stored files are kept.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "Storage")]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Folder of the database (gateway.db) and the content (blobs/, chunks/). [default: ./data]
    #[arg(long, env = "SWARMGATE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Files of at least this size are stored as 2 MiB chunks, smaller ones as one blob.
    /// [default: 100M]
    #[arg(long, env = "SWARMGATE_BLOB_THRESHOLD", value_name = "BYTES", value_parser = parse_size)]
    #[serde(default, deserialize_with = "deserialize_size")]
    pub blob_threshold: Option<u64>,

    /// Memory for the piece cache in front of peer and web seed reads. [default: 256M]
    #[arg(long, env = "SWARMGATE_CACHE_SIZE", value_name = "BYTES", value_parser = parse_size)]
    #[serde(default, deserialize_with = "deserialize_size")]
    pub cache_size: Option<u64>,

    /// Files stored at most: each costs memory in every service that serves it (index,
    /// seeder, tracker, DHT), so this bounds them; past it a new upload gets 507
    /// `too_many_files`. [default: 1000000]
    #[arg(long, env = "SWARMGATE_MAX_FILES", value_name = "N")]
    pub max_files: Option<usize>,
}
layered!(StorageSettings {
    data_dir,
    blob_threshold,
    cache_size,
    max_files
});

/// `[http]`: the HTTP port (API, HTTP tracker, web seed) and what guards it.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "HTTP")]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address of the HTTP API, the HTTP tracker (/announce, /scrape) and the web seed
    /// (/webseed/). [default: 0.0.0.0:9877]
    #[arg(
        id = "http_addr",
        long = "http-addr",
        env = "SWARMGATE_HTTP_ADDR",
        value_name = "ADDR"
    )]
    pub addr: Option<SocketAddr>,

    /// Base URL written into .torrent files, magnet links and upload answers (announce URL,
    /// web seed). [default: `http://` and the HTTP address, with 127.0.0.1 for an unspecified IP]
    #[arg(long, env = "SWARMGATE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Origins allowed by CORS, comma-separated, or `*`. [default: *]
    #[arg(long, env = "SWARMGATE_CORS_ORIGINS", value_name = "ORIGINS")]
    pub cors_origins: Option<String>,

    /// Seconds a request may take, except the bodies of uploads and downloads (which must
    /// only keep moving: an upload idle this long is dropped). [default: 30]
    #[arg(long, env = "SWARMGATE_REQUEST_TIMEOUT", value_name = "SECONDS")]
    pub request_timeout: Option<u64>,

    /// Download, web seed and API requests per second from one IP address (with a burst of
    /// twice that); more get 429. 0 = no limit. [default: 200]
    #[arg(long, env = "SWARMGATE_REQUESTS_PER_SECOND", value_name = "N")]
    pub requests_per_second: Option<u32>,

    /// Seconds a connection has to send a whole request head (request line and headers), on
    /// the HTTP and Blossom ports; slower ones are closed (slowloris). [default: 10]
    #[arg(long, env = "SWARMGATE_HEADER_READ_TIMEOUT", value_name = "SECONDS")]
    pub header_read_timeout: Option<u64>,

    /// Open connections from one IP address (one /64 for IPv6) on each HTTP port; more are
    /// closed at once. [default: 64]
    #[arg(long, env = "SWARMGATE_MAX_CONNECTIONS_PER_IP", value_name = "N")]
    pub max_connections_per_ip: Option<usize>,

    /// Open connections on each HTTP port in all; more are closed at once. [default: 4096]
    #[arg(long, env = "SWARMGATE_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
}
layered!(HttpSettings {
    addr,
    public_url,
    cors_origins,
    request_timeout,
    requests_per_second,
    header_read_timeout,
    max_connections_per_ip,
    max_connections
});

/// `[api]`: uploads and deletion.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "Uploads and deletion")]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Largest upload accepted, in bytes (K, M, G suffixes are powers of 1024); larger ones
    /// get 413. [default: 10G]
    #[arg(long, env = "SWARMGATE_MAX_UPLOAD_SIZE", value_name = "BYTES", value_parser = parse_size)]
    #[serde(default, deserialize_with = "deserialize_size")]
    pub max_upload_size: Option<u64>,

    /// Uploads in progress at once, at most; more get 503 with Retry-After. [default: 8]
    #[arg(long, env = "SWARMGATE_MAX_CONCURRENT_UPLOADS", value_name = "N")]
    pub max_concurrent_uploads: Option<usize>,

    /// Uploads per minute from one IP address; more get 429. 0 = no limit. [default: 60]
    #[arg(long, env = "SWARMGATE_UPLOADS_PER_MINUTE", value_name = "N")]
    pub uploads_per_minute: Option<u32>,

    /// Token that authorises DELETE /api/files/{sha256} (as `Authorization: Bearer TOKEN`).
    /// Without one, deletion is disabled.
    #[arg(
        long,
        env = "SWARMGATE_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
}
layered!(ApiSettings {
    max_upload_size,
    max_concurrent_uploads,
    uploads_per_minute,
    admin_token
});

/// `[tracker]`: the embedded tracker (HTTP on the HTTP port, UDP on its own).
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "Tracker")]
#[serde(deny_unknown_fields)]
pub struct TrackerSettings {
    /// Address of the UDP tracker (BEP 15). [default: the HTTP address's, on UDP]
    #[arg(
        long = "udp-tracker-addr",
        env = "SWARMGATE_UDP_TRACKER_ADDR",
        value_name = "ADDR"
    )]
    pub udp_addr: Option<SocketAddr>,

    /// Track any torrent, not only the files this gateway stores. [default: false]
    #[arg(
        long = "open-tracker",
        env = "SWARMGATE_OPEN_TRACKER",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub open: Option<bool>,

    /// Seconds between a client's announces, as the tracker tells it. [default: 1800]
    #[arg(long, env = "SWARMGATE_ANNOUNCE_INTERVAL", value_name = "SECONDS")]
    pub announce_interval: Option<u64>,

    /// Tracker announces and scrapes per second from one IP address (burst: twice that); more
    /// get 429 (HTTP) or an error (UDP). 0 = no limit. [default: 50]
    #[arg(long, env = "SWARMGATE_ANNOUNCES_PER_SECOND", value_name = "N")]
    pub announces_per_second: Option<u32>,

    /// Peers the tracker keeps per torrent, at most; a new peer of a full swarm gets a failure
    /// reason; the peers it holds announce as before. [default: 5000]
    #[arg(
        long = "tracker-max-peers-per-torrent",
        env = "SWARMGATE_TRACKER_MAX_PEERS_PER_TORRENT",
        value_name = "N"
    )]
    pub max_peers_per_torrent: Option<usize>,

    /// Torrents an open tracker (--open-tracker) keeps, at most; a closed one tracks only the
    /// stored files. [default: 100000]
    #[arg(
        long = "tracker-max-torrents",
        env = "SWARMGATE_TRACKER_MAX_TORRENTS",
        value_name = "N"
    )]
    pub max_torrents: Option<usize>,
}
layered!(TrackerSettings {
    udp_addr,
    open,
    announce_interval,
    announces_per_second,
    max_peers_per_torrent,
    max_torrents
});

/// `[peers]`: the peer-wire seeder of every stored file.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "Peers")]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// Address the gateway accepts BitTorrent peers on, seeding every stored file.
    /// [default: 0.0.0.0:6881]
    #[arg(
        id = "peer_addr",
        long = "peer-addr",
        env = "SWARMGATE_PEER_ADDR",
        value_name = "ADDR"
    )]
    pub addr: Option<SocketAddr>,

    /// The address the tracker hands out for the gateway's own peer. [default: the peer
    /// address; when its IP is unspecified, the public URL's host if it is an IP, else
    /// 127.0.0.1]
    #[arg(
        long = "peer-announce-addr",
        env = "SWARMGATE_PEER_ANNOUNCE_ADDR",
        value_name = "ADDR"
    )]
    pub announce_addr: Option<SocketAddr>,

    /// Peers connected at once over all torrents, at most. [default: 500]
    #[arg(long, env = "SWARMGATE_MAX_PEERS", value_name = "N")]
    pub max_peers: Option<usize>,

    /// Incoming peer connections from one IP address at once, at most. [default: 8]
    #[arg(long, env = "SWARMGATE_MAX_PEERS_PER_IP", value_name = "N")]
    pub max_peers_per_ip: Option<usize>,

    /// Incoming peer connections from one IPv4 /24 or IPv6 /64 at once, at most.
    /// [default: 32]
    #[arg(long, env = "SWARMGATE_MAX_PEERS_PER_SUBNET", value_name = "N")]
    pub max_peers_per_subnet: Option<usize>,

    /// Incoming peer connections that have not sent their handshake, at most (kept below
    /// max_peers: the rest is room for peers). From half of it on, handshakes get 2 s instead
    /// of 10 s; when full, the oldest one (idle 1 s or more) is closed for a newcomer.
    /// [default: 64, at most max_peers / 2]
    #[arg(long, env = "SWARMGATE_MAX_HALF_OPEN_PEERS", value_name = "N")]
    pub max_half_open: Option<usize>,
}
layered!(PeerSettings {
    addr,
    announce_addr,
    max_peers,
    max_peers_per_ip,
    max_peers_per_subnet,
    max_half_open
});

/// `[dht]`: the DHT node (BEP 5) that announces every stored torrent.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "DHT")]
#[serde(deny_unknown_fields)]
pub struct DhtSettings {
    /// Address of the DHT node (UDP). [default: 0.0.0.0:6883]
    #[arg(
        id = "dht_addr",
        long = "dht-addr",
        env = "SWARMGATE_DHT_ADDR",
        value_name = "ADDR"
    )]
    pub addr: Option<SocketAddr>,

    /// A node to join the DHT through, HOST:PORT (repeatable, or comma-separated; an empty
    /// value: none). [default: the well-known public routers; the saved table comes first]
    #[arg(
        long = "dht-bootstrap",
        env = "SWARMGATE_DHT_BOOTSTRAP",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub bootstrap: Option<Vec<String>>,

    /// Run no DHT node. [default: false]
    #[arg(
        long = "no-dht",
        env = "SWARMGATE_NO_DHT",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub disabled: Option<bool>,
}
layered!(DhtSettings {
    addr,
    bootstrap,
    disabled
});

/// `[mirror]`: how the gateway fetches the files that followed gateways announce (whether it
/// does is the Nostr section's `--mirror-followed`).
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "Mirror")]
#[serde(deny_unknown_fields)]
pub struct MirrorSettings {
    /// Files fetched at once, at most. [default: 2]
    #[arg(
        long = "mirror-concurrency",
        env = "SWARMGATE_MIRROR_CONCURRENCY",
        value_name = "N"
    )]
    pub concurrency: Option<usize>,

    /// Fetches of one file before it is given up (a file that fails its sha256 is given up at
    /// once). [default: 5]
    #[arg(
        long = "mirror-attempts",
        env = "SWARMGATE_MIRROR_ATTEMPTS",
        value_name = "N"
    )]
    pub max_attempts: Option<u32>,

    /// Seconds one fetch may take, metadata and pieces. [default: 3600]
    #[arg(
        long = "mirror-fetch-timeout",
        env = "SWARMGATE_MIRROR_FETCH_TIMEOUT",
        value_name = "SECONDS"
    )]
    pub fetch_timeout: Option<u64>,

    /// Seconds before a failed fetch is tried again, doubled at each failure (at most an hour).
    /// [default: 60]
    #[arg(
        long = "mirror-retry-delay",
        env = "SWARMGATE_MIRROR_RETRY_DELAY",
        value_name = "SECONDS"
    )]
    pub retry_delay: Option<u64>,
}
layered!(MirrorSettings {
    concurrency,
    max_attempts,
    fetch_timeout,
    retry_delay
});

/// `[nostr]`: the gateway's Nostr key, the relays it announces its files to, and the keys it
/// follows there.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[command(next_help_heading = "Nostr")]
#[serde(deny_unknown_fields)]
pub struct NostrSettings {
    /// The gateway's Nostr secret key, as nsec or 64 hex characters; it signs the
    /// announcements. [default: read from DATA_DIR/nostr.key, which is made (mode 0600) at the
    /// first start]
    #[arg(
        long = "nostr-key",
        env = "SWARMGATE_NOSTR_KEY",
        value_name = "NSEC|HEX",
        hide_env_values = true
    )]
    pub key: Option<String>,

    /// A relay to announce every file published while running to (NIP-35 kind 2003 and
    /// NIP-94 kind 1063), `ws://` or `wss://` (repeatable, or comma-separated). [default:
    /// none: no announcements]
    #[arg(
        long = "nostr-relay",
        env = "SWARMGATE_NOSTR_RELAY",
        value_name = "URL",
        value_delimiter = ','
    )]
    pub relays: Option<Vec<String>>,

    /// A Nostr key (hex or npub) whose announcements are read from the relays and listed by
    /// GET /api/discovered (repeatable, or comma-separated). [default: none]
    #[arg(
        long = "nostr-follow",
        env = "SWARMGATE_NOSTR_FOLLOW",
        value_name = "PUBKEY",
        value_delimiter = ','
    )]
    pub follow: Option<Vec<String>>,

    /// Hand every file announced by a followed key to the mirror, which fetches, verifies and
    /// seeds it. [default: false]
    #[arg(
        long = "mirror-followed",
        env = "SWARMGATE_MIRROR_FOLLOWED",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub mirror_followed: Option<bool>,
}
layered!(NostrSettings {
    key,
    relays,
    follow,
    mirror_followed
});

#[cfg(test)]
mod tests {
    use crate::settings::Settings;

    #[test]
    fn peer_admission_caps_default_and_come_from_peers() {
        let config = Settings::default()
            .resolve_with(Settings::default())
            .unwrap();
        let p = &config.peers;
        let caps = (p.max_peers_per_ip, p.max_peers_per_subnet, p.max_half_open);
        assert_eq!(caps, (8, 32, 64));
        let toml = "[peers]\nmax_peers = 20\nmax_peers_per_ip = 2\nmax_peers_per_subnet = 5";
        let config = Settings::default().resolve_with(Settings::from_toml(toml).unwrap());
        let p = config.unwrap().peers;
        let caps = (p.max_peers_per_ip, p.max_peers_per_subnet, p.max_half_open);
        assert_eq!(caps, (2, 5, 10), "half-open: at most half of max_peers");
        let zero = Settings::from_toml("[peers]\nmax_half_open = 0").unwrap();
        let refused = Settings::default().resolve_with(zero).unwrap_err();
        assert!(refused.to_string().contains("max_half_open"));
    }
}
