//! The decoding entry points and their [`Limits`].
//!
//! All three entry points run the same scanner ([`crate::scan`]); they differ only in what they
//! make of its two outcomes at the edges: bytes left over after the value, and input that ends
//! inside a value. [`decode_prefix`] can turn the latter into `Ok(None)` because the scanner
//! validates eagerly: it reports the end of input only when every byte so far is a valid
//! beginning of a document.

use crate::error::{DecodeError, DecodeErrorKind};
use crate::scan::scan;
use crate::value::Document;

/// Resource limits for decoding hostile input.
///
/// Build one with a struct literal, [`Limits::default`] or the builder methods:
///
/// ```
/// let limits = swarmgate_bencode::Limits::new().max_depth(8).max_tokens(1000);
/// assert_eq!(limits.max_depth, 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of lists and dictionaries accepted (default 128). `0` allows only a
    /// single integer or string.
    pub max_depth: usize,
    /// Most values (integers, strings, lists and dictionaries, counted alike) accepted
    /// (default 4,000,000): this bounds the tape at 16 bytes a value.
    pub max_tokens: usize,
}

impl Limits {
    /// The default limits: depth 128, 4,000,000 values.
    pub const fn new() -> Self {
        Limits {
            max_depth: 128,
            max_tokens: 4_000_000,
        }
    }

    /// Sets [`Limits::max_depth`].
    #[must_use]
    pub const fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets [`Limits::max_tokens`].
    #[must_use]
    pub const fn max_tokens(mut self, max_tokens: usize) -> Self {
        self.max_tokens = max_tokens;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}

/// Decodes exactly one value covering the whole input, with the default [`Limits`].
///
/// ```
/// let doc = swarmgate_bencode::decode(b"d3:cow3:moo4:spaml1:a1:bee")?;
/// let dict = doc.root().as_dict().unwrap();
/// assert_eq!(dict.get(b"cow").and_then(|v| v.as_str()), Some("moo"));
/// assert_eq!(dict.get(b"spam").unwrap().raw(), b"l1:a1:be");
/// # Ok::<(), swarmgate_bencode::DecodeError>(())
/// ```
pub fn decode(input: &[u8]) -> Result<Document<'_>, DecodeError> {
    decode_with(input, &Limits::new())
}

/// Decodes exactly one value covering the whole input, within `limits`.
///
/// Bytes after the value are [`DecodeErrorKind::TrailingBytes`]; use [`decode_prefix`] to read
/// one value from the front of a stream.
pub fn decode_with<'a>(input: &'a [u8], limits: &Limits) -> Result<Document<'a>, DecodeError> {
    let (doc, consumed) = scan(input, limits)?;
    if consumed != input.len() {
        return Err(DecodeError::new(consumed, DecodeErrorKind::TrailingBytes));
    }
    Ok(doc)
}

/// Decodes one value from the front of `input`: the streaming codec shape.
///
/// * `Ok(Some((doc, consumed)))`: a complete value occupies `input[..consumed]`;
/// * `Ok(None)`: `input` is a valid beginning of a value, read more bytes and call again;
/// * `Err(_)`: `input` can never begin a valid value.
///
/// A duplicate key in a dictionary whose keys are out of order is only detected when that
/// dictionary is complete, so such an input yields `Ok(None)` until then.
///
/// ```
/// use swarmgate_bencode::{decode_prefix, Limits};
/// assert!(decode_prefix(b"d3:cow3:m", &Limits::default())?.is_none());
/// let (doc, used) = decode_prefix(b"i42eleftover", &Limits::default())?.unwrap();
/// assert_eq!((doc.root().as_int(), used), (Some(42), 4));
/// # Ok::<(), swarmgate_bencode::DecodeError>(())
/// ```
pub fn decode_prefix<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Document<'a>, usize)>, DecodeError> {
    match scan(input, limits) {
        Ok(done) => Ok(Some(done)),
        Err(e) if e.is_eof() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(input: &[u8], limits: &Limits) -> String {
        decode_with(input, limits).unwrap_err().to_string()
    }

    #[test]
    fn whole_input_is_one_value() {
        assert_eq!(decode(b"i1e").unwrap().root().as_int(), Some(1));
        assert_eq!(
            error(b"i1ei2e", &Limits::new()),
            "invalid bencode at byte 3: trailing bytes after the value"
        );
        assert_eq!(
            error(b"", &Limits::new()),
            "invalid bencode at byte 0: unexpected end of input, expected a value"
        );
    }

    #[test]
    fn limits() {
        let limits = Limits::new().max_depth(2);
        assert!(decode_with(b"llee", &limits).is_ok());
        assert_eq!(
            error(b"llleee", &limits),
            "invalid bencode at byte 2: nesting deeper than the limit of 2"
        );
        let limits = Limits {
            max_depth: 8,
            max_tokens: 3,
        };
        assert!(decode_with(b"li1ei2ee", &limits).is_ok());
        assert_eq!(
            error(b"li1ei2ei3ee", &limits),
            "invalid bencode at byte 7: more than 3 values"
        );
        let flat = Limits::new().max_depth(0);
        assert!(decode_with(b"i1e", &flat).is_ok());
        assert!(decode_with(b"le", &flat).is_err());
        assert_eq!(
            Limits::default(),
            Limits {
                max_depth: 128,
                max_tokens: 4_000_000
            }
        );
    }

    #[test]
    fn prefix_tells_more_from_invalid() {
        let l = Limits::new();
        let used = |input: &[u8]| decode_prefix(input, &l).map(|r| r.map(|(_, n)| n));
        assert_eq!(used(b""), Ok(None));
        assert_eq!(used(b"i-"), Ok(None));
        assert!(used(b"i-0").is_err());
        assert_eq!(used(b"0"), Ok(None));
        assert!(used(b"01").is_err());
        assert_eq!(used(b"d1:a"), Ok(None));
        assert!(used(b"d1:ae").is_err());
        assert_eq!(used(b"le4:spam"), Ok(Some(2)));
    }
}
