//! The node as a server under attack: query floods, spoofed queries asking for large answers,
//! forged tokens, a peer-store flood, unknown methods, read-only and BEP 42-breaking askers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swarmgate_core::InfoHashV1;
use swarmgate_dht::{
    ERROR_METHOD_UNKNOWN, ERROR_PROTOCOL, Message, Method, Node, NodeConfig, NodeId,
    TOKEN_ROTATION, Want,
};

use super::{
    announce_from, announce_peer, ask, encode, error_code, exchange, get_peers, public_v4,
    public_v6, response, secure_id, token_for, unlimited,
};

#[test]
fn a_query_flood_from_one_ip_is_answered_up_to_the_rate_limit_and_other_ips_still_are() {
    let start = Instant::now();
    let mut config = NodeConfig::default();
    config.rate.per_second = 10;
    config.rate.burst = 25;
    let mut node = Node::new(config, start, 1, None);
    let flood = public_v4(1);
    let ping = encode(&Message::query(
        b"pp".to_vec(),
        secure_id(flood.ip(), 1),
        Method::Ping,
    ));
    let answered = (0..200)
        .filter(|_| exchange(&mut node, start, flood, &ping).is_some())
        .count();
    assert_eq!(answered, 25, "the burst, and nothing more");
    // Malformed queries from the flooding IP get no 203 either: the limit is per IP.
    let malformed = b"d1:ad2:id3:abce1:q4:ping1:t2:xx1:y1:qe";
    assert!(exchange(&mut node, start, flood, malformed).is_none());
    let stats = node.stats(start);
    assert_eq!(stats.drops.rate_limited, 176, "every refused query counted");
    assert_eq!(stats.answers_sent, 25);
    // Another address is served at the same instant, and so is a new IPv6 /64.
    assert!(exchange(&mut node, start, public_v4(2), &ping).is_some());
    assert!(exchange(&mut node, start, public_v6(1), &ping).is_some());
    // A second later the flooder has ten more.
    let later = start + Duration::from_secs(1);
    let answered = (0..100)
        .filter(|_| exchange(&mut node, later, flood, &ping).is_some())
        .count();
    assert_eq!(answered, 10);
    assert_eq!(node.stats(later).drops.rate_limited, 176 + 90);
}

#[test]
fn the_local_network_configuration_has_no_rate_limit() {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::local_network(), now, 11, None);
    let ping = Message::query(b"pp".to_vec(), NodeId([9; 20]), Method::Ping);
    let from: SocketAddr = "127.0.0.1:6881".parse().unwrap();
    let answered = (0..1_000)
        .filter(|_| ask(&mut node, now, from, &ping).is_some())
        .count();
    assert_eq!(answered, 1_000, "many nodes share 127.0.0.1");
}

#[test]
fn rotating_addresses_inside_one_ipv6_slash_64_share_one_budget() {
    let now = Instant::now();
    let mut config = NodeConfig {
        ipv6: true,
        ..NodeConfig::default()
    };
    config.rate.burst = 5;
    let mut node = Node::new(config, now, 2, None);
    let answered = (1..=50u32)
        .filter(|n| {
            let from: SocketAddr = format!("[2001:db8:77::{n:x}]:6881").parse().unwrap();
            let ping = Message::query(b"pp".to_vec(), NodeId([9; 20]), Method::Ping);
            ask(&mut node, now, from, &ping).is_some()
        })
        .count();
    assert_eq!(answered, 5);
    assert_eq!(node.stats(now).drops.rate_limited, 45);
}

/// Fills `node`'s tables through queries from `count` public IPv4 and IPv6 askers with BEP 42
/// ids (askers are kept as questionable nodes, which answers hand out).
fn fill_tables(node: &mut Node, now: Instant, count: u32) {
    for n in 0..count {
        for from in [public_v4(1000 + n), public_v6(1000 + n)] {
            let ping = Message::query(b"pp".to_vec(), secure_id(from.ip(), 7), Method::Ping);
            assert!(ask(node, now, from, &ping).is_some());
        }
    }
}

#[test]
fn a_spoofed_tiny_get_peers_for_a_crowded_hash_is_answered_within_the_bound() {
    let now = Instant::now();
    let crowded = InfoHashV1([0x33; 20]);
    for factor in [12, 4, 1] {
        let mut config = unlimited();
        config.answer_factor = factor;
        config.max_answer_len = 1_200;
        let mut node = Node::new(config, now, 3, None);
        for n in 0..150 {
            assert!(announce_from(&mut node, now, public_v4(n), crowded));
        }
        assert_eq!(node.stats(now).stored_peers, 150);
        let victim = public_v4(9_999);
        for scrape in [false, true] {
            for tid in [&b""[..], b"t", &[7; 32]] {
                let query = get_peers(tid, NodeId([1; 20]), crowded, scrape);
                let query = encode(&query);
                let answer = exchange(&mut node, now, victim, &query);
                let answer = answer.expect("the asker is answered");
                let bound = (factor * query.len()).min(1_200);
                assert!(
                    answer.len() <= bound,
                    "factor {factor}: {} bytes for a {}-byte query",
                    answer.len(),
                    query.len()
                );
                let answer = response(Some(super::decode(&answer)));
                assert!(answer.token.is_some(), "the token survives trimming");
                if factor == 12 {
                    assert!(answer.values.len() >= 8, "{} values", answer.values.len());
                }
            }
        }
        assert!(node.stats(now).drops.trimmed_answers > 0);
    }
}

