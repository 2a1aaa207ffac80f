//! The DHT as a peer source over loopback: a seeding run keeps its torrent announced on a DHT
//! node, and a magnet link with nothing but its info-hash resolves (BEP 9 from a peer the DHT
//! found) and downloads through the DHT alone. Every wait is bounded.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use swarmgate_core::{InfoHash, PeerId};
use swarmgate_dht::{Dht, DhtConfig, NodeConfig};
use swarmgate_metainfo::{Magnet, Torrent};
use swarmgate_session::{MagnetError, MagnetOptions, RunConfig, Summary, resolve_magnet, run};
use swarmgate_testkit::{Fixture, TorrentFixture};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const LIMIT: Duration = Duration::from_secs(60);

/// A DHT node on loopback, bootstrapped from `bootstrap`.
async fn node(bootstrap: &[SocketAddr], seed: u64) -> Dht {
    let config = DhtConfig {
        node: NodeConfig::local_network(),
        bootstrap: bootstrap.iter().map(ToString::to_string).collect(),
        seed: Some(seed),
        ..DhtConfig::default()
    };
    Dht::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("bind a DHT node")
}

fn fixture() -> Fixture {
    TorrentFixture::new(71)
        .piece_length(32 * 1024)
        .file("show.mkv", 700_000)
        .file("extras/notes.txt", 9_000)
        .build()
}

/// `magnet:?xt=urn:btih:HEX` and nothing else: no tracker, no web seed, no peer.
fn bare_magnet(torrent: &Torrent) -> Magnet {
    let hash = match torrent.info_hash() {
        InfoHash::V1(hash) | InfoHash::Hybrid(hash, _) => hash,
        InfoHash::V2(_) => unreachable!("the fixture has v1 hashes"),
    };
    let magnet = Magnet::parse(&format!("magnet:?xt=urn:btih:{}", hash.to_hex())).unwrap();
    assert!(magnet.trackers.is_empty() && magnet.peers.is_empty());
    magnet
}

/// A seeding run of `torrent` from `root`, with its listener announced on `dht`.
async fn seeder(
    torrent: Arc<Torrent>,
    root: &Path,
    dht: Dht,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<Summary>) {
    let mut config = RunConfig::new(root, PeerId::swarmgate(*b"dht-seeder-1"));
    config.listener = Some(TcpListener::bind("127.0.0.1:0").await.unwrap());
    config.use_trackers = false;
    config.seed = true;
    config.dht = Some(dht);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(torrent, config, |_| {}, async {
            let _ = stopped.await;
        })
        .await
        .expect("the seeder runs")
    });
    (stop, task)
}

