//! HTTP announce bodies (BEP 3, 7, 23): the bencoded dictionary a tracker answers with.
//!
//! Decoding reads `failure reason` first (it replaces everything else), then `interval`
//! (required), `min interval`, `complete`, `incomplete`, `warning message`, `tracker id`, and
//! peers in both shapes: a compact string of 6-byte entries (BEP 23) or a list of
//! `{ip, port}` dictionaries (BEP 3), plus `peers6` with 18-byte entries (BEP 7). Peers and the
//! interval are checked strictly; counts of the wrong type are dropped rather than failing an
//! otherwise usable answer, as libtorrent does. A dictionary peer whose `ip` is a host name, not
//! an address, is skipped: it cannot be a `SocketAddr`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use swarmgate_bencode::{Dict, Encoder, Value, decode_with};
use swarmgate_core::{compact_peers_v4, compact_peers_v6, encode_compact_peer};

use super::body_limits;
use crate::announce::AnnounceResponse;
use crate::error::{ParseError, TrackerError};

/// Reads the root dictionary of a tracker body, turning `failure reason` into
/// [`TrackerError::Failure`].
pub(super) fn with_root<T>(
    body: &[u8],
    read: impl FnOnce(Dict<'_, '_>) -> Result<T, ParseError>,
) -> Result<T, TrackerError> {
    let doc = decode_with(body, &body_limits()).map_err(ParseError::from)?;
    let root = doc.root().as_dict().ok_or(ParseError::NotDictionary)?;
    if let Some(reason) = root.get(b"failure reason") {
        let text = reason.as_bytes().ok_or(ParseError::BadField {
            field: "failure reason",
            expected: "a string",
        })?;
        return Err(TrackerError::Failure(
            String::from_utf8_lossy(text).into_owned(),
        ));
    }
    Ok(read(root)?)
}

/// A non-negative integer that fits `u32`, or `None`.
pub(super) fn count(value: Option<Value<'_, '_>>) -> Option<u32> {
    value?.as_int().and_then(|n| u32::try_from(n).ok())
}

fn seconds(value: Value<'_, '_>, field: &'static str) -> Result<Duration, ParseError> {
    value
        .as_int()
        .and_then(|n| u64::try_from(n).ok())
        .map(Duration::from_secs)
        .ok_or(ParseError::BadField {
            field,
            expected: "a non-negative integer",
        })
}

fn dictionary_peer(entry: Value<'_, '_>) -> Result<Option<SocketAddr>, ParseError> {
    let bad = |expected| ParseError::BadField {
        field: "peers",
        expected,
    };
    let peer = entry.as_dict().ok_or(bad("a list of dictionaries"))?;
    let ip = peer
        .get(b"ip")
        .and_then(|v| v.as_bytes())
        .ok_or(bad("a list of dictionaries with a string `ip`"))?;
    let port = peer
        .get(b"port")
        .and_then(|v| v.as_int())
        .and_then(|p| u16::try_from(p).ok())
        .ok_or(bad("a list of dictionaries with a `port` in 0..=65535"))?;
    let ip = std::str::from_utf8(ip)
        .ok()
        .and_then(|s| s.parse::<IpAddr>().ok());
    Ok(ip.map(|ip| SocketAddr::new(ip, port)))
}

fn read_response(root: Dict<'_, '_>) -> Result<AnnounceResponse, ParseError> {
    let interval = root
        .get(b"interval")
        .ok_or(ParseError::Missing { field: "interval" })?;
    let mut response = AnnounceResponse::new(seconds(interval, "interval")?);
    if let Some(min) = root.get(b"min interval") {
        response.min_interval = Some(seconds(min, "min interval")?);
    }
    response.complete = count(root.get(b"complete"));
    response.incomplete = count(root.get(b"incomplete"));
    response.warning = root
        .get(b"warning message")
        .and_then(|v| v.as_bytes())
        .map(|w| String::from_utf8_lossy(w).into_owned());
    response.tracker_id = root
        .get(b"tracker id")
        .and_then(|v| v.as_bytes())
        .map(<[u8]>::to_vec);
    if let Some(peers) = root.get(b"peers") {
        if let Some(packed) = peers.as_bytes() {
            response.peers.extend(compact_peers_v4(packed)?);
        } else if let Some(list) = peers.as_list() {
            for entry in list {
                response.peers.extend(dictionary_peer(entry)?);
            }
        } else {
            return Err(ParseError::BadField {
                field: "peers",
                expected: "a string or a list",
            });
        }
    }
    if let Some(peers6) = root.get(b"peers6") {
        let packed = peers6.as_bytes().ok_or(ParseError::BadField {
            field: "peers6",
            expected: "a string",
        })?;
        response.peers.extend(compact_peers_v6(packed)?);
    }
    Ok(response)
}

