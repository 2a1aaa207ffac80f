//! HTTP tracker query strings (BEP 3, 7, 23, 48): announce and scrape URLs with their binary
//! parameters percent-encoded byte by byte, and the server-side parse of the same.
//!
//! `info_hash` and `peer_id` are raw bytes, not text: every byte outside the RFC 3986 unreserved
//! set becomes `%XX` (upper-case hex, as libtorrent writes it). A `+` in a query is a literal
//! `+`, never a space: clients escape it, and reading it as a space would corrupt a hash.

use std::fmt::Write as _;
use std::net::IpAddr;

use swarmgate_core::{InfoHashV1, PeerId};

use crate::announce::{AnnounceEvent, AnnounceRequest};
use crate::error::ParseError;

/// Appends `bytes` percent-encoded: unreserved characters stay, every other byte is `%XX`.
pub(crate) fn percent_encode(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Decodes `%XX` escapes; any other byte stands for itself.
fn percent_decode(input: &[u8], field: &'static str) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = |j: usize| input.get(j).and_then(|&c| char::from(c).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => {
                    return Err(ParseError::BadField {
                        field,
                        expected: "valid percent-encoding",
                    });
                }
            }
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Starts a query on `base`: `?` if it has none yet, `&` if it has one.
fn begin_query(base: &str) -> String {
    let mut url = String::with_capacity(base.len() + 256);
    url.push_str(base);
    if !base.contains('?') {
        url.push('?');
    } else if !base.ends_with(['?', '&']) {
        url.push('&');
    }
    url
}

/// The announce URL for `request` on the tracker whose announce URL is `base`.
///
/// Parameters come in the order libtorrent sends them; `key` is eight upper-case hex digits.
///
/// ```
/// use swarmgate_core::{InfoHashV1, PeerId};
/// use swarmgate_tracker::{AnnounceRequest, announce_url};
///
/// let mut request = AnnounceRequest::new(InfoHashV1([0xab; 20]), PeerId([b'x'; 20]), 6881);
/// request.left = 10;
/// let url = announce_url("http://t.example/announce", &request);
/// assert!(url.starts_with("http://t.example/announce?info_hash=%AB%AB"));
/// assert!(url.ends_with("&port=6881&uploaded=0&downloaded=0&left=10&compact=1&key=00000000"));
/// ```
pub fn announce_url(base: &str, request: &AnnounceRequest) -> String {
    let mut url = begin_query(base);
    url.push_str("info_hash=");
    percent_encode(request.info_hash.as_bytes(), &mut url);
    url.push_str("&peer_id=");
    percent_encode(request.peer_id.as_bytes(), &mut url);
    // Writing to a String cannot fail.
    let _ = write!(
        url,
        "&port={}&uploaded={}&downloaded={}&left={}&compact={}",
        request.port,
        request.uploaded,
        request.downloaded,
        request.left,
        u8::from(request.compact)
    );
    if let Some(event) = request.event.as_http() {
        url.push_str("&event=");
        url.push_str(event);
    }
    if let Some(numwant) = request.numwant {
        let _ = write!(url, "&numwant={numwant}");
    }
    let _ = write!(url, "&key={:08X}", request.key);
    if let Some(id) = &request.tracker_id {
        url.push_str("&trackerid=");
        percent_encode(id, &mut url);
    }
    if let Some(ip) = request.ip {
        url.push_str("&ip=");
        percent_encode(ip.to_string().as_bytes(), &mut url);
    }
    url
}

/// The scrape URL for `info_hashes` on the tracker whose scrape URL is `scrape` (see
/// [`scrape_url`](crate::scrape_url)): one `info_hash` parameter per torrent.
pub fn scrape_request_url(scrape: &str, info_hashes: &[InfoHashV1]) -> String {
    let mut url = begin_query(scrape);
    for (i, hash) in info_hashes.iter().enumerate() {
        if i > 0 {
            url.push('&');
        }
        url.push_str("info_hash=");
        percent_encode(hash.as_bytes(), &mut url);
    }
    url
}

/// Splits a query (the part after `?`, without the `#` fragment) into raw key/value pairs.
fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(eq) => (&p[..eq], &p[eq + 1..]),
            None => (p, &p[p.len()..]),
        })
}

fn text<'a>(
    value: &'a [u8],
    field: &'static str,
    expected: &'static str,
) -> Result<&'a str, ParseError> {
    std::str::from_utf8(value).map_err(|_| ParseError::BadField { field, expected })
}

fn number<T: std::str::FromStr>(value: &[u8], field: &'static str) -> Result<T, ParseError> {
    text(value, field, "a decimal number")?
        .parse()
        .map_err(|_| ParseError::BadField {
            field,
            expected: "a decimal number",
        })
}

