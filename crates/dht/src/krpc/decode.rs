//! Decoding KRPC datagrams (BEP 5) over swarmgate-bencode, with the limits a hostile network
//! calls for.
//!
//! Every key is read from a real bencode tree, never by scanning for substrings: jech/dht once
//! read "port" out of "implied_port" and stored port 1 network-wide (jech/dht#29).
//!
//! Tolerant where real nodes differ: keys in any order, unknown keys anywhere (ignored
//! unread), a `v` of any length, transaction ids of any length up to the limit (0 bytes
//! included), and an envelope `v`, `ip` or `ro` of an unexpected type or length is dropped
//! rather than failing the message. Strict where a guess would be dangerous: a key the method
//! reads must have its type, ids and info-hashes are 20 bytes, `nodes` a multiple of 26 bytes
//! (`nodes6` of 38), `values` entries 6 or 18 bytes, bloom filters 256 bytes, `samples` a
//! multiple of 20, and announce_peer's port 1-65535 unless `implied_port` is set. Counts are
//! checked against the limits before anything is allocated for them.

use std::net::SocketAddr;

use swarmgate_bencode::{Dict, Value, decode_with};
use swarmgate_core::{InfoHashV1, decode_compact_peer};

use super::KrpcLimits;
use super::error::{IgnoreReason, InvalidField, KrpcError};
use super::message::{BLOOM_LEN, Body, Message, Method, Query, Response, Want};
use crate::id::{COMPACT_NODE_V4_LEN, COMPACT_NODE_V6_LEN, NodeId, NodeInfo};

const STRING: &str = "a byte string";
const INTEGER: &str = "an integer";
const LIST: &str = "a list";
const DICT: &str = "a dictionary";

impl Message {
    /// Decodes one datagram.
    ///
    /// ```
    /// use swarmgate_dht::{Body, KrpcLimits, Message, Method};
    ///
    /// let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    /// let message = Message::decode(ping, &KrpcLimits::default())?;
    /// assert_eq!(message.transaction_id, b"aa");
    /// let Body::Query(query) = &message.body else { panic!("a query") };
    /// assert_eq!(query.method, Method::Ping);
    /// assert_eq!(query.id.as_bytes(), b"abcdefghij0123456789");
    /// # Ok::<(), swarmgate_dht::KrpcError>(())
    /// ```
    pub fn decode(datagram: &[u8], limits: &KrpcLimits) -> Result<Message, KrpcError> {
        if datagram.len() > limits.max_datagram_len {
            return Err(KrpcError::ignore(IgnoreReason::TooLarge {
                len: datagram.len(),
                limit: limits.max_datagram_len,
            }));
        }
        let bencode_limits = swarmgate_bencode::Limits::new()
            .max_depth(limits.max_depth)
            .max_tokens(datagram.len());
        let document = decode_with(datagram, &bencode_limits)
            .map_err(|e| KrpcError::ignore(IgnoreReason::NotBencode(e)))?;
        let root = document
            .root()
            .as_dict()
            .ok_or(KrpcError::ignore(IgnoreReason::NotADictionary))?;
        let envelope = Envelope::read(root);

        let transaction_id = envelope
            .t
            .and_then(|t| t.as_bytes())
            .ok_or(KrpcError::ignore(IgnoreReason::NoTransactionId))?;
        if transaction_id.len() > limits.max_transaction_id_len {
            return Err(KrpcError::ignore(IgnoreReason::TransactionIdTooLong {
                len: transaction_id.len(),
                limit: limits.max_transaction_id_len,
            }));
        }
        let kind = envelope.y.and_then(|y| y.as_bytes());
        let is_query = kind == Some(b"q");
        let body = match kind {
            Some(b"q") => decode_query(&envelope).map(Body::Query),
            Some(b"r") => decode_response(envelope.r, limits).map(Body::Response),
            Some(b"e") => decode_error(envelope.e),
            _ => return Err(KrpcError::ignore(IgnoreReason::UnknownType)),
        }
        .map_err(|reason| KrpcError::Malformed {
            transaction_id: transaction_id.to_vec(),
            is_query,
            reason,
        })?;

        Ok(Message {
            transaction_id: transaction_id.to_vec(),
            version: envelope.v.and_then(|v| v.as_bytes()).map(<[u8]>::to_vec),
            requester_ip: envelope
                .ip
                .and_then(|ip| ip.as_bytes())
                .and_then(|ip| decode_compact_peer(ip).ok()),
            read_only: envelope
                .ro
                .and_then(|ro| ro.as_int())
                .is_some_and(|ro| ro != 0),
            body,
        })
    }
}

