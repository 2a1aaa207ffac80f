//! The tokio driver: one torrent's engine over real sockets, disk threads and trackers.
//!
//! [`run`] goes through named steps: open the torrent's files and check what is already on disk
//! ([`check_existing`], so a restarted download fetches only what is missing), build the engine
//! ([`build_engine`]), start the disk threads, listener, web seeds, announcer and DHT lookups
//! ([`Download::start`]), then loop turn by turn ([`Download::run`]: carry out what the engine
//! asked for through [`drive`](crate::drive), then hand it the next input), and end
//! ([`Download::finish`]: peers closed, files flushed, `stopped` announced). It returns when
//! every piece is verified (or, when seeding, when `shutdown` resolves). Whatever happens, only
//! verified pieces are ever reported as done or uploaded.

mod announce;
#[cfg(feature = "dht")]
mod dht;
mod disk;
mod download;
mod magnet;
mod net;
mod web_seed;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use swarmgate_core::{Bitfield, InfoHash, InfoHashV1, PeerId};
use swarmgate_metainfo::Torrent;
use swarmgate_rank::Source;
use swarmgate_storage::{StorageError, TorrentStorage};
use tokio::net::TcpListener;
use tokio::time::Interval;

use crate::engine::{Engine, EngineConfig, EngineStats};
use download::Download;
pub use magnet::{MagnetError, MagnetOptions, resolve_magnet};
pub use web_seed::{FetchError, FetchFuture, PieceFetcher};

/// How often a run reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// How to run one torrent.
#[derive(Debug)]
pub struct RunConfig {
    /// Where the torrent's files go (the torrent's name is a file or folder inside).
    pub output: PathBuf,
    /// Our peer id.
    pub peer_id: PeerId,
    /// A bound listener to accept peers on (its port is announced), or none.
    pub listener: Option<TcpListener>,
    /// Peers to connect to besides the trackers'.
    pub peers: Vec<SocketAddr>,
    /// Announce to the torrent's trackers.
    pub use_trackers: bool,
    /// Tracker tiers to use besides the torrent's own (a magnet link's `tr`).
    pub trackers: Vec<Vec<String>>,
    /// Keep seeding after the download completes, until shutdown.
    pub seed: bool,
    /// Connected peers, at most.
    pub max_peers: usize,
    /// Threads for the resume check.
    pub threads: usize,
    /// Seed of the engine's random choices.
    pub seed_rng: u64,
    /// Sync the files to disk (fdatasync) when the download completes. Off by default, as in
    /// aria2c and libtorrent: every piece is verified before it counts and the resume check
    /// re-verifies whatever a power cut lost, so the sync buys durability of "complete" at about
    /// 0.4 s per GB (measured). An interrupted run always syncs before it returns.
    pub sync_on_complete: bool,
    /// Fetch from the torrent's own web seeds (its `url-list`, BEP 19).
    pub use_web_seeds: bool,
    /// Sources of whole pieces besides the peers and the torrent's web seeds.
    pub web_seeds: Vec<Arc<dyn PieceFetcher>>,
    /// A DHT node to find peers through (BEP 5) while pieces are missing, and to keep the
    /// torrent announced on (with the listener's port, when there is a listener); not used for
    /// a private torrent (BEP 27). The node is the caller's: the run stops announcing on its
    /// way out but does not shut it down.
    #[cfg(feature = "dht")]
    pub dht: Option<swarmgate_dht::Dht>,
}

