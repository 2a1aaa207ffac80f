//! The seeder's settings ([`SeederConfig`], the caps and timeouts of the admission policy
//! among them) and its figures ([`SeederStats`], with the refusals by reason): plain data, kept
//! apart from the code that runs the seeder.

use std::time::Duration;

use swarmgate_core::PeerId;

/// How the seeder behaves; [`SeederConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct SeederConfig {
    /// Our peer id, for every torrent.
    pub peer_id: PeerId,
    /// Connected peers of one torrent, at most.
    pub max_peers_per_torrent: usize,
    /// Open sockets of all torrents together, at most: incoming ones (from the accept, before
    /// their handshake), dials under way and peers.
    pub max_connections: usize,
    /// Peers of one torrent uploaded to at once, the optimistic slot included.
    pub unchoke_slots: usize,
    /// How long a torrent's task outlives its last peer.
    pub idle_grace: Duration,
    /// How long an address rests after a dial of it failed.
    pub redial_after: Duration,
    /// How long [`Seeder::connect_announced`](super::Seeder::connect_announced) waits before it dials, for the peer to dial us
    /// first.
    pub announce_dial_delay: Duration,
    /// How long an incoming peer has to send its handshake.
    pub handshake_timeout: Duration,
    /// Sockets open from one IP address at once, at most (incoming ones).
    pub max_connections_per_ip: usize,
    /// Sockets open from one IPv4 /24 or IPv6 /64 at once, at most (incoming ones).
    pub max_connections_per_subnet: usize,
    /// Incoming sockets that have not sent their handshake yet, at most; keep it below
    /// `max_connections`, the difference being the room always kept for peers.
    pub max_half_open: usize,
    /// From this many half-open sockets on, a newcomer gets `pressure_handshake_timeout`.
    pub pressure_half_open: usize,
    /// The handshake timeout of a socket accepted under pressure.
    pub pressure_handshake_timeout: Duration,
    /// How long the oldest half-open socket must have waited before a newcomer may evict it
    /// when `max_half_open` are open.
    pub evict_half_open_after: Duration,
    /// How long a dial may take.
    pub connect_timeout: Duration,
    /// Seed of the engines' random choices (each torrent's mixed with its info-hash).
    pub seed_rng: u64,
}

impl SeederConfig {
    /// Defaults: 50 peers a torrent, 500 sockets in all, 8 upload slots a torrent, tasks ending
    /// 60 s after their last peer, 30 s after a failed dial before the next of that address,
    /// announce-driven dials 2 s after the announce, 10 s handshake and connect timeouts;
    /// 8 sockets an address, 32 a subnet, 64 half-open, 2 s handshakes from 32 half-open on,
    /// the oldest half-open socket evicted for a newcomer after 1 s.
    pub fn new(peer_id: PeerId) -> Self {
        Self {
            peer_id,
            max_peers_per_torrent: 50,
            max_connections: 500,
            unchoke_slots: 8,
            idle_grace: Duration::from_secs(60),
            redial_after: Duration::from_secs(30),
            announce_dial_delay: Duration::from_secs(2),
            handshake_timeout: Duration::from_secs(10),
            max_connections_per_ip: 8,
            max_connections_per_subnet: 32,
            max_half_open: 64,
            pressure_half_open: 32,
            pressure_handshake_timeout: Duration::from_secs(2),
            evict_half_open_after: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            seed_rng: u64::from_le_bytes(peer_id.as_bytes()[12..20].try_into().unwrap_or([0; 8])),
        }
    }
}

/// The seeder's figures since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SeederStats {
    /// Torrents seeded.
    pub torrents: usize,
    /// Torrents with a running task (a peer now, or within `idle_grace`).
    pub active_torrents: usize,
    /// Connected peers, all torrents.
    pub peers: usize,
    /// Open sockets: peers, incoming sockets before their handshake, dials under way.
    pub connections: usize,
    /// Incoming sockets that have not sent their handshake yet.
    pub half_open: usize,
    /// Payload bytes sent.
    pub uploaded: u64,
    /// Blocks sent.
    pub blocks_served: u64,
    /// Block reads that failed (or returned the wrong length): nothing was sent.
    pub read_errors: u64,
    /// Sockets closed or dials not made for lack of room (`max_connections`,
    /// `max_peers_per_torrent`).
    pub refused: u64,
    /// Incoming handshakes for a torrent not seeded (closed).
    pub unknown_torrent: u64,
    /// Incoming sockets closed by the admission policy, by reason.
    pub refusals: Refusals,
    /// Dials made.
    pub dials: u64,
    /// Dials that did not connect.
    pub dial_failures: u64,
    /// Announce-driven dials not made because the peer had connected to us meanwhile.
    pub dials_skipped: u64,
    /// Peers dropped for not reading their socket while writing to it (more than 4 MiB of
    /// answers waiting; see the engine's `DisconnectReason::Backlog`).
    pub slow_readers: u64,
}

/// Incoming sockets closed before they became peers, by reason: the admission policy of the
/// [`SeederConfig`] caps (`max_connections_per_ip`, `max_connections_per_subnet`,
/// `max_half_open`, the handshake timeouts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Refusals {
    /// Refused: their address had `max_connections_per_ip` sockets open.
    pub per_ip: u64,
    /// Refused: their /24 or /64 had `max_connections_per_subnet` sockets open.
    pub per_subnet: u64,
    /// Refused: `max_half_open` sockets were in their handshake, none old enough to evict.
    pub half_open_full: u64,
    /// Closed in their handshake to make room for a newcomer (the oldest half-open ones).
    pub half_open_evicted: u64,
    /// Closed: no handshake within the timeout.
    pub handshake_timeout: u64,
}
