//! Hearing of announces in the same process (BEP 3): the gateway dials the leechers its tracker
//! learns of, since some clients never dial a loopback or LAN peer a tracker hands them
//! (Transmission 3.00 ignores them) and are only reached when the seeder connects first.
//!
//! The observer is called on the thread that handled the announce, after the swarm took it, so
//! it must be cheap and must not block: hand the address to a queue or a non-blocking call.

use std::net::SocketAddr;

use swarmgate_core::{InfoHashV1, PeerId};

use crate::announce::AnnounceEvent;

/// One accepted announce, as the swarm recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnounceSeen {
    /// The torrent.
    pub info_hash: InfoHashV1,
    /// The peer's listening address (the source IP, or the trusted `ip`, with its `port`).
    pub peer: SocketAddr,
    /// The peer id it announced (the one its handshakes carry).
    pub peer_id: PeerId,
    /// It has the whole torrent (`left == 0`).
    pub seeder: bool,
    /// The event it announced.
    pub event: AnnounceEvent,
}

/// Told of every accepted announce from a client (not of [`Tracker::announce_local`]).
///
/// [`Tracker::announce_local`]: crate::Tracker::announce_local
pub trait AnnounceObserver: Send + Sync + 'static {
    /// A client announced; called after the swarm recorded it. Must not block.
    fn announced(&self, seen: &AnnounceSeen);
}