impl RunConfig {
    /// Defaults: trackers and the torrent's web seeds on, no listener, no DHT, 50 peers, stop
    /// when complete.
    pub fn new(output: impl Into<PathBuf>, peer_id: PeerId) -> Self {
        Self {
            output: output.into(),
            peer_id,
            listener: None,
            peers: Vec::new(),
            use_trackers: true,
            trackers: Vec::new(),
            seed: false,
            max_peers: 50,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            sync_on_complete: false,
            use_web_seeds: true,
            web_seeds: Vec::new(),
            #[cfg(feature = "dht")]
            dht: None,
            seed_rng: u64::from_le_bytes(peer_id.as_bytes()[12..20].try_into().unwrap_or([0; 8])),
        }
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Hashing what is already on disk: bytes done of bytes total.
    Checking(u64, u64),
    /// Fetching pieces.
    Downloading,
    /// Complete and uploading.
    Seeding,
}

/// A snapshot for a progress display, four times a second.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Where the run is.
    pub phase: Phase,
    /// The engine's figures.
    pub stats: EngineStats,
    /// Time since the run started.
    pub elapsed: Duration,
    /// Distinct peers found through the DHT so far (0 without one).
    pub dht_peers: usize,
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Every piece is verified on disk.
    pub complete: bool,
    /// The engine's final figures.
    pub stats: EngineStats,
    /// Pieces found valid on disk before any download.
    pub pieces_on_disk: u32,
    /// Bytes of file data in the torrent.
    pub size: u64,
    /// From start to the end of the download (not counting seeding time afterwards).
    pub download_time: Duration,
    /// From start to return.
    pub elapsed: Duration,
    /// Distinct peers found through the DHT (0 without one).
    pub dht_peers: usize,
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The torrent has no v1 piece hashes (a v2-only torrent): not supported yet.
    #[error("v2-only torrents cannot be downloaded yet (no v1 piece hashes)")]
    V2Only,
    /// Reading or writing the torrent's files failed (a full disk included).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Runs `torrent` until it is complete (or, with `seed`, until `shutdown` resolves), calling
/// `progress` four times a second. Resolving `shutdown` stops it cleanly at any point: peers
/// closed, files flushed, `stopped` announced; what was verified stays for the next run.
pub async fn run(
    torrent: Arc<Torrent>,
    mut config: RunConfig,
    mut progress: impl FnMut(&Progress),
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, RunError> {
    let started = Instant::now();
    let info_hash = match torrent.info_hash() {
        InfoHash::V1(hash) | InfoHash::Hybrid(hash, _) => hash,
        InfoHash::V2(_) => return Err(RunError::V2Only),
    };
    let storage = Arc::new(TorrentStorage::open(&config.output, &torrent)?);
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    let have = check_existing(
        &storage,
        &torrent,
        &config,
        started,
        &mut tick,
        &mut progress,
    )
    .await?;
    let pieces_on_disk = have.count();
    let engine = build_engine(&torrent, &mut config, info_hash, have);
    let mut download = Download::start(engine, torrent, storage, config, info_hash, started, tick);
    download.run(shutdown.as_mut(), &mut progress).await;
    download.finish(pieces_on_disk).await
}

/// Hashes what is already on disk on the blocking pool, reporting [`Phase::Checking`] at each
/// tick: the pieces found valid.
async fn check_existing(
    storage: &Arc<TorrentStorage>,
    torrent: &Torrent,
    config: &RunConfig,
    started: Instant,
    tick: &mut Interval,
    progress: &mut impl FnMut(&Progress),
) -> Result<Bitfield, StorageError> {
    let checked = Arc::new(AtomicU64::new(0));
    let total = torrent.total_length();
    let check = tokio::task::spawn_blocking({
        let (storage, checked, threads) =
            (Arc::clone(storage), Arc::clone(&checked), config.threads);
        move || {
            storage.check_existing(threads, &mut |done, _| {
                checked.store(done, Ordering::Relaxed)
            })
        }
    });
    tokio::pin!(check);
    loop {
        tokio::select! {
            result = &mut check => return result.expect("the resume check does not panic"),
            _ = tick.tick() => progress(&Progress {
                phase: Phase::Checking(checked.load(Ordering::Relaxed), total),
                stats: EngineStats::default(),
                elapsed: started.elapsed(),
                dht_peers: 0,
            }),
        }
    }
}

/// The engine for `torrent` with `have` on disk, given `config`'s peers to dial.
fn build_engine(
    torrent: &Torrent,
    config: &mut RunConfig,
    info_hash: InfoHashV1,
    have: Bitfield,
) -> Engine {
    let mut engine_config =
        EngineConfig::new(info_hash, config.peer_id, torrent.layout().geometry());
    engine_config.metadata = Some(Bytes::copy_from_slice(torrent.info_bytes()));
    engine_config.listen_port = listen_port(config);
    engine_config.max_peers = config.max_peers;
    engine_config.seed = config.seed_rng;
    let mut engine = Engine::new(engine_config, have, Instant::now());
    engine.add_peers(Instant::now(), config.peers.drain(..), Source::Manual);
    engine
}

/// The port of `config`'s listener, announced to trackers and peers.
fn listen_port(config: &RunConfig) -> Option<u16> {
    config
        .listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
}
