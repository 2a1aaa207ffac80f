//! The routing table: bucket splits, node states and the replacement cache, the insertion
//! policy (BEP 42, BEP 43, one node per IP), closest(), refreshes, pings, a new own id, and a
//! property test of random operations.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use swarmgate_core::SplitMix64;
use swarmgate_dht::{
    Family, GOOD_FOR, Insertion, K, NodeId, NodeInfo, NodeStatus, PING_INTERVAL, REFRESH_AFTER,
    Refusal, RoutingConfig, RoutingTable,
};

/// A config for private test addresses (10/8: BEP 42 exempt).
fn config() -> RoutingConfig {
    RoutingConfig::default()
}

/// The `n`th private address.
fn private(n: u32) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff)), 6881))
}

fn node(id: NodeId, n: u32) -> NodeInfo {
    NodeInfo {
        id,
        addr: private(n),
    }
}

/// An id sharing exactly `prefix` leading bits with `own`.
fn id_at(own: &NodeId, prefix: u32, rng: &mut SplitMix64) -> NodeId {
    own.random_in_bucket(prefix, rng)
}

/// Checks what every table must hold: at most K live nodes and `replacements` waiting per
/// bucket; bucket `i` holds ids sharing exactly `i` bits with the own id, the last at least its
/// index; no id twice.
fn assert_invariants(table: &RoutingTable, replacements: usize) {
    let own = table.own_id();
    let buckets = table.buckets();
    let last = buckets.len() - 1;
    let mut ids = HashSet::new();
    for (index, bucket) in buckets.iter().enumerate() {
        assert_eq!(bucket.depth as usize, index);
        assert!(
            bucket.nodes.len() <= K,
            "bucket {index} holds {}",
            bucket.nodes.len()
        );
        assert!(bucket.replacements.len() <= replacements);
        if !bucket.replacements.is_empty() {
            assert_eq!(bucket.nodes.len(), K, "nodes wait only at a full bucket");
        }
        for node in bucket.nodes.iter().chain(&bucket.replacements) {
            let prefix = own.common_prefix(&node.id);
            if index < last {
                assert_eq!(prefix as usize, index, "only the last bucket spans depths");
            } else {
                assert!(prefix as usize >= index);
            }
            assert!(ids.insert(node.id), "{:?} held twice", node.id);
            assert_ne!(node.id, own);
        }
    }
    assert_eq!(
        table.len(),
        buckets.iter().map(|b| b.nodes.len()).sum::<usize>()
    );
}

#[test]
fn buckets_split_only_where_the_own_id_falls_and_never_hold_more_than_k() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(1);
    let own = NodeId::random(&mut rng);
    let mut table = RoutingTable::new(own, Family::V4, config(), now);
    // Thirty far nodes (first bit differs): bucket 0 keeps 8, the rest wait or are refused,
    // and no far node makes a bucket split beyond the first one.
    for n in 0..30 {
        table.answered(now, node(id_at(&own, 0, &mut rng), n), false);
    }
    assert_eq!(
        table.health(now).buckets,
        2,
        "one split, where the own id falls"
    );
    assert_eq!(table.buckets()[0].nodes.len(), K);
    assert_eq!(table.buckets()[0].replacements.len(), K);
    assert!(table.stats().refused_full > 0);
    // Nodes ever closer: each depth gets its bucket.
    for depth in 1..20 {
        for k in 0..3 {
            table.answered(
                now,
                node(id_at(&own, depth, &mut rng), 1000 + depth * 10 + k),
                false,
            );
        }
    }
    assert_invariants(&table, K);
    let buckets = table.health(now).buckets;
    assert!((19..=21).contains(&buckets), "{buckets} buckets");
    // A random id space's worth of nodes: still at most K per bucket.
    for n in 0..2000 {
        table.answered(now, node(NodeId::random(&mut rng), 5000 + n), false);
    }
    assert_invariants(&table, K);
    assert!(table.len() <= K * table.health(now).buckets);
}

