//! The scanner: one pass over the input, one tape allocation, no recursion.
//!
//! Built the way libtorrent's `bdecode` is: a tight loop over the byte slice appends one
//! [`Token`] per value to a tape reserved up front, and nesting is tracked on an explicit stack
//! bounded by [`Limits::max_depth`], so hostile nesting hits a limit instead of the call stack.
//! The tape is reserved once from an upper bound found by counting `e` and `:` bytes (a loop the
//! compiler vectorises), so it is never reallocated while scanning.
//!
//! Validation is eager so that [`decode_prefix`](crate::decode_prefix) can tell "need more bytes"
//! from "invalid": the only error produced at the end of the input is
//! [`DecodeErrorKind::UnexpectedEof`], and it is only produced when every byte so far could still
//! begin a valid document. The one exception is a duplicate key in a dictionary whose keys are out
//! of order, which is found (by sorting that dictionary's keys) when the dictionary closes. Sorted
//! dictionaries, the common case, are checked by comparing each key with the one before it, so
//! decoding stays O(n).

use crate::decode::Limits;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::scalar::{scan_int, scan_string};
use crate::tape::{self, Token};
use crate::value::Document;

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

pub(crate) fn err<T>(offset: usize, kind: DecodeErrorKind) -> Result<T, DecodeError> {
    Err(DecodeError::new(offset, kind))
}

pub(crate) fn eof<T>(input: &[u8], expected: &'static str) -> Result<T, DecodeError> {
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

/// What may come next in a frame of the given state (`None`: at the top level).
fn expected(state: Option<u8>) -> &'static str {
    match state {
        None | Some(DICT_VALUE) => "a value",
        Some(DICT_KEY) => "a string key or 'e'",
        Some(_) => "a value or 'e'",
    }
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
    let mut tape: Vec<Token> = Vec::with_capacity(estimate_tokens(input, max_tokens));
    let mut stack: Vec<Frame> = Vec::new();
    let mut scratch: Vec<u32> = Vec::new();
    let mut unsorted_at = u32::MAX;
    let mut pos = 0usize;

    loop {
        let state = stack.last().map(|f| f.state);
        let Some(&b) = input.get(pos) else {
            return eof(input, expected(state));
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
                let expected = expected(state);
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
    fn estimate_bounds_tokens() {
        for src in [
            &b"d1:ai0e1:bl4:spamee"[..],
            b"i1e",
            b"0:",
            b"lllleeee",
            b"d1:el1:e1:eee",
        ] {
            let doc = decode(src).unwrap();
            assert!(estimate_tokens(src, usize::MAX) >= doc.token_count());
        }
        assert_eq!(estimate_tokens(b"eeee", 2), 2);
        assert_eq!(estimate_tokens(&[b':'; 1000], usize::MAX), 1000);
    }
}
