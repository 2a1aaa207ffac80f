//! What the engine knows about one connected peer, beyond its wire session.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use swarmgate_core::BlockRef;
use swarmgate_peer::PeerSession;
use swarmgate_rank::Source;

use super::rate::RateMeter;

/// Uploads read from disk at once for one peer.
pub(super) const MAX_READS_IN_FLIGHT: u32 = 4;
/// Bytes handed to a peer's socket but not yet written, above which no more uploads are read.
pub(super) const MAX_UNSENT: usize = 256 * 1024;
/// Bytes handed to a peer's socket but not yet written, above which the peer is dropped
/// ([`DisconnectReason::Backlog`](super::DisconnectReason::Backlog)). Blocks stop at
/// `MAX_UNSENT` plus the reads in flight; the rest (a turn's metadata answers, at most 1 MiB,
/// rejects, haves) stays far below this unless the peer stopped reading.
pub(super) const MAX_BACKLOG: usize = 4 << 20;

pub(super) struct Peer {
    pub(super) addr: SocketAddr,
    pub(super) source: Source,
    pub(super) session: PeerSession,
    pub(super) connected_at: Instant,
    /// The peer's pieces are counted in the picker's availability.
    pub(super) counted: bool,
    pub(super) download: RateMeter,
    pub(super) upload: RateMeter,
    pub(super) blocks_received: u64,
    pub(super) hash_failures: u32,
    pub(super) snubs: u32,
    /// Requests from the peer waiting for a disk read: a subset of the session's queue, so at
    /// most its `reqq` (cleared when the peer is choked, pruned when it cancels).
    pub(super) uploads: VecDeque<BlockRef>,
    pub(super) reads_in_flight: u32,
    /// Bytes given to the driver for this peer and not yet reported written.
    pub(super) unsent: usize,
}

impl Peer {
    pub(super) fn new(
        addr: SocketAddr,
        source: Source,
        session: PeerSession,
        now: Instant,
    ) -> Self {
        Self {
            addr,
            source,
            session,
            connected_at: now,
            counted: false,
            download: RateMeter::new(now),
            upload: RateMeter::new(now),
            blocks_received: 0,
            hash_failures: 0,
            snubs: 0,
            uploads: VecDeque::new(),
            reads_in_flight: 0,
            unsent: 0,
        }
    }
}
