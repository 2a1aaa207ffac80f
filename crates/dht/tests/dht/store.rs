//! The peer store: per-hash and total bounds, expiry, random windows, BEP 33 seeds and blooms,
//! BEP 51 samples, one peer per IP.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use swarmgate_core::SplitMix64;
use swarmgate_dht::{Announced, Family, PEER_TTL, PeerStore, ScrapeBloom, StoreConfig};

fn v4(n: u32) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(0xc633_6400 + n), 6881))
}

fn v6(n: u32) -> SocketAddr {
    format!("[2001:db8::{n:x}]:6881").parse().unwrap()
}

fn config(per_hash: usize, total: usize) -> StoreConfig {
    let mut config = StoreConfig::default();
    config.max_peers_per_hash = per_hash;
    config.max_peers = total;
    config
}

#[test]
fn a_full_info_hash_drops_its_oldest_peer() {
    let start = Instant::now();
    let mut store = PeerStore::new(config(10, 1000), start);
    for n in 0..15 {
        let now = start + Duration::from_secs(u64::from(n));
        let peer = if n % 3 == 0 { v6(n) } else { v4(n) };
        store.announce(now, [1; 20], peer, false);
        assert!(store.peers_of(&[1; 20]) <= 10);
    }
    assert_eq!(store.peers_of(&[1; 20]), 10);
    assert_eq!(store.stats().evicted_hash_full, 5);
    let mut rng = SplitMix64::new(1);
    let now = start + Duration::from_secs(20);
    let mut held: Vec<SocketAddr> = store.get(now, &[1; 20], Family::V4, 100, false, &mut rng);
    held.extend(store.get(now, &[1; 20], Family::V6, 100, false, &mut rng));
    let expected: HashSet<SocketAddr> = (5..15)
        .map(|n| if n % 3 == 0 { v6(n) } else { v4(n) })
        .collect();
    assert_eq!(
        held.into_iter().collect::<HashSet<_>>(),
        expected,
        "the five oldest went"
    );
    // A refresh saves a peer from being the oldest.
    store.announce(now, [1; 20], v4(5), false);
    store.announce(now, [1; 20], v4(100), false);
    assert!(
        store
            .get(now, &[1; 20], Family::V4, 100, false, &mut rng)
            .contains(&v4(5))
    );
    assert!(
        !store
            .get(now, &[1; 20], Family::V6, 100, false, &mut rng)
            .contains(&v6(6))
    );
}

#[test]
fn the_per_hash_bound_stays_under_bep33s_6000() {
    let now = Instant::now();
    let mut store = PeerStore::new(config(1_000_000, 1_000_000), now);
    for n in 0..6_100 {
        store.announce(now, [2; 20], v4(n), n % 2 == 0);
    }
    assert_eq!(store.peers_of(&[2; 20]), 5_999);
}

#[test]
fn a_full_store_drops_the_oldest_peer_anywhere() {
    let start = Instant::now();
    let mut store = PeerStore::new(config(100, 20), start);
    for n in 0..40u32 {
        let now = start + Duration::from_secs(u64::from(n));
        store.announce(now, [(n % 4) as u8; 20], v4(n), false);
        assert!(store.len() <= 20);
    }
    assert_eq!(store.len(), 20);
    assert_eq!(store.stats().evicted_store_full, 20);
    let mut rng = SplitMix64::new(2);
    let now = start + Duration::from_secs(40);
    let held: HashSet<SocketAddr> = (0..4u8)
        .flat_map(|h| store.get(now, &[h; 20], Family::V4, 100, false, &mut rng))
        .collect();
    assert_eq!(held, (20..40).map(v4).collect::<HashSet<_>>());
    // Info-hashes emptied by eviction are gone.
    let mut store = PeerStore::new(config(100, 3), start);
    for n in 0..10u32 {
        store.announce(
            start + Duration::from_secs(u64::from(n)),
            [n as u8; 20],
            v4(n),
            false,
        );
    }
    assert_eq!((store.len(), store.info_hashes()), (3, 3));
}