/// Declares a struct holding the keys of one dictionary that a reader wants, with `read`,
/// which finds them in one pass: each key lands in its field, every other key is skipped
/// unread.
macro_rules! dict_keys {
    ($(#[$doc:meta])* $name:ident { $($field:ident = $key:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Default)]
        struct $name<'d, 'a> {
            $($field: Option<Value<'d, 'a>>,)*
        }

        impl<'d, 'a> $name<'d, 'a> {
            fn read(dict: Dict<'d, 'a>) -> Self {
                let mut found = Self::default();
                for (key, value) in dict.iter() {
                    match key {
                        $($key => found.$field = Some(value),)*
                        _ => {}
                    }
                }
                found
            }
        }
    };
}

dict_keys! {
    /// The top-level keys.
    Envelope {
        t = b"t",
        y = b"y",
        q = b"q",
        a = b"a",
        r = b"r",
        e = b"e",
        v = b"v",
        ip = b"ip",
        ro = b"ro",
    }
}

dict_keys! {
    /// The arguments of a query (`a`); each method reads only its own.
    Args {
        id = b"id",
        target = b"target",
        info_hash = b"info_hash",
        want = b"want",
        scrape = b"scrape",
        noseed = b"noseed",
        port = b"port",
        implied_port = b"implied_port",
        token = b"token",
        seed = b"seed",
    }
}

fn decode_query(envelope: &Envelope<'_, '_>) -> Result<Query, InvalidField> {
    let name = bytes("q", required("q", envelope.q)?)?;
    let a = required("a", envelope.a)?
        .as_dict()
        .ok_or(InvalidField::wrong_type("a", DICT))?;
    let args = Args::read(a);
    let id = node_id("id", required("id", args.id)?)?;
    let method = match name {
        b"ping" => Method::Ping,
        b"find_node" => Method::FindNode {
            target: node_id("target", required("target", args.target)?)?,
            want: args.want.map(want).transpose()?,
        },
        b"get_peers" => Method::GetPeers {
            info_hash: info_hash(required("info_hash", args.info_hash)?)?,
            want: args.want.map(want).transpose()?,
            scrape: flag("scrape", args.scrape)?,
            noseed: flag("noseed", args.noseed)?,
        },
        b"announce_peer" => {
            let implied_port = flag("implied_port", args.implied_port)?;
            let port = match args.port {
                Some(port) => int("port", port)?,
                None if implied_port => 0,
                None => return Err(InvalidField::missing("port")),
            };
            let port = match u16::try_from(port) {
                Ok(port) if port != 0 || implied_port => port,
                _ if implied_port => 0,
                _ => return Err(InvalidField::out_of_range("port", port)),
            };
            Method::AnnouncePeer {
                info_hash: info_hash(required("info_hash", args.info_hash)?)?,
                port,
                implied_port,
                token: bytes("token", required("token", args.token)?)?.to_vec(),
                seed: flag("seed", args.seed)?,
            }
        }
        b"sample_infohashes" => Method::SampleInfohashes {
            target: node_id("target", required("target", args.target)?)?,
            want: args.want.map(want).transpose()?,
        },
        other => Method::Unknown {
            name: other.to_vec(),
        },
    };
    Ok(Query { id, method })
}

fn decode_response(
    r: Option<Value<'_, '_>>,
    limits: &KrpcLimits,
) -> Result<Response, InvalidField> {
    let r = required("r", r)?
        .as_dict()
        .ok_or(InvalidField::wrong_type("r", DICT))?;
    let mut id = None;
    let mut response = Response::default();
    for (key, value) in r.iter() {
        match key {
            b"id" => id = Some(node_id("id", value)?),
            b"nodes" => response.nodes = nodes("nodes", value, COMPACT_NODE_V4_LEN, limits)?,
            b"nodes6" => response.nodes6 = nodes("nodes6", value, COMPACT_NODE_V6_LEN, limits)?,
            b"values" => response.values = values(value, limits)?,
            b"token" => response.token = Some(bytes("token", value)?.to_vec()),
            b"BFsd" => response.seeds_bloom = Some(bloom("BFsd", value)?),
            b"BFpe" => response.peers_bloom = Some(bloom("BFpe", value)?),
            b"samples" => response.samples = Some(samples(value, limits)?),
            b"num" => response.num = Some(count("num", value)?),
            b"interval" => response.interval = Some(count("interval", value)?),
            _ => {}
        }
    }
    response.id = id.ok_or(InvalidField::missing("id"))?;
    Ok(response)
}

/// `e`: `[code, message]`. The message may be absent (read as empty) and extra entries are
/// ignored: libtorrent itself had error-parsing bugs (arvidn/libtorrent#96, #303).
fn decode_error(e: Option<Value<'_, '_>>) -> Result<Body, InvalidField> {
    let e = required("e", e)?
        .as_list()
        .ok_or(InvalidField::wrong_type("e", LIST))?;
    let code =
        e.get(0)
            .ok_or(InvalidField::missing("e"))?
            .as_int()
            .ok_or(InvalidField::wrong_type(
                "e",
                "a list starting with an integer",
            ))?;
    let message = match e.get(1) {
        None => String::new(),
        Some(message) => {
            let message = message
                .as_bytes()
                .ok_or(InvalidField::wrong_type("e", "[code, message string]"))?;
            String::from_utf8_lossy(message).into_owned()
        }
    };
    Ok(Body::Error { code, message })
}

fn required<'d, 'a>(
    field: &'static str,
    value: Option<Value<'d, 'a>>,
) -> Result<Value<'d, 'a>, InvalidField> {
    value.ok_or(InvalidField::missing(field))
}

fn bytes<'a>(field: &'static str, value: Value<'_, 'a>) -> Result<&'a [u8], InvalidField> {
    value
        .as_bytes()
        .ok_or(InvalidField::wrong_type(field, STRING))
}

