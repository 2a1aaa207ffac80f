//! The scanner: one pass over the input, one tape allocation, no recursion.
//!
//! Built the way libtorrent's `bdecode` is: a tight loop over the byte slice appends one
//! [`Token`] per value to a tape reserved up front, and nesting is tracked on an explicit stack
//! bounded by [`Limits::max_depth`], so hostile nesting hits a limit instead of the call stack.
//! The tape is reserved from a guess based on the input length (see [`initial_capacity`]).
//!
//! Validation is eager so that [`decode_prefix`](crate::decode_prefix) can tell "need more bytes"
//! from "invalid": the only error produced at the end of the input is
//! [`DecodeErrorKind::UnexpectedEof`], and it is only produced when every byte so far could still
//! begin a valid document. The one exception is a duplicate key in a dictionary whose keys are out
//! of order, which is found (by sorting that dictionary's keys) when the dictionary closes. Sorted
//! dictionaries, the common case, are checked by comparing each key with the one before it, so
//! decoding stays O(n).

use std::cmp::Ordering;

use crate::decode::Limits;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::scalar::{scan_int, scan_string};
use crate::tape::{self, Token};
use crate::value::Document;

/// Frame states. `TOP` is the pseudo-frame outside every container.
const IN_LIST: u8 = 0;
const DICT_KEY: u8 = 1;
const DICT_VALUE: u8 = 2;
const TOP: u8 = 3;

/// One open list or dictionary. The innermost one lives in local variables of [`scan`] (so in
/// registers); only its ancestors are on the stack.
#[derive(Clone, Copy)]
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

pub(crate) fn err<T>(offset: usize, kind: DecodeErrorKind) -> Result<T, DecodeError> {
    Err(DecodeError::new(offset, kind))
}

pub(crate) fn eof<T>(input: &[u8], expected: &'static str) -> Result<T, DecodeError> {
    err(input.len(), DecodeErrorKind::UnexpectedEof { expected })
}

/// How many tokens to reserve before scanning.
///
/// Counting tokens exactly would take a pass over every byte, strings included, and a torrent is
/// mostly one large `pieces` string that the scanner itself skips in O(1): that pass would cost
/// more than the whole decode. So this guesses one token per 8 input bytes (a dense file list
/// runs about one per 7), and the tape grows by doubling when the guess is short. Unused capacity
/// is never touched, so over-reserving costs address space, not page faults.
fn initial_capacity(len: usize, max_tokens: usize) -> usize {
    (len / 8 + 16).min(max_tokens)
}

/// What may come next in a frame of the given state.
fn expected(state: u8) -> &'static str {
    match state {
        TOP | DICT_VALUE => "a value",
        DICT_KEY => "a string key or 'e'",
        _ => "a value or 'e'",
    }
}

