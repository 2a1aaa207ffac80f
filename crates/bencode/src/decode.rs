//! The decoder: one pass over the input, one tape allocation, no recursion.
//!
//! Built the way libtorrent's `bdecode` is: a tight loop over the byte slice appends one
//! [`Token`] per value to a tape reserved up front, and nesting is tracked on an explicit stack
//! bounded by [`Limits::max_depth`], so hostile nesting hits a limit instead of the call stack.
//!
//! Validation is eager so that [`decode_prefix`] can tell "need more bytes" from "invalid": the
//! only error produced at the end of the input is [`DecodeErrorKind::UnexpectedEof`], and it is
//! only produced when every byte so far could still begin a valid document. The one exception is
//! a duplicate key in a dictionary whose keys are out of order, which is found (by sorting that
//! dictionary's keys) when the dictionary closes. Sorted dictionaries, the common case, are checked
//! by comparing each key with the one before it, so decoding stays O(n).

use crate::error::{DecodeError, DecodeErrorKind};
use crate::tape::{self, Token};
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

/// Frame states of the explicit nesting stack.
const IN_LIST: u8 = 0;
const DICT_KEY: u8 = 1;
const DICT_VALUE: u8 = 2;

/// One open list or dictionary.
struct Frame {
    /// Tape index of the container's token.
    token: u32,
    /// Children so far (pairs for a dictionary).
    count: u32,
    /// Tape index of the last key (dictionaries with at least one key).
    last_key: u32,
    state: u8,
    unsorted: bool,
}

fn err<T>(offset: usize, kind: DecodeErrorKind) -> Result<T, DecodeError> {
    Err(DecodeError::new(offset, kind))
}

fn eof<T>(input: &[u8], expected: &'static str) -> Result<T, DecodeError> {
    err(input.len(), DecodeErrorKind::UnexpectedEof { expected })
}

/// How many tokens to reserve: every token ends in `e` (integers, containers) or has a `:`
/// (strings), so counting those bytes bounds the token count from above, usually tightly.
fn estimate_tokens(input: &[u8], max_tokens: usize) -> usize {
    let mut total = 0usize;
    // Byte-wide counters in chunks of 255 let the compiler vectorise this loop.
    for chunk in input.chunks(255) {
        let mut n = 0u8;
        for &b in chunk {
            n += u8::from(b == b'e') | u8::from(b == b':');
        }
        total += usize::from(n);
    }
    total.min(max_tokens)
}

