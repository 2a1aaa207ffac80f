//! How a node joins its neighbourhood (BEP 5): the lookup of its own id once a router has
//! answered, or at once from a saved table, and the ping that makes a newcomer good.

use std::net::SocketAddr;
use std::time::Instant;

use super::*;
use crate::id::NodeInfo;
use crate::krpc::{KrpcLimits, Method, Query, Response};

fn local(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, n, 1], 6881))
}

/// Everything the node sends now, decoded.
fn sent(node: &mut Node) -> Vec<(SocketAddr, Message)> {
    std::iter::from_fn(|| node.poll_transmit())
        .map(|(to, bytes)| {
            let message = Message::decode(&bytes, &KrpcLimits::default()).expect("ours decode");
            (to, message)
        })
        .collect()
}

/// The find_node queries among `messages`: (to, target).
fn find_nodes(messages: &[(SocketAddr, Message)]) -> Vec<(SocketAddr, NodeId)> {
    messages
        .iter()
        .filter_map(|(to, m)| match &m.body {
            Body::Query(Query {
                method: Method::FindNode { target, .. },
                ..
            }) => Some((*to, *target)),
            _ => None,
        })
        .collect()
}

fn three_nodes() -> Vec<NodeInfo> {
    (2..5)
        .map(|n| NodeInfo {
            id: NodeId([n; 20]),
            addr: local(n),
        })
        .collect()
}

#[test]
fn a_routers_answer_starts_one_lookup_of_the_own_id() {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::local_network(), now, 5, None);
    let routers = [local(1), local(9)];
    node.bootstrap(now, routers);
    let asked = sent(&mut node);
    assert_eq!(find_nodes(&asked).len(), 2, "both routers asked");
    for (n, (router, query)) in asked.into_iter().enumerate() {
        let mut response = Response::new(NodeId([0xa0 + n as u8; 20]));
        response.nodes = three_nodes();
        let answer = Message::response(query.transaction_id, response);
        let mut bytes = Vec::new();
        answer.encode(&mut bytes);
        node.handle_datagram(now, router, &bytes);
    }
    // One lookup (not one per answer) asks the closest `alpha` of the five nodes now known,
    // routers included, for the own id.
    let alpha = NodeConfig::local_network().lookup.alpha;
    assert!(alpha < 5);
    let joining = find_nodes(&sent(&mut node));
    assert_eq!(joining.len(), alpha, "{joining:?}");
    assert!(joining.iter().all(|(_, target)| *target == node.id()));
    let mut asked: Vec<SocketAddr> = joining.iter().map(|(to, _)| *to).collect();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), alpha, "each node asked once");
}

#[test]
fn a_saved_table_starts_the_lookup_of_the_own_id_at_once() {
    let now = Instant::now();
    let saved = SavedTable {
        id: NodeId([0x77; 20]),
        nodes: three_nodes(),
        nodes6: Vec::new(),
    };
    let mut node = Node::new(NodeConfig::local_network(), now, 6, Some(&saved));
    node.bootstrap(now, [local(1)]);
    let joining = find_nodes(&sent(&mut node));
    assert_eq!(joining.len(), 3, "{joining:?}");
    assert!(
        joining
            .iter()
            .all(|(to, target)| *target == saved.id && *to != local(1))
    );
}

#[test]
fn a_newcomer_that_queries_is_pinged_back_once() {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::local_network(), now, 7, None);
    let asker = local(3);
    let ping = |tid: &[u8]| {
        let mut bytes = Vec::new();
        Message::query(tid.to_vec(), NodeId([3; 20]), Method::Ping).encode(&mut bytes);
        bytes
    };
    node.handle_datagram(now, asker, &ping(b"p1"));
    let first = sent(&mut node);
    assert_eq!(first.len(), 2, "the answer, then our ping: {first:?}");
    assert!(matches!(first[0].1.body, Body::Response(_)));
    assert!(matches!(
        &first[1],
        (to, Message { body: Body::Query(Query { method: Method::Ping, .. }), .. }) if *to == asker
    ));
    node.handle_datagram(now, asker, &ping(b"p2"));
    assert_eq!(sent(&mut node).len(), 1, "known now: the answer only");
}
