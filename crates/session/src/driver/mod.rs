//! The tokio driver: one torrent's engine over real sockets, disk threads and trackers.
//!
//! [`run`] opens the torrent's files, checks what is already on disk (so a restarted download
//! fetches only what is missing), then loops: bytes from peers, disk results, tracker peers and
//! timers go into the [`Engine`]; its transmits go to the sockets and its disk work to the disk
//! threads. It returns when every piece is verified (or, when seeding, when `shutdown` resolves),
//! after flushing the files and announcing `stopped`. Whatever happens, only verified pieces are
//! ever reported as done or uploaded.

mod announce;
mod disk;
mod magnet;
mod net;
mod web_seed;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use swarmgate_core::{InfoHash, PeerId};
use swarmgate_metainfo::Torrent;
use swarmgate_rank::Source;
use swarmgate_storage::{StorageError, TorrentStorage};
use swarmgate_tracker::{Announcer, AnnouncerConfig, Progress as TrackerProgress};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::engine::{Engine, EngineConfig, EngineEvent, EngineStats};
use crate::picker::PeerKey;
use announce::AnnounceTask;
use disk::{Disk, DiskDone, DiskJob};
pub use magnet::{MagnetError, MagnetOptions, resolve_magnet};
use net::{Connection, Inbound};
pub use web_seed::{FetchError, FetchFuture, PieceFetcher};

/// Messages from the network waiting for the engine, at most: with reads of up to 256 KiB this
/// bounds what sits between the sockets and the engine at 16 MiB.
const INBOUND_QUEUE: usize = 64;

/// Inbound messages handled in one turn of the loop, at most, after the one that woke it.
const INBOUND_BATCH: usize = 31;

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
}

impl RunConfig {
    /// Defaults: trackers and the torrent's web seeds on, no listener, 50 peers, stop when
    /// complete.
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

    let checked = Arc::new(AtomicU64::new(0));
    let total = torrent.total_length();
    let check = tokio::task::spawn_blocking({
        let (storage, checked, threads) =
            (Arc::clone(&storage), Arc::clone(&checked), config.threads);
        move || {
            storage.check_existing(threads, &mut |done, _| {
                checked.store(done, Ordering::Relaxed)
            })
        }
    });
    tokio::pin!(check);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let have = loop {
        tokio::select! {
            result = &mut check => break result.expect("the resume check does not panic")?,
            _ = tick.tick() => progress(&Progress {
                phase: Phase::Checking(checked.load(Ordering::Relaxed), total),
                stats: EngineStats::default(),
                elapsed: started.elapsed(),
            }),
        }
    };
    let pieces_on_disk = have.count();

