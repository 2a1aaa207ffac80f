//! Garbage at the node: truncated and lying-length bencode, oversized datagrams, deep nesting,
//! every one- and two-byte string and random KRPC-shaped noise. Each datagram is dropped or
//! answered with error 203 (a malformed query), never panics, never gets a large answer, and is
//! counted.

use std::net::SocketAddr;
use std::time::Instant;

use swarmgate_core::{InfoHashV1, SplitMix64};
use swarmgate_dht::{
    Body, ERROR_PROTOCOL, KrpcError, KrpcLimits, Message, Method, Node, NodeId, NodeInfo,
    NodeStats, Response, Want,
};

use super::{encode, exchange, public_v4, public_v6, unlimited};

/// Every datagram leaves a trace in one of these.
fn accounted(stats: &NodeStats) -> u64 {
    let d = stats.drops;
    d.not_krpc
        + d.malformed_query
        + d.malformed_answer
        + d.unexpected_answer
        + d.rate_limited
        + d.read_only
        + stats.queries_received
        + stats.answers_received
        + stats.errors_received
}

/// Feeds `datagram` and checks what the node made of it.
fn feed(node: &mut Node, now: Instant, from: SocketAddr, datagram: &[u8]) {
    let before = accounted(&node.stats(now));
    let reply = exchange(node, now, from, datagram);
    assert!(
        accounted(&node.stats(now)) > before,
        "uncounted: {:?}",
        String::from_utf8_lossy(datagram)
    );
    let Some(reply) = reply else { return };
    assert!(reply.len() <= (12 * datagram.len()).min(1_200), "amplified");
    let reply = super::decode(&reply);
    match Message::decode(datagram, &KrpcLimits::default()) {
        Err(KrpcError::Malformed {
            transaction_id,
            is_query: true,
            ..
        }) => {
            assert_eq!(reply.transaction_id, transaction_id);
            assert!(matches!(
                reply.body,
                Body::Error {
                    code: ERROR_PROTOCOL,
                    ..
                }
            ));
        }
        Ok(Message {
            body: Body::Query(_),
            transaction_id,
            ..
        }) => assert_eq!(reply.transaction_id, transaction_id),
        other => panic!("{other:?} was answered with {reply:?}"),
    }
}

/// Well-formed datagrams of every kind, to cut short.
fn samples() -> Vec<Vec<u8>> {
    let id = NodeId([0x31; 20]);
    let info_hash = InfoHashV1([0x32; 20]);
    let both = Some(Want { v4: true, v6: true });
    let methods = [
        Method::Ping,
        Method::FindNode {
            target: id,
            want: both,
        },
        Method::GetPeers {
            info_hash,
            want: both,
            scrape: true,
            noseed: true,
        },
        Method::AnnouncePeer {
            info_hash,
            port: 6881,
            implied_port: true,
            token: vec![7; 8],
            seed: true,
        },
        Method::SampleInfohashes {
            target: id,
            want: None,
        },
    ];
    let mut out: Vec<Vec<u8>> = methods
        .into_iter()
        .map(|method| encode(&Message::query(b"tt".to_vec(), id, method)))
        .collect();
    let mut response = Response::new(id);
    response.nodes = vec![
        NodeInfo {
            id,
            addr: public_v4(1)
        };
        2
    ];
    response.nodes6 = vec![NodeInfo {
        id,
        addr: public_v6(1),
    }];
    response.values = vec![public_v4(2), public_v6(2)];
    response.token = Some(vec![1; 8]);
    response.samples = Some(vec![[3; 20]]);
    response.num = Some(1);
    let mut message = Message::response(b"tt".to_vec(), response);
    message.requester_ip = Some(public_v4(3));
    message.version = Some(b"XX01".to_vec());
    message.read_only = true;
    out.push(encode(&message));
    out.push(encode(&Message::error(b"tt".to_vec(), 201, "nope")));
    out
}

#[test]
fn every_truncation_of_every_kind_of_message_is_dropped_or_answered_203() {
    let now = Instant::now();
    let mut node = Node::new(unlimited(), now, 31, None);
    for sample in samples() {
        for len in 0..sample.len() {
            feed(&mut node, now, public_v4(10), &sample[..len]);
            feed(&mut node, now, public_v6(10), &sample[..len]);
        }
    }
    assert!(node.stats(now).drops.not_krpc > 0);
}