#[test]
fn a_full_bucket_keeps_its_good_nodes_and_fills_from_the_cache_when_one_goes_bad() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(2);
    let own = NodeId([0; 20]);
    let mut cfg = config();
    cfg.max_failures_with_replacement = 2;
    let mut table = RoutingTable::new(own, Family::V4, cfg, now);
    let live: Vec<NodeInfo> = (0..K as u32)
        .map(|n| node(id_at(&own, 0, &mut rng), n))
        .collect();
    for &n in &live {
        assert_eq!(table.answered(now, n, false), Insertion::Added);
    }
    let waiting = node(id_at(&own, 0, &mut rng), 100);
    assert_eq!(table.answered(now, waiting, false), Insertion::Cached);
    let heard = node(id_at(&own, 0, &mut rng), 101);
    assert_eq!(table.heard_of(now, heard), Insertion::Cached);
    // Good nodes are never displaced by newcomers.
    for &n in &live {
        assert_eq!(table.status(now, &n.id), Some(NodeStatus::Good));
    }
    // One failure: questionable, still live (two are needed here while a replacement waits).
    assert!(table.failed(now, &live[3]));
    assert_eq!(
        table.status(now, &live[3].id),
        Some(NodeStatus::Questionable)
    );
    // The second failure: the best replacement (the one that answered) takes its place.
    assert!(table.failed(now, &live[3]));
    assert_eq!(table.status(now, &live[3].id), None);
    assert_eq!(table.status(now, &waiting.id), Some(NodeStatus::Good));
    assert!(table.is_waiting(&heard.id));
    assert_eq!(table.len(), K);
    assert_eq!(table.stats().replaced, 1);
    assert_invariants(&table, K);
}

#[test]
fn a_bad_node_gives_its_place_to_the_next_newcomer() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(3);
    let own = NodeId([0; 20]);
    let mut cfg = config();
    cfg.max_failures = 3;
    cfg.replacements = 0;
    let mut table = RoutingTable::new(own, Family::V4, cfg, now);
    let live: Vec<NodeInfo> = (0..K as u32)
        .map(|n| node(id_at(&own, 0, &mut rng), n))
        .collect();
    for &n in &live {
        table.answered(now, n, false);
    }
    // Fill the near side too so bucket 0 is final.
    table.answered(now, node(id_at(&own, 5, &mut rng), 50), false);
    let newcomer = node(id_at(&own, 0, &mut rng), 60);
    assert_eq!(
        table.answered(now, newcomer, false),
        Insertion::Refused(Refusal::Full),
        "no cache, no bad node: refused"
    );
    for _ in 0..3 {
        table.failed(now, &live[0]);
    }
    assert_eq!(table.status(now, &live[0].id), Some(NodeStatus::Bad));
    assert_eq!(table.health(now).bad, 1);
    assert!(
        table
            .closest(now, &live[0].id, K)
            .iter()
            .all(|n| n.id != live[0].id)
    );
    assert_eq!(table.answered(now, newcomer, false), Insertion::Added);
    assert_eq!(table.status(now, &live[0].id), None);
    // An answer clears the failures of a node that is still held.
    table.failed(now, &live[1]);
    table.answered(now, live[1], false);
    assert_eq!(table.status(now, &live[1].id), Some(NodeStatus::Good));
}

