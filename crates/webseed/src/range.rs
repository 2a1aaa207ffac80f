//! BEP 19 web seeds over RFC 9110 byte ranges: the `Range` header (section 14.2), the
//! `Content-Range` answer (14.4) and the entity-tag conditions (`If-None-Match`, `If-Range`).
//!
//! A header value arrives whole, so [`parse_range`] takes the complete value rather than the
//! crate's streaming codec shape. Choices, each allowed by RFC 9110:
//!
//! - A header that does not parse (unknown unit, `bytes=5-2`, garbage) is ignored: the answer is
//!   200 with the whole file ([`RangeRequest::Whole`]), as section 14.2 says.
//! - Several ranges (`bytes=0-9,20-29`) are also ignored (200, whole file): a server may ignore
//!   `Range`, and none of the clients that use web seeds asks for more than one range per
//!   request (libtorrent, aria2c and Transmission each send one `bytes=a-b`), so multipart
//!   answers would be code no client runs. Ignoring costs a client nothing it would not pay for
//!   a plain GET.
//! - A single range whose first byte lies past the end is unsatisfiable: 416 with
//!   `Content-Range: bytes */LEN` ([`RangeRequest::Unsatisfiable`]); so is `bytes=-0`.
//! - A last byte past the end is clamped to the end; a suffix longer than the file is the whole
//!   file (as a 206 covering every byte).
//! - A zero-length file has no byte to send in a 206 (`Content-Range` cannot describe an empty
//!   range): `bytes=0-` is 416, a non-zero suffix range is the (empty) whole file, 200.

use std::ops::Range;

/// What to answer to a `Range` header for a representation of known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send the whole representation with 200: no header, an invalid one, or several ranges.
    Whole,
    /// Send these bytes with 206 and `Content-Range` (never empty, within the length).
    Partial(Range<u64>),
    /// Send 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// What one range-spec asks for, before the length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last` (inclusive; `last` may be `u64::MAX` when absent or too large).
    From { first: u64, last: u64 },
    /// `-suffix`: the last `suffix` bytes.
    Suffix(u64),
}

/// Decides the answer to the `Range` header value `header` for a representation of `length`
/// bytes. Never panics; linear in the header's length.
pub fn parse_range(header: &[u8], length: u64) -> RangeRequest {
    let Some(spec) = parse_single(header) else {
        return RangeRequest::Whole;
    };
    match spec {
        Spec::From { first, .. } if first >= length => RangeRequest::Unsatisfiable,
        Spec::From { first, last } => RangeRequest::Partial(first..last.min(length - 1) + 1),
        Spec::Suffix(0) => RangeRequest::Unsatisfiable,
        Spec::Suffix(_) if length == 0 => RangeRequest::Whole,
        Spec::Suffix(suffix) => RangeRequest::Partial(length.saturating_sub(suffix)..length),
    }
}

/// The one range-spec of a valid single-range header; `None` when the header is to be ignored.
fn parse_single(header: &[u8]) -> Option<Spec> {
    let header = trim(header);
    let equals = header.iter().position(|&b| b == b'=')?;
    let (unit, set) = (&header[..equals], &header[equals + 1..]);
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    // `1#range-spec`: empty list elements (", ,") are allowed and ignored.
    let mut specs = set
        .split(|&b| b == b',')
        .map(trim)
        .filter(|s| !s.is_empty());
    let first = parse_spec(specs.next()?)?;
    if specs.next().is_some() {
        return None;
    }
    Some(first)
}

fn parse_spec(spec: &[u8]) -> Option<Spec> {
    let dash = spec.iter().position(|&b| b == b'-')?;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    if first.is_empty() {
        return Some(Spec::Suffix(digits(last)?.unwrap_or(u64::MAX)));
    }
    // A first byte too large for u64 lies past any end.
    let first = digits(first)?.unwrap_or(u64::MAX);
    let last = if last.is_empty() {
        u64::MAX
    } else {
        digits(last)?.unwrap_or(u64::MAX)
    };
    (last >= first).then_some(Spec::From { first, last })
}

/// `1*DIGIT`: `None` if not digits, `Some(None)` if too large for u64.
fn digits(text: &[u8]) -> Option<Option<u64>> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    }))
}

fn trim(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &text[start..end.max(start)]
}

/// The `Content-Range` value of a 206 carrying `range` of a `length`-byte representation.
pub fn content_range(range: &Range<u64>, length: u64) -> String {
    format!(
        "bytes {}-{}/{length}",
        range.start,
        range.end.saturating_sub(1)
    )
}

/// The `Content-Range` value of a 416 for a `length`-byte representation.
pub fn unsatisfied_range(length: u64) -> String {
    format!("bytes */{length}")
}

/// Parses a 206's `Content-Range` value (`bytes a-b/len` or `bytes a-b/*`) into the byte range
/// it carries and the total length when given.
pub fn parse_content_range(header: &[u8]) -> Option<(Range<u64>, Option<u64>)> {
    let rest = trim(header);
    let (unit, rest) = rest.split_at(rest.iter().position(|&b| b == b' ')?);
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let rest = trim(rest);
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (span, total) = (&rest[..slash], &rest[slash + 1..]);
    let dash = span.iter().position(|&b| b == b'-')?;
    let first = digits(&span[..dash])??;
    let last = digits(&span[dash + 1..])??;
    let total = if total == b"*" {
        None
    } else {
        Some(digits(total)??)
    };
    if last < first || total.is_some_and(|t| last >= t) {
        return None;
    }
    Some((first..last.checked_add(1)?, total))
}

