//! Why a torrent or a magnet link was refused, naming the field and what was wrong with it, and
//! why the writer would not write one.
//!
//! One enum for the parser, because a caller can do the same thing with every variant (report it
//! and drop the torrent); the variants exist so that the message names the problem precisely, the
//! way libtorrent's error codes do, and so that tests can assert which rule fired. The writer has
//! its own enum: its errors are the caller's mistakes (parts that do not fit together), never
//! hostile input.

use swarmgate_bencode::DecodeError;

/// A `.torrent` that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetainfoError {
    /// The bytes are not valid bencode (or exceed the decoder's limits).
    #[error("not a torrent: {0}")]
    Bencode(#[from] DecodeError),
    /// The top-level value is not a dictionary.
    #[error("not a torrent: the top-level value is not a dictionary")]
    NotADictionary,
    /// A required field is absent (or has the wrong type, where the spec gives it only one).
    #[error("missing field `{field}`")]
    MissingField {
        /// The field's path, e.g. `info.piece length`.
        field: &'static str,
    },
    /// A field is present but its value breaks a rule.
    #[error("invalid `{field}`: {reason}")]
    InvalidField {
        /// The field's path, e.g. `info.files[3].length`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The `pieces` string does not hold one SHA-1 per piece.
    #[error("`info.pieces` holds {actual} bytes, expected {expected} (20 per piece)")]
    PieceHashes {
        /// 20 times the piece count implied by the total length and piece length.
        expected: u64,
        /// The length of the `pieces` string.
        actual: usize,
    },
    /// The torrent has more pieces than the configured limit.
    #[error("torrent has {count} pieces, more than the limit of {limit}")]
    TooManyPieces {
        /// The piece count the torrent implies.
        count: u64,
        /// The limit in force ([`crate::ParseLimits::max_pieces`]).
        limit: u64,
    },
    /// A multi-file torrent lists no file.
    #[error("torrent has no files")]
    NoFiles,
    /// The v1 and v2 views of a hybrid torrent describe different files, or a v1 file of a hybrid
    /// torrent does not start on a piece boundary.
    #[error("inconsistent hybrid torrent: {reason}")]
    InconsistentFiles {
        /// Which file disagrees, and how.
        reason: String,
    },
    /// A v2 `piece layers` entry is malformed or does not hash to its file's `pieces root`.
    #[error("invalid piece layer: {reason}")]
    PieceLayer {
        /// What is wrong with the layer.
        reason: String,
    },
}

impl MetainfoError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Parts that do not make a valid torrent, refused by [`crate::InfoDictionary`] or
/// [`crate::TorrentFile`] instead of being written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The piece length is 0 or above `u32::MAX` (what parsers accept), or, for a hybrid torrent,
    /// not a power of two of at least 16 KiB (BEP 52).
    #[error("piece length {0} is not valid for this torrent")]
    PieceLength(u64),
    /// The files add up to 0 bytes, which no torrent may hold.
    #[error("the torrent holds no data (total length 0)")]
    NoData,
    /// The total length does not fit a bencode integer (`i64`).
    #[error("the total length does not fit in a signed 64-bit integer")]
    TooLong,
    /// The number of SHA-1 piece hashes is not the number of pieces that the length and the
    /// piece length make.
    #[error("{actual} piece hashes for {expected} pieces")]
    PieceCount {
        /// The total length divided by the piece length, rounded up.
        expected: u64,
        /// The number of hashes given.
        actual: usize,
    },
    /// A multi-file torrent lists no file.
    #[error("a multi-file torrent needs at least one file")]
    NoFiles,
    /// A file's path is empty or has an empty component (or a hybrid single-file torrent's name
    /// is empty: a v2 file tree has no empty names).
    #[error("file {index}: empty path or path component")]
    EmptyPath {
        /// The file's index in the list given (pads included).
        index: usize,
    },
    /// A hybrid torrent's `pieces root`s are not one per non-empty file.
    #[error("{actual} pieces roots for {expected} non-empty files")]
    PiecesRoots {
        /// The number of non-empty files.
        expected: usize,
        /// The number of roots given.
        actual: usize,
    },
    /// A file cannot stand in both views of a hybrid torrent: it is not after the previous file
    /// in path order (the v2 file tree's order, which the v1 list must follow), its path is also
    /// a folder, it does not start on a piece boundary, or its `pieces root` is all zeros.
    #[error("file {index}: {reason}")]
    Hybrid {
        /// The file's index in the list given (pads included).
        index: usize,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The `info` bytes do not hold a dictionary.
    #[error("the info bytes are not a bencoded dictionary")]
    InfoNotADictionary,
    /// The `info` bytes are not exactly one valid bencode value.
    #[error("the info bytes are not valid bencode: {0}")]
    InvalidInfo(#[source] DecodeError),
    /// A `piece layers` entry is empty or not a whole number of 32-byte hashes.
    #[error("a piece layer of {length} bytes is not a whole, non-zero number of 32-byte hashes")]
    PieceLayer {
        /// The layer's length in bytes.
        length: usize,
    },
}

/// A magnet link that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MagnetError {
    /// The text does not start with `magnet:?`.
    #[error("not a magnet link: it must start with `magnet:?`")]
    NotAMagnet,
    /// No `xt` parameter names a BitTorrent info-hash (`urn:btih:` or `urn:btmh:`).
    #[error("magnet link has no `xt=urn:btih:` or `xt=urn:btmh:` info-hash")]
    NoInfoHash,
    /// A parameter's value cannot be decoded.
    #[error("invalid magnet parameter `{key}`: {reason}")]
    InvalidParameter {
        /// The parameter name (`xt`, `x.pe`, `so`, ...).
        key: String,
        /// What is wrong with its value.
        reason: String,
    },
}
