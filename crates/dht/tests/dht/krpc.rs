//! The KRPC wire against BEP 5's example messages; what real nodes send (any transaction id,
//! unknown methods, extra keys, keys out of order, `v`, `ip`, `ro`); what is refused, and how
//! the node is told to react. The BEP 32, 33, 43 and 51 keys are in krpc_beps.rs, the
//! round-trip and never-panic sweeps in krpc_props.rs; the helpers here serve all three.

use std::net::SocketAddr;

use swarmgate_core::InfoHashV1;
use swarmgate_dht::{
    Body, ERROR_GENERIC, IgnoreReason, InvalidField, KrpcError, KrpcLimits, Message, Method,
    NodeId, NodeInfo, Problem, Query, Response,
};

pub(crate) const QUERIER: NodeId = NodeId(*b"abcdefghij0123456789");
pub(crate) const ANSWERER: NodeId = NodeId(*b"mnopqrstuvwxyz123456");
pub(crate) const HASH: InfoHashV1 = InfoHashV1(*b"mnopqrstuvwxyz123456");

pub(crate) fn decode(datagram: &[u8]) -> Result<Message, KrpcError> {
    Message::decode(datagram, &KrpcLimits::default())
}

pub(crate) fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out);
    out
}

pub(crate) fn aa(body: Body) -> Message {
    Message {
        transaction_id: b"aa".to_vec(),
        version: None,
        requester_ip: None,
        read_only: false,
        body,
    }
}

pub(crate) fn query(method: Method) -> Body {
    Body::Query(Query {
        id: QUERIER,
        method,
    })
}

/// The field a decode error names, and whether the message was a query.
pub(crate) fn malformed(datagram: &[u8]) -> (bool, InvalidField) {
    match decode(datagram) {
        Err(KrpcError::Malformed {
            is_query, reason, ..
        }) => (is_query, reason),
        other => panic!("expected a malformed message, got {other:?}"),
    }
}

pub(crate) fn ignored(datagram: &[u8]) -> IgnoreReason {
    match decode(datagram) {
        Err(KrpcError::Ignore { reason }) => reason,
        other => panic!("expected an ignored datagram, got {other:?}"),
    }
}

/// `bytes` decode to `expected`, which encodes back to the very same bytes.
pub(crate) fn assert_canonical(bytes: &[u8], expected: &Message) {
    let text = String::from_utf8_lossy(bytes);
    assert_eq!(&decode(bytes).expect(&text), expected, "{text}");
    assert_eq!(encode(expected), bytes, "{text}");
}

pub(crate) fn values_response(values: &[SocketAddr]) -> Message {
    let mut response = Response::new(QUERIER);
    response.token = Some(b"aoeusnth".to_vec());
    response.values = values.to_vec();
    aa(Body::Response(response))
}

/// BEP 5's example messages, which are canonical: each decodes to the expected message and
/// encodes back to the very same bytes.
#[test]
fn bep5_examples_decode_and_re_encode_byte_exact() {
    let find_node = Method::FindNode {
        target: ANSWERER,
        want: None,
    };
    let get_peers = Method::GetPeers {
        info_hash: HASH,
        want: None,
        scrape: false,
        noseed: false,
    };
    let announce = Method::AnnouncePeer {
        info_hash: HASH,
        port: 6881,
        implied_port: true,
        token: b"aoeusnth".to_vec(),
        seed: false,
    };
    let examples: Vec<(&[u8], Message)> = vec![
        (
            b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
            aa(query(Method::Ping)),
        ),
        (
            b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
            aa(Body::Response(Response::new(ANSWERER))),
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
            aa(query(find_node)),
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
            aa(query(get_peers)),
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
            values_response(&[
                SocketAddr::from(([b'a', b'x', b'j', b'e'], u16::from_be_bytes(*b".u"))),
                SocketAddr::from(([b'i', b'd', b'h', b't'], u16::from_be_bytes(*b"nm"))),
            ]),
        ),
        (
            b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
            aa(query(announce)),
        ),
        (
            b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
            aa(Body::Error {
                code: ERROR_GENERIC,
                message: "A Generic Error Ocurred".into(),
            }),
        ),
    ];
    for (bytes, expected) in examples {
        assert_canonical(bytes, &expected);
    }
}

/// BEP 5's `nodes9:def456...` is a placeholder, not 26-byte compact nodes: refused, naming
/// the field. A real find_node answer with two nodes decodes and re-encodes exactly.
#[test]
fn bep5_nodes_placeholder_is_refused_and_real_nodes_round_trip() {
    for bytes in [
        &b"d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re"[..],
        b"d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re",
    ] {
        let (is_query, reason) = malformed(bytes);
        assert!(!is_query);
        assert_eq!(
            reason,
            InvalidField {
                field: "nodes",
                problem: Problem::WrongLength {
                    expected: "a multiple of 26",
                    actual: 9
                }
            }
        );
    }
    let mut nodes = Vec::new();
    let mut compact = Vec::new();
    for (i, addr) in ["192.0.2.1:6881", "198.51.100.2:51413"].iter().enumerate() {
        let node = NodeInfo {
            id: NodeId([i as u8 + 1; 20]),
            addr: addr.parse().unwrap(),
        };
        node.encode(&mut compact);
        nodes.push(node);
    }
    let mut bytes = b"d1:rd2:id20:0123456789abcdefghij5:nodes52:".to_vec();
    bytes.extend_from_slice(&compact);
    bytes.extend_from_slice(b"e1:t2:aa1:y1:re");
    let mut response = Response::new(NodeId(*b"0123456789abcdefghij"));
    response.nodes = nodes;
    assert_canonical(&bytes, &aa(Body::Response(response)));
}

