//! The streaming canonical encoder, and the two primitive writers everything encodes with.
//!
//! [`Encoder`] writes straight into one `Vec<u8>`: no tree is built. It checks canonical form as
//! it goes (keys strictly ascending, every key followed by one value, balanced begin/end) by
//! comparing each key with the previous one, which it finds in its own output buffer, so checking
//! allocates nothing. Builder calls return `&mut Self` for chaining; the first misuse is recorded
//! and later calls become no-ops, so the caller handles one error, at [`Encoder::finish`].
//!
//! [`Encoder::raw`] is the escape hatch that makes the crate useful for torrents: it splices an
//! already-encoded value (an `info` dictionary as it stood in a file, unsorted keys and all) so
//! that the info-hash survives re-writing the torrent around it.

use std::ops::Range;

use crate::decode::{Limits, decode_with};
use crate::error::EncodeError;

/// Appends the decimal digits of `n`.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `i<v>e`.
pub(crate) fn write_int(out: &mut Vec<u8>, v: i64) {
    out.push(b'i');
    if v < 0 {
        out.push(b'-');
    }
    push_decimal(out, v.unsigned_abs());
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub(crate) fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len() + 21);
    push_decimal(out, b.len() as u64);
    out.push(b':');
    out.extend_from_slice(b);
}

enum Open {
    List,
    Dict {
        /// Where the payload of the last key sits in the output.
        last_key: Option<Range<usize>>,
        /// A key was written and its value has not started.
        pending: bool,
    },
}

/// A streaming encoder that only produces canonical bencode.
///
/// ```
/// use swarmgate_bencode::Encoder;
/// let info = b"d4:name3:foo6:lengthi1ee"; // unsorted, as found in some file
/// let mut e = Encoder::new();
/// e.begin_dict()
///     .key(b"announce").str("http://tracker/announce")
///     .key(b"info").raw(info)
///     .end();
/// let torrent = e.finish()?;
/// assert!(torrent.windows(info.len()).any(|w| w == info));
/// # Ok::<(), swarmgate_bencode::EncodeError>(())
/// ```
pub struct Encoder {
    out: Vec<u8>,
    stack: Vec<Open>,
    error: Option<EncodeError>,
    /// A top-level value has been started.
    started: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder with an empty buffer.
    pub fn new() -> Self {
        Encoder::with_capacity(0)
    }

