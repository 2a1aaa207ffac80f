//! The tracker server (BEP 3, 7, 15, 20, 23, 48): swarms, policy, and the HTTP and UDP
//! request handlers, with the socket drivers behind the `server` feature.
//!
//! [`Tracker`] is the entry type. It is transport-neutral and sans-IO: `now` and the key of its
//! UDP connection ids come from the caller and it opens no socket, so the gateway can call it
//! from its own HTTP stack, announce the torrents it seeds in-process, and read the swarms it
//! should dial. The handlers ([`Tracker::handle_http`], [`Tracker::handle_udp`]) turn requests
//! into answers; the drivers (`serve_http`, `serve_udp`, feature `server`) only move bytes.
//!
//! Memory: a peer is keyed by its address; an IPv4 peer is 12 bytes in its swarm's vector plus,
//! in swarms of 32 peers or more, a 12-byte index entry; a torrent adds about 200 bytes. Measured
//! with `tracker_memory` (benches/): 43 bytes per peer at 1,000,000 peers in 10,000 torrents.

mod config;
mod connection_id;
mod http_handler;
#[cfg(feature = "server")]
mod http_server;
mod observer;
mod rate_limit;
mod registry;
mod swarm;
mod tracker;
mod udp_handler;
#[cfg(feature = "server")]
mod udp_server;

use std::time::Duration;

pub use config::{Access, ConfigError, RateLimit, TrackerConfig};
pub use http_handler::HttpAnswer;
#[cfg(feature = "server")]
pub use http_server::serve_http;
pub use observer::{AnnounceObserver, AnnounceSeen};
pub use tracker::{Announced, Tracker, TrackerStats};
pub use udp_handler::{UdpAnswer, UdpDrop};
#[cfg(feature = "server")]
pub use udp_server::serve_udp;

use swarmgate_core::{client_family, identify_client};

use crate::error::ParseError;

/// Why a tracker refused a request; its `Display` is the `failure reason` (HTTP) or the error
/// message (UDP) the client is sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The request is not a valid announce or scrape.
    #[error("malformed request: {0}")]
    Malformed(ParseError),
    /// The announce names port 0.
    #[error("malformed request: port 0 is not a listening port")]
    InvalidPort,
    /// The torrent is not on this tracker's allow-list.
    #[error("torrent not registered with this tracker")]
    NotAllowed,
    /// The tracker tracks as many torrents as it is configured to.
    #[error("tracker full: no new torrents accepted")]
    TooManyTorrents,
    /// The torrent has as many peers as it may.
    #[error("swarm full: no new peers accepted for this torrent")]
    TooManyPeers,
    /// The address sent requests faster than the configured rate.
    #[error("too many requests: retry in {:.0} s", retry_after.as_secs_f64().ceil())]
    RateLimited {
        /// How long until a request is allowed again.
        retry_after: Duration,
    },
    /// A scrape named no info-hash and full scrape is off.
    #[error("full scrape is disabled: name the torrents with info_hash parameters")]
    FullScrapeDisabled,
    /// A scrape named no or too many info-hashes.
    #[error("a scrape names 1 to {max} info-hashes, this one names {count}")]
    TooManyHashes {
        /// How many the request named.
        count: usize,
        /// The most allowed.
        max: usize,
    },
}
