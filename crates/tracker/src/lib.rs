//! BitTorrent tracker protocol: announce and scrape types, HTTP (BEP 3/23/48) and UDP (BEP 15)
//! clients and servers.
//!
//! The crate owns everything between "I have a torrent and trackers" and "here are peers":
//!
//! - the transport-neutral vocabulary: [`AnnounceRequest`], [`AnnounceResponse`],
//!   [`AnnounceEvent`], [`ScrapeStats`];
//! - the HTTP codec in both directions: [`announce_url`] / [`parse_announce_query`],
//!   [`decode_announce_response`] / [`encode_announce_response`], and the BEP 48 scrape
//!   counterparts ([`scrape_url`], [`decode_scrape_response`], ...);
//! - the UDP codec in both directions ([`UdpRequest`], [`UdpResponse`]) and the sans-IO client
//!   machine [`UdpTrackerClient`] (connect, connection-id reuse, 15 * 2^n retransmission);
//! - BEP 12 tiers ([`TrackerTiers`]);
//! - the server: [`Tracker`], the swarm registry with its policy ([`TrackerConfig`]: intervals,
//!   numwant, allow-list, trusted `ip`, full scrape, per-address rate limit, per-client
//!   intervals by BEP 20 peer id), its statistics, and the HTTP and UDP request handlers
//!   ([`Tracker::handle_http`], and [`Tracker::handle_udp`], whose [`UdpAnswer`] says whether
//!   to send the answer or why a datagram is dropped);
//! - behind the default `server` feature, the socket drivers `serve_http` (hyper) and
//!   `serve_udp` (worker threads);
//! - behind the default `client` feature, the tokio drivers: `HttpTracker` (reqwest),
//!   `UdpTracker`, and `Announcer`, the entry type for a torrent engine: one per torrent, it
//!   walks the tiers, remembers tracker ids and says when to announce next.
//!
//! The pure core (everything without the features) opens no socket, reads no clock (`now` is
//! passed in) and draws no randomness: it uses the seeds it is given, and the tracker's UDP
//! connection ids are keyed by a secret its caller passes to [`Tracker::new`] (only the `client`
//! feature's `AnnouncerConfig::new` asks the operating system, for a key). It does not pick
//! peers, rank them or connect to them (the session and rank crates do), and it does not parse
//! torrents (`swarmgate-metainfo` gives the tiers as `Vec<Vec<String>>`). The server shares the
//! codecs with the client: its handlers answer through the encoders behind
//! [`encode_announce_response`] and [`UdpResponse::encode`], and what one side writes the other
//! side's parser reads back in the tests.
//!
//! ```
//! use swarmgate_core::{InfoHashV1, PeerId};
//! use swarmgate_tracker::{AnnounceEvent, AnnounceRequest, announce_url, decode_announce_response};
//!
//! let mut request = AnnounceRequest::new(InfoHashV1([0x12; 20]), PeerId::swarmgate([0; 12]), 6881);
//! request.event = AnnounceEvent::Started;
//! request.left = 1 << 20;
//! let url = announce_url("http://tracker.example/announce", &request);
//! assert!(url.contains("&event=started"));
//!
//! let body = b"d8:intervali900e12:min intervali60e5:peers6:\x0a\x00\x00\x02\x1a\xe1e";
//! let response = decode_announce_response(body)?;
//! assert_eq!(response.interval.as_secs(), 900);
//! assert_eq!(response.peers, ["10.0.0.2:6881".parse()?]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod announce;
#[cfg(feature = "client")]
mod client;
mod error;
mod http;
mod server;
mod tiers;
mod udp;

pub use announce::{AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeStats};
#[cfg(feature = "client")]
pub use client::{Announcer, AnnouncerConfig, HttpTracker, MAX_BODY, Progress, UdpTracker};
pub use error::{ParseError, TrackerError};
pub use http::{
    announce_url, decode_announce_response, decode_scrape_response, encode_announce_response,
    encode_failure, encode_scrape_response, parse_announce_query, parse_scrape_query,
    scrape_request_url, scrape_url,
};
pub use server::{
    Access, AnnounceObserver, AnnounceSeen, Announced, ConfigError, HttpAnswer, RateLimit, Refusal,
    Tracker, TrackerConfig, TrackerStats, UdpAnswer, UdpDrop,
};
#[cfg(feature = "server")]
pub use server::{serve_http, serve_udp};
pub use tiers::TrackerTiers;
pub use udp::{
    AddressFamily, MAX_SCRAPE_HASHES, PROTOCOL_ID, UdpClientConfig, UdpEvent, UdpRequest,
    UdpResponse, UdpTrackerClient,
};