/// Scans one value from the front of `input`; returns the document and the bytes it used.
fn scan<'a>(input: &'a [u8], limits: &Limits) -> Result<(Document<'a>, usize), DecodeError> {
    if u32::try_from(input.len()).is_err() {
        return err(0, DecodeErrorKind::InputTooLarge);
    }
    let max_tokens = limits.max_tokens;
    let mut tape: Vec<Token> = Vec::with_capacity(estimate_tokens(input, max_tokens));
    let mut stack: Vec<Frame> = Vec::new();
    let mut scratch: Vec<u32> = Vec::new();
    let mut unsorted_at = u32::MAX;
    let mut pos = 0usize;

    loop {
        let state = stack.last().map(|f| f.state);
        let Some(&b) = input.get(pos) else {
            return eof(
                input,
                if state == Some(DICT_KEY) {
                    "a string key or 'e'"
                } else {
                    "a value"
                },
            );
        };
        if tape.len() >= max_tokens && b != b'e' {
            return err(pos, DecodeErrorKind::TokenLimit { limit: max_tokens });
        }
        match b {
            b'0'..=b'9' => {
                let (payload, end) = scan_string(input, pos)?;
                let index = tape.len();
                tape.push(Token::leaf(tape::BYTES, pos, payload - pos, end, index + 1));
                if state == Some(DICT_KEY) {
                    let frame = stack.last_mut().expect("state came from the stack");
                    if frame.count > 0 {
                        let prev = &tape[frame.last_key as usize];
                        let prev_key = &input[prev.payload()..prev.end as usize];
                        match prev_key.cmp(&input[payload..end]) {
                            std::cmp::Ordering::Less => {}
                            std::cmp::Ordering::Equal => {
                                return err(pos, DecodeErrorKind::DuplicateKey);
                            }
                            std::cmp::Ordering::Greater => frame.unsorted = true,
                        }
                    }
                    frame.last_key = index as u32;
                    frame.count += 1;
                    frame.state = DICT_VALUE;
                    pos = end;
                    continue;
                }
                pos = end;
            }
            b'i' => {
                if state == Some(DICT_KEY) {
                    return err(pos, DecodeErrorKind::KeyNotString);
                }
                let end = scan_int(input, pos)?;
                let index = tape.len();
                tape.push(Token::leaf(tape::INT, pos, 1, end, index + 1));
                pos = end;
            }
            b'l' | b'd' => {
                if state == Some(DICT_KEY) {
                    return err(pos, DecodeErrorKind::KeyNotString);
                }
                if stack.len() >= limits.max_depth {
                    return err(
                        pos,
                        DecodeErrorKind::DepthLimit {
                            limit: limits.max_depth,
                        },
                    );
                }
                let (kind, state) = if b == b'l' {
                    (tape::LIST, IN_LIST)
                } else {
                    (tape::DICT, DICT_KEY)
                };
                let index = tape.len();
                tape.push(Token::leaf(kind, pos, 1, pos + 1, index + 1));
                stack.push(Frame {
                    token: index as u32,
                    count: 0,
                    last_key: 0,
                    state,
                    unsorted: false,
                });
                pos += 1;
                continue;
            }
            b'e' if state.is_some() => {
                let frame = stack.pop().expect("state came from the stack");
                if frame.state == DICT_VALUE {
                    return err(pos, DecodeErrorKind::MissingValue);
                }
                let index = frame.token as usize;
                let mut flags = 0;
                if frame.unsorted {
                    check_duplicates(input, &tape, index, &mut scratch)?;
                    unsorted_at = unsorted_at.min(tape[index].start);
                    flags = tape::UNSORTED;
                }
                let next = tape.len();
                tape[index].close(pos + 1, next, frame.count, flags);
                pos += 1;
            }
            _ => {
                let expected = match state {
                    Some(DICT_KEY) => "a string key or 'e'",
                    Some(_) => "a value or 'e'",
                    None => "a value",
                };
                return err(pos, DecodeErrorKind::UnexpectedByte { expected, found: b });
            }
        }
        // A value is complete: tell the enclosing container.
        match stack.last_mut() {
            None => break,
            Some(frame) if frame.state == DICT_VALUE => frame.state = DICT_KEY,
            Some(frame) => frame.count += 1,
        }
    }
    let unsorted_at = (unsorted_at != u32::MAX).then_some(unsorted_at as usize);
    Ok((Document::new(input, tape, unsorted_at), pos))
}

/// Scans `<len>:<bytes>` at `start`; returns (payload start, end).
#[inline]
fn scan_string(input: &[u8], start: usize) -> Result<(usize, usize), DecodeError> {
    let mut pos = start;
    let mut len: u64 = 0;
    if input[pos] == b'0' {
        pos += 1;
    } else {
        while let Some(&d) = input.get(pos) {
            if !d.is_ascii_digit() {
                break;
            }
            len = len * 10 + u64::from(d - b'0');
            if len > u64::from(u32::MAX) {
                return err(
                    start,
                    DecodeErrorKind::InvalidLength {
                        reason: "longer than 4 GiB",
                    },
                );
            }
            pos += 1;
        }
    }
    match input.get(pos) {
        Some(b':') => {}
        Some(d) if d.is_ascii_digit() => {
            return err(
                start,
                DecodeErrorKind::InvalidLength {
                    reason: "leading zero",
                },
            );
        }
        Some(&found) => {
            return err(
                pos,
                DecodeErrorKind::UnexpectedByte {
                    expected: "a digit or ':'",
                    found,
                },
            );
        }
        None => return eof(input, "a digit or ':'"),
    }
    let payload = pos + 1;
    // `len` fits in u32 and `payload` is at most 4 GiB, so this cannot overflow a usize >= 64 bits;
    // checked anyway for 32-bit targets.
    match payload.checked_add(len as usize) {
        Some(end) if end <= input.len() => Ok((payload, end)),
        _ => eof(input, "string bytes"),
    }
}

