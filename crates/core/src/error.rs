//! The errors of the core types: each says what the caller handed in and what was expected.

/// A textual form (hex, base32) that does not decode to the expected bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text has the wrong number of characters for the value it should hold.
    #[error("{encoding} text has {actual} characters, expected {expected}")]
    Length {
        /// "hex" or "base32".
        encoding: &'static str,
        /// The number of characters the value needs.
        expected: usize,
        /// The number of characters given.
        actual: usize,
    },
    /// A character outside the encoding's alphabet (or non-zero trailing bits in base32).
    #[error("invalid {encoding} character at offset {offset}")]
    Character {
        /// "hex" or "base32".
        encoding: &'static str,
        /// The offset of the offending character.
        offset: usize,
    },
}

/// A byte string that is not the length its type demands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be {expected} bytes, got {actual}")]
pub struct LengthError {
    /// What was being built ("info-hash v1", "compact IPv4 peer list", ...).
    pub what: &'static str,
    /// The length (or, for lists, the multiple) that was expected.
    pub expected: usize,
    /// The length given.
    pub actual: usize,
}

/// Piece geometry that cannot describe a torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    /// The piece length is zero, or not a multiple of the 16 KiB block size where one is needed.
    #[error("piece length {0} is invalid: it must be positive")]
    PieceLength(u64),
    /// The torrent has more pieces than a 32-bit piece index can address.
    #[error("{total_length} bytes in pieces of {piece_length} make more than 2^32 pieces")]
    TooManyPieces {
        /// The total length of the torrent.
        total_length: u64,
        /// The piece length.
        piece_length: u64,
    },
}
