//! Sweeps over the KRPC codec: every truncation of valid messages fails cleanly, single-byte
//! mutations and arbitrary bytes never panic (and whatever decodes re-encodes to itself), and
//! random messages of every shape round-trip.

use std::net::SocketAddr;

use proptest::prelude::*;
use swarmgate_core::InfoHashV1;
use swarmgate_dht::{Body, KrpcLimits, Message, Method, NodeId, NodeInfo, Query, Response, Want};

use crate::krpc::{ANSWERER, aa, decode, encode};

/// Messages every codec sweep starts from: one of each shape.
fn samples() -> Vec<Vec<u8>> {
    let mut all = vec![
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".to_vec(),
        b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
        b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee".to_vec(),
        b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re".to_vec(),
    ];
    let mut response = Response::new(ANSWERER);
    response.nodes6 = vec![NodeInfo {
        id: NodeId([6; 20]),
        addr: "[2001:db8::6]:6881".parse().unwrap(),
    }];
    response.samples = Some(vec![[1; 20]]);
    response.seeds_bloom = Some(Box::new([3; 256]));
    let mut message = aa(Body::Response(response));
    message.requester_ip = Some("203.0.113.5:6881".parse().unwrap());
    message.read_only = true;
    all.push(encode(&message));
    all
}

#[test]
fn every_truncation_of_a_valid_message_is_an_error() {
    for bytes in samples() {
        assert!(decode(&bytes).is_ok());
        for end in 0..bytes.len() {
            assert!(decode(&bytes[..end]).is_err(), "prefix of {end} bytes");
        }
    }
}

#[test]
fn every_single_byte_change_decodes_or_fails_cleanly() {
    for bytes in samples() {
        for at in 0..bytes.len() {
            for replacement in [b'0', b'9', b'e', b'd', b'l', b'i', b':', 0xff] {
                let mut mutated = bytes.clone();
                mutated[at] = replacement;
                if let Ok(message) = decode(&mutated) {
                    assert_eq!(decode(&encode(&message)).unwrap(), message);
                }
            }
        }
    }
}

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 20]>().prop_map(NodeId)
}

fn v4() -> impl Strategy<Value = SocketAddr> {
    (any::<[u8; 4]>(), any::<u16>()).prop_map(SocketAddr::from)
}

fn v6() -> impl Strategy<Value = SocketAddr> {
    (any::<[u8; 16]>(), any::<u16>()).prop_map(SocketAddr::from)
}

fn want() -> impl Strategy<Value = Option<Want>> {
    proptest::option::of((any::<bool>(), any::<bool>()).prop_map(|(v4, v6)| Want { v4, v6 }))
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn method() -> impl Strategy<Value = Method> {
    let hash = any::<[u8; 20]>().prop_map(InfoHashV1);
    prop_oneof![
        Just(Method::Ping),
        (node_id(), want()).prop_map(|(target, want)| Method::FindNode { target, want }),
        (hash.clone(), want(), any::<bool>(), any::<bool>()).prop_map(
            |(info_hash, want, scrape, noseed)| Method::GetPeers {
                info_hash,
                want,
                scrape,
                noseed
            }
        ),
        (hash, any::<u16>(), any::<bool>(), bytes(24), any::<bool>()).prop_map(
            |(info_hash, port, implied_port, token, seed)| Method::AnnouncePeer {
                info_hash,
                port: if implied_port { port } else { port.max(1) },
                implied_port,
                token,
                seed
            }
        ),
        (node_id(), want()).prop_map(|(target, want)| Method::SampleInfohashes { target, want }),
        "[a-z_]{0,20}"
            .prop_filter("an unknown name", |n| {
                !matches!(
                    n.as_str(),
                    "ping" | "find_node" | "get_peers" | "announce_peer" | "sample_infohashes"
                )
            })
            .prop_map(|name| Method::Unknown {
                name: name.into_bytes()
            }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    let nodes = |addr: BoxedStrategy<SocketAddr>| {
        proptest::collection::vec(
            (node_id(), addr).prop_map(|(id, addr)| NodeInfo { id, addr }),
            0..9,
        )
    };
    let bloom = proptest::option::of(any::<u8>().prop_map(|b| Box::new([b; 256])));
    (
        node_id(),
        nodes(v4().boxed()),
        nodes(v6().boxed()),
        proptest::collection::vec(prop_oneof![v4(), v6()], 0..20),
        proptest::option::of(bytes(20)),
        (bloom.clone(), bloom),
        proptest::option::of(proptest::collection::vec(any::<[u8; 20]>(), 0..5)),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(
            |(
                id,
                nodes,
                nodes6,
                values,
                token,
                (seeds_bloom, peers_bloom),
                samples,
                num,
                interval,
            )| {
                Response {
                    id,
                    nodes,
                    nodes6,
                    values,
                    token,
                    seeds_bloom,
                    peers_bloom,
                    samples,
                    num,
                    interval,
                }
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    let body = prop_oneof![
        (node_id(), method()).prop_map(|(id, method)| Body::Query(Query { id, method })),
        response().prop_map(Body::Response),
        (any::<i64>(), ".{0,30}").prop_map(|(code, message)| Body::Error { code, message }),
    ];
    (
        bytes(9),
        proptest::option::of(bytes(8)),
        proptest::option::of(prop_oneof![v4(), v6()]),
        any::<bool>(),
        body,
    )
        .prop_map(
            |(transaction_id, version, requester_ip, read_only, body)| Message {
                transaction_id,
                version,
                requester_ip,
                read_only,
                body,
            },
        )
}

proptest! {
    #[test]
    fn messages_round_trip(message in message()) {
        let bytes = encode(&message);
        // Two blooms, 8 + 8 nodes and 20 values together exceed one MTU.
        let roomy = KrpcLimits { max_datagram_len: 4096, ..KrpcLimits::default() };
        prop_assert_eq!(Message::decode(&bytes, &roomy).unwrap(), message.clone());
        // Appending to a buffer that already holds something keeps it.
        let mut out = b"xyz".to_vec();
        message.encode(&mut out);
        prop_assert_eq!(&out[3..], &bytes[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(600)) {
        if let Ok(message) = decode(&data) {
            prop_assert_eq!(decode(&encode(&message)).unwrap(), message);
        }
    }

    #[test]
    fn arbitrary_suffixes_after_a_valid_start_never_panic(
        cut in 0usize..60,
        tail in bytes(80),
    ) {
        let start = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456";
        let data = [&start[..cut.min(start.len())], &tail[..]].concat();
        if let Ok(message) = decode(&data) {
            prop_assert_eq!(decode(&encode(&message)).unwrap(), message);
        }
    }
}