/// Scans `i<digits>e` at `start`; returns the end offset.
#[inline]
fn scan_int(input: &[u8], start: usize) -> Result<usize, DecodeError> {
    let invalid = |reason| err(start, DecodeErrorKind::InvalidInteger { reason });
    let mut pos = start + 1;
    let negative = input.get(pos) == Some(&b'-');
    if negative {
        pos += 1;
    }
    match input.get(pos) {
        None => return eof(input, "a digit"),
        Some(b'0') => {
            if negative {
                return invalid("negative zero");
            }
            return match input.get(pos + 1) {
                Some(b'e') => Ok(pos + 2),
                Some(d) if d.is_ascii_digit() => invalid("leading zero"),
                Some(&found) => err(
                    pos + 1,
                    DecodeErrorKind::UnexpectedByte {
                        expected: "'e'",
                        found,
                    },
                ),
                None => eof(input, "'e'"),
            };
        }
        Some(b'e') => return invalid("no digits"),
        Some(d) if d.is_ascii_digit() => {}
        Some(&found) => {
            return err(
                pos,
                DecodeErrorKind::UnexpectedByte {
                    expected: "a digit",
                    found,
                },
            );
        }
    }
    // i64::MIN's magnitude is one more than i64::MAX's.
    let max = if negative {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX as u64
    };
    let mut magnitude: u64 = 0;
    loop {
        match input.get(pos) {
            Some(&d) if d.is_ascii_digit() => {
                magnitude = match magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(d - b'0')))
                {
                    Some(m) if m <= max => m,
                    _ => return invalid("does not fit in 64 bits"),
                };
                pos += 1;
            }
            Some(b'e') => return Ok(pos + 1),
            Some(&found) => {
                return err(
                    pos,
                    DecodeErrorKind::UnexpectedByte {
                        expected: "a digit or 'e'",
                        found,
                    },
                );
            }
            None => return eof(input, "a digit or 'e'"),
        }
    }
}

/// Finds a repeated key in the unsorted dictionary at tape `index` by sorting its keys.
#[cold]
fn check_duplicates(
    input: &[u8],
    tape: &[Token],
    index: usize,
    scratch: &mut Vec<u32>,
) -> Result<(), DecodeError> {
    let key_bytes = |i: u32| {
        let t = &tape[i as usize];
        &input[t.payload()..t.end as usize]
    };
    scratch.clear();
    let mut key = index + 1;
    while key < tape.len() {
        scratch.push(key as u32);
        key = tape[key + 1].next as usize;
    }
    scratch.sort_unstable_by(|&a, &b| key_bytes(a).cmp(key_bytes(b)));
    for pair in scratch.windows(2) {
        if key_bytes(pair[0]) == key_bytes(pair[1]) {
            let later = tape[pair[0] as usize]
                .start
                .max(tape[pair[1] as usize].start);
            return err(later as usize, DecodeErrorKind::DuplicateKey);
        }
    }
    Ok(())
}

