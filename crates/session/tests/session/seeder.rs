//! The multi-torrent seeder over loopback TCP: leechers built from `run` download two torrents
//! from one port, a magnet link resolves from it, it dials a listening leecher, and it closes
//! what it must (unknown torrents, sockets past its caps, removed torrents, everything at
//! shutdown) while never sending a block it could not read and verify.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use swarmgate_core::{BlockRef, InfoHashV1, PeerId, PieceIndex};
use swarmgate_metainfo::Torrent;
use swarmgate_peer::{Handshake, Reserved};
use swarmgate_session::{
    BlockSource, ContentBlocks, MagnetOptions, RunConfig, SeedError, Seeder, SeederConfig,
    SeederStats, Summary, resolve_magnet, run,
};
use swarmgate_storage::{
    ContentOptions, ContentStore, FsContentStore, IngestOptions, MemoryContentStore, PieceCache,
    PieceSource,
};
use swarmgate_testkit::{Fixture, TorrentFixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// A bare peer: connects and sends a handshake for `info_hash`.
async fn handshake(addr: SocketAddr, info_hash: InfoHashV1, id: u8) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let ours = Handshake {
        reserved: Reserved::SWARMGATE,
        info_hash,
        peer_id: PeerId::swarmgate([id; 12]),
    };
    stream.write_all(&ours.encode()).await.unwrap();
    stream
}

/// Reads the seeder's handshake back: the peer was accepted.
async fn answered(stream: &mut TcpStream, info_hash: InfoHashV1) {
    let mut theirs = [0u8; 68];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut theirs));
    read.await.expect("an answer in time").expect("a handshake");
    let (handshake, _) = Handshake::decode(&theirs).unwrap().unwrap();
    assert_eq!(handshake.info_hash, info_hash);
}

/// True when the other side closes `stream` (EOF or reset) within `within`; what it sends
/// before is skipped.
async fn closed(stream: &mut TcpStream, within: Duration) -> bool {
    let drain = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, drain).await.is_ok()
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
    seeder
        .add(
            Arc::new(fixture.torrent.clone()),
            stored(memory_store(), &fixture, &cache),
        )
        .unwrap();
    let options = MagnetOptions {
        peer_id: PeerId::swarmgate(*b"magnet-00001"),
        port: 0,
        peers: vec![seeder.local_addr()],
        use_trackers: false,
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
    seeder
        .add(
            Arc::new(fixture.torrent.clone()),
            stored(memory_store(), &fixture, &cache),
        )
        .unwrap();

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_torrents_and_sockets_past_the_caps_are_closed() {
    let fixture = fixture(35, 32 * 1024, 100_000);
    let seeder = seeder(|c| {
        c.max_connections = 2;
        c.max_peers_per_torrent = 1;
    })
    .await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    seeder
        .add(
            Arc::new(fixture.torrent.clone()),
            stored(memory_store(), &fixture, &cache),
        )
        .unwrap();
    let addr = seeder.local_addr();
    let hash = info_hash(&fixture);

    let mut stranger = handshake(addr, InfoHashV1([0xee; 20]), 1).await;
    assert!(
        closed(&mut stranger, Duration::from_secs(5)).await,
        "unknown torrent"
    );
    until(&seeder, "counted", |s| s.unknown_torrent == 1).await;

    let mut first = handshake(addr, hash, 2).await;
    answered(&mut first, hash).await;
    let mut second = handshake(addr, hash, 3).await;
    assert!(
        closed(&mut second, Duration::from_secs(5)).await,
        "one peer a torrent"
    );
    until(&seeder, "the second peer refused", |s| {
        s.refused == 1 && s.connections == 1
    })
    .await;

    // One socket open (the peer): one more fits, a third is closed at once.
    let _quiet = TcpStream::connect(addr).await.unwrap();
    until(&seeder, "the quiet socket holds a slot", |s| {
        s.connections == 2
    })
    .await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed(&mut third, Duration::from_secs(5)).await,
        "max_connections"
    );
    let stats = until(&seeder, "refused", |s| s.refused == 2).await;
    assert_eq!(stats.peers, 1);
    assert!(
        !closed(&mut first, Duration::from_millis(200)).await,
        "the peer stays"
    );
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrents_that_cannot_be_seeded_are_refused() {
    let fixture = fixture(36, 32 * 1024, 100_000);
    let other = fixture_other_geometry();
    let seeder = seeder(|_| {}).await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    let wrong = stored(memory_store(), &other, &cache);
    let refused = seeder.add(Arc::new(fixture.torrent.clone()), wrong);
    assert!(
        matches!(refused, Err(SeedError::Geometry { .. })),
        "{refused:?}"
    );

    // A v2-only torrent: one file of one piece (no piece layers needed).
    let mut v2 = b"d4:infod9:file treed5:a.bind0:d6:lengthi100e11:pieces root32:".to_vec();
    v2.extend_from_slice(&[7; 32]);
    v2.extend_from_slice(b"eee12:meta versioni2e4:name5:a.bin12:piece lengthi16384eee");
    let v2 = Torrent::from_bytes(&v2).unwrap();
    let refused = seeder.add(Arc::new(v2), Arc::new(Failing(Arc::new(other))));
    assert!(matches!(refused, Err(SeedError::V2Only)), "{refused:?}");

    let stopped = seeder.clone();
    seeder.shutdown().await;
    let source = stored(memory_store(), &fixture, &cache);
    let refused = stopped.add(Arc::new(fixture.torrent.clone()), source);
    assert!(matches!(refused, Err(SeedError::Stopped)), "{refused:?}");
}

fn fixture_other_geometry() -> Fixture {
    fixture(37, 16 * 1024, 100_000)
}

/// A source that cannot read piece 1 and returns a short block of piece 2.
struct Failing(Arc<Fixture>);

impl BlockSource for Failing {
    fn read_block(&self, block: BlockRef) -> io::Result<Bytes> {
        let data = self.0.block(block).ok_or(io::ErrorKind::InvalidInput)?;
        match block.piece.0 {
            1 => Err(io::Error::other("the disk is gone")),
            2 => Ok(Bytes::copy_from_slice(&data[1..])),
            _ => Ok(Bytes::copy_from_slice(data)),
        }
    }
}

/// The blob file holding `fixture`'s bytes under a content store's folder.
fn blob_file(dir: &Path) -> PathBuf {
    let mut pending = vec![dir.join("blobs")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                return path;
            }
        }
    }
    panic!("no blob under {dir:?}");
}