#[test]
fn peers_expire_thirty_minutes_after_their_last_announce() {
    let start = Instant::now();
    let mut store = PeerStore::new(StoreConfig::default(), start);
    let mut rng = SplitMix64::new(3);
    store.announce(start, [1; 20], v4(1), false);
    store.announce(start, [1; 20], v4(2), false);
    store.announce(start + Duration::from_secs(600), [1; 20], v4(2), false);
    store.announce(start, [9; 20], v6(1), true);
    let almost = start + PEER_TTL - Duration::from_secs(1);
    assert_eq!(
        store
            .get(almost, &[1; 20], Family::V4, 10, false, &mut rng)
            .len(),
        2
    );
    let expired = start + PEER_TTL;
    // Expired peers are not handed out even before expire() runs.
    assert_eq!(
        store.get(expired, &[1; 20], Family::V4, 10, false, &mut rng),
        [v4(2)]
    );
    assert_eq!(store.poll_timeout(), Some(expired));
    store.expire(expired);
    assert_eq!(store.len(), 1);
    assert_eq!(store.info_hashes(), 1, "[9; 20] lost its only peer");
    assert_eq!(store.stats().expired, 2);
    assert_eq!(
        store.poll_timeout(),
        Some(start + Duration::from_secs(600) + PEER_TTL)
    );
    store.expire(start + Duration::from_secs(600) + PEER_TTL);
    assert!(store.is_empty());
    assert_eq!(store.poll_timeout(), None);
}

#[test]
fn get_returns_random_windows_of_the_asked_family() {
    let now = Instant::now();
    let mut store = PeerStore::new(StoreConfig::default(), now);
    for n in 0..200 {
        store.announce(now, [3; 20], v4(n), false);
    }
    for n in 0..5 {
        store.announce(now, [3; 20], v6(n), false);
    }
    let mut rng = SplitMix64::new(4);
    let mut firsts = HashSet::new();
    for _ in 0..50 {
        let window = store.get(now, &[3; 20], Family::V4, 50, false, &mut rng);
        assert_eq!(window.len(), 50);
        assert_eq!(window.iter().collect::<HashSet<_>>().len(), 50, "distinct");
        assert!(window.iter().all(|a| a.is_ipv4()));
        firsts.insert(window[0]);
    }
    assert!(
        firsts.len() > 20,
        "windows start at random places: {}",
        firsts.len()
    );
    let six = store.get(now, &[3; 20], Family::V6, 50, false, &mut rng);
    assert_eq!(
        six.into_iter().collect::<HashSet<_>>(),
        (0..5).map(v6).collect()
    );
    assert!(
        store
            .get(now, &[4; 20], Family::V4, 50, false, &mut rng)
            .is_empty()
    );
    // The same seed, the same window.
    let a = store.get(now, &[3; 20], Family::V4, 8, false, &mut SplitMix64::new(5));
    let b = store.get(now, &[3; 20], Family::V4, 8, false, &mut SplitMix64::new(5));
    assert_eq!(a, b);
}