#[test]
fn nodes_decay_from_good_to_questionable_and_queries_keep_them_good() {
    let start = Instant::now();
    let mut rng = SplitMix64::new(4);
    let own = NodeId::random(&mut rng);
    let mut table = RoutingTable::new(own, Family::V4, config(), start);
    let a = node(NodeId::random(&mut rng), 1);
    let b = node(NodeId::random(&mut rng), 2);
    let c = node(NodeId::random(&mut rng), 3);
    table.answered(start, a, false);
    table.answered(start, b, false);
    assert_eq!(table.queried_by(start, c, false), Insertion::Added);
    assert_eq!(table.status(start, &c.id), Some(NodeStatus::Questionable));
    let later = start + GOOD_FOR - Duration::from_secs(1);
    table.queried_by(later, b, false);
    let after = start + GOOD_FOR;
    assert_eq!(table.status(after, &a.id), Some(NodeStatus::Questionable));
    assert_eq!(table.status(after, &b.id), Some(NodeStatus::Good));
    let health = table.health(after);
    assert_eq!((health.good, health.questionable, health.bad), (1, 2, 0));
    assert_eq!(table.good_nodes(after), [b]);
}

#[test]
fn bep42_is_enforced_for_public_addresses_and_exempt_ones_always_pass() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(5);
    let mut table = RoutingTable::new(NodeId::random(&mut rng), Family::V4, config(), now);
    // Public-looking addresses (documentation ranges are not exempt).
    let public: IpAddr = "198.51.100.20".parse().unwrap();
    let secure = NodeInfo {
        id: NodeId::secure_for(public, &mut rng),
        addr: SocketAddr::new(public, 6881),
    };
    assert_eq!(table.answered(now, secure, false), Insertion::Added);
    let other: IpAddr = "203.0.113.30".parse().unwrap();
    let mut insecure_id = NodeId::secure_for(public, &mut rng);
    insecure_id.0[19] = secure.id.0[19];
    let insecure = NodeInfo {
        id: insecure_id,
        addr: SocketAddr::new(other, 6881),
    };
    assert!(!insecure.id.is_secure_for(other));
    for outcome in [
        table.answered(now, insecure, false),
        table.queried_by(now, insecure, false),
        table.heard_of(now, insecure),
    ] {
        assert_eq!(outcome, Insertion::Refused(Refusal::InsecureId));
    }
    assert_eq!(table.stats().refused_insecure_id, 3);
    // The BEP's own vector passes from its address.
    let vector_ip: IpAddr = "124.31.75.21".parse().unwrap();
    let mut vector = [0u8; 20];
    vector[..3].copy_from_slice(&[0x5f, 0xbf, 0xbf]);
    vector[19] = 0x01;
    let bep = NodeInfo {
        id: NodeId(vector),
        addr: SocketAddr::new(vector_ip, 6881),
    };
    assert_eq!(table.answered(now, bep, false), Insertion::Added);
    // Exempt addresses pass with any id.
    for (n, ip) in [
        "10.1.2.3",
        "127.0.0.1",
        "192.168.7.7",
        "172.16.0.9",
        "169.254.1.1",
    ]
    .into_iter()
    .enumerate()
    {
        let exempt = NodeInfo {
            id: NodeId([n as u8 + 1; 20]),
            addr: SocketAddr::new(ip.parse().unwrap(), 6881),
        };
        assert_eq!(table.answered(now, exempt, false), Insertion::Added, "{ip}");
    }
    // Enforcement can be turned off.
    let mut lax = config();
    lax.enforce_bep42 = false;
    let mut table = RoutingTable::new(NodeId::random(&mut rng), Family::V4, lax, now);
    assert_eq!(table.answered(now, insecure, false), Insertion::Added);
}

#[test]
fn read_only_nodes_are_never_inserted() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(6);
    let mut table = RoutingTable::new(NodeId::random(&mut rng), Family::V4, config(), now);
    let ro = node(NodeId::random(&mut rng), 1);
    assert_eq!(
        table.queried_by(now, ro, true),
        Insertion::Refused(Refusal::ReadOnly)
    );
    assert_eq!(
        table.answered(now, ro, true),
        Insertion::Refused(Refusal::ReadOnly)
    );
    assert!(table.is_empty());
    assert_eq!(table.stats().refused_read_only, 2);
    // The same node without `ro` is welcome.
    assert_eq!(table.queried_by(now, ro, false), Insertion::Added);
}

