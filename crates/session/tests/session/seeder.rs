//! The multi-torrent seeder over loopback TCP: leechers built from `run` download two torrents
//! from one port, a magnet link resolves from it, it dials a listening leecher, many leechers
//! of many torrents finish at once; what it closes is in `closing`, its admission policy under
//! a flood in `flood`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use swarmgate_blobstore::{
    ContentBlocks, ContentOptions, ContentStore, FsContentStore, IngestOptions, MemoryContentStore,
    PieceSource,
};
use swarmgate_core::{InfoHashV1, PeerId, PieceIndex};
use swarmgate_metainfo::Torrent;
use swarmgate_session::{
    BlockSource, MagnetOptions, RunConfig, Seeder, SeederConfig, SeederStats, Summary,
    resolve_magnet, run,
};
use swarmgate_storage::PieceCache;
use swarmgate_testkit::{Fixture, TorrentFixture};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(60);

fn fixture(seed: u64, piece_length: u64, length: u64) -> Fixture {
    TorrentFixture::new(seed)
        .piece_length(piece_length)
        .file(format!("file-{seed}.bin"), length)
        .build()
}

fn info_hash(fixture: &Fixture) -> InfoHashV1 {
    fixture.torrent.info_hash().v1().unwrap()
}

/// The fixture's file stored in `store`, served through `cache`, verified against the
/// torrent's piece hashes.
fn stored(
    store: Arc<dyn ContentStore>,
    fixture: &Fixture,
    cache: &Arc<PieceCache>,
) -> Arc<dyn BlockSource> {
    let ingested = store
        .ingest(&mut &fixture.data[..], &IngestOptions::default())
        .unwrap();
    let torrent = &fixture.torrent;
    let hashes = (0..torrent.piece_count())
        .map(|i| torrent.piece_hash(PieceIndex(i)).unwrap())
        .collect();
    let pieces = PieceSource::open(store, &ingested.sha256, torrent.piece_length())
        .unwrap()
        .with_piece_hashes(hashes)
        .unwrap();
    Arc::new(ContentBlocks::new(pieces, Arc::clone(cache)))
}

fn memory_store() -> Arc<dyn ContentStore> {
    Arc::new(MemoryContentStore::new(ContentOptions::default()))
}

/// Seeds `fixture` from a fresh in-memory content store through `cache`.
fn seed_from_memory(seeder: &Seeder, fixture: &Fixture, cache: &Arc<PieceCache>) {
    seeder
        .add(
            Arc::new(fixture.torrent.clone()),
            stored(memory_store(), fixture, cache),
        )
        .unwrap();
}

async fn seeder(tune: impl FnOnce(&mut SeederConfig)) -> Seeder {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = SeederConfig::new(PeerId::swarmgate(*b"gateway-0001"));
    tune(&mut config);
    Seeder::start(listener, config).unwrap()
}

fn leecher_config(root: &Path, peers: Vec<SocketAddr>) -> RunConfig {
    let mut config = RunConfig::new(root, PeerId::swarmgate(*b"leecher-0001"));
    config.peers = peers;
    config.use_trackers = false;
    config.use_web_seeds = false;
    config.threads = 1;
    config
}

async fn leech(torrent: &Torrent, root: &Path, peers: Vec<SocketAddr>) -> Summary {
    let config = leecher_config(root, peers);
    let download = run(
        Arc::new(torrent.clone()),
        config,
        |_| {},
        std::future::pending(),
    );
    tokio::time::timeout(LIMIT, download)
        .await
        .expect("the download finishes in time")
        .expect("the download runs")
}

fn downloaded(fixture: &Fixture, root: &Path) -> Vec<u8> {
    std::fs::read(root.join(fixture.torrent.files()[0].path_buf())).unwrap()
}

