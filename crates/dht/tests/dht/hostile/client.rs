//! The node as a client under attack: answers it did not ask for, answers from another address
//! than asked, answering ids that break BEP 42, read-only answerers, and answers whose fields
//! lie about their lengths. None of them may enter the routing table.

use std::net::SocketAddr;
use std::time::Instant;

use swarmgate_dht::{Body, Message, Node, NodeConfig, NodeId, NodeInfo, Response};

use super::{decode, drain, encode, exchange, public_v4, secure_id};

/// A node bootstrapping from `routers`, and the transaction id of its query to each.
fn bootstrapping(config: NodeConfig, now: Instant, routers: &[SocketAddr]) -> (Node, Vec<Vec<u8>>) {
    let mut node = Node::new(config, now, 21, None);
    node.bootstrap(now, routers.iter().copied());
    let sent = drain(&mut node);
    let tids = routers
        .iter()
        .map(|router| {
            let (_, query) = sent
                .iter()
                .find(|(to, _)| to == router)
                .expect("a query to every router");
            let query = decode(query);
            assert!(matches!(query.body, Body::Query(_)));
            query.transaction_id
        })
        .collect();
    (node, tids)
}

/// An answer from a node with `id` carrying eight BEP 42 nodes.
fn answer(tid: &[u8], id: NodeId) -> Vec<u8> {
    let mut response = Response::new(id);
    response.nodes = (0..8)
        .map(|n| {
            let addr = public_v4(500 + n);
            NodeInfo {
                id: secure_id(addr.ip(), 3),
                addr,
            }
        })
        .collect();
    encode(&Message::response(tid.to_vec(), response))
}

/// Live and waiting nodes in the IPv4 table.
fn known(node: &Node, now: Instant) -> usize {
    let health = node.stats(now).table4;
    health.good + health.questionable + health.bad + health.replacements
}

#[test]
fn answers_to_no_query_or_from_another_address_are_dropped_counted_and_not_learned() {
    let now = Instant::now();
    let router = public_v4(1);
    let (mut node, tids) = bootstrapping(NodeConfig::default(), now, &[router]);
    let tid = &tids[0];
    let id = secure_id(router.ip(), 1);
    let mut unknown = tid.clone();
    unknown[0] ^= 0x80;
    let spoofs: [(SocketAddr, Vec<u8>); 5] = [
        (public_v4(2), answer(tid, id)),
        (
            SocketAddr::new(router.ip(), router.port() + 1),
            answer(tid, id),
        ),
        (router, answer(&unknown, id)),
        (router, answer(&[tid.as_slice(), b"xy"].concat(), id)),
        (router, answer(b"", id)),
    ];
    for (n, (from, datagram)) in spoofs.iter().enumerate() {
        assert!(
            exchange(&mut node, now, *from, datagram).is_none(),
            "never answer an answer"
        );
        assert_eq!(node.stats(now).drops.unexpected_answer, n as u64 + 1);
    }
    let error = encode(&Message::error(unknown.clone(), 201, "no"));
    assert!(exchange(&mut node, now, router, &error).is_none());
    let stats = node.stats(now);
    assert_eq!(stats.drops.unexpected_answer, 6);
    assert_eq!((stats.answers_received, stats.errors_received), (0, 0));
    assert_eq!(known(&node, now), 0, "nothing learned from a forged answer");
    assert!(node.save(now).nodes.is_empty());
    // The real answer is taken: the router is good, the nodes it gave are candidates.
    assert!(exchange(&mut node, now, router, &answer(tid, id)).is_none());
    let stats = node.stats(now);
    assert_eq!(stats.answers_received, 1);
    assert_eq!(stats.table4.good, 1);
    assert_eq!(stats.table4.questionable + stats.table4.replacements, 8);
    // A replay of it is an answer to no query.
    exchange(&mut node, now, router, &answer(tid, id));
    assert_eq!(node.stats(now).drops.unexpected_answer, 7);
    assert_eq!(node.stats(now).answers_received, 1);
}

