//! HTTP announce bodies (BEP 3, 7, 23): the bencoded dictionary a tracker answers with.
//!
//! Decoding reads `failure reason` first (it replaces everything else), then `interval`
//! (required), `min interval`, `complete`, `incomplete`, `downloaded`, `warning message`,
//! `tracker id`, and peers in both shapes: a compact string of 6-byte entries (BEP 23) or a list
//! of `{ip, port}` dictionaries (BEP 3), plus `peers6` with 18-byte entries (BEP 7). Peers and
//! the interval are checked strictly; counts of the wrong type are dropped rather than failing
//! an otherwise usable answer, as libtorrent does. A dictionary peer whose `ip` is a host name,
//! not an address, is skipped: it cannot be a `SocketAddr`.
//!
//! Encoding has one writer, over `AnnounceBody`, a borrowed view of the answer whose peers are
//! compact bytes: the tracker's handler fills the view from its registry's bytes without
//! allocating addresses, and [`encode_announce_response`] fills it from an [`AnnounceResponse`].
//! So the encoder the round-trip properties cover is the one that answers clients. (A BEP 3
//! dictionary list is written from addresses: the handler's are its compact entries decoded,
//! [`encode_announce_response`]'s are the response's, in their order.)

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use swarmgate_bencode::{Dict, Encoder, Value, decode_with};
use swarmgate_core::{
    compact_peers_v4, compact_peers_v6, decode_compact_peer, encode_compact_peer,
};

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
    response.downloaded = count(root.get(b"downloaded"));
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

/// An announce answer as the one HTTP encoder reads it, borrowed: the tracker's handler fills it
/// straight from the registry's compact peer bytes (no [`AnnounceResponse`], no address
/// conversions on the fast path) and [`encode_announce_response`] fills it from an
/// [`AnnounceResponse`], so the body the round-trip properties check is the body clients get.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AnnounceBody<'a> {
    /// `interval`.
    pub(crate) interval: Duration,
    /// `min interval`, when sent.
    pub(crate) min_interval: Option<Duration>,
    /// `complete` (seeders), when sent.
    pub(crate) complete: Option<u32>,
    /// `incomplete` (leechers), when sent.
    pub(crate) incomplete: Option<u32>,
    /// `downloaded` (completed downloads), when sent.
    pub(crate) downloaded: Option<u32>,
    /// Compact IPv4 peers, 6 bytes each: the `peers` string, always written.
    pub(crate) peers: &'a [u8],
    /// Compact IPv6 peers, 18 bytes each: the `peers6` string (BEP 7), written when present,
    /// even empty (the tracker's answer to an IPv6 client always has it).
    pub(crate) peers6: Option<&'a [u8]>,
    /// `warning message`, when sent.
    pub(crate) warning: Option<&'a str>,
    /// `tracker id`, when sent.
    pub(crate) tracker_id: Option<&'a [u8]>,
}

impl AnnounceBody<'_> {
    /// Writes the body (canonical bencode). With `compact`, `peers` and `peers6` are the compact
    /// strings; without it, `peers` is the BEP 3 list of `{ip, port}` dictionaries of the same
    /// peers, the IPv4 ones first, and there is no `peers6`.
    pub(crate) fn encode(&self, compact: bool) -> Vec<u8> {
        if compact {
            return self.write(None::<std::iter::Empty<SocketAddr>>);
        }
        let peers6 = self.peers6.unwrap_or_default();
        let entries = self.peers.chunks_exact(6).chain(peers6.chunks_exact(18));
        self.write(Some(
            entries.filter_map(|entry| decode_compact_peer(entry).ok()),
        ))
    }

    /// Writes the body with `peers` as the compact strings, or, given `listed`, as the BEP 3
    /// list of those peers in their order (the compact strings are then not written).
    fn write(&self, listed: Option<impl Iterator<Item = SocketAddr>>) -> Vec<u8> {
        let capacity = match &listed {
            None => self.peers.len() + self.peers6.map_or(0, <[u8]>::len),
            // `d2:ip15:255.255.255.2554:porti65535ee` is 38 bytes, an IPv6 entry up to 62.
            Some(peers) => peers.size_hint().1.unwrap_or(0) * 48,
        };
        let mut e = Encoder::with_capacity(128 + capacity);
        e.begin_dict();
        if let Some(n) = self.complete {
            e.key(b"complete").int(i64::from(n));
        }
        if let Some(n) = self.downloaded {
            e.key(b"downloaded").int(i64::from(n));
        }
        if let Some(n) = self.incomplete {
            e.key(b"incomplete").int(i64::from(n));
        }
        e.key(b"interval").int(secs(self.interval));
        if let Some(min) = self.min_interval {
            e.key(b"min interval").int(secs(min));
        }
        match listed {
            None => {
                e.key(b"peers").bytes(self.peers);
                if let Some(peers6) = self.peers6 {
                    e.key(b"peers6").bytes(peers6);
                }
            }
            Some(peers) => {
                e.key(b"peers").begin_list();
                for peer in peers {
                    e.begin_dict()
                        .key(b"ip")
                        .str(&peer.ip().to_string())
                        .key(b"port")
                        .int(i64::from(peer.port()))
                        .end();
                }
                e.end();
            }
        }
        if let Some(id) = self.tracker_id {
            e.key(b"tracker id").bytes(id);
        }
        if let Some(warning) = self.warning {
            e.key(b"warning message").str(warning);
        }
        e.end();
        // The keys above are written in ascending order and every container is closed, so the
        // encoder has nothing to refuse.
        e.finish().unwrap_or_default()
    }
}

/// Writes an announce response body (canonical bencode), through the encoder of the tracker's
/// HTTP handler.
///
/// With `compact`, IPv4 peers go in the `peers` string and IPv6 peers in `peers6` (left out when
/// there are none); without it, every peer is an `{ip, port}` dictionary in `peers`, in order.
pub fn encode_announce_response(response: &AnnounceResponse, compact: bool) -> Vec<u8> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    if compact {
        for peer in &response.peers {
            let out = if peer.is_ipv4() { &mut v4 } else { &mut v6 };
            encode_compact_peer(*peer, out);
        }
    }
    let body = AnnounceBody {
        interval: response.interval,
        min_interval: response.min_interval,
        complete: response.complete,
        incomplete: response.incomplete,
        downloaded: response.downloaded,
        peers: &v4,
        peers6: (!v6.is_empty()).then_some(&v6[..]),
        warning: response.warning.as_deref(),
        tracker_id: response.tracker_id.as_deref(),
    };
    if compact {
        body.encode(true)
    } else {
        body.write(Some(response.peers.iter().copied()))
    }
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