#[test]
fn transaction_ids_of_0_to_8_bytes_echo_exactly() {
    for len in 0..=8u8 {
        let tid: Vec<u8> = (0..len).map(|i| i.wrapping_mul(97) ^ 0xf0).collect();
        let mut datagram = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t".to_vec();
        datagram.extend_from_slice(format!("{len}:").as_bytes());
        datagram.extend_from_slice(&tid);
        datagram.extend_from_slice(b"1:y1:qe");
        let ping = decode(&datagram).unwrap();
        assert_eq!(ping.transaction_id, tid);
        assert_eq!(encode(&ping), datagram, "a query re-encodes exactly");
        let pong = encode(&Message::response(
            ping.transaction_id,
            Response::new(ANSWERER),
        ));
        let mut expected = b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t".to_vec();
        expected.extend_from_slice(format!("{len}:").as_bytes());
        expected.extend_from_slice(&tid);
        expected.extend_from_slice(b"1:y1:re");
        assert_eq!(pong, expected, "the answer echoes {len} bytes");
    }
}

#[test]
fn transaction_ids_beyond_the_limit_are_ignored() {
    let datagram = |len: usize| {
        let mut d = format!("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t{len}:").into_bytes();
        d.extend(std::iter::repeat_n(b'x', len));
        d.extend_from_slice(b"1:y1:qe");
        d
    };
    assert!(decode(&datagram(32)).is_ok());
    assert_eq!(
        ignored(&datagram(33)),
        IgnoreReason::TransactionIdTooLong { len: 33, limit: 32 }
    );
    let strict = KrpcLimits {
        max_transaction_id_len: 4,
        ..KrpcLimits::default()
    };
    assert!(Message::decode(&datagram(4), &strict).is_ok());
    assert!(Message::decode(&datagram(5), &strict).is_err());
}

#[test]
fn unknown_methods_keep_the_querier_id() {
    // BEP 44 `get`, with arguments we do not read.
    let get = b"d1:ad2:id20:abcdefghij01234567893:seqi4e6:target20:mnopqrstuvwxyz123456e1:q3:get1:t2:aa1:y1:qe";
    let message = decode(get).unwrap();
    assert_eq!(
        message.body,
        query(Method::Unknown {
            name: b"get".to_vec()
        })
    );
    let bare = encode(&message);
    assert_eq!(
        bare,
        b"d1:ad2:id20:abcdefghij0123456789e1:q3:get1:t2:aa1:y1:qe"
    );
    assert_eq!(decode(&bare).unwrap(), message);
    // Without an id the querier cannot be learned: answered with 203.
    let err = decode(b"d1:ade1:q3:get1:t2:aa1:y1:qe").unwrap_err();
    let reply = err.reply().expect("a malformed query is answered");
    assert_eq!(
        encode(&reply),
        b"d1:eli203e21:invalid `id`: missinge1:t2:aa1:y1:ee"
    );
}

