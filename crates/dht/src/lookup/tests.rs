//! Unit tests of one lookup: candidates, the query window, short timeouts, the ending rule.

use super::*;

fn node(first: u8, n: u16) -> NodeInfo {
    let mut id = [0u8; 20];
    id[0] = first;
    id[19] = n as u8;
    NodeInfo {
        id: NodeId(id),
        addr: SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 6881)),
    }
}

#[test]
fn asks_alpha_at_a_time_closest_first_and_ends_when_the_k_closest_answered() {
    let now = Instant::now();
    let config = LookupConfig {
        alpha: 2,
        k: 2,
        ..LookupConfig::default()
    };
    let far = [node(0x80, 1), node(0x40, 2), node(0x20, 3)];
    let mut lookup = Lookup::new(now, NodeId([0; 20]), far, config);
    let first = lookup.next_queries(now);
    assert_eq!(first, [node(0x20, 3), node(0x40, 2)]);
    assert!(lookup.next_queries(now).is_empty(), "no free slot");
    // The closest one knows closer nodes and a peer.
    let peer: SocketAddr = "192.0.2.1:7000".parse().unwrap();
    lookup.handle_response(
        &first[0],
        &[node(0x01, 4), node(0x02, 5)],
        &[peer],
        None,
        true,
    );
    // Node 2, still in flight, is no longer among the k closest: its slot is free too.
    let second = lookup.next_queries(now);
    assert_eq!(second, [node(0x01, 4), node(0x02, 5)]);
    lookup.handle_failure(&first[1]);
    assert!(lookup.next_queries(now).is_empty(), "nothing else to ask");
    lookup.handle_response(&node(0x01, 4), &[], &[peer], Some(b"t1".to_vec()), true);
    assert!(
        !lookup.is_done(),
        "node 5 is closer than node 3 and still asked"
    );
    lookup.handle_response(&node(0x02, 5), &[], &[], Some(b"t2".to_vec()), true);
    assert!(lookup.is_done());
    assert_eq!(lookup.peers(), [peer]);
    let closest = lookup.closest();
    assert_eq!(closest.len(), 2);
    assert_eq!(closest[0].node, node(0x01, 4));
    assert_eq!(closest[0].token.as_deref(), Some(&b"t1"[..]));
    let stats = lookup.stats();
    assert_eq!((stats.queries, stats.answers, stats.failures), (4, 3, 1));
    assert_eq!(stats.rounds, 2);
}

#[test]
fn a_slow_query_frees_its_slot_and_a_late_answer_still_counts() {
    let now = Instant::now();
    let config = LookupConfig {
        alpha: 1,
        k: 1,
        ..LookupConfig::default()
    };
    let mut lookup = Lookup::new(now, NodeId([0; 20]), [node(0x10, 1), node(0x20, 2)], config);
    let first = lookup.next_queries(now);
    assert_eq!(first, [node(0x10, 1)]);
    assert_eq!(lookup.poll_timeout(), Some(now + config.short_timeout));
    lookup.handle_timeout(now + config.short_timeout);
    assert_eq!(
        lookup.next_queries(now + config.short_timeout),
        [node(0x20, 2)]
    );
    // The slow one answers late: it is the closest, so the lookup can end.
    lookup.handle_response(&first[0], &[], &[], None, true);
    assert!(lookup.is_done());
    // Past the full timeout an unanswered query has failed.
    let mut other = Lookup::new(now, NodeId([0; 20]), [node(0x10, 1)], config);
    let _ = other.next_queries(now);
    other.handle_timeout(now + config.timeout);
    assert!(other.is_done(), "nothing left");
    assert_eq!(other.stats().failures, 1);
}

#[test]
fn untrusted_answers_give_nodes_and_peers_but_no_token_and_do_not_end_it() {
    let now = Instant::now();
    let config = LookupConfig {
        alpha: 2,
        k: 1,
        ..LookupConfig::default()
    };
    let mut lookup = Lookup::new(now, NodeId([0; 20]), [node(0x10, 1)], config);
    let asked = lookup.next_queries(now);
    let peer: SocketAddr = "192.0.2.9:1".parse().unwrap();
    lookup.handle_response(
        &asked[0],
        &[node(0x20, 2)],
        &[peer],
        Some(b"x".to_vec()),
        false,
    );
    assert!(!lookup.is_done());
    assert_eq!(lookup.peers(), [peer]);
    assert!(lookup.closest().is_empty());
    assert_eq!(lookup.next_queries(now), [node(0x20, 2)]);
    // Answers from nodes never asked, or from another address, are ignored.
    lookup.handle_response(&node(0x30, 3), &[], &[peer], None, true);
    let mut moved = node(0x20, 2);
    moved.addr = "10.9.9.9:1".parse().unwrap();
    lookup.handle_response(&moved, &[], &[], None, true);
    assert!(!lookup.is_done());
}

#[test]
fn only_the_k_closest_that_can_still_end_it_are_asked() {
    let now = Instant::now();
    let config = LookupConfig {
        alpha: 3,
        k: 2,
        ..LookupConfig::default()
    };
    let start = [node(0x10, 1), node(0x20, 2), node(0x30, 3), node(0x40, 4)];
    let mut lookup = Lookup::new(now, NodeId([0; 20]), start, config);
    assert_eq!(
        lookup.next_queries(now),
        [node(0x10, 1), node(0x20, 2)],
        "a free slot, but node 3 is past the k closest"
    );
    lookup.handle_response(&node(0x10, 1), &[], &[], None, true);
    assert!(lookup.next_queries(now).is_empty(), "node 2 is awaited");
    // Past the short timeout node 2 is probably lost: node 3 takes its place.
    let later = now + config.short_timeout;
    lookup.handle_timeout(later);
    assert_eq!(lookup.next_queries(later), [node(0x30, 3)]);
    lookup.handle_failure(&node(0x30, 3));
    assert_eq!(lookup.next_queries(later), [node(0x40, 4)]);
    assert_eq!(lookup.stats().queries, 4);
}

#[test]
fn candidates_are_bounded_keeping_the_closest() {
    let now = Instant::now();
    let config = LookupConfig {
        alpha: 3,
        max_candidates: 4,
        ..LookupConfig::default()
    };
    let start: Vec<NodeInfo> = (1..=10).map(|n| node(n as u8, n)).collect();
    let mut lookup = Lookup::new(now, NodeId([0; 20]), start, config);
    let asked = lookup.next_queries(now);
    assert_eq!(asked, [node(1, 1), node(2, 2), node(3, 3)]);
    assert_eq!(lookup.candidates.len(), 4);
}