/// Compares two keys. Keys are short and usually differ in their first bytes, where a plain loop
/// beats a call to `memcmp`.
#[inline]
fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Scans one value from the front of `input`; returns the document and the bytes it used.
pub(crate) fn scan<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<(Document<'a>, usize), DecodeError> {
    if u32::try_from(input.len()).is_err() {
        return err(0, DecodeErrorKind::InputTooLarge);
    }
    let max_tokens = limits.max_tokens;
    let mut tape: Vec<Token> = Vec::with_capacity(initial_capacity(input.len(), max_tokens));
    let mut stack: Vec<Frame> = Vec::new();
    let mut scratch: Vec<u32> = Vec::new();
    let mut unsorted_at = u32::MAX;
    let mut pos = 0usize;
    let mut cur = Frame {
        token: 0,
        count: 0,
        last_key: 0,
        state: TOP,
        unsorted: false,
    };

    loop {
        let Some(&b) = input.get(pos) else {
            return eof(input, expected(cur.state));
        };
        if tape.len() >= max_tokens && b != b'e' {
            return err(pos, DecodeErrorKind::TokenLimit { limit: max_tokens });
        }
        match b {
            b'0'..=b'9' => {
                let (payload, end) = scan_string(input, pos)?;
                let index = tape.len();
                tape.push(Token::leaf(tape::BYTES, pos, payload - pos, end, index + 1));
                if cur.state == DICT_KEY {
                    if cur.count > 0 {
                        let prev = &tape[cur.last_key as usize];
                        let prev_key = &input[prev.payload()..prev.end as usize];
                        match compare_keys(prev_key, &input[payload..end]) {
                            Ordering::Less => {}
                            Ordering::Equal => return err(pos, DecodeErrorKind::DuplicateKey),
                            Ordering::Greater => cur.unsorted = true,
                        }
                    }
                    cur.last_key = index as u32;
                    cur.count += 1;
                    cur.state = DICT_VALUE;
                    pos = end;
                    continue;
                }
                pos = end;
            }
            b'i' => {
                if cur.state == DICT_KEY {
                    return err(pos, DecodeErrorKind::KeyNotString);
                }
                let end = scan_int(input, pos)?;
                let index = tape.len();
                tape.push(Token::leaf(tape::INT, pos, 1, end, index + 1));
                pos = end;
            }
            b'l' | b'd' => {
                if cur.state == DICT_KEY {
                    return err(pos, DecodeErrorKind::KeyNotString);
                }
                // The stack holds every open container's parent frame: its length is the depth.
                if stack.len() >= limits.max_depth {
                    let limit = limits.max_depth;
                    return err(pos, DecodeErrorKind::DepthLimit { limit });
                }
                let (kind, state) = if b == b'l' {
                    (tape::LIST, IN_LIST)
                } else {
                    (tape::DICT, DICT_KEY)
                };
                let index = tape.len();
                tape.push(Token::leaf(kind, pos, 1, pos + 1, index + 1));
                stack.push(cur);
                cur = Frame {
                    token: index as u32,
                    count: 0,
                    last_key: 0,
                    state,
                    unsorted: false,
                };
                pos += 1;
                continue;
            }
            b'e' if cur.state != TOP => {
                if cur.state == DICT_VALUE {
                    return err(pos, DecodeErrorKind::MissingValue);
                }
                let index = cur.token as usize;
                let mut flags = 0;
                if cur.unsorted {
                    check_duplicates(input, &tape, index, &mut scratch)?;
                    unsorted_at = unsorted_at.min(tape[index].start);
                    flags = tape::UNSORTED;
                }
                let next = tape.len();
                tape[index].close(pos + 1, next, cur.count, flags);
                cur = stack
                    .pop()
                    .expect("a container's parent frame is on the stack");
                pos += 1;
            }
            _ => {
                let expected = expected(cur.state);
                return err(pos, DecodeErrorKind::UnexpectedByte { expected, found: b });
            }
        }
        // A value is complete: tell the enclosing container.
        match cur.state {
            TOP => break,
            DICT_VALUE => cur.state = DICT_KEY,
            _ => cur.count += 1,
        }
    }
    let unsorted_at = (unsorted_at != u32::MAX).then_some(unsorted_at as usize);
    Ok((Document::new(input, tape, unsorted_at), pos))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    fn error(input: &[u8]) -> String {
        let e = decode(input).unwrap_err();
        format!("{}: {}", e.offset(), e.kind())
    }

    #[test]
    fn structure_errors() {
        for (input, want) in [
            (&b"e"[..], "0: expected a value, found 'e'"),
            (b"l", "1: unexpected end of input, expected a value or 'e'"),
            (
                b"d",
                "1: unexpected end of input, expected a string key or 'e'",
            ),
            (b"di1ei2ee", "1: dictionary key is not a byte string"),
            (b"dlee", "1: dictionary key is not a byte string"),
            (b"dde1:ae", "1: dictionary key is not a byte string"),
            (b"d1:ae", "4: dictionary key has no value"),
            (b"d1:ai1e1:ai2ee", "7: duplicate dictionary key"),
            (b"lxe", "1: expected a value or 'e', found 'x'"),
            (b"d1:ai1exe", "7: expected a string key or 'e', found 'x'"),
        ] {
            assert_eq!(error(input), want, "{:?}", input.escape_ascii().to_string());
        }
    }

    #[test]
    fn unsorted_dictionaries_are_accepted_and_duplicates_found() {
        let doc = decode(b"d1:bi1e1:ai2ee").unwrap();
        assert_eq!(doc.unsorted_at(), Some(0));
        assert!(!doc.root().as_dict().unwrap().is_sorted());
        // Not adjacent: found by sorting the keys when the dictionary closes.
        assert_eq!(
            error(b"d1:bi1e1:ai2e1:bi3ee"),
            "13: duplicate dictionary key"
        );
        assert_eq!(
            error(b"d1:bi1e1:ci2e1:ai3e1:cli1eee"),
            "19: duplicate dictionary key"
        );
        // The first unsorted dictionary by offset, though the inner one closes first.
        assert_eq!(
            decode(b"d1:bd1:yi0e1:xi0ee1:ai0ee").unwrap().unsorted_at(),
            Some(0)
        );
        assert_eq!(
            decode(b"d1:ad1:yi0e1:xi0ee1:bi0ee").unwrap().unsorted_at(),
            Some(4)
        );
        assert_eq!(decode(b"d1:ai0e1:bi0ee").unwrap().unsorted_at(), None);
        // Prefix order: "a" < "ab" < "b".
        assert_eq!(
            decode(b"d1:ai0e2:abi0e1:bi0ee").unwrap().unsorted_at(),
            None
        );
        assert_eq!(decode(b"d2:abi0e1:ai0ee").unwrap().unsorted_at(), Some(0));
    }

    #[test]
    fn initial_capacity_is_bounded() {
        assert_eq!(initial_capacity(0, 4_000_000), 16);
        assert_eq!(initial_capacity(8000, 4_000_000), 1016);
        assert_eq!(initial_capacity(usize::MAX / 2, 4_000_000), 4_000_000);
        assert_eq!(initial_capacity(100, 3), 3);
    }
}