#[test]
fn extra_keys_anywhere_and_any_key_order_are_accepted() {
    let canonical =
        decode(b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe")
            .unwrap();
    let messy = b"d1:y1:q1:t2:aa5:extrald1:xi1eee1:q9:get_peers1:ad9:info_hash20:mnopqrstuvwxyz1234561:zi-3e2:id20:abcdefghij01234567894:nestd1:al1:beeee";
    assert_eq!(decode(messy).unwrap(), canonical);
    // A ping carrying a `target` of the wrong type: ping does not read it.
    let ping = b"d1:ad2:id20:abcdefghij01234567896:targeti5ee1:q4:ping1:t2:aa1:y1:qe";
    assert_eq!(decode(ping).unwrap().body, query(Method::Ping));
    // Unknown keys in a response and the libtorrent `p` key.
    let pong = b"d2:ip6:\x7f\x00\x00\x01\x1a\xe11:rd2:id20:mnopqrstuvwxyz1234561:pi6881e5:zzzzzi0ee1:t2:aa1:y1:re";
    let message = decode(pong).unwrap();
    assert_eq!(message.body, Body::Response(Response::new(ANSWERER)));
    assert_eq!(
        message.requester_ip,
        Some("127.0.0.1:6881".parse().unwrap())
    );
}

#[test]
fn duplicate_keys_and_non_krpc_datagrams_are_ignored() {
    assert!(matches!(
        ignored(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:t2:bb1:y1:qe"),
        IgnoreReason::NotBencode(_)
    ));
    assert!(matches!(ignored(b""), IgnoreReason::NotBencode(_)));
    assert!(matches!(
        ignored(b"GET / HTTP/1.1\r\n"),
        IgnoreReason::NotBencode(_)
    ));
    assert_eq!(ignored(b"l1:t2:aae"), IgnoreReason::NotADictionary);
    assert_eq!(ignored(b"d1:y1:qe"), IgnoreReason::NoTransactionId);
    assert_eq!(ignored(b"d1:ti1e1:y1:qe"), IgnoreReason::NoTransactionId);
    assert_eq!(ignored(b"d1:t2:aae"), IgnoreReason::UnknownType);
    assert_eq!(ignored(b"d1:t2:aa1:y1:xe"), IgnoreReason::UnknownType);
    let huge = vec![b'x'; 1501];
    assert_eq!(
        ignored(&huge),
        IgnoreReason::TooLarge {
            len: 1501,
            limit: 1500
        }
    );
    let deep = [&b"d1:t2:aa1:y1:q1:x"[..], &[b'l'; 40], &[b'e'; 41]].concat();
    assert!(matches!(ignored(&deep), IgnoreReason::NotBencode(_)));
}

#[test]
fn ro_v_and_ip_are_read_and_written() {
    let bytes = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:v4:LT\x02\x001:y1:qe";
    let message = decode(bytes).unwrap();
    assert!(message.read_only);
    assert_eq!(message.version.as_deref(), Some(&b"LT\x02\x00"[..]));
    assert_eq!(encode(&message), bytes);

    let mut pong = aa(Body::Response(Response::new(ANSWERER)));
    pong.requester_ip = Some("[2001:db8::1]:6881".parse().unwrap());
    pong.version = Some(b"a much longer version string".to_vec());
    let bytes = encode(&pong);
    assert!(bytes.starts_with(b"d2:ip18:\x20\x01\x0d\xb8"));
    assert!(
        !bytes.windows(4).any(|w| w == b"2:ro"),
        "ro only when read-only"
    );
    assert_eq!(decode(&bytes).unwrap(), pong);

    // Envelope keys of the wrong shape are dropped, not fatal.
    let odd = b"d2:ip3:abc1:rd2:id20:mnopqrstuvwxyz123456e2:ro1:x1:t2:aa1:vi3e1:y1:re";
    let message = decode(odd).unwrap();
    assert_eq!(message, aa(Body::Response(Response::new(ANSWERER))));
    let zero = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi0e1:t2:aa1:y1:qe";
    assert!(!decode(zero).unwrap().read_only);
}

#[test]
fn ids_and_hashes_must_be_20_bytes() {
    let (is_query, reason) = malformed(b"d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe");
    assert!(is_query);
    assert_eq!(reason.field, "id");
    assert_eq!(
        reason.problem,
        Problem::WrongLength {
            expected: "20",
            actual: 19
        }
    );
    let (_, reason) =
        malformed(b"d1:ad2:id20:abcdefghij01234567899:info_hash3:abce1:q9:get_peers1:t2:aa1:y1:qe");
    assert_eq!(reason.field, "info_hash");
    let (is_query, reason) = malformed(b"d1:rd5:token1:xe1:t2:aa1:y1:re");
    assert!(!is_query);
    assert_eq!(
        reason,
        InvalidField {
            field: "id",
            problem: Problem::Missing
        }
    );
    let (_, reason) = malformed(b"d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe");
    assert_eq!(reason.field, "target");
    let (_, reason) = malformed(b"d1:q4:ping1:t2:aa1:y1:qe");
    assert_eq!(reason.field, "a");
    let (_, reason) = malformed(b"d1:a0:1:q4:ping1:t2:aa1:y1:qe");
    assert_eq!(reason.field, "a");
    let (_, reason) = malformed(b"d1:ad2:id20:abcdefghij0123456789e1:qi1e1:t2:aa1:y1:qe");
    assert_eq!(reason.field, "q");
}

#[test]
fn errors_are_read_leniently_and_never_answered() {
    let no_message = decode(b"d1:eli202ee1:t2:aa1:y1:ee").unwrap();
    assert_eq!(
        no_message.body,
        Body::Error {
            code: 202,
            message: String::new()
        }
    );
    let extra = decode(b"d1:eli204e6:Methodi9ee1:t0:1:y1:ee").unwrap();
    assert_eq!(
        extra.body,
        Body::Error {
            code: 204,
            message: "Method".into()
        }
    );
    for bytes in [
        &b"d1:e3:bad1:t2:aa1:y1:ee"[..],
        b"d1:ele1:t2:aa1:y1:ee",
        b"d1:el3:bade1:t2:aa1:y1:ee",
        b"d1:t2:aa1:y1:ee",
    ] {
        let err = decode(bytes).unwrap_err();
        assert!(
            matches!(
                err,
                KrpcError::Malformed {
                    is_query: false,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.reply(), None, "never answer an error");
    }
}