/// Reads an announce response body.
///
/// `failure reason` is [`TrackerError::Failure`] with the tracker's text; anything that is not a
/// valid answer (not bencode, no `interval`, a ragged compact list) is
/// [`TrackerError::InvalidResponse`] saying what and where.
///
/// ```
/// use swarmgate_tracker::decode_announce_response;
///
/// let body = b"d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e";
/// let response = decode_announce_response(body)?;
/// assert_eq!(response.interval.as_secs(), 1800);
/// assert_eq!(response.peers, ["127.0.0.1:6881".parse()?]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode_announce_response(body: &[u8]) -> Result<AnnounceResponse, TrackerError> {
    with_root(body, read_response)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Writes an announce response body (canonical bencode).
///
/// With `compact`, IPv4 peers go in the `peers` string and IPv6 peers in `peers6`; without it,
/// every peer is an `{ip, port}` dictionary in `peers`, in order.
pub fn encode_announce_response(response: &AnnounceResponse, compact: bool) -> Vec<u8> {
    let mut e = Encoder::with_capacity(64 + response.peers.len() * 18);
    e.begin_dict();
    if let Some(n) = response.complete {
        e.key(b"complete").int(i64::from(n));
    }
    if let Some(n) = response.incomplete {
        e.key(b"incomplete").int(i64::from(n));
    }
    e.key(b"interval").int(secs(response.interval));
    if let Some(min) = response.min_interval {
        e.key(b"min interval").int(secs(min));
    }
    if compact {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for peer in &response.peers {
            let out = if peer.is_ipv4() { &mut v4 } else { &mut v6 };
            encode_compact_peer(*peer, out);
        }
        e.key(b"peers").bytes(&v4);
        if !v6.is_empty() {
            e.key(b"peers6").bytes(&v6);
        }
    } else {
        e.key(b"peers").begin_list();
        for peer in &response.peers {
            e.begin_dict()
                .key(b"ip")
                .str(&peer.ip().to_string())
                .key(b"port")
                .int(i64::from(peer.port()))
                .end();
        }
        e.end();
    }
    if let Some(id) = &response.tracker_id {
        e.key(b"tracker id").bytes(id);
    }
    if let Some(warning) = &response.warning {
        e.key(b"warning message").str(warning);
    }
    e.end();
    // The keys above are written in ascending order and every container is closed, so the
    // encoder has nothing to refuse.
    e.finish().unwrap_or_default()
}

/// Writes a `failure reason` body: the tracker refuses the request.
pub fn encode_failure(reason: &str) -> Vec<u8> {
    let mut e = Encoder::new();
    e.begin_dict().key(b"failure reason").str(reason).end();
    e.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(body: &[u8]) -> String {
        match decode_announce_response(body) {
            Err(TrackerError::InvalidResponse { context }) => context,
            other => panic!("expected an invalid response, got {other:?}"),
        }
    }

    #[test]
    fn garbage_is_reported_with_context() {
        assert_eq!(invalid(b"d5:peers0:e"), "missing field `interval`");
        assert_eq!(invalid(b"le"), "top level is not a dictionary");
        assert!(invalid(b"<html>").starts_with("body is not bencode: invalid bencode at byte 0"));
        assert_eq!(
            invalid(b"d8:intervali-1ee"),
            "field `interval` is not a non-negative integer"
        );
        assert_eq!(
            invalid(b"d8:intervali1e5:peers7:abcdefge"),
            "compact IPv4 peer list: expected 6 bytes, got 7"
        );
        assert_eq!(
            invalid(b"d8:intervali1e5:peersli1eee"),
            "field `peers` is not a list of dictionaries"
        );
        assert_eq!(
            invalid(b"d8:intervali1e5:peersi1ee"),
            "field `peers` is not a string or a list"
        );
    }

    #[test]
    fn lenient_where_libtorrent_is() {
        let r = decode_announce_response(
            b"d8:completei-1e10:incomplete1:x8:intervali5e5:peersld2:ip9:host.name4:porti1eeee",
        )
        .unwrap();
        assert_eq!((r.complete, r.incomplete), (None, None));
        assert!(r.peers.is_empty());
    }

    #[test]
    fn failure_body_round_trips() {
        let body = encode_failure("torrent not registered");
        assert_eq!(body, b"d14:failure reason22:torrent not registerede");
        assert!(matches!(
            decode_announce_response(&body),
            Err(TrackerError::Failure(text)) if text == "torrent not registered"
        ));
    }
}
