//! What a BEP 3 peer session reports to its owner.

use bytes::Bytes;
use swarmgate_core::{BlockRef, PeerId, PieceIndex};

use crate::handshake::Reserved;
use crate::metadata::MetadataMessage;

/// Something the peer did that the owner of the session should know about.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PeerEvent {
    /// Both handshakes are done: the session is established.
    Handshake {
        /// The peer's id.
        peer_id: PeerId,
        /// The peer's extension bits.
        reserved: Reserved,
    },
    /// The peer's BEP 10 handshake arrived: read `remote_extended()`.
    ExtendedHandshake,
    /// After a bitfield, have-all or have-none: read `peer_pieces()`.
    PiecesKnown,
    /// The peer has a new piece.
    Have(PieceIndex),
    /// The peer choked us. Without the fast extension a choke cancels every outstanding request:
    /// they are in `dropped`, to be requested elsewhere. With it they stay outstanding until
    /// each is rejected or served, and `dropped` is empty.
    Choked {
        /// Our requests the choke cancelled.
        dropped: Vec<BlockRef>,
    },
    /// The peer unchoked us.
    Unchoked,
    /// The peer is interested in our pieces.
    Interested,
    /// The peer is no longer interested.
    NotInterested,
    /// A block we requested (unrequested blocks are counted and dropped).
    Block {
        /// Which block.
        block: BlockRef,
        /// Its bytes, a slice of the receive buffer.
        data: Bytes,
    },
    /// A valid request, now queued: read the data and call `send_block`.
    Request(BlockRef),
    /// The peer withdrew a queued request.
    Cancelled(BlockRef),
    /// The peer will not serve our request (BEP 6); it is no longer outstanding.
    Rejected(BlockRef),
    /// The peer suggests a piece (BEP 6).
    Suggest(PieceIndex),
    /// The peer lets us request this piece while choked (BEP 6).
    AllowedFast(PieceIndex),
    /// The peer's DHT port (BEP 5).
    Port(u16),
    /// A `ut_metadata` data or reject message, for the owner's `MetadataFetcher`. Requests are
    /// answered by the session.
    Metadata(MetadataMessage),
    /// A message of an extension the session does not handle itself (any extended id but 0,
    /// the handshake, and [`UT_METADATA_ID`](crate::UT_METADATA_ID)).
    Extended {
        /// The extended message id.
        id: u8,
        /// Its payload.
        payload: Bytes,
    },
    /// Our requests went unanswered for `request_timeout` (the peer is snubbing us): they are
    /// no longer outstanding.
    RequestsTimedOut {
        /// The requests given up on.
        blocks: Vec<BlockRef>,
    },
}
