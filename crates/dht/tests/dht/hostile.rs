//! Issue 13's protections, attacked through the node's public API: a query flood, spoofed
//! queries that ask for large answers, forged answers and tokens, ids that break BEP 42, BEP 43
//! read-only nodes, a peer-store flood, and every kind of garbage. Each test fails if its
//! protection breaks; each checks that what was refused was counted.

mod client;
mod garbage;
mod server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use swarmgate_core::{InfoHashV1, SplitMix64};
use swarmgate_dht::{Body, KrpcLimits, Message, Method, Node, NodeConfig, NodeId, Response};

/// The bytes of `message`.
fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out);
    out
}

/// Decodes a datagram the node sent: every one must decode.
fn decode(datagram: &[u8]) -> Message {
    Message::decode(datagram, &KrpcLimits::default()).expect("the node's datagrams decode")
}

/// Everything the node wants to send, in order.
fn drain(node: &mut Node) -> Vec<(SocketAddr, Vec<u8>)> {
    std::iter::from_fn(|| node.poll_transmit())
        .take(10_000)
        .collect()
}

/// Delivers `datagram` from `from` and returns the answer (a response or an error) sent back,
/// checking that there is at most one and that it goes to `from`.
fn exchange(node: &mut Node, now: Instant, from: SocketAddr, datagram: &[u8]) -> Option<Vec<u8>> {
    node.handle_datagram(now, from, datagram);
    let mut answers = drain(node)
        .into_iter()
        .filter(|(_, bytes)| !matches!(decode(bytes).body, Body::Query(_)));
    let answer = answers.next();
    assert!(answers.next().is_none(), "one answer per query at most");
    answer.map(|(to, bytes)| {
        assert_eq!(to, from, "answers go to the asker");
        bytes
    })
}

/// [`exchange`] for a message, with the answer decoded.
fn ask(node: &mut Node, now: Instant, from: SocketAddr, query: &Message) -> Option<Message> {
    exchange(node, now, from, &encode(query)).map(|bytes| decode(&bytes))
}

/// The response in `answer`, or a panic naming what came instead.
fn response(answer: Option<Message>) -> Response {
    match answer.map(|m| m.body) {
        Some(Body::Response(response)) => response,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// The error code in `answer`, if it is an error.
fn error_code(answer: &Option<Message>) -> Option<i64> {
    match answer.as_ref().map(|m| &m.body) {
        Some(Body::Error { code, .. }) => Some(*code),
        _ => None,
    }
}

/// A public IPv4 address (198.18.0.0/15, not exempt from BEP 42) numbered `n`.
fn public_v4(n: u32) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(0xc612_0000 + n), 6881))
}

/// A public IPv6 address (2001:db8::/32) numbered `n`, each in its own /64.
fn public_v6(n: u32) -> SocketAddr {
    format!("[2001:db8:{n:x}::1]:6881").parse().unwrap()
}

/// An id that obeys BEP 42 for `ip`.
fn secure_id(ip: IpAddr, seed: u64) -> NodeId {
    NodeId::secure_for(ip, &mut SplitMix64::new(seed))
}

/// A get_peers query from a node with `id`.
fn get_peers(tid: &[u8], id: NodeId, info_hash: InfoHashV1, scrape: bool) -> Message {
    let method = Method::GetPeers {
        info_hash,
        want: None,
        scrape,
        noseed: false,
    };
    Message::query(tid.to_vec(), id, method)
}

/// An announce_peer query for port 6881.
fn announce_peer(id: NodeId, info_hash: InfoHashV1, token: Vec<u8>) -> Message {
    let method = Method::AnnouncePeer {
        info_hash,
        port: 6881,
        implied_port: false,
        token,
        seed: false,
    };
    Message::query(b"ap".to_vec(), id, method)
}

/// The token the node gives `from` in a get_peers answer.
fn token_for(node: &mut Node, now: Instant, from: SocketAddr, info_hash: InfoHashV1) -> Vec<u8> {
    let id = secure_id(from.ip(), 1);
    let query = get_peers(b"gp", id, info_hash, false);
    response(ask(node, now, from, &query))
        .token
        .expect("a get_peers answer carries a token")
}

/// Announces `from` as a peer of `info_hash` the honest way (get_peers, then announce_peer);
/// whether it was accepted.
fn announce_from(node: &mut Node, now: Instant, from: SocketAddr, info_hash: InfoHashV1) -> bool {
    let token = token_for(node, now, from, info_hash);
    let query = announce_peer(secure_id(from.ip(), 1), info_hash, token);
    matches!(
        ask(node, now, from, &query).map(|m| m.body),
        Some(Body::Response(_))
    )
}

/// A node with the default configuration except that no rate limit gets in the way of a test
/// that is about something else.
fn unlimited() -> NodeConfig {
    let mut config = NodeConfig::default();
    config.rate.per_second = 1_000_000;
    config.rate.burst = 1_000_000;
    config
}