#[test]
fn one_node_per_ip_unless_local_duplicates_are_allowed() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(7);
    let own = NodeId::random(&mut rng);
    let mut table = RoutingTable::new(own, Family::V4, config(), now);
    let first = NodeInfo {
        id: NodeId::random(&mut rng),
        addr: "127.0.0.1:7001".parse().unwrap(),
    };
    let same_ip = NodeInfo {
        id: NodeId::random(&mut rng),
        addr: "127.0.0.1:7002".parse().unwrap(),
    };
    table.answered(now, first, false);
    assert_eq!(
        table.answered(now, same_ip, false),
        Insertion::Refused(Refusal::DuplicateIp)
    );
    assert_eq!(table.len(), 1);

    let mut local = config();
    local.allow_local_duplicates = true;
    let mut table = RoutingTable::new(own, Family::V4, local, now);
    table.answered(now, first, false);
    assert_eq!(table.answered(now, same_ip, false), Insertion::Added);
    // Still one per IP and port: a new id there is believed only when it answers.
    let same_port = NodeInfo {
        id: NodeId::random(&mut rng),
        addr: first.addr,
    };
    assert_eq!(
        table.queried_by(now, same_port, false),
        Insertion::Refused(Refusal::DuplicateIp)
    );
    assert_eq!(table.answered(now, same_port, false), Insertion::Added);
    assert_eq!(table.status(now, &first.id), None, "the old id is evicted");
    assert_eq!(table.stats().superseded, 1);
    // Public addresses stay one per IP even with the flag.
    let public: IpAddr = "198.51.100.9".parse().unwrap();
    let a = NodeInfo {
        id: NodeId::secure_for(public, &mut rng),
        addr: SocketAddr::new(public, 1000),
    };
    let b = NodeInfo {
        id: NodeId::secure_for(public, &mut rng),
        addr: SocketAddr::new(public, 2000),
    };
    assert_eq!(table.answered(now, a, false), Insertion::Added);
    assert_eq!(
        table.heard_of(now, b),
        Insertion::Refused(Refusal::DuplicateIp)
    );
}

#[test]
fn refresh_targets_fall_in_their_bucket_once_per_idle_period() {
    let start = Instant::now();
    let mut rng = SplitMix64::new(8);
    let own = NodeId::random(&mut rng);
    let mut table = RoutingTable::new(own, Family::V4, config(), start);
    for n in 0..500 {
        table.answered(start, node(NodeId::random(&mut rng), n), false);
    }
    let buckets = table.health(start).buckets;
    assert!(table.refresh_due(start, &mut rng).is_empty());
    let idle = start + REFRESH_AFTER;
    let targets = table.refresh_due(idle, &mut rng);
    assert_eq!(targets.len(), buckets);
    for (index, target) in targets.iter().enumerate() {
        let depth = (own.common_prefix(target) as usize).min(buckets - 1);
        assert_eq!(depth, index, "target {index} falls in its bucket");
    }
    assert!(
        table.refresh_due(idle, &mut rng).is_empty(),
        "handed out once"
    );
    // A bucket whose node answered is fresh again.
    let later = idle + REFRESH_AFTER;
    let fresh = table.buckets()[0].nodes[0];
    table.answered(later, fresh, false);
    assert_eq!(table.refresh_due(later, &mut rng).len(), buckets - 1);
}

