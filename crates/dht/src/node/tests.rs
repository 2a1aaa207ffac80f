//! Nodes talking to each other through an in-memory exchange with no loss and no delay, at a
//! virtual clock: bootstrap, announce and get_peers, the answers to bad input, the rate limit,
//! read-only nodes, the saved table and the BEP 42 id change.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, SplitMix64};

use super::*;
use crate::id::NodeInfo;
use crate::krpc::{ERROR_METHOD_UNKNOWN, ERROR_PROTOCOL, KrpcLimits, Method, Response};

/// Nodes by address, and what they told their owners.
struct Net {
    now: Instant,
    nodes: BTreeMap<SocketAddr, Node>,
    events: Vec<(SocketAddr, NodeEvent)>,
}

impl Net {
    fn new(addrs: &[SocketAddr], config: &NodeConfig) -> Net {
        let now = Instant::now();
        let nodes = addrs
            .iter()
            .enumerate()
            .map(|(i, addr)| (*addr, Node::new(config.clone(), now, i as u64 + 1, None)))
            .collect();
        Net {
            now,
            nodes,
            events: Vec::new(),
        }
    }

    /// Delivers datagrams until none is left (bounded), then advances time by `step` and runs
    /// the timers, `rounds` times.
    fn run(&mut self, rounds: usize, step: Duration) {
        for _ in 0..rounds {
            for _ in 0..10_000 {
                let mut moved = false;
                let addrs: Vec<SocketAddr> = self.nodes.keys().copied().collect();
                for from in addrs {
                    while let Some((to, datagram)) =
                        self.nodes.get_mut(&from).unwrap().poll_transmit()
                    {
                        moved = true;
                        if let Some(node) = self.nodes.get_mut(&to) {
                            node.handle_datagram(self.now, from, &datagram);
                        }
                    }
                }
                if !moved {
                    break;
                }
            }
            for (addr, node) in &mut self.nodes {
                while let Some(event) = node.poll_event() {
                    self.events.push((*addr, event));
                }
            }
            self.now += step;
            let now = self.now;
            for node in self.nodes.values_mut() {
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                }
            }
        }
    }

    fn node(&mut self, addr: SocketAddr) -> &mut Node {
        self.nodes.get_mut(&addr).unwrap()
    }

    fn peers_found(&self, at: SocketAddr, lookup: LookupId) -> Vec<SocketAddr> {
        self.events
            .iter()
            .filter(|(a, _)| *a == at)
            .filter_map(|(_, e)| match e {
                NodeEvent::Peers { id, peers, .. } if *id == lookup => Some(peers.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

/// `nodes` local nodes, every one but the first bootstrapped from the first, after `rounds`
/// half-second steps.
fn joined_through_the_first(nodes: u8, rounds: usize) -> (Net, Vec<SocketAddr>) {
    let addrs: Vec<SocketAddr> = (1..=nodes).map(local).collect();
    let mut net = Net::new(&addrs, &NodeConfig::local_network());
    let now = net.now;
    for addr in &addrs[1..] {
        net.node(*addr).bootstrap(now, [addrs[0]]);
    }
    net.run(rounds, Duration::from_millis(500));
    (net, addrs)
}

fn local(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, n, 1], 6881))
}

#[test]
fn nodes_bootstrap_announce_and_find_each_other() {
    let (mut net, addrs) = joined_through_the_first(12, 30);
    let now = net.now;
    for addr in &addrs[1..] {
        assert!(
            net.node(*addr).stats(now).table4.good > 0,
            "{addr} has no node"
        );
    }
    let info_hash = InfoHashV1([0x42; 20]);
    let now = net.now;
    let seeder = addrs[5];
    let announce = net.node(seeder).announce(now, info_hash, Some(7000), true);
    net.run(20, Duration::from_millis(500));
    let done = net.events.iter().find_map(|(a, e)| match e {
        NodeEvent::LookupDone {
            id, announced_to, ..
        } if *a == seeder && *id == announce => Some(*announced_to),
        _ => None,
    });
    assert!(
        done.is_some_and(|n| n > 0),
        "the announce reached nodes: {done:?}"
    );
    let leecher = addrs[9];
    let now = net.now;
    let lookup = net.node(leecher).get_peers(now, info_hash);
    net.run(20, Duration::from_millis(500));
    let found = net.peers_found(leecher, lookup);
    assert!(
        found.contains(&SocketAddr::from(([127, 0, 6, 1], 7000))),
        "{found:?}"
    );
}

#[test]
fn an_asker_is_never_handed_its_own_address() {
    let (mut net, addrs) = joined_through_the_first(6, 20);
    let now = net.now;
    let asker = addrs[3];
    let asker_id = net.node(asker).id();
    let router = net.node(addrs[0]);
    assert!(
        router.stats(now).table4.good >= 5,
        "the router knows everyone"
    );
    for (tid, target) in [
        (b"f1", asker_id),
        (b"f2", NodeId([0; 20])),
        (b"f3", NodeId([0xff; 20])),
    ] {
        let query = Message::query(
            tid.to_vec(),
            asker_id,
            Method::FindNode { target, want: None },
        );
        let answer = ask(router, now, asker, &query).expect("an answer");
        let Body::Response(response) = answer.body else {
            panic!("a response: {answer:?}");
        };
        assert!(!response.nodes.is_empty());
        assert!(
            response.nodes.iter().all(|node| node.addr != asker),
            "{:?}",
            response.nodes
        );
    }
}

#[test]
fn a_finished_lookup_names_the_closest_nodes_that_answered() {
    let (mut net, addrs) = joined_through_the_first(12, 30);
    let target = InfoHashV1([0x99; 20]);
    let asker = addrs[4];
    let now = net.now;
    let lookup = net.node(asker).get_peers(now, target);
    net.run(20, Duration::from_millis(500));
    let closest = net.events.iter().find_map(|(a, e)| match e {
        NodeEvent::LookupDone { id, closest, .. } if *a == asker && *id == lookup => {
            Some(closest.clone())
        }
        _ => None,
    });
    // The truth: every other node, by distance to the target, the first K.
    let mut truth: Vec<NodeInfo> = net
        .nodes
        .iter()
        .filter(|(addr, _)| **addr != asker)
        .map(|(addr, node)| NodeInfo {
            id: node.id(),
            addr: *addr,
        })
        .collect();
    truth.sort_by_key(|n| n.id.distance(&NodeId(target.0)));
    truth.truncate(crate::routing::K);
    assert_eq!(closest, Some(truth));
}

#[test]
fn two_nodes_alone_meet_through_their_own_stores() {
    let addrs = [local(1), local(2)];
    let mut net = Net::new(&addrs, &NodeConfig::local_network());
    let now = net.now;
    net.node(addrs[1]).bootstrap(now, [addrs[0]]);
    net.run(10, Duration::from_millis(500));
    let info_hash = InfoHashV1([7; 20]);
    let now = net.now;
    let _ = net.node(addrs[1]).announce(now, info_hash, None, false);
    net.run(10, Duration::from_millis(500));
    let now = net.now;
    let lookup = net.node(addrs[0]).get_peers(now, info_hash);
    net.run(10, Duration::from_millis(500));
    assert_eq!(
        net.peers_found(addrs[0], lookup),
        [addrs[1]],
        "implied port"
    );
}

/// Sends `query` to a fresh node and returns its answer (the node's own queries, such as
/// the ping it sends a newcomer, are passed over).
fn ask(node: &mut Node, now: Instant, from: SocketAddr, query: &Message) -> Option<Message> {
    let mut bytes = Vec::new();
    query.encode(&mut bytes);
    node.handle_datagram(now, from, &bytes);
    let sent: Vec<(SocketAddr, Vec<u8>)> = std::iter::from_fn(|| node.poll_transmit()).collect();
    sent.into_iter().find_map(|(to, datagram)| {
        assert_eq!(to, from);
        let message = Message::decode(&datagram, &KrpcLimits::default()).expect("ours decode");
        (!matches!(message.body, Body::Query(_))).then_some(message)
    })
}

#[test]
fn bad_tokens_unknown_methods_and_garbage_get_their_answers_and_counts() {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::local_network(), now, 9, None);
    let asker = local(3);
    let other = NodeId([3; 20]);
    let info_hash = InfoHashV1([1; 20]);
    let announce = |token: Vec<u8>| {
        Message::query(
            b"an".to_vec(),
            other,
            Method::AnnouncePeer {
                info_hash,
                port: 6881,
                implied_port: false,
                token,
                seed: false,
            },
        )
    };
    let forged = ask(&mut node, now, asker, &announce(b"forged!!".to_vec())).unwrap();
    assert!(
        matches!(
            forged.body,
            Body::Error {
                code: ERROR_PROTOCOL,
                ..
            }
        ),
        "{forged:?}"
    );
    // A real token, from a get_peers, works from the same IP and not from another.
    let get = Message::query(
        b"gp".to_vec(),
        other,
        Method::GetPeers {
            info_hash,
            want: None,
            scrape: false,
            noseed: false,
        },
    );
    let answer = ask(&mut node, now, asker, &get).unwrap();
    assert_eq!(answer.transaction_id, b"gp");
    assert_eq!(
        answer.requester_ip,
        Some(asker),
        "BEP 42: the asker's address"
    );
    let Body::Response(Response {
        token: Some(token), ..
    }) = answer.body
    else {
        panic!("a token")
    };
    let elsewhere = SocketAddr::from(([127, 0, 9, 9], 1));
    let refused = ask(&mut node, now, elsewhere, &announce(token.clone())).unwrap();
    assert!(matches!(refused.body, Body::Error { .. }));
    let stored = ask(&mut node, now, asker, &announce(token.clone())).unwrap();
    assert!(matches!(stored.body, Body::Response(_)));
    // Past two rotations the token is dead.
    let later = now + Duration::from_secs(11 * 60);
    node.handle_timeout(later);
    let expired = ask(&mut node, later, asker, &announce(token)).unwrap();
    assert!(matches!(expired.body, Body::Error { .. }));
    let unknown = Message::query(
        b"uk".to_vec(),
        other,
        Method::Unknown {
            name: b"vote".to_vec(),
        },
    );
    let answer = ask(&mut node, later, asker, &unknown).unwrap();
    assert!(matches!(
        answer.body,
        Body::Error {
            code: ERROR_METHOD_UNKNOWN,
            ..
        }
    ));
    // Garbage is dropped unanswered; a malformed query gets 203; an answer to nothing is dropped.
    node.handle_datagram(later, asker, b"not bencode at all");
    assert!(node.poll_transmit().is_none());
    node.handle_datagram(later, asker, b"d1:ad2:id3:abce1:q4:ping1:t2:xy1:y1:qe");
    let (_, malformed) = node.poll_transmit().expect("a 203");
    let malformed = Message::decode(&malformed, &KrpcLimits::default()).unwrap();
    assert!(matches!(
        malformed.body,
        Body::Error {
            code: ERROR_PROTOCOL,
            ..
        }
    ));
    let stray = Message::response(b"zz".to_vec(), Response::new(other));
    assert!(ask(&mut node, later, asker, &stray).is_none());
    let stats = node.stats(later);
    assert_eq!(stats.announces_bad_token, 3);
    assert_eq!(stats.announces_stored, 1);
    assert_eq!(stats.drops.not_krpc, 1);
    assert_eq!(stats.drops.malformed_query, 1);
    assert_eq!(stats.drops.unexpected_answer, 1);
}

