//! Errors of the peer wire protocol (BEP 3, 6, 9, 10), one enum per thing a caller can do next.
//!
//! Codec errors ([`HandshakeError`], [`WireError`], [`ExtensionError`], [`MetadataError`]) say
//! what was wrong with the bytes. A [`PeerError`] from a session means "drop this peer" (and, for
//! a [`ProtocolError`], consider banning it). A [`RequestError`] is our own request refused
//! before it reached the wire: pick another block or another peer.

use swarmgate_core::{BitfieldError, BlockRef, InfoHashV1, PieceIndex};

/// A handshake that is not a BitTorrent handshake for our torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The first byte is not 19, the length of "BitTorrent protocol".
    #[error("protocol string length {found}, expected 19")]
    ProtocolLength {
        /// The byte received.
        found: u8,
    },
    /// The protocol string is not "BitTorrent protocol".
    #[error("protocol string is not \"BitTorrent protocol\"")]
    Protocol,
    /// The peer asked for (or answered with) another torrent.
    #[error("info-hash {actual} does not match {expected}")]
    InfoHashMismatch {
        /// Ours.
        expected: InfoHashV1,
        /// Theirs.
        actual: InfoHashV1,
    },
    /// The peer id is our own: we connected to ourselves.
    #[error("connected to ourselves (the peer id is our own)")]
    SelfConnection,
}

/// A message frame that breaks BEP 3/6/10 framing or the [`Limits`](crate::Limits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The length prefix is larger than any legal message under the limits.
    #[error("frame of {length} bytes exceeds the largest legal frame of {max}")]
    FrameTooLarge {
        /// The length the prefix claims.
        length: u32,
        /// The largest frame the limits allow.
        max: usize,
    },
    /// A message id this crate does not know.
    #[error("unknown message id {id}")]
    UnknownId {
        /// The id byte.
        id: u8,
    },
    /// A fixed-size message of the wrong length, or a variable one too short for its header.
    #[error("message id {id} cannot be {length} bytes long")]
    BadLength {
        /// The message id.
        id: u8,
        /// The frame length (id byte included).
        length: u32,
    },
    /// A bitfield, piece or extended payload larger than its limit.
    #[error("message id {id} carries {length} payload bytes, more than the limit of {max}")]
    PayloadTooLarge {
        /// The message id.
        id: u8,
        /// The payload length.
        length: usize,
        /// The limit for this message.
        max: usize,
    },
}

/// A BEP 10 extended handshake that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    /// The payload is not bencode.
    #[error("extended handshake: {0}")]
    Bencode(#[from] swarmgate_bencode::DecodeError),
    /// The payload ends inside its dictionary.
    #[error("extended handshake is truncated")]
    Truncated,
    /// The payload is bencode but not a dictionary.
    #[error("extended handshake is not a dictionary")]
    NotADict,
}