/// Waits until `dht` stored at least one announce.
async fn wait_for_announce(dht: &Dht) {
    let stored = tokio::time::timeout(LIMIT, async {
        while dht.stats().announces_stored == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(stored.is_ok(), "no announce stored: {:?}", dht.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_magnet_resolves_and_downloads_from_a_seeder_found_only_through_the_dht() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    fixture.write_to(&dir.path().join("seed")).unwrap();
    let router = node(&[], 1).await;
    let seeder_node = node(&[router.local_addr()], 2).await;
    let (stop, seeding) = seeder(
        Arc::new(fixture.torrent.clone()),
        &dir.path().join("seed"),
        seeder_node.clone(),
    )
    .await;
    // The seeder is complete from the start: it announces (as a seed) and looks nothing up.
    wait_for_announce(&router).await;

    let leecher_node = node(&[router.local_addr()], 3).await;
    let options = MagnetOptions {
        peer_id: PeerId::swarmgate(*b"dht-leecher1"),
        port: 0,
        peers: Vec::new(),
        use_trackers: true,
        dht: Some(leecher_node.clone()),
        timeout: LIMIT,
    };
    let torrent = resolve_magnet(&bare_magnet(&fixture.torrent), &options)
        .await
        .expect("the metadata comes from a peer the DHT found");
    assert_eq!(torrent.info_bytes(), fixture.torrent.info_bytes());

    let out = dir.path().join("out");
    let mut config = RunConfig::new(&out, PeerId::swarmgate(*b"dht-leecher1"));
    config.listener = Some(TcpListener::bind("127.0.0.1:0").await.unwrap());
    config.dht = Some(leecher_node.clone());
    let mut most_found = 0;
    let summary = tokio::time::timeout(
        LIMIT,
        run(
            Arc::new(torrent),
            config,
            |p| most_found = most_found.max(p.dht_peers),
            std::future::pending(),
        ),
    )
    .await
    .expect("the download finishes in time")
    .expect("the download runs");
    assert!(summary.complete);
    assert_eq!(summary.dht_peers, 1, "the seeder, and not ourselves");
    assert!(most_found <= 1, "{most_found}");
    assert_eq!(summary.stats.peers_used, 1);
    for (index, file) in fixture.torrent.files().iter().enumerate() {
        let on_disk = std::fs::read(out.join(file.path_buf())).unwrap();
        assert_eq!(Some(&on_disk[..]), fixture.file_data(index));
    }
    assert!(
        leecher_node.stats().lookups_with_peers >= 2,
        "metadata, then pieces"
    );
    // It accepted peers, so it was announced; it ended, so it no longer is.
    let stopped = tokio::time::timeout(LIMIT, async {
        while leecher_node.driver_stats().kept_announced != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(stopped.is_ok(), "a finished run stops announcing");
    assert!(leecher_node.driver_stats().announces_run >= 1);

    stop.send(()).unwrap();
    let seeded = tokio::time::timeout(LIMIT, seeding).await.unwrap().unwrap();
    assert!(seeded.stats.uploaded >= fixture.torrent.total_length());
    assert_eq!(seeded.dht_peers, 0, "a complete torrent looks nothing up");
    for dht in [leecher_node, seeder_node, router] {
        dht.shutdown().await.unwrap();
    }
}

/// Waits until `dht` knows a node.
async fn wait_for_nodes(dht: &Dht) {
    let known = tokio::time::timeout(LIMIT, async {
        while dht.stats().table4.good + dht.stats().table4.questionable == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(known.is_ok(), "no node known: {:?}", dht.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_torrent_is_neither_looked_up_nor_announced() {
    let fixture = TorrentFixture::new(72)
        .piece_length(32 * 1024)
        .file("private.bin", 300_000)
        .private(true)
        .build();
    assert!(fixture.torrent.is_private());
    let dir = tempfile::tempdir().unwrap();
    fixture.write_to(&dir.path().join("seed")).unwrap();
    let router = node(&[], 6).await;
    let seeder_node = node(&[router.local_addr()], 7).await;
    let leecher_node = node(&[router.local_addr()], 8).await;
    // Both nodes are ready: a lookup or an announce would go out at once.
    wait_for_nodes(&seeder_node).await;
    wait_for_nodes(&leecher_node).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let seeder_addr = listener.local_addr().unwrap();
    let mut config = RunConfig::new(dir.path().join("seed"), PeerId::swarmgate(*b"private-seed"));
    config.listener = Some(listener);
    config.use_trackers = false;
    config.seed = true;
    config.dht = Some(seeder_node.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let torrent = Arc::new(fixture.torrent.clone());
    let seeding = tokio::spawn(run(Arc::clone(&torrent), config, |_| {}, async {
        let _ = stopped.await;
    }));

    let mut config = RunConfig::new(dir.path().join("out"), PeerId::swarmgate(*b"private-leec"));
    config.listener = Some(TcpListener::bind("127.0.0.1:0").await.unwrap());
    config.peers = vec![seeder_addr];
    config.use_trackers = false;
    config.dht = Some(leecher_node.clone());
    let summary = tokio::time::timeout(LIMIT, run(torrent, config, |_| {}, std::future::pending()))
        .await
        .expect("the download finishes in time")
        .expect("the download runs");
    assert!(summary.complete);
    assert_eq!(summary.dht_peers, 0);
    // Without the rule both would have asked their nodes within a millisecond of starting;
    // give the nodes time to count what they were asked.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(LIMIT, seeding)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(leecher_node.stats().lookups_started, 0, "no lookup");
    for dht in [&seeder_node, &leecher_node] {
        assert_eq!(dht.driver_stats().announces_run, 0, "no announce");
    }
    assert_eq!(router.stats().announces_stored, 0);
    for dht in [leecher_node, seeder_node, router] {
        dht.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_bare_magnet_without_the_dht_has_no_one_to_ask() {
    let fixture = fixture();
    let options = MagnetOptions {
        peer_id: PeerId::swarmgate(*b"dht-leecher2"),
        port: 0,
        peers: Vec::new(),
        use_trackers: true,
        dht: None,
        timeout: LIMIT,
    };
    let error = resolve_magnet(&bare_magnet(&fixture.torrent), &options)
        .await
        .expect_err("nobody to ask");
    assert!(matches!(error, MagnetError::NoPeers), "{error}");
}

#[tokio::test]
async fn a_bare_magnet_whose_swarm_the_dht_does_not_know_times_out() {
    let fixture = fixture();
    let router = node(&[], 4).await;
    let leecher_node = node(&[router.local_addr()], 5).await;
    let options = MagnetOptions {
        peer_id: PeerId::swarmgate(*b"dht-leecher3"),
        port: 0,
        peers: Vec::new(),
        use_trackers: true,
        dht: Some(leecher_node.clone()),
        timeout: Duration::from_secs(2),
    };
    let error = resolve_magnet(&bare_magnet(&fixture.torrent), &options)
        .await
        .expect_err("no peer anywhere");
    assert!(matches!(error, MagnetError::TimedOut(_)), "{error}");
    assert!(
        leecher_node.stats().lookups_answered >= 1,
        "{:?}",
        leecher_node.stats()
    );
    leecher_node.shutdown().await.unwrap();
    router.shutdown().await.unwrap();
}
