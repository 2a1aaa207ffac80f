//! The gateway's settings: embedded defaults, overridden by a TOML file, then by environment
//! variables, then by flags.
//!
//! One struct, [`Settings`], is at once the command line (clap, every flag also read from a
//! `SWARMGATE_*` variable) and the TOML file's schema (serde), made of one section per part of
//! the gateway ([`sections`]: `[storage]`, `[http]`, `[api]`, `[tracker]`, `[peers]`, `[dht]`,
//! `[mirror]`, `[nostr]`; `[blossom]` in [`blossom`]), every
//! field optional; [`Settings::resolve`] layers them and validates the result into a
//! [`Config`]. Keeping one list of settings means the file, the environment and `--help`
//! cannot drift apart. A file written for the first gateway, with every key at the top level
//! (`http_addr = ...`), still loads: each such key is read into its section.

pub mod blossom;
mod config;
mod nostr;
pub mod sections;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use serde::Deserialize;

pub use self::nostr::NostrConfig;
pub use config::{
    ApiConfig, Config, DhtServiceConfig, HttpConfig, MirrorConfig, PeerConfig, StorageConfig,
    TrackerServiceConfig,
};
pub(crate) use config::{default_public_url, reachable};
use sections::{
    ApiSettings, DhtSettings, HttpSettings, MirrorSettings, NostrSettings, PeerSettings,
    StorageSettings, TrackerSettings,
};

/// `gateway`: upload a file once, then fetch it over HTTP, BitTorrent and magnet links.
///
/// Every option has an embedded default, so `gateway` alone serves ./data on port 9877 (API,
/// HTTP tracker, web seed), UDP 9877 (tracker) and TCP 6881 (peers). A TOML file (`--config`)
/// sets any option in its section (`[http]` `addr = "127.0.0.1:9877"`, `[tracker]`
/// `announce_interval = 900`); an environment variable `SWARMGATE_<FLAG>` overrides the file;
/// a flag overrides both.
#[derive(Debug, Default, Clone, Parser, Deserialize)]
#[command(name = "gateway", version, about, long_about)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A TOML file of settings (flags and environment variables override it).
    #[arg(long, env = "SWARMGATE_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Write the bound addresses (JSON: http, udp_tracker, peers) to this file once every
    /// socket is bound: how scripts and tests that pass port 0 learn the ports.
    #[arg(long, env = "SWARMGATE_ADDRESSES_FILE", value_name = "FILE")]
    pub addresses_file: Option<PathBuf>,

    /// Log filter (tracing's EnvFilter syntax, e.g. `info,swarmgate_session=debug`).
    /// [default: info]
    #[arg(long, env = "SWARMGATE_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// `[storage]`.
    #[command(flatten)]
    #[serde(default)]
    pub storage: StorageSettings,

    /// `[http]`.
    #[command(flatten)]
    #[serde(default)]
    pub http: HttpSettings,

    /// `[api]`.
    #[command(flatten)]
    #[serde(default)]
    pub api: ApiSettings,

    /// `[tracker]`.
    #[command(flatten)]
    #[serde(default)]
    pub tracker: TrackerSettings,

    /// `[peers]`.
    #[command(flatten)]
    #[serde(default)]
    pub peers: PeerSettings,

    /// `[dht]`.
    #[command(flatten)]
    #[serde(default)]
    pub dht: DhtSettings,

    /// `[blossom]`.
    #[command(flatten)]
    #[serde(default)]
    pub blossom: blossom::BlossomSettings,
    /// `[mirror]`.
    #[command(flatten)]
    #[serde(default)]
    pub mirror: MirrorSettings,
    /// `[nostr]`.
    #[command(flatten)]
    #[serde(default)]
    pub nostr: NostrSettings,
}

/// Top-level keys of the first settings files, and the section each now lives in (under its
/// section's own name).
const FLAT_KEYS: &[(&str, &str, &str)] = &[
    ("data_dir", "storage", "data_dir"),
    ("blob_threshold", "storage", "blob_threshold"),
    ("cache_size", "storage", "cache_size"),
    ("http_addr", "http", "addr"),
    ("public_url", "http", "public_url"),
    ("cors_origins", "http", "cors_origins"),
    ("request_timeout", "http", "request_timeout"),
    ("requests_per_second", "http", "requests_per_second"),
    ("max_upload_size", "api", "max_upload_size"),
    ("max_concurrent_uploads", "api", "max_concurrent_uploads"),
    ("uploads_per_minute", "api", "uploads_per_minute"),
    ("admin_token", "api", "admin_token"),
    ("udp_tracker_addr", "tracker", "udp_addr"),
    ("open_tracker", "tracker", "open"),
    ("announce_interval", "tracker", "announce_interval"),
    ("announces_per_second", "tracker", "announces_per_second"),
    ("peer_addr", "peers", "addr"),
    ("peer_announce_addr", "peers", "announce_addr"),
    ("max_peers", "peers", "max_peers"),
];

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
        Settings::from_toml(&text).with_context(|| format!("in the config file {}", path.display()))
    }

    /// Parses TOML settings, sectioned or in the first gateway's flat form (a key in both
    /// places is an error).
    pub fn from_toml(text: &str) -> anyhow::Result<Settings> {
        let mut table: toml::Table = toml::from_str(text)?;
        for (flat, section, key) in FLAT_KEYS {
            let Some(value) = table.remove(*flat) else {
                continue;
            };
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(section_table) = entry else {
                anyhow::bail!("`{section}` must be a table");
            };
            if section_table.insert(key.to_string(), value).is_some() {
                anyhow::bail!("`{flat}` is also set as `{key}` in [{section}]: keep one");
            }
        }
        Ok(Settings::deserialize(toml::Value::Table(table))?)
    }

    /// These settings over `file`'s, then over the defaults, validated.
    pub fn resolve_with(self, file: Settings) -> anyhow::Result<Config> {
        let layered = Settings {
            config: self.config.or(file.config),
            addresses_file: self.addresses_file.or(file.addresses_file),
            log: self.log.or(file.log),
            storage: self.storage.over(file.storage),
            http: self.http.over(file.http),
            api: self.api.over(file.api),
            tracker: self.tracker.over(file.tracker),
            peers: self.peers.over(file.peers),
            dht: self.dht.over(file.dht),
            blossom: self.blossom.over(file.blossom),
            mirror: self.mirror.over(file.mirror),
            nostr: self.nostr.over(file.nostr),
        };
        Config::validate(layered)
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
