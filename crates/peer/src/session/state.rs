//! BEP 3 session state as the owner reads it: choking, interest, pieces, requests, counters.

use swarmgate_core::{Bitfield, BlockRef, Geometry, PeerId, PieceIndex};

use super::{DEFAULT_PEER_REQQ, PeerSession};
use crate::extension::ExtendedHandshake;
use crate::handshake::Reserved;

impl PeerSession {
    /// True once both handshakes are done.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// The peer's id, once its handshake is in.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.remote.map(|h| h.peer_id)
    }

    /// The peer's extension bits, once its handshake is in.
    pub fn remote_reserved(&self) -> Option<Reserved> {
        self.remote.map(|h| h.reserved)
    }

    /// True when both sides set the fast-extension bit.
    pub fn fast_enabled(&self) -> bool {
        self.fast
    }

    /// True when both sides set the extension-protocol bit.
    pub fn extensions_enabled(&self) -> bool {
        self.extended
    }

    /// Whether we choke the peer (initially true).
    pub fn am_choking(&self) -> bool {
        self.am_choking
    }

    /// Whether we told the peer we are interested.
    pub fn am_interested(&self) -> bool {
        self.am_interested
    }

    /// Whether the peer chokes us (initially true).
    pub fn peer_choking(&self) -> bool {
        self.peer_choking
    }

    /// Whether the peer is interested in our pieces.
    pub fn peer_interested(&self) -> bool {
        self.peer_interested
    }

    /// The pieces the peer announced, once a bitfield, have-all, have-none or have arrived
    /// (and the geometry is known).
    pub fn peer_pieces(&self) -> Option<&Bitfield> {
        self.peer_pieces.as_ref()
    }

    /// True when the peer has every piece.
    pub fn is_seed(&self) -> bool {
        self.peer_pieces.as_ref().is_some_and(Bitfield::is_full)
    }

    /// How many of our requests are outstanding.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Our outstanding requests, oldest first.
    pub fn outstanding_blocks(&self) -> impl Iterator<Item = BlockRef> + '_ {
        self.outstanding.iter().copied()
    }

    /// How many requests the peer accepts at once: its `reqq`, or 250 when it sent none.
    pub fn max_outstanding(&self) -> usize {
        self.remote_ext
            .as_ref()
            .and_then(|e| e.reqq)
            .map_or(DEFAULT_PEER_REQQ, |r| r as usize)
    }

    /// How many of the peer's requests are queued, waiting for `send_block`.
    pub fn queued_requests(&self) -> usize {
        self.queued.len()
    }

    /// The peer's extended handshake (merged with any later ones).
    pub fn remote_extended(&self) -> Option<&ExtendedHandshake> {
        self.remote_ext.as_ref()
    }

    /// Payload bytes received in blocks we requested.
    pub fn downloaded_payload(&self) -> u64 {
        self.downloaded
    }

    /// Payload bytes sent in blocks.
    pub fn uploaded_payload(&self) -> u64 {
        self.uploaded
    }

    /// Payload bytes received in blocks we had not requested (dropped).
    pub fn unrequested_payload(&self) -> u64 {
        self.unrequested
    }

    /// The pieces the peer lets us request while choked (BEP 6).
    pub fn allowed_fast(&self) -> &[PieceIndex] {
        &self.allowed_fast
    }

    /// The piece geometry, when known.
    pub fn geometry(&self) -> Option<Geometry> {
        self.config.geometry
    }

    /// Bytes queued and not yet taken by [`Self::poll_transmit`]: a driver whose socket is slow
    /// sees this grow, and an engine can hold back `send_block` until it shrinks.
    pub fn send_buffered(&self) -> usize {
        self.send.len()
    }
}

impl std::fmt::Debug for PeerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSession")
            .field("role", &self.role)
            .field("established", &self.established)
            .field("peer_id", &self.peer_id())
            .field("fast", &self.fast)
            .field("extended", &self.extended)
            .field("am_choking", &self.am_choking)
            .field("peer_choking", &self.peer_choking)
            .field("outstanding", &self.outstanding.len())
            .field("queued", &self.queued.len())
            .field("received_buffered", &self.recv.len())
            .field("send_buffered", &self.send.len())
            .finish_non_exhaustive()
    }
}
