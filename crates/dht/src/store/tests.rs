//! Unit tests of the peer store: bounds per hash and in total, expiry, the index of oldest entries.

use super::*;

#[test]
fn stored_peers_are_12_and_24_bytes() {
    assert_eq!(std::mem::size_of::<Stored<4>>(), 12);
    assert_eq!(std::mem::size_of::<Stored<16>>(), 24);
}

#[test]
fn a_refresh_moves_the_peer_to_the_back_and_updates_it() {
    let start = Instant::now();
    let mut store = PeerStore::new(StoreConfig::default(), start);
    let a: SocketAddr = "192.0.2.1:1000".parse().unwrap();
    let b: SocketAddr = "192.0.2.2:1000".parse().unwrap();
    store.announce(start, [1; 20], a, false);
    store.announce(start + Duration::from_secs(60), [1; 20], b, false);
    let moved: SocketAddr = "192.0.2.1:2000".parse().unwrap();
    let later = start + Duration::from_secs(120);
    assert_eq!(
        store.announce(later, [1; 20], moved, true),
        Announced::Refreshed
    );
    assert_eq!(store.len(), 1 + 1);
    // b is now the oldest: a store bound of one drops it.
    let swarm = store.swarm(&[1; 20]).unwrap();
    assert_eq!(swarm.v4[0].port, 1000);
    assert_eq!(swarm.v4[1].port, 2000);
    assert!(swarm.v4[1].seed);
    assert_eq!(
        store.poll_timeout(),
        Some(start + Duration::from_secs(60) + PEER_TTL)
    );
}

#[test]
fn a_tie_never_drops_the_announce_just_made() {
    let now = Instant::now();
    let mut config = StoreConfig {
        max_peers_per_hash: 1,
        ..StoreConfig::default()
    };
    let mut store = PeerStore::new(config.clone(), now);
    let v4: SocketAddr = "192.0.2.1:1000".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:1000".parse().unwrap();
    store.announce(now, [1; 20], v6, false);
    store.announce(now, [1; 20], v4, false);
    let swarm = store.swarm(&[1; 20]).unwrap();
    assert_eq!((swarm.v4.len(), swarm.v6.len()), (1, 0));
    config.max_peers_per_hash = 10;
    config.max_peers = 1;
    let mut store = PeerStore::new(config, now);
    store.announce(now, [1; 20], v4, false);
    store.announce(now, [1; 20], v6, false);
    let swarm = store.swarm(&[1; 20]).unwrap();
    assert_eq!((swarm.v4.len(), swarm.v6.len()), (0, 1));
}

#[test]
fn an_emptied_swarm_is_dropped_and_the_index_follows_the_moved_one() {
    let start = Instant::now();
    let mut store = PeerStore::new(StoreConfig::default(), start);
    let peer: SocketAddr = "192.0.2.1:1000".parse().unwrap();
    store.announce(start, [1; 20], peer, false);
    store.announce(start + PEER_TTL / 2, [2; 20], peer, false);
    store.expire(start + PEER_TTL);
    assert_eq!(store.info_hashes(), 1);
    assert_eq!(store.peers_of(&[1; 20]), 0);
    assert_eq!(store.peers_of(&[2; 20]), 1);
    assert_eq!(store.swarm(&[2; 20]).unwrap().info_hash, [2; 20]);
    assert_eq!(store.stats().expired, 1);
}