#[test]
fn lying_lengths_huge_datagrams_and_deep_nesting_are_dropped_and_counted() {
    let now = Instant::now();
    let mut node = Node::new(unlimited(), now, 32, None);
    let id = [b'i'; 20];
    let ping_with = |extra: &[u8]| {
        [
            &b"d1:ad2:id20:"[..],
            &id,
            b"e",
            extra,
            b"1:q4:ping1:t2:aa1:y1:qe",
        ]
        .concat()
    };
    let mut hostile: Vec<Vec<u8>> = vec![
        b"d1:ad2:id4294967295:abc".to_vec(),
        b"d1:t99999999999999999999:x1:y1:qe".to_vec(),
        b"d1:t-1:1:y1:qe".to_vec(),
        b"d1:t2:aa1:y1:qe".to_vec(),
        b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe".to_vec(),
        b"d1:ti1e1:y1:qe".to_vec(),
        b"d1:t2:aa1:y1:ze".to_vec(),
        b"d1:t2:aa1:y1:q1:q4:ping1:ad2:id20:short".to_vec(),
        b"i-0e".to_vec(),
        b"ld1:t2:aae".to_vec(),
        ping_with(b"1:x18446744073709551616:"),
        ping_with(b"1:xi99999999999999999999999e"),
        // Nesting just past the decoder's limit in a key nobody reads.
        ping_with(&[vec![b'l'; 40], vec![b'e'; 40]].concat()),
        [vec![b'l'; 1_400], vec![b'e'; 1_400]].concat()[..1_500].to_vec(),
        [b'd'; 1_500].to_vec(),
        vec![0; 65_536],
        ping_with(&[&b"1:v65000:"[..], &[b'v'; 65_000]].concat()),
    ];
    hostile.push(ping_with(&[&b"1:x1440:"[..], &[b'x'; 1_440]].concat()));
    for datagram in &hostile {
        feed(&mut node, now, public_v4(20), datagram);
    }
    let drops = node.stats(now).drops;
    assert_eq!(
        (drops.not_krpc, drops.malformed_query),
        (16, 2),
        "{drops:?}"
    );
    // Nesting within the limit, in an ignored key, is still a ping.
    let nested = ping_with(&[&b"1:x"[..], &[b'l'; 20], &[b'e'; 20]].concat());
    assert!(exchange(&mut node, now, public_v4(21), &nested).is_some());
}

#[test]
fn every_one_and_two_byte_datagram_is_dropped_and_counted() {
    let now = Instant::now();
    let mut node = Node::new(unlimited(), now, 33, None);
    for a in 0..=255u8 {
        feed(&mut node, now, public_v4(30), &[a]);
        for b in 0..=255u8 {
            feed(&mut node, now, public_v4(30), &[a, b]);
        }
    }
    let stats = node.stats(now);
    assert_eq!(stats.drops.not_krpc, 256 + 256 * 256);
    assert_eq!(stats.answers_sent + stats.errors_sent, 0);
}

#[test]
fn random_krpc_shaped_noise_never_panics_and_is_always_counted() {
    let now = Instant::now();
    let mut node = Node::new(unlimited(), now, 34, None);
    let pieces: [&[u8]; 24] = [
        b"d",
        b"l",
        b"e",
        b"i",
        b"0",
        b"1",
        b"2",
        b"9",
        b":",
        b"-",
        b"i1e",
        b"1:t",
        b"2:tt",
        b"1:y",
        b"1:q",
        b"1:r",
        b"1:a",
        b"2:id",
        b"20:",
        b"4:ping",
        b"9:get_peers",
        b"5:nodes",
        b"26:",
        b"5:token",
    ];
    let mut rng = SplitMix64::new(35);
    for n in 0..20_000u32 {
        let len = rng.below(40);
        let mut datagram = Vec::new();
        for _ in 0..len {
            datagram.extend_from_slice(pieces[rng.below(pieces.len())]);
            if rng.below(4) == 0 {
                datagram.push(rng.next_u64() as u8);
            }
        }
        let from = if n % 2 == 0 {
            public_v4(40)
        } else {
            public_v6(40)
        };
        feed(&mut node, now, from, &datagram);
    }
}
