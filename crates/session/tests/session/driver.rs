//! The tokio driver over loopback TCP: one run seeds, another downloads; a hostile peer that
//! claims a 4 GiB message is dropped without the memory moving, and the download completes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use swarmgate_core::PeerId;
use swarmgate_metainfo::Torrent;
use swarmgate_session::{RunConfig, Summary, run};
use swarmgate_testkit::{Fixture, TorrentFixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const LIMIT: Duration = Duration::from_secs(60);

fn fixture() -> Fixture {
    TorrentFixture::new(21)
        .piece_length(64 * 1024)
        .file("clip.mp4", 3 * 1024 * 1024 + 77)
        .file("subs/en.srt", 40_000)
        .build()
}

/// Starts a seeding run of `torrent` from `root`; returns its address and a stop switch.
async fn seeder(
    torrent: Arc<Torrent>,
    root: &Path,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Summary>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = RunConfig::new(root, PeerId::swarmgate(*b"seeder-00001"));
    config.listener = Some(listener);
    config.use_trackers = false;
    config.seed = true;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(torrent, config, |_| {}, async {
            let _ = stopped.await;
        })
        .await
        .expect("the seeder runs")
    });
    (addr, stop, task)
}

async fn leech(torrent: Arc<Torrent>, root: &Path, peers: Vec<SocketAddr>) -> Summary {
    let mut config = RunConfig::new(root, PeerId::swarmgate(*b"leecher-0001"));
    config.peers = peers;
    config.use_trackers = false;
    tokio::time::timeout(LIMIT, run(torrent, config, |_| {}, std::future::pending()))
        .await
        .expect("the download finishes in time")
        .expect("the download runs")
}

fn assert_same_files(fixture: &Fixture, root: &Path) {
    for (index, file) in fixture.torrent.files().iter().enumerate() {
        let on_disk = std::fs::read(root.join(file.path_buf())).unwrap();
        assert_eq!(
            Some(&on_disk[..]),
            fixture.file_data(index),
            "{:?}",
            file.path_buf()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_seeds_and_another_downloads_over_loopback() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    fixture.write_to(&dir.path().join("seed")).unwrap();
    let torrent = Arc::new(fixture.torrent.clone());
    let (addr, stop, seeding) = seeder(Arc::clone(&torrent), &dir.path().join("seed")).await;

    let summary = leech(Arc::clone(&torrent), &dir.path().join("leech"), vec![addr]).await;
    assert!(summary.complete);
    assert_eq!(summary.stats.pieces_fetched, torrent.piece_count());
    assert_eq!(summary.stats.peers_used, 1);
    assert_same_files(&fixture, &dir.path().join("leech"));

    // A second run over the finished files fetches nothing.
    let again = leech(Arc::clone(&torrent), &dir.path().join("leech"), vec![addr]).await;
    assert!(again.complete);
    assert_eq!(again.pieces_on_disk, torrent.piece_count());
    assert_eq!(again.stats.pieces_fetched, 0);

    stop.send(()).unwrap();
    let seeded = seeding.await.unwrap();
    assert!(
        seeded.stats.uploaded >= torrent.total_length(),
        "{seeded:?}"
    );
}

/// The process's peak virtual memory, in bytes (VmPeak in /proc/self/status).
fn peak_virtual_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmPeak:"))
        .expect("Linux /proc");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_claiming_a_4_gib_message_is_dropped_and_memory_does_not_move() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    fixture.write_to(&dir.path().join("seed")).unwrap();
    let torrent = Arc::new(fixture.torrent.clone());
    let (honest, stop, _seeding) = seeder(Arc::clone(&torrent), &dir.path().join("seed")).await;

    // The hostile peer: a correct handshake, then a length prefix of 4 GiB - 1 and some junk.
    let hostile = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hostile_addr = hostile.local_addr().unwrap();
    let info_hash = torrent.info_hash().v1().unwrap();
    let (closed_tx, closed_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = hostile.accept().await.unwrap();
        let mut theirs = [0u8; 68];
        stream.read_exact(&mut theirs).await.unwrap();
        let mut hello = b"\x13BitTorrent protocol".to_vec();
        hello.extend_from_slice(&[0; 8]);
        hello.extend_from_slice(info_hash.as_bytes());
        hello.extend_from_slice(b"-XX0001-hostile-peer");
        hello.extend_from_slice(&u32::MAX.to_be_bytes());
        hello.extend_from_slice(&[0x07; 1024]);
        stream.write_all(&hello).await.unwrap();
        // The leecher must hang up on us.
        let mut sink = [0u8; 4096];
        let closed = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok();
        let _ = closed_tx.send(closed);
    });

    let before = peak_virtual_memory();
    let summary = leech(
        Arc::clone(&torrent),
        &dir.path().join("leech"),
        vec![hostile_addr, honest],
    )
    .await;
    assert!(summary.complete);
    assert_same_files(&fixture, &dir.path().join("leech"));
    assert!(closed_rx.await.unwrap(), "the hostile peer was dropped");
    let grown = peak_virtual_memory().saturating_sub(before);
    assert!(
        grown < 1 << 30,
        "peak virtual memory grew by {grown} bytes: something sized a buffer from the prefix"
    );
    assert_eq!(
        summary.stats.peers_used, 1,
        "only the honest peer gave blocks"
    );
    stop.send(()).unwrap();
}