#[test]
fn a_spoofed_find_node_wanting_both_families_is_answered_within_the_bound() {
    let now = Instant::now();
    for factor in [12, 6, 3] {
        let mut config = unlimited();
        config.ipv6 = true;
        config.answer_factor = factor;
        let mut node = Node::new(config, now, 4, None);
        fill_tables(&mut node, now, 40);
        let both = Want { v4: true, v6: true };
        let method = Method::FindNode {
            target: NodeId([0x5a; 20]),
            want: Some(both),
        };
        let query = encode(&Message::query(Vec::new(), NodeId([1; 20]), method));
        for victim in [public_v4(7_777), public_v6(7_777)] {
            let answer = exchange(&mut node, now, victim, &query).expect("answered");
            assert!(
                answer.len() <= factor * query.len(),
                "factor {factor}: {} bytes for a {}-byte query",
                answer.len(),
                query.len()
            );
            let answer = response(Some(super::decode(&answer)));
            assert!(!answer.nodes.is_empty(), "still useful: some nodes");
            if factor == 12 {
                assert_eq!((answer.nodes.len(), answer.nodes6.len()), (8, 8));
            }
        }
    }
}

#[test]
fn an_answer_that_cannot_be_trimmed_into_the_bound_is_withheld_and_counted() {
    let now = Instant::now();
    let config = NodeConfig {
        answer_factor: 1,
        ..NodeConfig::default()
    };
    let mut node = Node::new(config, now, 12, None);
    // A 13-byte malformed query: even an empty 203 is longer.
    assert!(exchange(&mut node, now, public_v4(1), b"d1:t0:1:y1:qe").is_none());
    // A ping is answered without `v` and `ip`, which makes it shorter than the query.
    let ping = encode(&Message::query(
        b"pp".to_vec(),
        NodeId([2; 20]),
        Method::Ping,
    ));
    let answer = exchange(&mut node, now, public_v4(2), &ping).expect("a bare pong fits");
    assert!(answer.len() <= ping.len());
    let stats = node.stats(now);
    assert_eq!(stats.drops.oversized_answers, 1);
    assert_eq!((stats.answers_sent, stats.errors_sent), (1, 0));
    let config = NodeConfig {
        max_answer_len: 20,
        ..NodeConfig::default()
    };
    let mut node = Node::new(config, now, 13, None);
    assert!(exchange(&mut node, now, public_v4(3), &ping).is_none());
    assert_eq!(node.stats(now).drops.oversized_answers, 1);
}

#[test]
fn forged_expired_and_other_ip_tokens_are_refused_with_203_and_store_nothing() {
    let start = Instant::now();
    let mut node = Node::new(unlimited(), start, 5, None);
    let info_hash = InfoHashV1([0x44; 20]);
    let asker = public_v4(1);
    let id = secure_id(asker.ip(), 1);
    let token = token_for(&mut node, start, asker, info_hash);
    // Another node's token for the same IP, a guessed one, a short one, the right one with a
    // byte changed, and the right one from another IP.
    let mut elsewhere = Node::new(unlimited(), start, 6, None);
    let foreign = token_for(&mut elsewhere, start, asker, info_hash);
    let mut flipped = token.clone();
    flipped[0] ^= 1;
    let forged = [
        foreign,
        vec![0; 8],
        token[..4].to_vec(),
        flipped,
        Vec::new(),
    ];
    for bad in forged {
        let answer = ask(&mut node, start, asker, &announce_peer(id, info_hash, bad));
        assert_eq!(error_code(&answer), Some(ERROR_PROTOCOL));
    }
    let thief = public_v4(2);
    let stolen = announce_peer(secure_id(thief.ip(), 1), info_hash, token.clone());
    assert_eq!(
        error_code(&ask(&mut node, start, thief, &stolen)),
        Some(ERROR_PROTOCOL)
    );
    // Ten minutes on, with the secret rotated twice, the token is dead.
    let late = start + 2 * TOKEN_ROTATION;
    node.handle_timeout(late);
    let expired = announce_peer(id, info_hash, token);
    assert_eq!(
        error_code(&ask(&mut node, late, asker, &expired)),
        Some(ERROR_PROTOCOL)
    );
    let stats = node.stats(late);
    assert_eq!(stats.announces_bad_token, 7);
    assert_eq!((stats.announces_stored, stats.stored_peers), (0, 0));
    let third = public_v4(3);
    let query = get_peers(b"gp", secure_id(third.ip(), 1), info_hash, false);
    assert!(
        response(ask(&mut node, late, third, &query))
            .values
            .is_empty()
    );
    // The same announce with a fresh token is stored: the refusals above were the tokens.
    assert!(announce_from(&mut node, late, asker, info_hash));
    assert_eq!(node.stats(late).stored_peers, 1);
}

