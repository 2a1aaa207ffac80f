//! Errors: where decoding stopped and why, and what the encoder refused.
//!
//! A decode error is a byte offset plus a small [`DecodeErrorKind`], so a caller can tell "need
//! more bytes" ([`DecodeErrorKind::UnexpectedEof`]) from "this peer sent garbage" (everything else)
//! and log exactly where the input went wrong. The kinds carry `&'static str` context rather than
//! formatted strings so building an error never allocates.

use std::fmt;

/// Why and where [`decode`](crate::decode) rejected its input.
///
/// Displays as `invalid bencode at byte 17: expected a digit, found 'x'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bencode at byte {offset}: {kind}")]
pub struct DecodeError {
    offset: usize,
    kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, kind: DecodeErrorKind) -> Self {
        DecodeError { offset, kind }
    }

    /// Byte offset in the input at which the problem was found.
    ///
    /// For [`DecodeErrorKind::UnexpectedEof`] this is the input length.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// True when the input ended early: more bytes could still make it valid.
    pub fn is_eof(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::UnexpectedEof { .. })
    }
}

/// The reason a decode failed; see [`DecodeError`] for the offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended in the middle of a value: everything so far was a valid prefix.
    ///
    /// This is the only kind [`decode_prefix`](crate::decode_prefix) turns into `Ok(None)`.
    #[error("unexpected end of input, expected {expected}")]
    UnexpectedEof {
        /// What the decoder was looking for when the input ran out.
        expected: &'static str,
    },
    /// A byte that cannot appear here.
    #[error("expected {expected}, found {}", ByteRepr(*.found))]
    UnexpectedByte {
        /// What the decoder was looking for.
        expected: &'static str,
        /// The byte it found instead.
        found: u8,
    },
    /// An integer that is empty, `-0`, has a leading zero, or does not fit in an `i64`.
    #[error("invalid integer: {reason}")]
    InvalidInteger {
        /// Which rule the integer broke.
        reason: &'static str,
    },
    /// A string length with a leading zero, or larger than 4 GiB.
    #[error("invalid string length: {reason}")]
    InvalidLength {
        /// Which rule the length broke.
        reason: &'static str,
    },
    /// A dictionary key that is an integer, list or dictionary: keys must be byte strings.
    #[error("dictionary key is not a byte string")]
    KeyNotString,
    /// A dictionary holds the same key twice; the offset is that of the later occurrence.
    #[error("duplicate dictionary key")]
    DuplicateKey,
    /// A dictionary ends (`e`) right after a key, with no value for it.
    #[error("dictionary key has no value")]
    MissingValue,
    /// Lists and dictionaries are nested deeper than [`Limits::max_depth`](crate::Limits).
    #[error("nesting deeper than the limit of {limit}")]
    DepthLimit {
        /// The limit in force.
        limit: usize,
    },
    /// The input holds more values than [`Limits::max_tokens`](crate::Limits).
    #[error("more than {limit} values")]
    TokenLimit {
        /// The limit in force.
        limit: usize,
    },
    /// [`decode`](crate::decode) found bytes after the end of the first complete value.
    #[error("trailing bytes after the value")]
    TrailingBytes,
    /// The input is longer than `u32::MAX` bytes, the most a document can address.
    #[error("input larger than 4 GiB")]
    InputTooLarge,
}

/// What [`Encoder::finish`](crate::Encoder::finish) refused: the first misuse of the encoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A dictionary key is smaller than the key before it (canonical bencode sorts keys).
    #[error("dictionary key {} is not after the previous key {}", KeyRepr(.key), KeyRepr(.previous))]
    UnsortedKey {
        /// The offending key.
        key: Vec<u8>,
        /// The key written just before it.
        previous: Vec<u8>,
    },
    /// A dictionary key equal to the key before it.
    #[error("duplicate dictionary key {}", KeyRepr(.key))]
    DuplicateKey {
        /// The repeated key.
        key: Vec<u8>,
    },
    /// [`Encoder::key`](crate::Encoder::key) was called outside a dictionary.
    #[error("key {} written outside a dictionary", KeyRepr(.key))]
    KeyOutsideDict {
        /// The key.
        key: Vec<u8>,
    },
    /// A value was written inside a dictionary where a key was expected.
    #[error("value written in a dictionary without a key")]
    MissingKey,
    /// A dictionary key was followed by another key or by the end of the dictionary.
    #[error("dictionary key {} has no value", KeyRepr(.key))]
    MissingValue {
        /// The key left without a value.
        key: Vec<u8>,
    },
    /// [`Encoder::end`](crate::Encoder::end) was called with no list or dictionary open.
    #[error("end() without an open list or dictionary")]
    UnbalancedEnd,
    /// [`Encoder::finish`](crate::Encoder::finish) was called with lists or dictionaries still open.
    #[error("{open} list(s) or dictionary(ies) not closed")]
    Unclosed {
        /// How many are still open.
        open: usize,
    },
    /// [`Encoder::finish`](crate::Encoder::finish) was called before any value was written.
    #[error("no value was written")]
    Empty,
    /// A second top-level value was written: a document is exactly one value.
    #[error("more than one top-level value")]
    MultipleValues,
    /// The bytes given to [`Encoder::raw`](crate::Encoder::raw) are not exactly one bencode value.
    #[error("raw value is not valid bencode")]
    InvalidRaw(#[source] DecodeError),
}

/// Shows a byte as `'x'` when it is printable ASCII, else as `byte 0x1f`.
struct ByteRepr(u8);

impl fmt::Display for ByteRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", self.0 as char)
        } else {
            write!(f, "byte 0x{:02x}", self.0)
        }
    }
}

/// Shows a key as a quoted string when it is UTF-8, else as hex.
pub(crate) struct KeyRepr<'a>(pub(crate) &'a [u8]);

impl fmt::Display for KeyRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => {
                f.write_str("0x")?;
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_offset_expectation_and_byte() {
        let e = DecodeError::new(
            17,
            DecodeErrorKind::UnexpectedByte {
                expected: "a digit",
                found: b'x',
            },
        );
        assert_eq!(
            e.to_string(),
            "invalid bencode at byte 17: expected a digit, found 'x'"
        );
        let e = DecodeError::new(
            0,
            DecodeErrorKind::UnexpectedByte {
                expected: "a value",
                found: 0,
            },
        );
        assert_eq!(
            e.to_string(),
            "invalid bencode at byte 0: expected a value, found byte 0x00"
        );
    }

    #[test]
    fn encode_error_shows_keys() {
        let e = EncodeError::UnsortedKey {
            key: b"a".to_vec(),
            previous: vec![0xff],
        };
        assert_eq!(
            e.to_string(),
            "dictionary key \"a\" is not after the previous key 0xff"
        );
    }
}