/// Whether an `If-None-Match` value matches the strong entity-tag `etag` (quoted, as sent in
/// `ETag`): `*`, or a list holding it, compared weakly (a `W/` prefix is ignored) as RFC 9110
/// section 13.1.2 says. A match means 304 Not Modified.
pub fn if_none_match(header: &[u8], etag: &str) -> bool {
    let header = trim(header);
    if header == b"*" {
        return true;
    }
    header.split(|&b| b == b',').map(trim).any(|tag| {
        let tag = tag.strip_prefix(b"W/").unwrap_or(tag);
        tag == etag.as_bytes()
    })
}

/// Whether an `If-Range` value lets a `Range` header apply: only a strong entity-tag equal to
/// `etag` does (a date never does, since no `Last-Modified` is sent; a weak tag never does).
/// When it does not, the whole file is sent with 200.
pub fn if_range(header: &[u8], etag: &str) -> bool {
    trim(header) == etag.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9110_examples() {
        // Section 14.1.2's examples on a 10,000-byte representation.
        let n = 10_000;
        assert_eq!(
            parse_range(b"bytes=0-499", n),
            RangeRequest::Partial(0..500)
        );
        assert_eq!(
            parse_range(b"bytes=500-999", n),
            RangeRequest::Partial(500..1000)
        );
        assert_eq!(
            parse_range(b"bytes=-500", n),
            RangeRequest::Partial(9500..10_000)
        );
        assert_eq!(
            parse_range(b"bytes=9500-", n),
            RangeRequest::Partial(9500..10_000)
        );
        assert_eq!(
            parse_range(b"bytes=0-0,-1", n),
            RangeRequest::Whole,
            "several ranges: whole"
        );
    }

    #[test]
    fn edges() {
        assert_eq!(parse_range(b"bytes=0-0", 10), RangeRequest::Partial(0..1));
        assert_eq!(parse_range(b"bytes=9-9", 10), RangeRequest::Partial(9..10));
        assert_eq!(
            parse_range(b"bytes=9-100", 10),
            RangeRequest::Partial(9..10)
        );
        assert_eq!(parse_range(b"bytes=10-", 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=10-20", 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=-0", 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=-11", 10), RangeRequest::Partial(0..10));
        assert_eq!(parse_range(b"BYTES = 1-2", 10), RangeRequest::Whole);
        assert_eq!(parse_range(b" Bytes=1-2 ", 10), RangeRequest::Partial(1..3));
        assert_eq!(
            parse_range(b"bytes= 1-2 , ", 10),
            RangeRequest::Partial(1..3)
        );
        assert_eq!(
            parse_range(b"bytes=99999999999999999999-", 10),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(b"bytes=0-99999999999999999999", 10),
            RangeRequest::Partial(0..10)
        );
        assert_eq!(
            parse_range(b"bytes=-99999999999999999999", 10),
            RangeRequest::Partial(0..10)
        );
        assert_eq!(parse_range(b"bytes=0-", 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=-5", 0), RangeRequest::Whole);
        for ignored in [
            &b""[..],
            b"bytes",
            b"bytes=",
            b"bytes=5-2",
            b"bytes=-",
            b"bytes=a-b",
            b"bytes=1-2-3",
            b"bytes=+1-2",
            b"items=0-1",
            b"bytes=,",
        ] {
            assert_eq!(
                parse_range(ignored, 10),
                RangeRequest::Whole,
                "{}",
                String::from_utf8_lossy(ignored)
            );
        }
    }

    #[test]
    fn every_prefix_of_a_header_parses_without_panicking() {
        for header in [
            &b"bytes=0-499, 1000-"[..],
            b"bytes=-99999999999999999999",
            b"bytes 0-499/10000",
            b"W/\"abc\", \"d\"",
        ] {
            for end in 0..=header.len() {
                let prefix = &header[..end];
                for length in [0, 1, 500, u64::MAX] {
                    if let RangeRequest::Partial(range) = parse_range(prefix, length) {
                        assert!(range.start < range.end && range.end <= length);
                    }
                }
                let _ = parse_content_range(prefix);
                let _ = if_none_match(prefix, "\"d\"");
            }
        }
    }

    #[test]
    fn content_range_round_trips() {
        assert_eq!(content_range(&(0..500), 10_000), "bytes 0-499/10000");
        assert_eq!(unsatisfied_range(7), "bytes */7");
        assert_eq!(
            parse_content_range(b"bytes 0-499/10000"),
            Some((0..500, Some(10_000)))
        );
        assert_eq!(parse_content_range(b"bytes 5-5/*"), Some((5..6, None)));
        assert_eq!(parse_content_range(b"bytes 5-4/10"), None);
        assert_eq!(parse_content_range(b"bytes 5-10/10"), None);
        assert_eq!(parse_content_range(b"bytes */10"), None);
    }

    #[test]
    fn conditions() {
        let tag = "\"abc-0\"";
        assert!(if_none_match(b"*", tag));
        assert!(if_none_match(b"\"x\", W/\"abc-0\"", tag));
        assert!(!if_none_match(b"\"abc-1\"", tag));
        assert!(if_range(b"\"abc-0\"", tag));
        assert!(!if_range(b"W/\"abc-0\"", tag));
        assert!(!if_range(b"Tue, 15 Nov 1994 08:12:31 GMT", tag));
    }
}