#[test]
fn a_query_flood_from_one_ip_is_limited_and_others_are_still_served() {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::default(), now, 3, None);
    let flood = SocketAddr::from(([198, 51, 100, 7], 1000));
    let ping = Message::query(b"pp".to_vec(), NodeId([8; 20]), Method::Ping);
    let answered = (0..500)
        .filter(|_| ask(&mut node, now, flood, &ping).is_some())
        .count();
    assert!(answered < 100, "{answered} of 500 answered");
    let other = SocketAddr::from(([198, 51, 100, 8], 1000));
    assert!(ask(&mut node, now, other, &ping).is_some());
    assert!(node.stats(now).drops.rate_limited >= 400);
}

#[test]
fn read_only_nodes_answer_nothing_and_are_not_kept() {
    let now = Instant::now();
    let mut config = NodeConfig::local_network();
    config.read_only = true;
    let mut quiet = Node::new(config, now, 4, None);
    let ping = Message::query(b"pp".to_vec(), NodeId([8; 20]), Method::Ping);
    assert!(ask(&mut quiet, now, local(5), &ping).is_none());
    assert_eq!(quiet.stats(now).drops.read_only, 1);
    let mut normal = Node::new(NodeConfig::local_network(), now, 5, None);
    let mut ro_ping = ping.clone();
    ro_ping.read_only = true;
    assert!(
        ask(&mut normal, now, local(6), &ro_ping).is_some(),
        "served"
    );
    assert_eq!(
        normal.stats(now).table4.good + normal.stats(now).table4.questionable,
        0
    );
    assert!(ask(&mut normal, now, local(7), &ping).is_some());
    assert_eq!(
        normal.stats(now).table4.questionable + normal.stats(now).table4.good,
        1
    );
}

