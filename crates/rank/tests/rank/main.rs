//! Integration tests of swarmgate-rank: factor bounds and monotonicity (proptest), connection
//! order determinism, unchoke choices in both modes, the optimistic draw's 3x weighting.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use proptest::prelude::*;
use swarmgate_rank::{
    ChokeMode, PeerFacts, Source, UnchokeCandidate, Weights, WeightsError, choose_optimistic,
    choose_unchoked, connect_order, freshness, history, load, proximity, score,
};

const SOURCES: [Source; 6] = [
    Source::Tracker,
    Source::Dht,
    Source::Pex,
    Source::WebSeed,
    Source::Manual,
    Source::Incoming,
];

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        // Addresses near the interesting ranges, so every tier is hit.
        (
            prop::sample::select(vec![10u8, 127, 172, 192]),
            any::<[u8; 3]>()
        )
            .prop_map(|(a, [b, c, d])| IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
    ]
}

fn any_facts() -> impl Strategy<Value = PeerFacts> {
    (
        (
            any_ip(),
            any::<u16>(),
            prop::sample::select(SOURCES.to_vec()),
        ),
        (any::<u64>(), 0u32..50, 0u32..50),
        (any::<u32>(), any::<u32>()),
        prop::option::of(any::<u64>().prop_map(Duration::from_millis)),
    )
        .prop_map(
            |((ip, port, source), (blocks, failures, snubs), (out, max), seen)| PeerFacts {
                addr: SocketAddr::new(ip, port),
                source,
                blocks_received: blocks,
                hash_failures: failures,
                snubs,
                outstanding: out,
                max_outstanding: max,
                since_seen: seen,
            },
        )
}

/// Any weights at all, invalid ones included (fields are public).
fn any_weights() -> impl Strategy<Value = Weights> {
    let w = || prop_oneof![0.0..10.0f64, Just(0.0), Just(-1.0), Just(f64::NAN)];
    (w(), w(), w(), w(), w()).prop_map(|(p, r, h, l, f)| Weights {
        proximity: p,
        reliability: r,
        history: h,
        load: l,
        freshness: f,
    })
}

fn local() -> Vec<IpAddr> {
    vec![
        "192.168.1.10".parse().unwrap(),
        "2001:db8:1:2::5".parse().unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn score_and_factors_stay_in_unit_interval(facts in any_facts(), weights in any_weights()) {
        let s = score(&facts, &local(), &weights);
        prop_assert!((0.0..=1.0).contains(&s), "score {s}");
        for f in [
            proximity(&local(), facts.addr.ip()),
            facts.source.reliability(),
            history(facts.blocks_received, facts.hash_failures, facts.snubs),
            load(facts.outstanding, facts.max_outstanding),
            freshness(facts.since_seen),
        ] {
            prop_assert!((0.0..=1.0).contains(&f), "factor {f}");
        }
    }

    #[test]
    fn more_hash_failures_never_raise_a_score(facts in any_facts(), more in 1u32..20) {
        let worse = PeerFacts { hash_failures: facts.hash_failures + more, ..facts };
        let w = Weights::default();
        prop_assert!(score(&worse, &local(), &w) <= score(&facts, &local(), &w));
        prop_assert!(
            history(worse.blocks_received, worse.hash_failures, worse.snubs)
                < history(facts.blocks_received, facts.hash_failures, facts.snubs)
        );
    }

    #[test]
    fn each_factor_moves_the_right_way(facts in any_facts(), step in 1u32..1000) {
        let w = Weights::default();
        let s = |f: &PeerFacts| score(f, &local(), &w);
        let more_blocks = PeerFacts { blocks_received: facts.blocks_received.saturating_add(u64::from(step)), ..facts };
        prop_assert!(s(&more_blocks) >= s(&facts));
        let more_snubs = PeerFacts { snubs: facts.snubs + step, ..facts };
        prop_assert!(s(&more_snubs) <= s(&facts));
        let busier = PeerFacts { outstanding: facts.outstanding.saturating_add(step), ..facts };
        prop_assert!(s(&busier) <= s(&facts));
        let older = PeerFacts {
            since_seen: facts.since_seen.map(|d| d.saturating_add(Duration::from_secs(u64::from(step)))),
            ..facts
        };
        prop_assert!(s(&older) <= s(&facts));
        let never = PeerFacts { since_seen: None, ..facts };
        prop_assert!(s(&never) <= s(&facts));
    }

    #[test]
    fn connect_order_is_a_deterministic_permutation(peers in prop::collection::vec(any_facts(), 0..24)) {
        let w = Weights::default();
        let order = connect_order(&peers, &local(), &w);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..peers.len()).collect::<Vec<_>>());
        // Best first; equal scores in address order.
        for pair in order.windows(2) {
            let (a, b) = (&peers[pair[0]], &peers[pair[1]]);
            let (sa, sb) = (score(a, &local(), &w), score(b, &local(), &w));
            prop_assert!(sa > sb || (sa == sb && a.addr <= b.addr));
        }
        // The input order does not matter: reversed input, same peers in the same order.
        let reversed: Vec<PeerFacts> = peers.iter().rev().copied().collect();
        let again: Vec<SocketAddr> = connect_order(&reversed, &local(), &w).iter().map(|&i| reversed[i].addr).collect();
        let first: Vec<SocketAddr> = order.iter().map(|&i| peers[i].addr).collect();
        prop_assert_eq!(again, first);
    }
}

