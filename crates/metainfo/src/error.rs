//! Why a torrent or a magnet link was refused, naming the field and what was wrong with it.
//!
//! One enum for the parser, because a caller can do the same thing with every variant (report it
//! and drop the torrent); the variants exist so that the message names the problem precisely, the
//! way libtorrent's error codes do, and so that tests can assert which rule fired.

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