    let listen_port = config
        .listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port());
    let mut engine_config =
        EngineConfig::new(info_hash, config.peer_id, torrent.layout().geometry());
    engine_config.metadata = Some(Bytes::copy_from_slice(torrent.info_bytes()));
    engine_config.listen_port = listen_port;
    engine_config.max_peers = config.max_peers;
    engine_config.seed = config.seed_rng;
    let mut engine = Engine::new(engine_config, have, Instant::now());
    engine.add_peers(Instant::now(), config.peers.drain(..), Source::Manual);
    if config.use_web_seeds && !engine.is_complete() {
        for url in torrent.web_seeds() {
            let seed = swarmgate_webseed::WebSeed::new(url.clone(), Arc::clone(&torrent));
            config.web_seeds.push(Arc::new(seed));
        }
    }
    let web_seeds: HashMap<PeerKey, Arc<dyn PieceFetcher>> = config
        .web_seeds
        .drain(..)
        .map(|fetcher| (engine.add_web_seed(Instant::now()), fetcher))
        .collect();

    let (inbound_tx, mut inbound_rx) = mpsc::channel(INBOUND_QUEUE);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let disk = Disk::start(Arc::clone(&storage), Arc::clone(&torrent), done_tx);
    let listener = config
        .listener
        .take()
        .map(|l| net::listen(l, inbound_tx.clone()));
    let totals = |stats: &EngineStats| TrackerProgress {
        uploaded: stats.uploaded,
        downloaded: stats.downloaded,
        left: torrent
            .total_length()
            .saturating_sub(u64::from(stats.pieces_have) * u64::from(torrent.piece_length())),
    };
    let mut trackers = torrent.trackers().to_vec();
    trackers.append(&mut config.trackers);
    let announcer = (config.use_trackers && !trackers.is_empty()).then(|| {
        let mut tracker_config = AnnouncerConfig::new(config.peer_id, listen_port.unwrap_or(0));
        tracker_config.seed = config.seed_rng;
        let stats = engine.stats(Instant::now());
        AnnounceTask::start(
            Announcer::new(trackers, tracker_config),
            info_hash,
            totals(&stats),
            inbound_tx.clone(),
        )
    });

    let mut connections: HashMap<PeerKey, Connection> = HashMap::new();
    let mut failure = None;
    let mut download_time = None;
    if engine.is_complete() {
        download_time = Some(started.elapsed());
    }
    loop {
        // Carry out what the engine asked for.
        while let Some((key, bytes)) = engine.poll_transmit() {
            if let Some(connection) = connections.get(&key) {
                connection.send(bytes);
            }
        }
        let mut completed = false;
        let mut jobs = Vec::new();
        while let Some(event) = engine.poll_event() {
            match event {
                EngineEvent::Connect { key, addr } => net::dial(key, addr, inbound_tx.clone()),
                EngineEvent::Disconnect { key, .. } => {
                    connections.remove(&key);
                }
                EngineEvent::WriteBlock { block, data } => {
                    jobs.push(DiskJob::Write { block, data })
                }
                EngineEvent::VerifyPiece {
                    piece,
                    block_digests,
                } => jobs.push(DiskJob::Verify {
                    piece,
                    block_digests,
                }),
                EngineEvent::ReadBlock { key, block } => jobs.push(DiskJob::Read { key, block }),
                EngineEvent::FetchPiece { key, piece } => {
                    if let Some(fetcher) = web_seeds.get(&key) {
                        web_seed::start_fetch(key, piece, Arc::clone(fetcher), inbound_tx.clone());
                    }
                }
                EngineEvent::Complete => completed = true,
                EngineEvent::PieceVerified(_)
                | EngineEvent::PieceFailed { .. }
                | EngineEvent::Banned(_)
                | EngineEvent::PieceStarted { .. }
                | EngineEvent::EndgameStarted => {}
            }
        }
        if completed {
            download_time.get_or_insert(started.elapsed());
            if config.sync_on_complete {
                jobs.push(DiskJob::Flush);
            }
        }
        disk.submit(jobs).await;
        if completed {
            if let Some(announcer) = &announcer {
                announcer.completed();
            }
        }
        if engine.is_complete() && !config.seed {
            break;
        }
        if failure.is_some() {
            break;
        }

        let deadline = engine
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(done) = done_rx.recv() => {
                let now = Instant::now();
                match done {
                    DiskDone::Checked { piece, check } => engine.handle_piece_checked(now, piece, check),
                    DiskDone::Read { key, block, data } => engine.handle_block_read(now, key, block, data),
                    DiskDone::Failed(error) => failure = Some(error),
                }
            }
            Some(message) = inbound_rx.recv() => {
                handle_inbound(&mut engine, &mut connections, message, &inbound_tx);
                // Take what else is waiting before the next turn, so one turn (and one disk
                // batch) covers many blocks; bounded to keep batches small.
                for _ in 0..INBOUND_BATCH {
                    let Ok(message) = inbound_rx.try_recv() else { break };
                    handle_inbound(&mut engine, &mut connections, message, &inbound_tx);
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => engine.handle_timeout(Instant::now()),
            _ = tick.tick() => {
                let stats = engine.stats(Instant::now());
                if let Some(announcer) = &announcer {
                    announcer.update(totals(&stats));
                }
                let phase = if engine.is_complete() { Phase::Seeding } else { Phase::Downloading };
                progress(&Progress { phase, stats, elapsed: started.elapsed() });
            }
        }
    }

    engine.shutdown(Instant::now());
    connections.clear();
    if let Some(listener) = listener {
        listener.abort();
    }
    if !engine.is_complete() {
        disk.submit(vec![DiskJob::Flush]).await;
    }
    tokio::task::spawn_blocking(move || disk.stop())
        .await
        .expect("the disk thread stops cleanly");
    // A flush error reported while stopping still counts.
    while let Ok(done) = done_rx.try_recv() {
        if let DiskDone::Failed(error) = done {
            failure.get_or_insert(error);
        }
    }
    let stats = engine.stats(Instant::now());
    if let Some(announcer) = announcer {
        announcer.stop(totals(&stats)).await;
    }
    if let Some(error) = failure {
        return Err(error.into());
    }
    Ok(Summary {
        complete: engine.is_complete(),
        stats,
        pieces_on_disk,
        size: torrent.data_length(),
        download_time: download_time.unwrap_or_else(|| started.elapsed()),
        elapsed: started.elapsed(),
    })
}

fn handle_inbound(
    engine: &mut Engine,
    connections: &mut HashMap<PeerKey, Connection>,
    message: Inbound,
    inbound: &mpsc::Sender<Inbound>,
) {
    let now = Instant::now();
    match message {
        Inbound::Connected { key, stream } => {
            connections.insert(key, net::start(key, stream, inbound.clone()));
            engine.handle_connected(now, key);
        }
        Inbound::ConnectFailed { key } => engine.handle_connect_failed(now, key),
        Inbound::Incoming {
            addr,
            handshake,
            stream,
        } => {
            if let Some(key) = engine.handle_incoming(now, addr, handshake) {
                connections.insert(key, net::start(key, stream, inbound.clone()));
            }
        }
        Inbound::Data { key, bytes } => engine.handle_peer_data(now, key, &bytes),
        Inbound::Written { key, bytes } => engine.handle_peer_written(key, bytes),
        Inbound::Closed { key } => {
            connections.remove(&key);
            engine.handle_peer_closed(now, key);
        }
        Inbound::Peers { addrs, source } => engine.add_peers(now, addrs, source),
        Inbound::WebSeedPiece { key, piece, result } => match result {
            Ok(data) => engine.handle_web_seed_piece(now, key, piece, data),
            Err(error) => engine.handle_web_seed_failed(now, key, piece, error.failure),
        },
    }
}