#[test]
fn a_public_answerer_whose_id_breaks_bep42_is_not_kept_as_good() {
    let now = Instant::now();
    let liar = public_v4(1);
    let honest = public_v4(2);
    let private: SocketAddr = "10.1.2.3:6881".parse().unwrap();
    let (mut node, tids) = bootstrapping(NodeConfig::default(), now, &[liar, honest, private]);
    let insecure = NodeId([0x55; 20]);
    assert!(!insecure.is_secure_for(liar.ip()));
    let answers = [
        (
            liar,
            Message::response(tids[0].clone(), Response::new(insecure)),
        ),
        (
            honest,
            Message::response(tids[1].clone(), Response::new(secure_id(honest.ip(), 2))),
        ),
        // A private address is exempt from BEP 42 (nobody can check it).
        (
            private,
            Message::response(tids[2].clone(), Response::new(NodeId([0x66; 20]))),
        ),
    ];
    for (from, answer) in &answers {
        exchange(&mut node, now, *from, &encode(answer));
    }
    assert_eq!(node.stats(now).answers_received, 3);
    assert_eq!(node.stats(now).table4.good, 2);
    let saved: Vec<SocketAddr> = node.save(now).nodes.iter().map(|n| n.addr).collect();
    assert!(!saved.contains(&liar), "{saved:?}");
    assert!(saved.contains(&honest) && saved.contains(&private));
}

#[test]
fn a_read_only_answerer_is_not_added_to_the_table() {
    let now = Instant::now();
    let router = public_v4(1);
    let (mut node, tids) = bootstrapping(NodeConfig::default(), now, &[router]);
    let mut answer = Message::response(tids[0].clone(), Response::new(secure_id(router.ip(), 1)));
    answer.read_only = true;
    exchange(&mut node, now, router, &encode(&answer));
    assert_eq!(node.stats(now).answers_received, 1);
    assert_eq!(
        known(&node, now),
        0,
        "BEP 43: a read-only node is never kept"
    );
}

#[test]
fn answers_whose_node_fields_are_not_whole_entries_are_dropped_and_the_query_survives() {
    let now = Instant::now();
    let router = public_v4(1);
    let (mut node, tids) = bootstrapping(NodeConfig::default(), now, &[router]);
    let tid = &tids[0];
    let id = secure_id(router.ip(), 1);
    let frame = |field: &[u8]| {
        [
            &b"d1:rd2:id20:"[..],
            id.as_bytes(),
            field,
            b"e1:t2:",
            tid,
            b"1:y1:re",
        ]
        .concat()
    };
    let lies = [
        frame(&[&b"5:nodes25:"[..], &[1; 25]].concat()),
        frame(&[&b"5:nodes27:"[..], &[1; 27]].concat()),
        frame(&[&b"6:nodes637:"[..], &[1; 37]].concat()),
        frame(&[&b"6:valuesl5:"[..], &[1; 5], b"e"].concat()),
        frame(b"5:nodesi26e"),
    ];
    for (n, lie) in lies.iter().enumerate() {
        assert!(exchange(&mut node, now, router, lie).is_none());
        assert_eq!(node.stats(now).drops.malformed_answer, n as u64 + 1);
    }
    assert_eq!(node.stats(now).answers_received, 0);
    assert_eq!(known(&node, now), 0);
    // A malformed forgery does not cancel the query: the real answer still counts.
    exchange(&mut node, now, router, &frame(b""));
    assert_eq!(node.stats(now).answers_received, 1);
    assert_eq!(node.stats(now).table4.good, 1);
}

#[test]
fn queries_in_flight_never_exhaust_the_two_byte_transaction_ids() {
    let now = Instant::now();
    let config = NodeConfig {
        max_pending: usize::MAX,
        ..NodeConfig::default()
    };
    let mut node = Node::new(config, now, 22, None);
    let routers = (0..70_000).map(public_v4);
    node.bootstrap(now, routers);
    let stats = node.stats(now);
    assert_eq!(stats.queries_sent, 65_535);
    assert_eq!(stats.drops.overloaded, 70_000 - 65_535);
}