#[test]
fn a_peer_store_flood_stays_within_its_bounds() {
    let now = Instant::now();
    let mut config = unlimited();
    config.store.max_peers = 100;
    config.store.max_peers_per_hash = 10;
    let mut node = Node::new(config, now, 7, None);
    let flooder = public_v4(1);
    let id = secure_id(flooder.ip(), 1);
    // One token, many info-hashes: the store holds at most its total bound.
    let token = token_for(&mut node, now, flooder, InfoHashV1([0; 20]));
    for n in 0..500u32 {
        let mut hash = [0u8; 20];
        hash[..4].copy_from_slice(&n.to_be_bytes());
        let answer = ask(
            &mut node,
            now,
            flooder,
            &announce_peer(id, InfoHashV1(hash), token.clone()),
        );
        assert!(answer.is_some());
        let stats = node.stats(now);
        assert!(stats.stored_peers <= 100 && stats.stored_info_hashes <= 100);
    }
    // One IP announcing many ports of one hash is one peer.
    let target = InfoHashV1([0xee; 20]);
    for port in 1..=300u16 {
        let method = Method::AnnouncePeer {
            info_hash: target,
            port,
            implied_port: false,
            token: token.clone(),
            seed: false,
        };
        assert!(
            ask(
                &mut node,
                now,
                flooder,
                &Message::query(b"ap".to_vec(), id, method)
            )
            .is_some()
        );
    }
    let reader = public_v4(2);
    let query = get_peers(b"gp", secure_id(reader.ip(), 1), target, false);
    let values = response(ask(&mut node, now, reader, &query)).values;
    assert_eq!(
        values,
        [SocketAddr::new(flooder.ip(), 300)],
        "one peer per IP"
    );
    // Many IPs announcing one hash: at most the per-hash bound.
    for n in 10..200 {
        assert!(announce_from(&mut node, now, public_v4(n), target));
    }
    let values = response(ask(&mut node, now, reader, &query)).values;
    assert_eq!(values.len(), 10, "the per-hash bound");
    assert!(node.stats(now).stored_peers <= 100);
}

#[test]
fn an_unknown_method_gets_error_204_and_its_transaction_id_back() {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::default(), now, 8, None);
    for name in [&b"vote"[..], b"get", b"put", b"", &[0xff; 40]] {
        let method = Method::Unknown {
            name: name.to_vec(),
        };
        let query = Message::query(b"uk".to_vec(), NodeId([2; 20]), method);
        let answer = ask(&mut node, now, public_v4(1), &query);
        assert_eq!(error_code(&answer), Some(ERROR_METHOD_UNKNOWN), "{name:?}");
        assert_eq!(answer.unwrap().transaction_id, b"uk");
    }
    assert_eq!(node.stats(now).errors_sent, 5);
}

#[test]
fn read_only_and_bep42_breaking_askers_are_answered_but_not_kept() {
    let now = Instant::now();
    let mut node = Node::new(NodeConfig::default(), now, 9, None);
    // BEP 43: a read-only asker is answered, never added.
    let quiet = public_v4(1);
    let mut ping = Message::query(b"pp".to_vec(), secure_id(quiet.ip(), 1), Method::Ping);
    ping.read_only = true;
    assert!(ask(&mut node, now, quiet, &ping).is_some());
    // An id that breaks BEP 42 for a public address: answered, never added.
    let liar = public_v4(2);
    let id = NodeId([0x55; 20]);
    assert!(!id.is_secure_for(liar.ip()));
    let ping = Message::query(b"pp".to_vec(), id, Method::Ping);
    assert!(ask(&mut node, now, liar, &ping).is_some());
    let health = node.stats(now).table4;
    assert_eq!(health.good + health.questionable + health.replacements, 0);
    // The same asker without `ro` and with a BEP 42 id is kept: the refusals were the rules.
    let ping = Message::query(b"pp".to_vec(), secure_id(quiet.ip(), 1), Method::Ping);
    assert!(ask(&mut node, now, quiet, &ping).is_some());
    assert_eq!(node.stats(now).table4.questionable, 1);
}

#[test]
fn a_read_only_node_answers_nothing_not_even_a_malformed_query() {
    let now = Instant::now();
    let config = NodeConfig {
        read_only: true,
        ..NodeConfig::default()
    };
    let mut node = Node::new(config, now, 10, None);
    let from = public_v4(1);
    let ping = Message::query(b"pp".to_vec(), NodeId([3; 20]), Method::Ping);
    assert!(ask(&mut node, now, from, &ping).is_none());
    let malformed = b"d1:ad2:id3:abce1:q4:ping1:t2:xx1:y1:qe";
    assert!(exchange(&mut node, now, from, malformed).is_none());
    let stats = node.stats(now);
    assert_eq!(stats.drops.read_only, 2);
    assert_eq!(stats.answers_sent + stats.errors_sent, 0);
}