#[test]
fn default_weights_sum_to_one_and_validation_refuses_bad_ones() {
    let w = Weights::default();
    assert!((w.sum() - 1.0).abs() < 1e-12);
    assert_eq!(
        (w.proximity, w.reliability, w.history, w.load, w.freshness),
        (0.30, 0.25, 0.20, 0.15, 0.10)
    );
    assert!(Weights::new(1.0, 1.0, 1.0, 1.0, 1.0).is_ok());
    assert!(matches!(
        Weights::new(-0.5, 1.0, 1.0, 1.0, 1.0),
        Err(WeightsError::Negative {
            factor: "proximity",
            ..
        })
    ));
    assert!(matches!(
        Weights::new(1.0, 1.0, 1.0, 1.0, f64::NAN),
        Err(WeightsError::NotFinite {
            factor: "freshness",
            ..
        })
    ));
    assert_eq!(
        Weights::new(0.0, 0.0, 0.0, 0.0, 0.0),
        Err(WeightsError::AllZero)
    );
    let n = Weights::new(2.0, 2.0, 2.0, 2.0, 2.0).unwrap().normalized();
    assert!((n.sum() - 1.0).abs() < 1e-12 && (n.load - 0.2).abs() < 1e-12);
}

#[test]
fn ranking_prefers_near_trusted_clean_idle_fresh_peers() {
    let base = PeerFacts {
        max_outstanding: 250,
        since_seen: Some(Duration::from_secs(5)),
        ..PeerFacts::new("198.51.100.7:6881".parse().unwrap(), Source::Dht)
    };
    let w = Weights::default();
    let s = |f: PeerFacts| score(&f, &local(), &w);
    let near = PeerFacts {
        addr: "192.168.1.77:6881".parse().unwrap(),
        ..base
    };
    let tracker = PeerFacts {
        source: Source::Tracker,
        ..base
    };
    let web = PeerFacts {
        source: Source::WebSeed,
        ..base
    };
    let corrupt = PeerFacts {
        hash_failures: 1,
        ..base
    };
    let busy = PeerFacts {
        outstanding: 250,
        ..base
    };
    let stale = PeerFacts {
        since_seen: Some(Duration::from_secs(3600)),
        ..base
    };
    assert!(s(near) > s(base) && s(tracker) > s(base) && s(web) < s(base));
    assert!(s(corrupt) < s(base) && s(busy) < s(base) && s(stale) < s(base));
    // A hash failure outweighs a thousand good blocks.
    let veteran = PeerFacts {
        blocks_received: 1000,
        hash_failures: 1,
        ..base
    };
    assert!(s(veteran) < s(base));
}

fn candidate(id: u64, down: u64, up: u64, interested: bool) -> UnchokeCandidate {
    UnchokeCandidate {
        id,
        interested,
        download_rate: down,
        upload_rate: up,
        score: 0.5,
        connected_for: Duration::from_secs(300),
    }
}

#[test]
fn unchoke_rewards_uploaders_when_leeching_and_fast_takers_when_seeding() {
    let peers = [
        candidate(1, 100, 5_000, true),
        candidate(2, 9_000, 10, true),
        candidate(3, 50_000, 90_000, false), // fastest both ways, but not interested
        candidate(4, 700, 700, true),
        candidate(5, 0, 60_000, true),
    ];
    assert_eq!(choose_unchoked(&peers, 3, ChokeMode::Leeching), [2, 4, 1]);
    assert_eq!(choose_unchoked(&peers, 3, ChokeMode::Seeding), [5, 1, 4]);
    assert_eq!(choose_unchoked(&peers, 10, ChokeMode::Seeding).len(), 4);
    // Ties: better score first, then lower id.
    let mut tied = [
        candidate(8, 10, 10, true),
        candidate(6, 10, 10, true),
        candidate(7, 10, 10, true),
    ];
    tied[2].score = 0.9;
    assert_eq!(choose_unchoked(&tied, 3, ChokeMode::Leeching), [7, 6, 8]);
    assert_eq!(choose_unchoked(&tied, 3, ChokeMode::Seeding), [7, 6, 8]);
}

#[test]
fn optimistic_unchoke_favours_new_peers_three_to_one() {
    let mut peers: Vec<UnchokeCandidate> = (1..=6).map(|id| candidate(id, 0, 0, true)).collect();
    peers[0].connected_for = Duration::from_secs(10); // new
    peers[1].connected_for = Duration::from_secs(59); // new
    peers[5].interested = false; // never chosen
    let already = [3u64]; // regular unchoke: never chosen
    let mut counts = [0u32; 7];
    // A fixed splitmix64 sequence, bounded: the caller's seeded RNG.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..40_000 {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let id = choose_optimistic(&peers, &already, z).unwrap();
        counts[id as usize] += 1;
    }
    assert_eq!(counts[3], 0);
    assert_eq!(counts[6], 0);
    let new = f64::from(counts[1] + counts[2]) / 2.0;
    let old = f64::from(counts[4] + counts[5]) / 2.0;
    let ratio = new / old;
    assert!(
        (2.7..3.3).contains(&ratio),
        "new/old ratio {ratio} ({counts:?})"
    );
    // Expected shares 3/8, 3/8, 1/8, 1/8 of 40,000.
    for (id, expected) in [(1, 15_000.0), (2, 15_000.0), (4, 5_000.0), (5, 5_000.0)] {
        let got = f64::from(counts[id]);
        assert!((got - expected).abs() < expected * 0.1, "peer {id}: {got}");
    }
    // The same random value always picks the same peer, whatever the candidates' order.
    let mut shuffled = peers.clone();
    shuffled.reverse();
    for r in [0, 1 << 40, u64::MAX / 3, u64::MAX] {
        assert_eq!(
            choose_optimistic(&peers, &already, r),
            choose_optimistic(&shuffled, &already, r)
        );
    }
    assert_eq!(choose_optimistic(&peers, &[1, 2, 3, 4, 5], 42), None);
}
