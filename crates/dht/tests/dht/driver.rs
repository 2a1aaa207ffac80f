//! The tokio driver on loopback: nodes that meet through one another, announce and find
//! peers, keep torrents announced, survive a restart with their id and table, speak IPv6, and
//! end cleanly. Every wait is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use swarmgate_core::InfoHashV1;
use swarmgate_dht::{Dht, DhtConfig, DhtError, NodeConfig};

/// Every wait in these tests ends by this.
const PATIENCE: Duration = Duration::from_secs(20);

fn config(bootstrap: &[SocketAddr], seed: u64) -> DhtConfig {
    DhtConfig {
        node: NodeConfig::local_network(),
        bootstrap: bootstrap.iter().map(ToString::to_string).collect(),
        seed: Some(seed),
        ..DhtConfig::default()
    }
}

async fn node(addr: &str, bootstrap: &[SocketAddr], seed: u64) -> Dht {
    Dht::bind(addr.parse().expect("address"), config(bootstrap, seed))
        .await
        .expect("bind")
}

/// Waits until `dht` has at least `nodes` nodes in its tables.
async fn wait_for_nodes(dht: &Dht, nodes: usize) {
    let outcome = tokio::time::timeout(PATIENCE, async {
        loop {
            let stats = dht.stats();
            let known = stats.table4.good
                + stats.table4.questionable
                + stats.table6.good
                + stats.table6.questionable;
            if known >= nodes {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "{dht:?} never knew {nodes} nodes: {:?}",
        dht.stats()
    );
}

/// Looks `info_hash` up from `dht` until `peer` is among the peers, a bounded number of times.
async fn find(dht: &Dht, info_hash: InfoHashV1, peer: SocketAddr) -> Vec<SocketAddr> {
    for _ in 0..20 {
        let (peers, report) = tokio::time::timeout(PATIENCE, dht.get_peers(info_hash).finish())
            .await
            .expect("the lookup ends")
            .expect("the node runs");
        assert_eq!(report.info_hash, info_hash);
        assert_eq!(report.peers, peers.len());
        if peers.contains(&peer) {
            return peers;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{peer} never found for {info_hash:?}");
}

#[tokio::test]
async fn nodes_meet_through_a_bootstrap_node_and_find_an_announced_peer() {
    let router = node("127.0.0.1:0", &[], 1).await;
    let seeder = node("127.0.0.1:0", &[router.local_addr()], 2).await;
    let leecher = node("127.0.0.1:0", &[router.local_addr()], 3).await;
    wait_for_nodes(&seeder, 1).await;
    wait_for_nodes(&leecher, 1).await;

    let info_hash = InfoHashV1([0x42; 20]);
    let (_, report) = tokio::time::timeout(
        PATIENCE,
        seeder.announce(info_hash, Some(7001), true).finish(),
    )
    .await
    .expect("the announce ends")
    .expect("the node runs");
    assert!(report.announced_to >= 1, "{report:?}");
    assert!(report.stats.answers >= 1, "{report:?}");

    let seeder_peer: SocketAddr = "127.0.0.1:7001".parse().expect("address");
    find(&leecher, info_hash, seeder_peer).await;
    assert!(router.stats().announces_stored >= 1);
    assert!(leecher.stats().lookups_answered >= 1);
    for dht in [router, seeder, leecher] {
        dht.shutdown().await.expect("shutdown");
    }
}

#[tokio::test]
async fn a_kept_torrent_is_served_by_the_node_itself_even_with_an_empty_table() {
    // libtorrent does not read its own store: a client whose only contact is our node must
    // get our own peer from it. The gateway's node keeps libtorrent's one-peer-per-IP store.
    let gateway = Dht::bind(
        "127.0.0.1:0".parse().expect("address"),
        DhtConfig {
            node: NodeConfig::default(),
            bootstrap: Vec::new(),
            seed: Some(4),
            ..DhtConfig::default()
        },
    )
    .await
    .expect("bind");
    let info_hash = InfoHashV1([0x17; 20]);
    gateway.keep_announcing(info_hash, Some(6999), true);
    let client = node("127.0.0.1:0", &[gateway.local_addr()], 5).await;
    wait_for_nodes(&client, 1).await;
    let own: SocketAddr = "127.0.0.1:6999".parse().expect("address");
    find(&client, info_hash, own).await;
    assert_eq!(gateway.driver_stats().kept_announced, 1);
    assert!(gateway.driver_stats().announces_run >= 1);

    // Another peer on the same IP announces: it is stored, and does not push our own out.
    let (_, report) = client
        .announce(info_hash, Some(7777), false)
        .finish()
        .await
        .expect("runs");
    assert!(report.announced_to >= 1, "{report:?}");
    let other: SocketAddr = "127.0.0.1:7777".parse().expect("address");
    let peers = find(&client, info_hash, other).await;
    assert!(peers.contains(&own), "{peers:?}");

    // Stopped: our own peer is no longer given.
    gateway.stop_announcing(&info_hash);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(gateway.driver_stats().kept_announced, 0);
    let (peers, _) = client.get_peers(info_hash).finish().await.expect("runs");
    assert!(!peers.contains(&own), "{peers:?}");
    client.shutdown().await.expect("shutdown");
    gateway.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_restarted_node_keeps_its_id_and_table_and_needs_no_router() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let state = folder.path().join("nested").join("dht.dat");
    let router = node("127.0.0.1:0", &[], 6).await;
    let mut peers = Vec::new();
    for seed in 10..13 {
        peers.push(node("127.0.0.1:0", &[router.local_addr()], seed).await);
    }

    let mut saved_config = config(&[router.local_addr()], 7);
    saved_config.state_file = Some(state.clone());
    let first = Dht::bind(
        "127.0.0.1:0".parse().expect("address"),
        saved_config.clone(),
    )
    .await
    .expect("bind");
    let addr = first.local_addr();
    wait_for_nodes(&first, 3).await;
    let id = first.id();
    first.shutdown().await.expect("shutdown");
    assert!(state.exists(), "saved at shutdown");
    router.shutdown().await.expect("router gone");

    // Same address, another seed, no router at all: the id and nodes come from the file.
    saved_config.bootstrap.clear();
    saved_config.seed = Some(99);
    let second = Dht::bind(addr, saved_config).await.expect("rebind");
    assert_eq!(second.id(), id, "a restart keeps the id");
    wait_for_nodes(&second, 3).await;
    let info_hash = InfoHashV1([0x99; 20]);
    let (_, report) = tokio::time::timeout(PATIENCE, second.get_peers(info_hash).finish())
        .await
        .expect("ends")
        .expect("runs");
    assert!(
        report.stats.answers >= 1,
        "the saved nodes answer: {report:?}"
    );
    second.shutdown().await.expect("shutdown");
    for peer in peers {
        peer.shutdown().await.expect("shutdown");
    }
}

#[tokio::test]
async fn a_damaged_state_file_is_a_fresh_start() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let state = folder.path().join("dht.dat");
    std::fs::write(&state, b"d2:id3:bad").expect("write");
    let mut config = config(&[], 8);
    config.state_file = Some(state.clone());
    let dht = Dht::bind("127.0.0.1:0".parse().expect("address"), config)
        .await
        .expect("starts anyway");
    dht.shutdown().await.expect("shutdown");
    let bytes = std::fs::read(&state).expect("rewritten");
    assert!(
        swarmgate_dht::SavedTable::decode(&bytes).is_ok(),
        "a good table replaced it"
    );
}

#[tokio::test]
async fn ipv6_nodes_meet_and_find_peers() {
    let Ok(probe) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    };
    drop(probe);
    let router = node("[::1]:0", &[], 20).await;
    let seeder = node("[::1]:0", &[router.local_addr()], 21).await;
    let leecher = node("[::1]:0", &[router.local_addr()], 22).await;
    wait_for_nodes(&seeder, 1).await;
    wait_for_nodes(&leecher, 1).await;
    let info_hash = InfoHashV1([0x66; 20]);
    let (_, report) = seeder
        .announce(info_hash, Some(7002), false)
        .finish()
        .await
        .expect("runs");
    assert!(report.announced_to >= 1, "{report:?}");
    find(&leecher, info_hash, "[::1]:7002".parse().expect("address")).await;
    assert!(leecher.stats().table6.good + leecher.stats().table6.questionable >= 1);
    assert_eq!(leecher.stats().table4.good, 0, "one table per family");
    for dht in [router, seeder, leecher] {
        dht.shutdown().await.expect("shutdown");
    }
}

#[tokio::test]
async fn after_shutdown_lookups_say_the_node_stopped_and_bad_names_are_counted() {
    let mut config = config(&[], 30);
    config.bootstrap = vec!["no-such-router.invalid:6881".to_owned()];
    let dht = Dht::bind("127.0.0.1:0".parse().expect("address"), config)
        .await
        .expect("bind");
    let counted = tokio::time::timeout(PATIENCE, async {
        while dht.driver_stats().unresolved_bootstraps == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(counted.is_ok(), "{:?}", dht.driver_stats());
    dht.shutdown().await.expect("shutdown");
    let after = dht.get_peers(InfoHashV1([1; 20])).finish().await;
    assert!(matches!(after, Err(DhtError::Stopped)), "{after:?}");
    dht.shutdown().await.expect("a second shutdown is harmless");
}

#[tokio::test]
async fn binding_a_taken_address_says_which() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address");
    let error = Dht::bind(addr, DhtConfig::default())
        .await
        .expect_err("in use");
    assert!(
        matches!(error, DhtError::Bind { addr: a, .. } if a == addr),
        "{error}"
    );
    assert!(error.to_string().contains(&addr.to_string()));
}

#[tokio::test]
async fn a_node_on_every_address_gives_its_own_peer_once_it_knows_its_public_ip() {
    let info_hash = InfoHashV1([0x23; 20]);
    let own: SocketAddr = "127.0.0.1:6998".parse().expect("address");
    for public_ip in [None, Some(own.ip())] {
        let mut server_config = config(&[], 40);
        server_config.node.public_ip = public_ip;
        let server = Dht::bind("0.0.0.0:0".parse().expect("address"), server_config)
            .await
            .expect("bind");
        server.keep_announcing(info_hash, Some(own.port()), true);
        let reach: SocketAddr = ([127, 0, 0, 1], server.local_addr().port()).into();
        let client = node("127.0.0.1:0", &[reach], 41).await;
        wait_for_nodes(&client, 1).await;
        let (peers, report) = client.get_peers(info_hash).finish().await.expect("runs");
        assert!(report.stats.answers >= 1, "{report:?}");
        // Bound to 0.0.0.0 and told nothing, it cannot say where it is; told, it can.
        assert_eq!(
            peers.contains(&own),
            public_ip.is_some(),
            "{public_ip:?}: {peers:?}"
        );
        client.shutdown().await.expect("shutdown");
        server.shutdown().await.expect("shutdown");
    }
}