#[test]
fn questionable_nodes_of_full_buckets_with_waiting_replacements_are_pinged() {
    let start = Instant::now();
    let mut rng = SplitMix64::new(9);
    let own = NodeId([0; 20]);
    let mut table = RoutingTable::new(own, Family::V4, config(), start);
    let live: Vec<NodeInfo> = (0..K as u32)
        .map(|n| node(id_at(&own, 0, &mut rng), n))
        .collect();
    for &n in &live {
        table.answered(start, n, false);
    }
    assert!(table.pings_due(start).is_empty(), "no replacement waits");
    table.answered(start, node(id_at(&own, 0, &mut rng), 50), false);
    assert!(table.pings_due(start).is_empty(), "every node is good");
    let quiet = start + GOOD_FOR;
    let mut due = table.pings_due(quiet);
    due.sort_by_key(|n| n.id);
    let mut expected = live.clone();
    expected.sort_by_key(|n| n.id);
    assert_eq!(due, expected);
    assert!(table.pings_due(quiet).is_empty(), "not again at once");
    assert_eq!(table.pings_due(quiet + PING_INTERVAL).len(), K);
    // The pinged node that answers stays; the one that fails gives way at once.
    table.answered(quiet, live[0], false);
    table.failed(quiet, &live[1]);
    assert_eq!(table.status(quiet, &live[0].id), Some(NodeStatus::Good));
    assert_eq!(table.status(quiet, &live[1].id), None);
}

#[test]
fn a_new_own_id_rebuilds_the_table_around_it() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(10);
    let mut table = RoutingTable::new(NodeId::random(&mut rng), Family::V4, config(), now);
    let mut held = Vec::new();
    for n in 0..300 {
        let node = node(NodeId::random(&mut rng), n);
        if table.answered(now, node, false) == Insertion::Added {
            held.push(node);
        }
    }
    let before = table.len();
    let new_id = held[0].id;
    table.set_own_id(now, new_id);
    assert_eq!(table.own_id(), new_id);
    assert_invariants(&table, K);
    assert_eq!(table.status(now, &new_id), None, "our own id is not a node");
    // Every node held before is held still (live or waiting), unless its new bucket is full.
    let buckets = table.buckets();
    for node in held.iter().filter(|n| n.id != new_id) {
        let depth = (new_id.common_prefix(&node.id) as usize).min(buckets.len() - 1);
        let bucket = &buckets[depth];
        let kept = table.status(now, &node.id).is_some() || table.is_waiting(&node.id);
        assert!(kept || (bucket.nodes.len() == K && bucket.replacements.len() == K));
    }
    assert!(table.len() <= before);
    assert!(
        table
            .nodes()
            .all(|n| table.status(now, &n.id) == Some(NodeStatus::Good))
    );
}

#[test]
fn an_ipv6_table_takes_ipv6_nodes_only() {
    let now = Instant::now();
    let mut rng = SplitMix64::new(11);
    let mut table = RoutingTable::new(NodeId::random(&mut rng), Family::V6, config(), now);
    let v6 = NodeInfo {
        id: NodeId::random(&mut rng),
        addr: "[fd00::5]:6881".parse().unwrap(),
    };
    let mapped = NodeInfo {
        id: NodeId::random(&mut rng),
        addr: "[::ffff:10.0.0.5]:6881".parse().unwrap(),
    };
    assert_eq!(table.answered(now, v6, false), Insertion::Added);
    assert_eq!(
        table.answered(now, mapped, false),
        Insertion::Refused(Refusal::WrongFamily)
    );
    assert_eq!(table.closest(now, &v6.id, 8), [v6]);
    assert_eq!(Family::of(&mapped.addr), Family::V4);
}

/// The brute-force answer: non-bad nodes, good ones first, then by distance; the first `n`,
/// sorted by distance.
fn brute_closest(table: &RoutingTable, now: Instant, target: &NodeId, n: usize) -> Vec<NodeInfo> {
    let mut all: Vec<(bool, NodeInfo)> = table
        .nodes()
        .filter_map(|node| match table.status(now, &node.id)? {
            NodeStatus::Bad => None,
            status => Some((status != NodeStatus::Good, node)),
        })
        .collect();
    all.sort_by_key(|(questionable, node)| (*questionable, node.id.distance(target)));
    all.truncate(n);
    let mut closest: Vec<NodeInfo> = all.into_iter().map(|(_, node)| node).collect();
    closest.sort_by_key(|node| node.id.distance(target));
    closest
}

