//! Web seeds as a piece source of the driver: a download from whole-piece sources alone, with
//! no peer at all; a source that lies is dropped after its piece fails the hash, and one that
//! keeps failing is given up, while an honest one completes the download.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use swarmgate_core::{PeerId, PieceIndex};
use swarmgate_session::{FetchError, FetchFuture, PieceFetcher, RunConfig, Summary, run};
use swarmgate_testkit::{Fixture, TorrentFixture};

const LIMIT: Duration = Duration::from_secs(60);

/// Serves the fixture's pieces from memory; `lie` flips a byte of every piece it serves,
/// `fail` answers every request with an error. Counts what it was asked for.
#[derive(Debug)]
struct MemorySeed {
    fixture: Arc<Fixture>,
    lie: bool,
    fail: bool,
    asked: AtomicU32,
}

impl MemorySeed {
    fn new(fixture: &Arc<Fixture>, lie: bool, fail: bool) -> Arc<Self> {
        Arc::new(Self {
            fixture: Arc::clone(fixture),
            lie,
            fail,
            asked: AtomicU32::new(0),
        })
    }
}

impl PieceFetcher for MemorySeed {
    fn fetch(self: Arc<Self>, piece: PieceIndex) -> FetchFuture {
        Box::pin(async move {
            self.asked.fetch_add(1, Ordering::Relaxed);
            if self.fail {
                // Retry at once: the test does not wait out a back-off.
                let now = Some(Duration::ZERO);
                return Err(FetchError::retry("503 Service Unavailable", now));
            }
            let mut data = self.fixture.piece(piece.0).to_vec();
            if self.lie {
                data[0] ^= 0xff;
            }
            Ok(Bytes::from(data))
        })
    }
}

fn fixture() -> Arc<Fixture> {
    Arc::new(
        TorrentFixture::new(33)
            .piece_length(32 * 1024)
            .file("a.bin", 300_000)
            .file("b/c.bin", 123_457)
            .build(),
    )
}

async fn download(
    fixture: &Fixture,
    seeds: Vec<Arc<dyn PieceFetcher>>,
) -> (Summary, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RunConfig::new(dir.path(), PeerId::swarmgate(*b"webseed-0001"));
    config.use_trackers = false;
    config.web_seeds = seeds;
    let torrent = Arc::new(fixture.torrent.clone());
    let summary = tokio::time::timeout(LIMIT, run(torrent, config, |_| {}, std::future::pending()))
        .await
        .expect("the download finishes in time")
        .expect("the download runs");
    (summary, dir)
}

fn assert_same_files(fixture: &Fixture, root: &std::path::Path) {
    for (index, file) in fixture.torrent.files().iter().enumerate() {
        let on_disk = std::fs::read(root.join(file.path_buf())).unwrap();
        assert_eq!(Some(&on_disk[..]), fixture.file_data(index));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_seed_alone_completes_the_download() {
    let fixture = fixture();
    let seed = MemorySeed::new(&fixture, false, false);
    let (summary, dir) = download(&fixture, vec![seed.clone()]).await;
    assert!(summary.complete);
    assert_eq!(summary.stats.pieces_fetched, fixture.piece_count());
    assert_eq!(
        seed.asked.load(Ordering::Relaxed),
        fixture.piece_count(),
        "each piece once"
    );
    assert_eq!(summary.stats.peers_used, 0, "no peer took part");
    assert_same_files(&fixture, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_web_seed_is_dropped_and_a_failing_one_given_up() {
    let fixture = fixture();
    let liar = MemorySeed::new(&fixture, true, false);
    let broken = MemorySeed::new(&fixture, false, true);
    let honest = MemorySeed::new(&fixture, false, false);
    let (summary, dir) =
        download(&fixture, vec![liar.clone(), broken.clone(), honest.clone()]).await;
    assert!(summary.complete);
    assert_same_files(&fixture, dir.path());
    // A web seed waits for each piece's hash before the next: the liar costs one piece.
    assert_eq!(
        liar.asked.load(Ordering::Relaxed),
        1,
        "one bad piece, then dropped"
    );
    assert_eq!(summary.stats.hash_failures, 1);
    let failures = broken.asked.load(Ordering::Relaxed);
    assert!(
        (1..=3).contains(&failures),
        "given up after three failures, not {failures}"
    );
    assert_eq!(
        honest.asked.load(Ordering::Relaxed),
        fixture.piece_count(),
        "the honest seed fetched every piece, the liar's and the broken seed's included"
    );
}
