//! The gateway's services: each one part of what the gateway does, with its own settings
//! section, its own state (no handler sees another service's), its own typed statistics, and
//! the same way to start and stop.
//!
//! | service | settings | serves | observes |
//! |---|---|---|---|
//! | [`api::ApiService`] | `[api]` | `/api/upload`, `/api/files`, `/api/download`, `/api/torrent`, `/api/magnet` | |
//! | [`webseed::WebSeedService`] | | `/webseed/` (BEP 19) | |
//! | [`tracker::TrackerService`] | `[tracker]` | `/announce`, `/scrape`, UDP (BEP 15) | the catalog (allow-list, own peer) |
//! | [`seeder::SeederService`] | `[peers]` | the peer port (BEP 3, 9, 10) | the catalog (seeded torrents), the tracker (leechers to dial) |
//! | [`dht::DhtService`] | `[dht]` | UDP 6883 (BEP 5, 32, 33, 42, 43, 51) | the catalog (every stored torrent announced) |
//! | [`blossom::BlossomService`] | `[blossom]` | its own port, 8082 (BUD-01/02/04/06/08/09/11/12) | |
//! | [`mirror::MirrorService`] | `[mirror]` | | (fed by [`mirror::Mirror`]: fetches, verifies and publishes followed gateways' files) |
//! | [`nostr::NostrService`] | `[nostr]` | `/api/discovered`; WebSocket connections to the relays (NIP-01, 35, 94) | the catalog (files published while running announced) |
//! | [`status::StatusService`] | | `/api/stats`, `/api/p2p/stats`, `/api/health`, `/api/diagnostics`, `/api/webseed/health`, `/metrics` | every other service's figures |
//!
//! A service is built from its configuration and what it needs of the others, then plugged
//! in by `Gateway::start`: its routes are merged into the one HTTP port (behind the common
//! guards), its background work is started on the one [`Supervisor`] under the one shutdown,
//! and, if it serves stored files, it is registered once as a catalog observer. The next
//! services (Nostr, the web UI) plug in the same way; Blossom, which needs its own port, serves
//! it from its `start`.

pub(crate) mod api;
pub(crate) mod blossom;
pub(crate) mod dht;
pub(crate) mod mirror;
pub(crate) mod nostr;
pub(crate) mod seeder;
pub(crate) mod status;
pub(crate) mod tracker;
pub(crate) mod webseed;

use axum::Router;
use serde::Serialize;
use swarmgate_service::Supervisor;

/// One part of the gateway; see the module docs.
pub(crate) trait Service: Send + Sync + 'static {
    /// Its name, in logs and health reports.
    fn name(&self) -> &'static str;

    /// The routes it answers on the HTTP port, with its own state applied.
    fn routes(&self) -> Router {
        Router::new()
    }

    /// Starts its background work (sockets other than the HTTP port, timers) on `services`;
    /// each task ends when the shutdown resolves.
    fn start(&self, services: &mut Supervisor) {
        let _ = services;
    }

    /// Its part of the gateway's health, if it has one. Called on a blocking thread: it may
    /// read a disk.
    fn health(&self) -> Option<Health> {
        None
    }
}

/// One component of `/api/health`: a score of 0 to 100, its weight in the overall score, and
/// the issues that cost it points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Health {
    /// The component.
    pub name: &'static str,
    /// 0 (broken) to 100 (fine).
    pub score: u8,
    /// Its weight in the overall score.
    pub weight: u8,
    /// What costs it points, for a human.
    pub issues: Vec<String>,
}