fn int(field: &'static str, value: Value<'_, '_>) -> Result<i64, InvalidField> {
    value
        .as_int()
        .ok_or(InvalidField::wrong_type(field, INTEGER))
}

/// An optional integer flag: absent or 0 is false, anything else true.
fn flag(field: &'static str, value: Option<Value<'_, '_>>) -> Result<bool, InvalidField> {
    value.map_or(Ok(false), |v| int(field, v).map(|v| v != 0))
}

fn count(field: &'static str, value: Value<'_, '_>) -> Result<u32, InvalidField> {
    let n = int(field, value)?;
    u32::try_from(n).map_err(|_| InvalidField::out_of_range(field, n))
}

fn twenty(field: &'static str, value: Value<'_, '_>) -> Result<[u8; 20], InvalidField> {
    let b = bytes(field, value)?;
    b.try_into()
        .map_err(|_| InvalidField::wrong_length(field, "20", b.len()))
}

fn node_id(field: &'static str, value: Value<'_, '_>) -> Result<NodeId, InvalidField> {
    twenty(field, value).map(NodeId)
}

fn info_hash(value: Value<'_, '_>) -> Result<InfoHashV1, InvalidField> {
    twenty("info_hash", value).map(InfoHashV1)
}

/// BEP 32 `want`: a list of `n4` / `n6`; other entries are ignored.
fn want(value: Value<'_, '_>) -> Result<Want, InvalidField> {
    let list = value
        .as_list()
        .ok_or(InvalidField::wrong_type("want", LIST))?;
    let mut want = Want::default();
    for entry in list.iter() {
        match entry.as_bytes() {
            Some(b"n4") => want.v4 = true,
            Some(b"n6") => want.v6 = true,
            _ => {}
        }
    }
    Ok(want)
}

fn nodes(
    field: &'static str,
    value: Value<'_, '_>,
    entry_len: usize,
    limits: &KrpcLimits,
) -> Result<Vec<NodeInfo>, InvalidField> {
    let b = bytes(field, value)?;
    if b.len() % entry_len != 0 {
        let expected = if entry_len == COMPACT_NODE_V4_LEN {
            "a multiple of 26"
        } else {
            "a multiple of 38"
        };
        return Err(InvalidField::wrong_length(field, expected, b.len()));
    }
    let count = b.len() / entry_len;
    if count > limits.max_nodes {
        return Err(InvalidField::too_many(field, limits.max_nodes, count));
    }
    let decoded = if entry_len == COMPACT_NODE_V4_LEN {
        NodeInfo::decode_v4(b)
    } else {
        NodeInfo::decode_v6(b)
    };
    // The length was checked above, so the decoders cannot refuse it.
    decoded.ok_or(InvalidField::wrong_length(field, "whole entries", b.len()))
}

fn values(value: Value<'_, '_>, limits: &KrpcLimits) -> Result<Vec<SocketAddr>, InvalidField> {
    let list = value
        .as_list()
        .ok_or(InvalidField::wrong_type("values", LIST))?;
    if list.len() > limits.max_values {
        return Err(InvalidField::too_many(
            "values",
            limits.max_values,
            list.len(),
        ));
    }
    let mut peers = Vec::with_capacity(list.len());
    for entry in list.iter() {
        let b = bytes("values", entry)?;
        let peer = decode_compact_peer(b)
            .map_err(|_| InvalidField::wrong_length("values", "6 or 18 per entry", b.len()))?;
        peers.push(peer);
    }
    Ok(peers)
}