#[test]
fn answers_stay_within_the_amplification_bound() {
    let now = Instant::now();
    let mut config = NodeConfig::local_network();
    config.max_values = 1000;
    let mut node = Node::new(config, now, 6, None);
    let info_hash = InfoHashV1([5; 20]);
    for i in 0..400u32 {
        let peer = SocketAddr::from(([10, (i >> 8) as u8, i as u8, 1], 6881));
        node.store.announce(now, info_hash.0, peer, false);
    }
    let get = Message::query(
        b"gp".to_vec(),
        NodeId([9; 20]),
        Method::GetPeers {
            info_hash,
            want: None,
            scrape: true,
            noseed: false,
        },
    );
    let mut query = Vec::new();
    get.encode(&mut query);
    node.handle_datagram(now, local(8), &query);
    let (_, answer) = node.poll_transmit().unwrap();
    assert!(
        answer.len() <= query.len() * 12 && answer.len() <= 1200,
        "{} bytes",
        answer.len()
    );
    let decoded = Message::decode(&answer, &KrpcLimits::default()).unwrap();
    let Body::Response(response) = decoded.body else {
        panic!("an answer")
    };
    assert!(!response.values.is_empty());
    assert!(node.stats(now).drops.trimmed_answers > 0);
}

#[test]
fn a_restarted_node_keeps_its_id_and_finds_its_nodes_without_a_router() {
    let (mut net, addrs) = joined_through_the_first(6, 20);
    let now = net.now;
    let saved = net.node(addrs[3]).save(now);
    let old_id = net.node(addrs[3]).id();
    assert!(!saved.nodes.is_empty());
    let bytes = saved.encode();
    let restored = crate::persist::SavedTable::decode(&bytes).unwrap();
    let fresh = Node::new(NodeConfig::local_network(), net.now, 99, Some(&restored));
    assert_eq!(fresh.id(), old_id);
    net.nodes.insert(addrs[3], fresh);
    let now = net.now;
    let lookup = net.node(addrs[3]).get_peers(now, InfoHashV1([1; 20]));
    net.run(10, Duration::from_millis(500));
    let done = net.events.iter().any(|(a, e)| {
        *a == addrs[3] && matches!(e, NodeEvent::LookupDone { id, stats, .. } if *id == lookup && stats.answers > 0)
    });
    assert!(done, "the saved nodes answered");
}

#[test]
fn the_id_follows_the_external_address_reported_by_three_nodes() {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::default(), now, 11, None);
    let external: std::net::IpAddr = "203.0.113.50".parse().unwrap();
    let old = node.id();
    for i in 0..3u8 {
        let reporter = SocketAddr::from(([198, 51, 100, i + 1], 6881));
        let id = NodeId::secure_for(reporter.ip(), &mut SplitMix64::new(u64::from(i)));
        node.query_ping(now, NodeInfo { id, addr: reporter });
        let (to, query) = node.poll_transmit().unwrap();
        let query = Message::decode(&query, &KrpcLimits::default()).unwrap();
        let mut answer = Message::response(query.transaction_id, Response::new(id));
        answer.requester_ip = Some(SocketAddr::new(external, 6881));
        let mut bytes = Vec::new();
        answer.encode(&mut bytes);
        node.handle_datagram(now, to, &bytes);
    }
    assert_ne!(node.id(), old);
    assert!(node.id().is_secure_for(external));
    assert!(matches!(
        node.poll_event(),
        Some(NodeEvent::IdChanged { .. })
    ));
}