/// A `key` is opaque: libtorrent and Transmission send eight hex digits, aria2 eight random
/// bytes. Hex digits are read as the number they write; anything else is folded into 32 bits
/// (FNV-1a), which keeps equal keys equal, all a tracker needs of them.
fn opaque_key(bytes: &[u8]) -> u32 {
    let hex = std::str::from_utf8(bytes)
        .ok()
        .filter(|text| !text.is_empty() && text.len() <= 8)
        .and_then(|text| u32::from_str_radix(text, 16).ok());
    hex.unwrap_or_else(|| {
        bytes.iter().fold(0x811c_9dc5u32, |hash, &b| {
            (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
    })
}

fn info_hash(value: &[u8]) -> Result<InfoHashV1, ParseError> {
    let bytes = percent_decode(value, "info_hash")?;
    InfoHashV1::from_slice(&bytes).map_err(|_| ParseError::Length {
        what: "info_hash",
        expected: 20,
        actual: bytes.len(),
    })
}

/// Reads an announce query string back into a request: the tracker server's side of
/// [`announce_url`].
///
/// `info_hash`, `peer_id` and `port` are required; missing byte counts are zero; a missing
/// `compact` means a dictionary peer list (BEP 3); a negative `numwant` is the tracker's choice.
/// Unknown parameters are ignored.
pub fn parse_announce_query(query: &[u8]) -> Result<AnnounceRequest, ParseError> {
    let mut hash = None;
    let mut peer_id = None;
    let mut port = None;
    let mut request = AnnounceRequest::new(InfoHashV1([0; 20]), PeerId([0; 20]), 0);
    request.compact = false;
    for (key, value) in pairs(query) {
        match key {
            b"info_hash" => hash = Some(info_hash(value)?),
            b"peer_id" => {
                let bytes = percent_decode(value, "peer_id")?;
                peer_id = Some(PeerId::from_slice(&bytes).map_err(|_| ParseError::Length {
                    what: "peer_id",
                    expected: 20,
                    actual: bytes.len(),
                })?);
            }
            b"port" => port = Some(number(value, "port")?),
            b"uploaded" => request.uploaded = number(value, "uploaded")?,
            b"downloaded" => request.downloaded = number(value, "downloaded")?,
            b"left" => request.left = number(value, "left")?,
            b"compact" => request.compact = value == b"1",
            b"event" => request.event = AnnounceEvent::from_http(value),
            b"numwant" => {
                let n: i64 = number(value, "numwant")?;
                request.numwant = u32::try_from(n).ok();
            }
            b"key" => request.key = opaque_key(&percent_decode(value, "key")?),
            b"trackerid" => request.tracker_id = Some(percent_decode(value, "trackerid")?),
            b"ip" => {
                let decoded = percent_decode(value, "ip")?;
                let ip: IpAddr = text(&decoded, "ip", "an IP address")?
                    .parse()
                    .map_err(|_| ParseError::BadField {
                        field: "ip",
                        expected: "an IP address",
                    })?;
                request.ip = Some(ip);
            }
            _ => {}
        }
    }
    request.info_hash = hash.ok_or(ParseError::Missing { field: "info_hash" })?;
    request.peer_id = peer_id.ok_or(ParseError::Missing { field: "peer_id" })?;
    request.port = port.ok_or(ParseError::Missing { field: "port" })?;
    Ok(request)
}

/// Reads the `info_hash` parameters of a scrape query, in order (none means "all torrents").
pub fn parse_scrape_query(query: &[u8]) -> Result<Vec<InfoHashV1>, ParseError> {
    pairs(query)
        .filter(|(key, _)| *key == b"info_hash")
        .map(|(_, value)| info_hash(value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved_bytes() {
        let mut out = String::new();
        percent_encode(b"aZ09-._~ +/%\x00\xff", &mut out);
        assert_eq!(out, "aZ09-._~%20%2B%2F%25%00%FF");
        assert_eq!(
            percent_decode(out.as_bytes(), "x").unwrap(),
            b"aZ09-._~ +/%\x00\xff"
        );
        assert_eq!(percent_decode(b"a+b", "x").unwrap(), b"a+b");
        assert!(percent_decode(b"%4", "x").is_err());
        assert!(percent_decode(b"%zz", "x").is_err());
    }

    #[test]
    fn an_existing_query_gets_an_ampersand() {
        assert_eq!(begin_query("http://t/a"), "http://t/a?");
        assert_eq!(begin_query("http://t/a?k=v"), "http://t/a?k=v&");
        assert_eq!(begin_query("http://t/a?"), "http://t/a?");
        assert_eq!(begin_query("http://t/a?k=v&"), "http://t/a?k=v&");
    }

    #[test]
    fn any_key_is_accepted() {
        let base = "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=aaaaaaaaaaaaaaaaaaaa&port=1&key=";
        let parse = |key: &str| parse_announce_query(format!("{base}{key}").as_bytes());
        assert_eq!(parse("0000ABCD").unwrap().key, 0xabcd);
        // aria2 sends eight raw bytes.
        let aria2 = parse("e%BD%89n%25%5E%97g").unwrap().key;
        assert_eq!(aria2, parse("e%BD%89n%25%5E%97g").unwrap().key);
        assert_ne!(aria2, parse("e%BD%89n%25%5E%97h").unwrap().key);
        assert!(parse("").is_ok());
        assert!(parse("123456789").is_ok());
    }

    #[test]
    fn required_parameters_are_named_when_missing() {
        let err = parse_announce_query(b"peer_id=aaaaaaaaaaaaaaaaaaaa&port=1").unwrap_err();
        assert_eq!(err, ParseError::Missing { field: "info_hash" });
        let err = parse_announce_query(b"info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=short&port=1")
            .unwrap_err();
        assert!(matches!(
            err,
            ParseError::Length {
                what: "peer_id",
                actual: 5,
                ..
            }
        ));
        let err = parse_announce_query(
            b"info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=aaaaaaaaaaaaaaaaaaaa&port=70000",
        )
        .unwrap_err();
        assert_eq!(
            err,
            ParseError::BadField {
                field: "port",
                expected: "a decimal number"
            }
        );
    }
}