    /// An encoder whose buffer has room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Encoder {
            out: Vec::with_capacity(n),
            stack: Vec::new(),
            error: None,
            started: false,
        }
    }

    fn fail(&mut self, e: EncodeError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Checks that a value may start here; records the error and returns false if not.
    fn begin_value(&mut self) -> bool {
        if self.error.is_some() {
            return false;
        }
        match self.stack.last_mut() {
            None if self.started => {
                self.fail(EncodeError::MultipleValues);
                return false;
            }
            None => self.started = true,
            Some(Open::List) => {}
            Some(Open::Dict { pending, .. }) => {
                if !*pending {
                    self.fail(EncodeError::MissingKey);
                    return false;
                }
                *pending = false;
            }
        }
        true
    }

    /// Writes an integer.
    pub fn int(&mut self, v: i64) -> &mut Self {
        if self.begin_value() {
            write_int(&mut self.out, v);
        }
        self
    }

    /// Writes a byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        if self.begin_value() {
            write_bytes(&mut self.out, b);
        }
        self
    }

    /// Writes a UTF-8 string as a byte string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends one already-encoded value verbatim, after checking it is exactly one valid
    /// bencode value (its dictionaries may be unsorted: it is kept as it is).
    pub fn raw(&mut self, pre_encoded: &[u8]) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        let unlimited = Limits {
            max_depth: usize::MAX,
            max_tokens: usize::MAX,
        };
        if let Err(e) = decode_with(pre_encoded, &unlimited) {
            self.fail(EncodeError::InvalidRaw(e));
            return self;
        }
        if self.begin_value() {
            self.out.extend_from_slice(pre_encoded);
        }
        self
    }

    /// Opens a list; close it with [`Encoder::end`].
    pub fn begin_list(&mut self) -> &mut Self {
        if self.begin_value() {
            self.out.push(b'l');
            self.stack.push(Open::List);
        }
        self
    }

    /// Opens a dictionary; write [`Encoder::key`] then a value, in ascending key order, and
    /// close it with [`Encoder::end`].
    pub fn begin_dict(&mut self) -> &mut Self {
        if self.begin_value() {
            self.out.push(b'd');
            self.stack.push(Open::Dict {
                last_key: None,
                pending: false,
            });
        }
        self
    }

    /// Writes a dictionary key: it must be greater than the previous key of this dictionary.
    pub fn key(&mut self, k: &[u8]) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        let error = match self.stack.last_mut() {
            Some(Open::Dict { last_key, pending }) if !*pending => {
                let previous = last_key.as_ref().map(|r| &self.out[r.clone()]);
                match previous {
                    Some(p) if p == k => EncodeError::DuplicateKey { key: k.to_vec() },
                    Some(p) if p > k => EncodeError::UnsortedKey {
                        key: k.to_vec(),
                        previous: p.to_vec(),
                    },
                    _ => {
                        write_bytes(&mut self.out, k);
                        *last_key = Some(self.out.len() - k.len()..self.out.len());
                        *pending = true;
                        return self;
                    }
                }
            }
            Some(Open::Dict { last_key, .. }) => EncodeError::MissingValue {
                key: last_key
                    .as_ref()
                    .map(|r| self.out[r.clone()].to_vec())
                    .unwrap_or_default(),
            },
            Some(Open::List) | None => EncodeError::KeyOutsideDict { key: k.to_vec() },
        };
        self.fail(error);
        self
    }

    /// Closes the innermost open list or dictionary.
    pub fn end(&mut self) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        match self.stack.pop() {
            None => self.fail(EncodeError::UnbalancedEnd),
            Some(Open::Dict {
                last_key: Some(r),
                pending: true,
            }) => {
                let key = self.out[r].to_vec();
                self.fail(EncodeError::MissingValue { key });
            }
            Some(_) => self.out.push(b'e'),
        }
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The encoded document, or the first misuse of the encoder.
    pub fn finish(self) -> Result<Vec<u8>, EncodeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if !self.stack.is_empty() {
            return Err(EncodeError::Unclosed {
                open: self.stack.len(),
            });
        }
        if !self.started {
            return Err(EncodeError::Empty);
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives() {
        for (v, want) in [
            (0, "i0e"),
            (-1, "i-1e"),
            (i64::MIN, "i-9223372036854775808e"),
            (i64::MAX, "i9223372036854775807e"),
        ] {
            let mut out = Vec::new();
            write_int(&mut out, v);
            assert_eq!(out, want.as_bytes());
        }
        let mut out = Vec::new();
        write_bytes(&mut out, b"");
        write_bytes(&mut out, &[b'x'; 12]);
        assert_eq!(out, b"0:12:xxxxxxxxxxxx");
    }

    #[test]
    fn writes_canonical_documents() {
        let mut e = Encoder::new();
        e.begin_dict()
            .key(b"a")
            .int(1)
            .key(b"b")
            .begin_list()
            .str("x")
            .bytes(b"")
            .end()
            .end();
        assert_eq!(e.finish().unwrap(), b"d1:ai1e1:bl1:x0:ee");
    }

    #[test]
    fn first_error_wins() {
        let mut e = Encoder::new();
        e.begin_dict()
            .key(b"b")
            .int(1)
            .key(b"a")
            .int(2)
            .key(b"a")
            .end();
        assert_eq!(
            e.finish().unwrap_err(),
            EncodeError::UnsortedKey {
                key: b"a".to_vec(),
                previous: b"b".to_vec()
            }
        );
        let mut e = Encoder::new();
        e.begin_dict().key(b"a").int(1).key(b"a");
        assert_eq!(
            e.finish().unwrap_err(),
            EncodeError::DuplicateKey { key: b"a".to_vec() }
        );
    }

    #[test]
    fn structural_misuse() {
        fn run(f: impl FnOnce(&mut Encoder) -> &mut Encoder) -> EncodeError {
            let mut e = Encoder::new();
            f(&mut e);
            e.finish().unwrap_err()
        }
        let k = || b"k".to_vec();
        assert_eq!(run(|e| e.begin_dict().int(1)), EncodeError::MissingKey);
        assert_eq!(
            run(|e| e.begin_dict().key(b"k").end()),
            EncodeError::MissingValue { key: k() }
        );
        assert_eq!(
            run(|e| e.begin_dict().key(b"k").key(b"l")),
            EncodeError::MissingValue { key: k() }
        );
        assert_eq!(
            run(|e| e.begin_list().key(b"k")),
            EncodeError::KeyOutsideDict { key: k() }
        );
        assert_eq!(
            run(|e| e.key(b"k")),
            EncodeError::KeyOutsideDict { key: k() }
        );
        assert_eq!(run(|e| e.int(1).end()), EncodeError::UnbalancedEnd);
        assert_eq!(
            run(|e| e.begin_list().begin_dict()),
            EncodeError::Unclosed { open: 2 }
        );
        assert_eq!(run(|e| e), EncodeError::Empty);
        assert_eq!(run(|e| e.int(1).int(2)), EncodeError::MultipleValues);
        assert!(matches!(
            run(|e| e.raw(b"i1ei2e")),
            EncodeError::InvalidRaw(_)
        ));
        assert!(matches!(run(|e| e.raw(b"")), EncodeError::InvalidRaw(_)));
    }

    #[test]
    fn raw_keeps_unsorted_bytes() {
        let mut e = Encoder::with_capacity(64);
        e.begin_list().raw(b"d1:bi0e1:ai0ee").end();
        assert_eq!(e.len(), 16);
        assert_eq!(e.finish().unwrap(), b"ld1:bi0e1:ai0eee");
    }
}