/// A BEP 9 `ut_metadata` message or metadata transfer that went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The message is not bencode.
    #[error("ut_metadata message: {0}")]
    Bencode(#[from] swarmgate_bencode::DecodeError),
    /// The message's dictionary is cut short or misses a required key.
    #[error("ut_metadata message is truncated or lacks {key}")]
    Malformed {
        /// The key that is missing or of the wrong type.
        key: &'static str,
    },
    /// A `msg_type` other than 0, 1 and 2 (BEP 9 says to ignore these).
    #[error("unknown ut_metadata msg_type {0}")]
    UnknownType(i64),
    /// A data message carries more than one 16 KiB metadata piece.
    #[error("ut_metadata piece of {length} bytes, more than 16 KiB")]
    PieceTooLarge {
        /// The bytes received.
        length: usize,
    },
    /// The advertised metadata size is zero or above the caller's cap.
    #[error("metadata size {size} is outside 1..={max}")]
    BadSize {
        /// The size claimed.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// A data message's `total_size` differs from the size the fetcher was made for.
    #[error("total_size {actual} differs from the advertised {expected}")]
    SizeMismatch {
        /// The size the fetcher expects.
        expected: u64,
        /// The size in the message.
        actual: u64,
    },
    /// A data message for a piece past the end of the metadata.
    #[error("metadata piece {piece} out of range ({count} pieces)")]
    PieceOutOfRange {
        /// The piece index received.
        piece: u32,
        /// The number of pieces.
        count: u32,
    },
    /// A data message whose length is not the length of that piece.
    #[error("metadata piece {piece} is {actual} bytes, expected {expected}")]
    PieceLength {
        /// The piece index.
        piece: u32,
        /// Its expected length.
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// The assembled metadata does not hash to the info-hash: the fetcher was cleared; ban the
    /// peer that sent it.
    #[error("assembled metadata does not match the info-hash")]
    HashMismatch,
}

/// A rule of the peer wire protocol the remote peer broke: drop it, and count it against it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A bitfield of the wrong length or with spare bits set.
    #[error("invalid bitfield: {0}")]
    InvalidBitfield(#[from] BitfieldError),
    /// A have, request, suggest or allowed-fast for a piece the torrent does not have.
    #[error("{message} for piece {piece}, out of range ({count} pieces)")]
    PieceOutOfRange {
        /// Which message.
        message: &'static str,
        /// The index received.
        piece: PieceIndex,
        /// The number of pieces.
        count: u32,
    },
    /// A request for a block outside its piece, of length zero, or (without the fast extension)
    /// longer than 16 KiB.
    #[error("request for an invalid block {0:?}")]
    InvalidRequest(BlockRef),
    /// More queued requests than the `reqq` we advertised.
    #[error("more than {limit} queued requests")]
    RequestFlood {
        /// Our `reqq`.
        limit: u32,
    },
    /// A BEP 6 message from a peer that did not set the fast bit (or to us when we did not).
    #[error("fast-extension message id {id} without the fast extension")]
    FastNotNegotiated {
        /// The message id.
        id: u8,
    },
    /// An extended handshake we cannot read.
    #[error("{0}")]
    ExtendedHandshake(#[from] ExtensionError),
    /// A `ut_metadata` message we cannot read, or a data piece over 16 KiB.
    #[error("{0}")]
    Metadata(#[from] MetadataError),
}

/// Which timer ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// The handshake did not complete within `handshake_timeout`.
    Handshake,
    /// Nothing was received for `idle_timeout`.
    Idle,
}

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Timeout::Handshake => "handshake",
            Timeout::Idle => "idle",
        })
    }
}

/// Why a peer session ended: every variant means "drop this connection".
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The handshake was not ours: wrong protocol, wrong torrent, or ourselves.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// A frame broke the wire format.
    #[error("wire: {0}")]
    Wire(#[from] WireError),
    /// A well-formed message broke a protocol rule: drop, and count it against the peer.
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
    /// A timer ran out.
    #[error("{what} timeout")]
    TimedOut {
        /// Which one.
        what: Timeout,
    },
    /// The peer closed the connection (connection driver only).
    #[error("connection closed by the peer")]
    Closed,
    /// A socket error (connection driver only).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Why [`PeerSession::request`](crate::PeerSession::request) refused to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The handshakes are not done yet.
    #[error("the session is not established")]
    NotEstablished,
    /// The session has no geometry (the metadata is not known yet).
    #[error("no piece geometry yet")]
    NoGeometry,
    /// The block is outside its piece, empty, or longer than 16 KiB.
    #[error("block does not fit the geometry")]
    InvalidBlock,
    /// The peer chokes us and the piece is not in its allowed-fast set.
    #[error("the peer is choking us")]
    Choked,
    /// The peer has not announced the piece.
    #[error("the peer does not have the piece")]
    PeerLacksPiece,
    /// The block is already requested from this peer.
    #[error("already outstanding")]
    AlreadyOutstanding,
    /// As many requests are outstanding as the peer's `reqq` allows.
    #[error("{max} requests outstanding, the peer's limit")]
    QueueFull {
        /// The peer's limit.
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_context() {
        let e = PeerError::from(WireError::FrameTooLarge {
            length: u32::MAX,
            max: 1_048_578,
        });
        assert_eq!(
            e.to_string(),
            "wire: frame of 4294967295 bytes exceeds the largest legal frame of 1048578"
        );
        let e = PeerError::TimedOut {
            what: Timeout::Handshake,
        };
        assert_eq!(e.to_string(), "handshake timeout");
        let e = PeerError::from(ProtocolError::PieceOutOfRange {
            message: "have",
            piece: PieceIndex(9),
            count: 4,
        });
        assert_eq!(
            e.to_string(),
            "protocol violation: have for piece 9, out of range (4 pieces)"
        );
        assert_eq!(
            RequestError::QueueFull { max: 250 }.to_string(),
            "250 requests outstanding, the peer's limit"
        );
    }
}