/// Waits (bounded) until the seeder's figures satisfy `done`.
async fn until(seeder: &Seeder, what: &str, done: impl Fn(&SeederStats) -> bool) -> SeederStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = seeder.stats();
        if done(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "{what}: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_torrents_download_from_one_port_byte_exact_and_idle_tasks_end() {
    let small = fixture(31, 32 * 1024, 300_000 + 17);
    let large = fixture(32, 64 * 1024, 1_200_000 + 5);
    let cache = Arc::new(PieceCache::new(8 << 20));
    let dir = tempfile::tempdir().unwrap();
    let fs_store: Arc<dyn ContentStore> =
        Arc::new(FsContentStore::open(dir.path().join("data")).unwrap());
    let seeder = seeder(|c| c.idle_grace = Duration::from_millis(200)).await;
    let small_source = stored(memory_store(), &small, &cache);
    assert!(
        seeder
            .add(Arc::new(small.torrent.clone()), small_source)
            .unwrap()
    );
    let large_source = stored(fs_store, &large, &cache);
    assert!(
        seeder
            .add(Arc::new(large.torrent.clone()), Arc::clone(&large_source))
            .unwrap()
    );
    assert!(
        !seeder
            .add(Arc::new(large.torrent.clone()), large_source)
            .unwrap(),
        "already seeded: nothing replaced"
    );
    assert_eq!(seeder.stats().active_torrents, 0, "no task before a peer");

    let addr = seeder.local_addr();
    let (root_a, root_b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, b) = tokio::join!(
        leech(&small.torrent, &root_a, vec![addr]),
        leech(&large.torrent, &root_b, vec![addr]),
    );
    assert!(a.complete && b.complete);
    assert_eq!(a.stats.hash_failures + b.stats.hash_failures, 0);
    assert!(
        downloaded(&small, &dir.path().join("a")) == small.data,
        "byte-exact"
    );
    assert!(
        downloaded(&large, &dir.path().join("b")) == large.data,
        "byte-exact"
    );

    let total = small.data.len() as u64 + large.data.len() as u64;
    let stats = until(&seeder, "the tasks end after their grace", |s| {
        s.active_torrents == 0 && s.peers == 0 && s.connections == 0
    })
    .await;
    assert_eq!(stats.torrents, 2);
    assert!(stats.uploaded >= total, "{stats:?}");
    assert!(stats.blocks_served >= total / 16_384, "{stats:?}");
    assert_eq!(stats.read_errors, 0);

    // A torrent whose task ended starts one again for its next peer; uploads add up.
    let again = leech(&small.torrent, &dir.path().join("again"), vec![addr]).await;
    assert!(again.complete);
    assert!(downloaded(&small, &dir.path().join("again")) == small.data);
    // The task reports its figures every half second (and when a peer comes or goes).
    let deadline = Instant::now() + Duration::from_secs(5);
    let figures = loop {
        let figures = seeder.torrent_stats(&info_hash(&small)).unwrap();
        if figures.uploaded >= 2 * small.data.len() as u64 {
            break figures;
        }
        assert!(Instant::now() < deadline, "{figures:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(figures.pieces_have, small.piece_count());
    assert!(seeder.torrent_stats(&InfoHashV1([9; 20])).is_none());
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_magnet_link_gets_the_metadata_from_the_seeder() {
    let fixture = fixture(33, 32 * 1024, 100_000);
    let seeder = seeder(|_| {}).await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    seed_from_memory(&seeder, &fixture, &cache);
    let options = MagnetOptions {
        peer_id: PeerId::swarmgate(*b"magnet-00001"),
        port: 0,
        peers: vec![seeder.local_addr()],
        use_trackers: false,
        #[cfg(feature = "dht")]
        dht: None,
        timeout: Duration::from_secs(20),
    };
    let torrent = resolve_magnet(&fixture.magnet(), &options).await.unwrap();
    assert_eq!(torrent.info_hash(), fixture.torrent.info_hash());
    assert_eq!(torrent.info_bytes(), fixture.torrent.info_bytes());
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_dials_a_listening_leecher_that_does_not_know_the_seeder() {
    let fixture = fixture(34, 32 * 1024, 500_000);
    let seeder = seeder(|_| {}).await;
    let cache = Arc::new(PieceCache::new(4 << 20));
    seed_from_memory(&seeder, &fixture, &cache);

    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let leecher_addr = listener.local_addr().unwrap();
    let mut config = leecher_config(dir.path(), Vec::new());
    config.listener = Some(listener);
    let torrent = Arc::new(fixture.torrent.clone());
    let download = tokio::spawn(run(torrent, config, |_| {}, std::future::pending()));

    let hash = info_hash(&fixture);
    seeder.connect(&hash, leecher_addr);
    seeder.connect(&hash, leecher_addr);
    seeder.connect(&InfoHashV1([1; 20]), leecher_addr);
    let summary = tokio::time::timeout(LIMIT, download)
        .await
        .expect("the download finishes in time")
        .unwrap()
        .unwrap();
    assert!(summary.complete);
    assert!(
        downloaded(&fixture, dir.path()) == fixture.data,
        "byte-exact"
    );
    let stats = seeder.stats();
    assert_eq!(
        stats.dials, 1,
        "deduplicated, unknown torrent ignored: {stats:?}"
    );
    assert_eq!(stats.dial_failures, 0);

    // A dial that fails: nobody listens there. The address then rests: no second attempt.
    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nobody = gone.local_addr().unwrap();
    drop(gone);
    seeder.connect(&hash, nobody);
    until(&seeder, "the dial fails", |s| s.dial_failures == 1).await;
    seeder.connect(&hash, nobody);
    assert_eq!(seeder.stats().dials, 2, "resting after its failure");
    seeder.shutdown().await;
}

/// Nine leechers per torrent, four torrents, one port: more leechers than upload slots (8), so
/// each finished leecher's slot must go to a waiting one at once (a choking round is 10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_leechers_of_many_torrents_finish_without_waiting_for_a_slot() {
    let fixtures: Vec<Fixture> = (0..4)
        .map(|i| fixture(60 + i, 32 * 1024, 400_000 + i))
        .collect();
    // All 36 leechers share 127.0.0.1: lift the per-address caps.
    let seeder = seeder(|c| {
        c.idle_grace = Duration::from_millis(50);
        c.max_connections_per_ip = 64;
        c.max_connections_per_subnet = 64;
    })
    .await;
    let cache = Arc::new(PieceCache::new(2 << 20));
    for f in &fixtures {
        let source = stored(memory_store(), f, &cache);
        seeder.add(Arc::new(f.torrent.clone()), source).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut downloads = Vec::new();
    for n in 0..9u8 {
        for (i, f) in fixtures.iter().enumerate() {
            let mut config = leecher_config(&dir.path().join(format!("{n}-{i}")), Vec::new());
            config.peers = vec![seeder.local_addr()];
            config.peer_id = PeerId::swarmgate([n * 4 + i as u8 + 1; 12]);
            let torrent = Arc::new(f.torrent.clone());
            downloads.push(tokio::spawn(run(
                torrent,
                config,
                |_| {},
                std::future::pending(),
            )));
        }
    }
    for download in downloads {
        let summary = tokio::time::timeout(LIMIT, download)
            .await
            .unwrap()
            .unwrap();
        assert!(summary.unwrap().complete);
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let total: u64 = fixtures.iter().map(|f| 9 * f.data.len() as u64).sum();
    let stats = until(&seeder, "idle", |s| {
        s.active_torrents == 0 && s.connections == 0
    })
    .await;
    assert_eq!(stats.uploaded, total, "every block sent once");
    seeder.shutdown().await;
}

mod closing;
mod flood;