fn bloom(field: &'static str, value: Value<'_, '_>) -> Result<Box<[u8; BLOOM_LEN]>, InvalidField> {
    let b = bytes(field, value)?;
    let bits: [u8; BLOOM_LEN] = b
        .try_into()
        .map_err(|_| InvalidField::wrong_length(field, "256", b.len()))?;
    Ok(Box::new(bits))
}

fn samples(value: Value<'_, '_>, limits: &KrpcLimits) -> Result<Vec<[u8; 20]>, InvalidField> {
    let b = bytes("samples", value)?;
    if b.len() % 20 != 0 {
        return Err(InvalidField::wrong_length(
            "samples",
            "a multiple of 20",
            b.len(),
        ));
    }
    let count = b.len() / 20;
    if count > limits.max_samples {
        return Err(InvalidField::too_many("samples", limits.max_samples, count));
    }
    Ok(b.chunks_exact(20)
        .map(|c| {
            let mut hash = [0u8; 20];
            hash.copy_from_slice(c);
            hash
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use swarmgate_bencode::decode;

    use super::*;

    fn with<T>(bencoded: &[u8], f: impl FnOnce(Value<'_, '_>) -> T) -> T {
        let document = decode(bencoded).expect("valid bencode");
        f(document.root())
    }

    #[test]
    fn flags_are_integers_and_absent_means_false() {
        assert_eq!(flag("seed", None), Ok(false));
        assert_eq!(with(b"i0e", |v| flag("seed", Some(v))), Ok(false));
        assert_eq!(with(b"i1e", |v| flag("seed", Some(v))), Ok(true));
        assert_eq!(with(b"i7e", |v| flag("seed", Some(v))), Ok(true));
        assert_eq!(
            with(b"1:1", |v| flag("seed", Some(v))),
            Err(InvalidField::wrong_type("seed", INTEGER))
        );
    }

    #[test]
    fn counts_fit_u32() {
        assert_eq!(with(b"i4294967295e", |v| count("num", v)), Ok(u32::MAX));
        assert_eq!(
            with(b"i4294967296e", |v| count("num", v)),
            Err(InvalidField::out_of_range("num", 4_294_967_296))
        );
    }

    #[test]
    fn nodes6_lengths_and_counts_are_checked_before_decoding() {
        let limits = KrpcLimits {
            max_nodes: 1,
            ..KrpcLimits::default()
        };
        let one = [b"38:".as_slice(), &[7; 38]].concat();
        let nodes6 = with(&one, |v| nodes("nodes6", v, COMPACT_NODE_V6_LEN, &limits)).unwrap();
        assert_eq!(nodes6.len(), 1);
        assert!(nodes6[0].addr.is_ipv6());
        let two = [b"76:".as_slice(), &[7; 76]].concat();
        assert_eq!(
            with(&two, |v| nodes("nodes6", v, COMPACT_NODE_V6_LEN, &limits)),
            Err(InvalidField::too_many("nodes6", 1, 2))
        );
        let odd = [b"26:".as_slice(), &[7; 26]].concat();
        assert_eq!(
            with(&odd, |v| nodes("nodes6", v, COMPACT_NODE_V6_LEN, &limits)),
            Err(InvalidField::wrong_length("nodes6", "a multiple of 38", 26))
        );
    }

    #[test]
    fn the_envelope_is_found_in_any_order() {
        let document = decode(b"d2:roi1e1:y1:r1:t1:x1:zi0e1:rde2:ip0:e").unwrap();
        let envelope = Envelope::read(document.root().as_dict().unwrap());
        assert_eq!(envelope.t.and_then(|t| t.as_bytes()), Some(&b"x"[..]));
        assert_eq!(envelope.y.and_then(|y| y.as_bytes()), Some(&b"r"[..]));
        assert_eq!(envelope.ro.and_then(|ro| ro.as_int()), Some(1));
        assert!(envelope.r.is_some() && envelope.ip.is_some());
        assert!(envelope.a.is_none() && envelope.q.is_none() && envelope.v.is_none());
    }

    #[test]
    fn want_ignores_what_it_does_not_know() {
        let want_of = |b: &[u8]| with(b, want);
        assert_eq!(want_of(b"le"), Ok(Want::default()));
        assert_eq!(
            want_of(b"l2:n4i6e2:N6e"),
            Ok(Want {
                v4: true,
                v6: false
            })
        );
        assert_eq!(
            want_of(b"2:n4"),
            Err(InvalidField::wrong_type("want", LIST))
        );
    }
}
