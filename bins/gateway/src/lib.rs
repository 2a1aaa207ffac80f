//! The Swarmgate gateway: upload a file once, then fetch it from any BitTorrent client and any
//! browser.
//!
//! The gateway is a composition of services over the workspace's crates, with nothing
//! protocol-specific of its own. swarmgate-catalog keeps the stored files (over
//! swarmgate-blobstore's SQLite metadata and blob/chunk content, with a verifying piece cache);
//! each service serves them one way and is plugged in the same way (the list is in
//! `services/mod.rs`): the HTTP API (upload, files, download, .torrent, magnet), the BEP 19 web
//! seed, the tracker (swarmgate-tracker, HTTP on the API port and UDP beside it), the seeder
//! (swarmgate-session, every stored file over the peer wire protocol from one listener), the
//! DHT node (swarmgate-dht, announcing every stored file), the Blossom server
//! (swarmgate-blossom's router on its own port), the Nostr announcer and follower (the `nostr`
//! crate's NIP-35/NIP-94 events, over the one protocol client the gateway has of its own: a
//! small NIP-01 relay client, see `services/nostr/relays.rs`), the mirror of files that
//! followed gateways announce ([`Mirror`], fetched over BitTorrent and web seeds, verified by
//! sha256, then published) and the status endpoints (JSON statistics, health, Prometheus
//! metrics). A stored file's torrent
//! is v1, single-file, with 2 MiB pieces (one piece per chunk), its announce this tracker and
//! its `url-list` this web seed.
//!
//! The entry type is [`Gateway`]: [`Gateway::start`] with a [`Config`] (from [`Settings`], the
//! command line, environment and TOML file), then [`Gateway::run_until`] or
//! [`Gateway::shutdown`]. Tests start several side by side with [`Config::loopback`].
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use swarmgate_gateway::{Config, Gateway};
//!
//! let gateway = Gateway::start(Config::loopback("data")).await?;
//! println!("serving on {}", gateway.public_url());
//! gateway.run_until(swarmgate_service::wait_for_signal()).await
//! # }
//! ```

mod gateway;
mod http;
mod lock;
mod services;
mod settings;

pub use gateway::{Bound, Gateway};
pub use services::mirror::{Mirror, MirrorRequest};
pub use settings::blossom;
pub use settings::sections;
pub use settings::{
    ApiConfig, Config, DhtServiceConfig, HttpConfig, MirrorConfig, NostrConfig, PeerConfig,
    Settings, StorageConfig, TrackerServiceConfig, parse_size,
};
pub use swarmgate_catalog::Loaded;