#[derive(Clone, Debug)]
enum Op {
    Answered(u32),
    Queried(u32),
    Heard(u32),
    Failed(u32),
    Advance(u16),
    NewOwnId(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..400u32).prop_map(Op::Answered),
        2 => (0..400u32).prop_map(Op::Queried),
        2 => (0..400u32).prop_map(Op::Heard),
        3 => (0..400u32).prop_map(Op::Failed),
        1 => (0..1200u16).prop_map(Op::Advance),
        1 => (0..400u32).prop_map(Op::NewOwnId),
    ]
}

/// Node `n` of a property test: a seeded id, some ids clustered near the own id, and an
/// address shared by every fifth pair (to exercise the one-node-per-IP rule).
fn prop_node(seed: u64, own: &NodeId, n: u32) -> NodeInfo {
    let mut rng = SplitMix64::new(seed ^ u64::from(n).wrapping_mul(0x9e37_79b9));
    let id = if n % 3 == 0 {
        own.random_in_bucket(8 + n % 40, &mut rng)
    } else {
        NodeId::random(&mut rng)
    };
    let host = if n % 5 == 0 { n / 2 } else { n };
    node(id, host)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn closest_returns_the_true_closest_of_what_is_held(
        seed in any::<u64>(),
        count in 0..300u32,
        fails in proptest::collection::vec(0..300u32, 0..60),
        n in 0..20usize,
        target in any::<[u8; 20]>(),
    ) {
        let now = Instant::now();
        let own = NodeId::random(&mut SplitMix64::new(seed));
        let mut table = RoutingTable::new(own, Family::V4, config(), now);
        for i in 0..count {
            let node = prop_node(seed, &own, i);
            if i % 4 == 0 { table.heard_of(now, node); } else { table.answered(now, node, false); }
        }
        for i in fails {
            table.failed(now, &prop_node(seed, &own, i));
        }
        let target = NodeId(target);
        for at in [now, now + GOOD_FOR] {
            prop_assert_eq!(table.closest(at, &target, n), brute_closest(&table, at, &target, n));
        }
        // A target inside the table's own neighbourhood too.
        let near = own.random_in_bucket(30, &mut SplitMix64::new(seed));
        prop_assert_eq!(table.closest(now, &near, K), brute_closest(&table, now, &near, K));
    }

    #[test]
    fn random_operations_keep_the_table_invariants(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let mut now = Instant::now();
        let own = NodeId::random(&mut SplitMix64::new(seed));
        let mut rng = SplitMix64::new(seed);
        let mut table = RoutingTable::new(own, Family::V4, config(), now);
        for op in ops {
            let own = table.own_id();
            match op {
                Op::Answered(n) => { table.answered(now, prop_node(seed, &own, n), false); }
                Op::Queried(n) => { table.queried_by(now, prop_node(seed, &own, n), false); }
                Op::Heard(n) => { table.heard_of(now, prop_node(seed, &own, n)); }
                Op::Failed(n) => { table.failed(now, &prop_node(seed, &own, n)); }
                Op::Advance(secs) => {
                    now += Duration::from_secs(u64::from(secs));
                    table.refresh_due(now, &mut rng);
                    table.pings_due(now);
                }
                Op::NewOwnId(n) => table.set_own_id(now, prop_node(seed, &own, n).id),
            }
            assert_invariants(&table, K);
            let ips: HashSet<IpAddr> = table.buckets().iter()
                .flat_map(|b| b.nodes.iter().chain(&b.replacements).map(|n| n.addr.ip()).collect::<Vec<_>>())
                .collect();
            let held: usize = table.buckets().iter().map(|b| b.nodes.len() + b.replacements.len()).sum();
            prop_assert_eq!(ips.len(), held, "one node per IP");
            let target = NodeId::random(&mut rng);
            for found in table.closest(now, &target, K) {
                prop_assert_ne!(table.status(now, &found.id), Some(NodeStatus::Bad));
            }
        }
    }
}