#[test]
fn seeds_are_flagged_left_out_on_noseed_and_counted_in_the_blooms() {
    let now = Instant::now();
    let mut store = PeerStore::new(StoreConfig::default(), now);
    let mut rng = SplitMix64::new(6);
    let mut seeds = ScrapeBloom::new();
    let mut peers = ScrapeBloom::new();
    for n in 0..30 {
        let (addr, seed) = if n % 2 == 0 {
            (v4(n), n % 4 == 0)
        } else {
            (v6(n), n % 3 == 0)
        };
        store.announce(now, [5; 20], addr, seed);
        if seed {
            seeds.insert(addr.ip())
        } else {
            peers.insert(addr.ip())
        }
    }
    // A peer that became a seed moves from one filter to the other.
    store.announce(now, [5; 20], v4(2), true);
    seeds.insert(v4(2).ip());
    let mut peers_now = ScrapeBloom::new();
    for n in (0..30).filter(|n| *n != 2) {
        let (addr, seed) = if n % 2 == 0 {
            (v4(n), n % 4 == 0)
        } else {
            (v6(n), n % 3 == 0)
        };
        if !seed {
            peers_now.insert(addr.ip());
        }
    }
    let (bf_seeds, bf_peers) = store.blooms(now, &[5; 20]);
    assert_eq!(bf_seeds.as_bytes(), seeds.as_bytes());
    assert_eq!(bf_peers.as_bytes(), peers_now.as_bytes());
    assert_ne!(peers.as_bytes(), peers_now.as_bytes());
    let leechers = store.get(now, &[5; 20], Family::V4, 100, true, &mut rng);
    let leechers_expected: HashSet<SocketAddr> = (0..30)
        .filter(|n| n % 2 == 0 && n % 4 != 0 && *n != 2)
        .map(v4)
        .collect();
    assert_eq!(
        leechers.into_iter().collect::<HashSet<_>>(),
        leechers_expected
    );
    let (empty_seeds, empty_peers) = store.blooms(now, &[6; 20]);
    assert_eq!(
        (empty_seeds.as_bytes(), empty_peers.as_bytes()),
        (&[0; 256], &[0; 256])
    );
}

#[test]
fn one_peer_per_ip_unless_local_duplicates_are_allowed() {
    let now = Instant::now();
    let mut store = PeerStore::new(StoreConfig::default(), now);
    let a: SocketAddr = "127.0.0.1:7001".parse().unwrap();
    let b: SocketAddr = "127.0.0.1:7002".parse().unwrap();
    assert_eq!(store.announce(now, [7; 20], a, false), Announced::Added);
    assert_eq!(store.announce(now, [7; 20], b, false), Announced::Refreshed);
    let mut rng = SplitMix64::new(7);
    assert_eq!(
        store.get(now, &[7; 20], Family::V4, 10, false, &mut rng),
        [b],
        "the port moved"
    );
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:7003".parse().unwrap();
    assert_eq!(
        store.announce(now, [7; 20], mapped, false),
        Announced::Refreshed
    );

    let mut local = StoreConfig::default();
    local.allow_local_duplicates = true;
    let mut store = PeerStore::new(local, now);
    store.announce(now, [7; 20], a, false);
    assert_eq!(store.announce(now, [7; 20], b, false), Announced::Added);
    assert_eq!(store.announce(now, [7; 20], b, true), Announced::Refreshed);
    assert_eq!(store.len(), 2);
    // Public addresses stay one per IP.
    store.announce(now, [7; 20], "198.51.100.1:1".parse().unwrap(), false);
    let again = store.announce(now, [7; 20], "198.51.100.1:2".parse().unwrap(), false);
    assert_eq!(again, Announced::Refreshed);
}

#[test]
fn samples_are_distinct_random_info_hashes_with_the_count() {
    let now = Instant::now();
    let mut store = PeerStore::new(StoreConfig::default(), now);
    let mut rng = SplitMix64::new(8);
    assert_eq!(store.sample(&mut rng, 20), (Vec::new(), 0));
    for h in 0..100u8 {
        store.announce(now, [h; 20], v4(u32::from(h)), false);
    }
    let mut seen = HashSet::new();
    for _ in 0..30 {
        let (sample, num) = store.sample(&mut rng, 20);
        assert_eq!(num, 100);
        assert_eq!(sample.len(), 20);
        let distinct: HashSet<[u8; 20]> = sample.iter().copied().collect();
        assert_eq!(distinct.len(), 20);
        assert!(sample.iter().all(|h| store.peers_of(h) == 1));
        seen.extend(distinct);
    }
    assert!(seen.len() > 90, "samples cover the store: {}", seen.len());
    let (all, num) = store.sample(&mut rng, 1000);
    assert_eq!((all.len(), num), (100, 100));
    assert_eq!(
        store.sample(&mut SplitMix64::new(1), 5),
        store.sample(&mut SplitMix64::new(1), 5)
    );
}
