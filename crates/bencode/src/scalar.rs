//! Integers and string lengths: the two places bencode spells numbers in ASCII.
//!
//! Both are parsed by hand, digit by digit, with the rules that make an encoding unique:
//! no leading zeros, no `-0`, no empty integer, nothing beyond `i64` (integers) or 4 GiB (lengths).
//! A string's length is checked against the bytes actually left before anything is sliced, so a
//! hostile length prefix costs nothing. [`parse_int`] re-reads an integer the scanner already
//! validated: tokens do not store values, which keeps them at 16 bytes.

use crate::error::{DecodeError, DecodeErrorKind};
use crate::scan::{eof, err};

/// Scans `<len>:<bytes>` at `start`; returns (payload start, end).
#[inline]
pub(crate) fn scan_string(input: &[u8], start: usize) -> Result<(usize, usize), DecodeError> {
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
pub(crate) fn scan_int(input: &[u8], start: usize) -> Result<usize, DecodeError> {
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
    // Tokens do not store the value, so only its range needs checking: count the digits and,
    // from the 19th on, compare them with i64's limit as text, so that an overflowing prefix is an
    // error at once. No multiplication in the loop.
    let limit: &[u8] = if negative {
        b"9223372036854775808"
    } else {
        b"9223372036854775807"
    };
    let digits = pos;
    loop {
        match input.get(pos) {
            Some(d) if d.is_ascii_digit() => {
                pos += 1;
                let n = pos - digits;
                if n >= limit.len() && (n > limit.len() || &input[digits..pos] > limit) {
                    return invalid("does not fit in 64 bits");
                }
            }
            Some(b'e') => break,
            Some(&found) => {
                let expected = "a digit or 'e'";
                return err(pos, DecodeErrorKind::UnexpectedByte { expected, found });
            }
            None => return eof(input, "a digit or 'e'"),
        }
    }
    Ok(pos + 1)
}

/// Parses the digits of an integer token already validated by [`scan_int`].
#[inline]
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
    use crate::decode;

    fn error(input: &[u8]) -> String {
        let e = decode(input).unwrap_err();
        format!("{}: {}", e.offset(), e.kind())
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
            assert_eq!(decode(src).unwrap().root().as_int(), Some(want));
        }
        for (input, want) in [
            (&b"i-0e"[..], "0: invalid integer: negative zero"),
            (b"i03e", "0: invalid integer: leading zero"),
            (b"i-03e", "0: invalid integer: negative zero"),
            (b"ie", "0: invalid integer: no digits"),
            (b"i-e", "0: invalid integer: no digits"),
            (
                b"i9223372036854775808e",
                "0: invalid integer: does not fit in 64 bits",
            ),
            (
                b"i-9223372036854775809e",
                "0: invalid integer: does not fit in 64 bits",
            ),
            (
                b"i99999999999999999999999e",
                "0: invalid integer: does not fit in 64 bits",
            ),
            (b"i1x", "2: expected a digit or 'e', found 'x'"),
            (b"i+1e", "1: expected a digit, found '+'"),
            (b"i0x", "2: expected 'e', found 'x'"),
            (
                b"i12",
                "3: unexpected end of input, expected a digit or 'e'",
            ),
            (b"i", "1: unexpected end of input, expected a digit"),
            (b"i0", "2: unexpected end of input, expected 'e'"),
        ] {
            assert_eq!(error(input), want, "{:?}", input.escape_ascii().to_string());
        }
    }

    #[test]
    fn strings() {
        assert_eq!(decode(b"0:").unwrap().root().as_bytes(), Some(&b""[..]));
        assert_eq!(
            decode(b"4:spam").unwrap().root().as_bytes(),
            Some(&b"spam"[..])
        );
        for (input, want) in [
            (&b"03:abc"[..], "0: invalid string length: leading zero"),
            (b"00:", "0: invalid string length: leading zero"),
            (
                b"5:abc",
                "5: unexpected end of input, expected string bytes",
            ),
            (
                b"4294967296:",
                "0: invalid string length: longer than 4 GiB",
            ),
            (
                b"99999999999999999999999:",
                "0: invalid string length: longer than 4 GiB",
            ),
            (
                b"4294967295:",
                "11: unexpected end of input, expected string bytes",
            ),
            (b"3x", "1: expected a digit or ':', found 'x'"),
            (b"12", "2: unexpected end of input, expected a digit or ':'"),
        ] {
            assert_eq!(error(input), want, "{:?}", input.escape_ascii().to_string());
        }
    }

    #[test]
    fn overflow_is_found_before_the_end() {
        let limits = crate::Limits::new();
        let prefix = |s: &[u8]| crate::decode_prefix(s, &limits).map(|r| r.map(|(_, n)| n));
        assert_eq!(prefix(b"i922337203685477580"), Ok(None));
        assert_eq!(prefix(b"i9223372036854775807"), Ok(None));
        assert!(prefix(b"i9223372036854775808").is_err());
        assert_eq!(prefix(b"i-9223372036854775808"), Ok(None));
        assert!(prefix(b"i-9223372036854775809").is_err());
        assert!(prefix(b"i10000000000000000000").is_err());
        assert!(prefix(b"4294967296").is_err());
    }

    #[test]
    fn parse_int_extremes() {
        assert_eq!(parse_int(b"-9223372036854775808"), i64::MIN);
        assert_eq!(parse_int(b"9223372036854775807"), i64::MAX);
        assert_eq!(parse_int(b"0"), 0);
        assert_eq!(parse_int(b"-17"), -17);
    }
}