/// Leeches `torrent` from `addr` until the seeder has counted `errors` read errors (and a
/// moment more), then stops the leecher.
async fn leech_until_errors(
    torrent: &Torrent,
    root: &Path,
    seeder: &Seeder,
    errors: u64,
) -> Summary {
    let config = leecher_config(root, vec![seeder.local_addr()]);
    let probe = seeder.clone();
    let stop = async move {
        until(&probe, "read errors", |s| s.read_errors >= errors).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let download = run(Arc::new(torrent.clone()), config, |_| {}, stop);
    tokio::time::timeout(LIMIT, download)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_that_cannot_be_read_or_verified_is_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let seeder = seeder(|_| {}).await;

    // Stored bytes altered on disk behind the store's back: piece 3 no longer matches.
    let corrupt = fixture(38, 32 * 1024, 200_000);
    let store: Arc<dyn ContentStore> =
        Arc::new(FsContentStore::open(dir.path().join("data")).unwrap());
    let cache = Arc::new(PieceCache::new(4 << 20));
    let source = stored(store, &corrupt, &cache);
    let blob = blob_file(&dir.path().join("data"));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[3 * 32 * 1024 + 100] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    seeder
        .add(Arc::new(corrupt.torrent.clone()), source)
        .unwrap();

    let summary = leech_until_errors(&corrupt.torrent, &dir.path().join("a"), &seeder, 1).await;
    assert!(!summary.complete, "{summary:?}");
    assert_eq!(summary.stats.hash_failures, 0, "no bad piece arrived");
    assert!(summary.stats.pieces_have < corrupt.piece_count());

    // A source that fails (an error, a short block): nothing of those pieces is sent.
    let failing = Arc::new(fixture(39, 32 * 1024, 200_000));
    let source = Arc::new(Failing(Arc::clone(&failing)));
    seeder
        .add(Arc::new(failing.torrent.clone()), source)
        .unwrap();
    let before = seeder.stats().read_errors;
    let summary =
        leech_until_errors(&failing.torrent, &dir.path().join("b"), &seeder, before + 1).await;
    assert!(!summary.complete, "{summary:?}");
    assert_eq!(summary.stats.hash_failures, 0, "no bad piece arrived");
    let stats = seeder.stats();
    assert!(stats.read_errors > before, "{stats:?}");
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_closes_that_torrents_peers_and_shutdown_closes_the_rest_promptly() {
    let one = fixture(40, 32 * 1024, 100_000);
    let two = fixture(41, 32 * 1024, 120_000);
    let seeder = seeder(|_| {}).await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    for fixture in [&one, &two] {
        let source = stored(memory_store(), fixture, &cache);
        seeder
            .add(Arc::new(fixture.torrent.clone()), source)
            .unwrap();
    }
    let addr = seeder.local_addr();
    let (first, second) = (info_hash(&one), info_hash(&two));
    let mut peers_of_one = Vec::new();
    for id in 1..3 {
        let mut peer = handshake(addr, first, id).await;
        answered(&mut peer, first).await;
        peers_of_one.push(peer);
    }
    let mut peer_of_two = handshake(addr, second, 3).await;
    answered(&mut peer_of_two, second).await;
    until(&seeder, "three peers", |s| {
        s.peers == 3 && s.active_torrents == 2
    })
    .await;

    assert!(seeder.remove(&first));
    assert!(!seeder.remove(&first), "already removed");
    for peer in &mut peers_of_one {
        assert!(
            closed(peer, Duration::from_secs(5)).await,
            "removed torrent's peer"
        );
    }
    let stats = until(&seeder, "one peer left", |s| s.peers == 1).await;
    assert_eq!(stats.torrents, 1);
    assert!(seeder.torrent_stats(&first).is_none());
    assert!(!closed(&mut peer_of_two, Duration::from_millis(200)).await);

    let started = Instant::now();
    let probe = seeder.clone();
    tokio::time::timeout(Duration::from_secs(5), seeder.shutdown())
        .await
        .expect("shutdown returns promptly with a peer connected");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(closed(&mut peer_of_two, Duration::from_secs(5)).await);
    let stats = probe.stats();
    assert_eq!(
        (stats.peers, stats.connections, stats.active_torrents),
        (0, 0, 0)
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}