/// Parses the digits of an integer token already validated by [`scan_int`].
pub(crate) fn parse_int(digits: &[u8]) -> i64 {
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    // Accumulate negatively so i64::MIN needs no special case; wrapping keeps this panic-free.
    let mut v: i64 = 0;
    for &d in digits {
        v = v
            .wrapping_mul(10)
            .wrapping_sub(i64::from(d.wrapping_sub(b'0')));
    }
    if negative { v } else { v.wrapping_neg() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(input: &[u8]) -> (usize, DecodeErrorKind) {
        let e = decode(input).unwrap_err();
        (e.offset(), e.kind().clone())
    }

    #[test]
    fn integers() {
        for (src, want) in [
            (&b"i0e"[..], 0),
            (b"i42e", 42),
            (b"i-42e", -42),
            (b"i9223372036854775807e", i64::MAX),
            (b"i-9223372036854775808e", i64::MIN),
        ] {
            assert_eq!(decode(src).unwrap().root().as_int(), Some(want), "{src:?}");
        }
        use DecodeErrorKind::*;
        assert_eq!(
            kind_of(b"i-0e"),
            (
                0,
                InvalidInteger {
                    reason: "negative zero"
                }
            )
        );
        assert_eq!(
            kind_of(b"i03e"),
            (
                0,
                InvalidInteger {
                    reason: "leading zero"
                }
            )
        );
        assert_eq!(
            kind_of(b"ie"),
            (
                0,
                InvalidInteger {
                    reason: "no digits"
                }
            )
        );
        assert_eq!(
            kind_of(b"i-e"),
            (
                0,
                InvalidInteger {
                    reason: "no digits"
                }
            )
        );
        assert_eq!(
            kind_of(b"i9223372036854775808e").1,
            InvalidInteger {
                reason: "does not fit in 64 bits"
            }
        );
        assert_eq!(
            kind_of(b"i-9223372036854775809e").1,
            InvalidInteger {
                reason: "does not fit in 64 bits"
            }
        );
        assert_eq!(
            kind_of(b"i99999999999999999999999e").1,
            InvalidInteger {
                reason: "does not fit in 64 bits"
            }
        );
        assert_eq!(
            kind_of(b"i1x"),
            (
                2,
                UnexpectedByte {
                    expected: "a digit or 'e'",
                    found: b'x'
                }
            )
        );
        assert_eq!(
            kind_of(b"i+1e"),
            (
                1,
                UnexpectedByte {
                    expected: "a digit",
                    found: b'+'
                }
            )
        );
        assert_eq!(
            kind_of(b"i12"),
            (
                3,
                UnexpectedEof {
                    expected: "a digit or 'e'"
                }
            )
        );
    }

    #[test]
    fn strings() {
        assert_eq!(decode(b"0:").unwrap().root().as_bytes(), Some(&b""[..]));
        assert_eq!(
            decode(b"4:spam").unwrap().root().as_bytes(),
            Some(&b"spam"[..])
        );
        use DecodeErrorKind::*;
        assert_eq!(
            kind_of(b"03:abc"),
            (
                0,
                InvalidLength {
                    reason: "leading zero"
                }
            )
        );
        assert_eq!(
            kind_of(b"5:abc"),
            (
                5,
                UnexpectedEof {
                    expected: "string bytes"
                }
            )
        );
        assert_eq!(
            kind_of(b"4294967296:"),
            (
                0,
                InvalidLength {
                    reason: "longer than 4 GiB"
                }
            )
        );
        assert_eq!(
            kind_of(b"4294967295:"),
            (
                11,
                UnexpectedEof {
                    expected: "string bytes"
                }
            )
        );
        assert_eq!(
            kind_of(b"3x"),
            (
                1,
                UnexpectedByte {
                    expected: "a digit or ':'",
                    found: b'x'
                }
            )
        );
    }

    #[test]
    fn structure_errors() {
        use DecodeErrorKind::*;
        assert_eq!(
            kind_of(b""),
            (
                0,
                UnexpectedEof {
                    expected: "a value"
                }
            )
        );
        assert_eq!(
            kind_of(b"e"),
            (
                0,
                UnexpectedByte {
                    expected: "a value",
                    found: b'e'
                }
            )
        );
        assert_eq!(
            kind_of(b"l"),
            (
                1,
                UnexpectedEof {
                    expected: "a value"
                }
            )
        );
        assert_eq!(
            kind_of(b"d"),
            (
                1,
                UnexpectedEof {
                    expected: "a string key or 'e'"
                }
            )
        );
        assert_eq!(kind_of(b"di1ei2ee"), (1, KeyNotString));
        assert_eq!(kind_of(b"dlee"), (1, KeyNotString));
        assert_eq!(kind_of(b"d1:ae"), (4, MissingValue));
        assert_eq!(kind_of(b"d1:ai1e1:ai2ee"), (7, DuplicateKey));
        assert_eq!(kind_of(b"i1ei2e"), (3, TrailingBytes));
        assert_eq!(
            kind_of(b"lxe"),
            (
                1,
                UnexpectedByte {
                    expected: "a value or 'e'",
                    found: b'x'
                }
            )
        );
    }

    #[test]
    fn unsorted_dictionaries_are_accepted_and_duplicates_found() {
        let doc = decode(b"d1:bi1e1:ai2ee").unwrap();
        assert_eq!(doc.unsorted_at(), Some(0));
        assert!(!doc.root().as_dict().unwrap().is_sorted());
        // duplicate not adjacent: found by sorting at the close
        assert_eq!(
            kind_of(b"d1:bi1e1:ai2e1:bi3ee"),
            (13, DecodeErrorKind::DuplicateKey)
        );
        // first unsorted dictionary by offset, even though the inner one closes first
        let doc = decode(b"d1:bd1:yi0e1:xi0ee1:ai0ee").unwrap();
        assert_eq!(doc.unsorted_at(), Some(0));
        let doc = decode(b"d1:ad1:yi0e1:xi0ee1:bi0ee").unwrap();
        assert_eq!(doc.unsorted_at(), Some(4));
        assert_eq!(decode(b"d1:ai0e1:bi0ee").unwrap().unsorted_at(), None);
    }

    #[test]
    fn limits() {
        let limits = Limits::new().max_depth(2);
        assert!(decode_with(b"llee", &limits).is_ok());
        let e = decode_with(b"llleee", &limits).unwrap_err();
        assert_eq!(
            (e.offset(), e.kind()),
            (2, &DecodeErrorKind::DepthLimit { limit: 2 })
        );
        let limits = Limits::new().max_tokens(3);
        assert!(decode_with(b"li1ei2ee", &limits).is_ok());
        let e = decode_with(b"li1ei2ei3ee", &limits).unwrap_err();
        assert_eq!(
            (e.offset(), e.kind()),
            (7, &DecodeErrorKind::TokenLimit { limit: 3 })
        );
        assert!(decode_with(b"i1e", &Limits::new().max_depth(0)).is_ok());
        assert!(decode_with(b"le", &Limits::new().max_depth(0)).is_err());
    }

    #[test]
    fn prefix_tells_more_from_invalid() {
        let l = Limits::new();
        assert_eq!(decode_prefix(b"", &l).unwrap().map(|d| d.1), None);
        assert!(decode_prefix(b"i-", &l).unwrap().is_none());
        assert!(decode_prefix(b"i-0", &l).is_err());
        assert!(decode_prefix(b"0", &l).unwrap().is_none());
        assert!(decode_prefix(b"01", &l).is_err());
        assert_eq!(
            decode_prefix(b"le4:spam", &l).unwrap().map(|d| d.1),
            Some(2)
        );
    }

    #[test]
    fn estimate_bounds_tokens() {
        for src in [&b"d1:ai0e1:bl4:spamee"[..], b"i1e", b"0:", b"lllleeee"] {
            let doc = decode(src).unwrap();
            assert!(estimate_tokens(src, usize::MAX) >= doc.token_count());
        }
        assert_eq!(estimate_tokens(b"eeee", 2), 2);
    }

    #[test]
    fn parse_int_extremes() {
        assert_eq!(parse_int(b"-9223372036854775808"), i64::MIN);
        assert_eq!(parse_int(b"9223372036854775807"), i64::MAX);
        assert_eq!(parse_int(b"0"), 0);
    }
}
