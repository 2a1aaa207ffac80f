//! One download's loop: its [`Engine`] over sockets, disk threads, web seeds and the announcer,
//! one turn at a time, and its orderly end.
//!
//! A turn has two steps. [`Download::carry_out`] drains the engine through [`drive`] into
//! [`DownloadIo`], this driver's side of the engine contract: bytes go to the sockets' queues,
//! dials and web seed fetches to tasks of their own, and writes, verifies and reads into one batch
//! for the disk threads, submitted once per turn so that a wake-up moves many blocks.
//! [`Download::next_input`] then waits for one thing (shutdown, a disk result, messages from the
//! network, the engine's timer, the progress tick) and hands it to the engine. Inputs come back
//! only through channels, so nothing answers a command inside `drive`.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use swarmgate_core::{BlockRef, InfoHashV1, PieceIndex};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::{StorageError, TorrentStorage};
use swarmgate_tracker::{Announcer, AnnouncerConfig, Progress as TrackerProgress};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Interval;

use super::announce::AnnounceTask;
#[cfg(feature = "dht")]
use super::dht::{self as dht_source, DhtPeers, PeerWants};
use super::disk::{Disk, DiskDone, DiskJob};
use super::net::{self, Connection, Inbound};
use super::web_seed::{self, PieceFetcher};
use super::{Phase, Progress, RunConfig, RunError, Summary};
use crate::engine::{
    DisconnectReason, Engine, EngineEvent, EngineIo, EngineStats, WebSeedFailure, drive,
};
use crate::picker::PeerKey;

/// Messages from the network waiting for the engine, at most: with reads of up to 256 KiB this
/// bounds what sits between the sockets and the engine at 16 MiB.
const INBOUND_QUEUE: usize = 64;

/// Inbound messages handled in one turn of the loop, at most, after the one that woke it.
const INBOUND_BATCH: usize = 31;

/// How long the loop sleeps when the engine has no timer.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// What the download does with the engine's output.
struct DownloadIo {
    /// Open peer connections.
    connections: HashMap<PeerKey, Connection>,
    /// Disk work of this turn, in the engine's order.
    jobs: Vec<DiskJob>,
    /// The engine reported every piece verified this turn.
    completed: bool,
    /// Web seeds by the key the engine gave them.
    web_seeds: HashMap<PeerKey, Arc<dyn PieceFetcher>>,
    /// Where dials, fetches and sockets send what comes back.
    inbound: mpsc::Sender<Inbound>,
}

impl EngineIo for DownloadIo {
    fn transmit(&mut self, _: &mut Engine, _: Instant, key: PeerKey, bytes: Bytes) {
        // Reported written by the connection's writer task, as `Inbound::Written`.
        if let Some(connection) = self.connections.get(&key) {
            connection.send(bytes);
        }
    }

    fn connect(&mut self, _: &mut Engine, _: Instant, key: PeerKey, addr: SocketAddr) {
        net::dial(key, addr, self.inbound.clone());
    }

    fn disconnect(&mut self, key: PeerKey, _: DisconnectReason) {
        self.connections.remove(&key);
    }

    fn write(&mut self, block: BlockRef, data: Bytes) {
        self.jobs.push(DiskJob::Write { block, data });
    }

    fn verify(&mut self, _: &mut Engine, _: Instant, piece: PieceIndex, block_digests: bool) {
        self.jobs.push(DiskJob::Verify {
            piece,
            block_digests,
        });
    }

    fn read(&mut self, _: &mut Engine, _: Instant, key: PeerKey, block: BlockRef) {
        self.jobs.push(DiskJob::Read { key, block });
    }

    fn fetch(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, piece: PieceIndex) {
        match self.web_seeds.get(&key) {
            Some(fetcher) => {
                web_seed::start_fetch(key, piece, Arc::clone(fetcher), self.inbound.clone());
            }
            // Every key the engine fetches from came from `add_web_seed` here.
            None => engine.handle_web_seed_failed(now, key, piece, WebSeedFailure::GiveUp),
        }
    }

    fn observe(&mut self, _: Instant, event: EngineEvent) {
        if matches!(event, EngineEvent::Complete) {
            self.completed = true;
        }
    }
}

/// A running download: the engine, what carries out its commands, and where inputs come from.
pub(super) struct Download {
    engine: Engine,
    io: DownloadIo,
    torrent: Arc<Torrent>,
    disk: Disk,
    from_disk: mpsc::UnboundedReceiver<DiskDone>,
    from_network: mpsc::Receiver<Inbound>,
    listener: Option<AbortHandle>,
    announcer: Option<AnnounceTask>,
    /// The DHT lookups and announces, when the run has a DHT node.
    #[cfg(feature = "dht")]
    dht: Option<DhtPeers>,
    tick: Interval,
    started: Instant,
    /// When the last piece verified, if it has.
    download_time: Option<Duration>,
    /// The disk failed: the run ends with this error.
    failure: Option<StorageError>,
    /// Keep seeding once complete.
    seed: bool,
    sync_on_complete: bool,
}

impl Download {
    /// Starts everything around `engine`: the disk threads, the listener, the web seeds (the
    /// torrent's own unless turned off, and `config`'s), the announcer and the DHT lookups.
    pub(super) fn start(
        mut engine: Engine,
        torrent: Arc<Torrent>,
        storage: Arc<TorrentStorage>,
        mut config: RunConfig,
        info_hash: InfoHashV1,
        started: Instant,
        tick: Interval,
    ) -> Self {
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

        let (inbound_tx, from_network) = mpsc::channel(INBOUND_QUEUE);
        let (done_tx, from_disk) = mpsc::unbounded_channel();
        let disk = Disk::start(storage, Arc::clone(&torrent), done_tx);
        let listen_port = super::listen_port(&config);
        #[cfg(feature = "dht")]
        let listen_addr = config.listener.as_ref().and_then(|l| l.local_addr().ok());
        let listener = config
            .listener
            .take()
            .map(|l| net::listen(l, inbound_tx.clone()));
        let mut trackers = torrent.trackers().to_vec();
        trackers.append(&mut config.trackers);
        let announcer = (config.use_trackers && !trackers.is_empty()).then(|| {
            let mut tracker_config = AnnouncerConfig::new(config.peer_id, listen_port.unwrap_or(0));
            tracker_config.seed = config.seed_rng;
            let stats = engine.stats(Instant::now());
            AnnounceTask::start(
                Announcer::new(trackers, tracker_config),
                info_hash,
                totals(&torrent, &stats),
                inbound_tx.clone(),
            )
        });
        // BEP 27: a private torrent's peers come from its trackers only.
        #[cfg(feature = "dht")]
        let dht = config
            .dht
            .take()
            .filter(|_| !torrent.is_private())
            .map(|node| {
                let complete = engine.is_complete();
                dht_source::start_for_download(
                    node,
                    info_hash,
                    listen_addr,
                    config.max_peers,
                    complete,
                    inbound_tx.clone(),
                )
            });
        let download_time = engine.is_complete().then(|| started.elapsed());
        Self {
            engine,
            io: DownloadIo {
                connections: HashMap::new(),
                jobs: Vec::new(),
                completed: false,
                web_seeds,
                inbound: inbound_tx,
            },
            torrent,
            disk,
            from_disk,
            from_network,
            listener,
            announcer,
            #[cfg(feature = "dht")]
            dht,
            tick,
            started,
            download_time,
            failure: None,
            seed: config.seed,
            sync_on_complete: config.sync_on_complete,
        }
    }

    /// Runs turns until the download is over: complete (unless seeding), shut down, or failed.
    pub(super) async fn run(
        &mut self,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
        progress: &mut impl FnMut(&Progress),
    ) {
        while self.carry_out().await.is_continue()
            && self
                .next_input(shutdown.as_mut(), progress)
                .await
                .is_continue()
        {}
    }

    /// Carries out everything the engine asks for, submits the turn's disk batch, and on
    /// completion syncs (if asked) and announces `completed`. Breaks once the download is
    /// complete and not seeding, or the disk failed.
    async fn carry_out(&mut self) -> ControlFlow<()> {
        drive(&mut self.engine, Instant::now(), &mut self.io);
        let completed = std::mem::take(&mut self.io.completed);
        if completed {
            self.download_time.get_or_insert(self.started.elapsed());
            if self.sync_on_complete {
                self.io.jobs.push(DiskJob::Flush);
            }
        }
        self.disk.submit(std::mem::take(&mut self.io.jobs)).await;
        if completed {
            if let Some(announcer) = &self.announcer {
                announcer.completed();
            }
        }
        let done = self.engine.is_complete() && !self.seed;
        if done || self.failure.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Waits for the next input and hands it to the engine: a disk result, network messages (a
    /// batch), the engine's timer, or the progress tick. Breaks on shutdown.
    async fn next_input(
        &mut self,
        shutdown: Pin<&mut impl Future<Output = ()>>,
        progress: &mut impl FnMut(&Progress),
    ) -> ControlFlow<()> {
        let deadline = self
            .engine
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + IDLE_WAKE);
        tokio::select! {
            biased;
            () = shutdown => return ControlFlow::Break(()),
            Some(done) = self.from_disk.recv() => self.disk_done(done),
            Some(message) = self.from_network.recv() => {
                self.inbound(message);
                // Take what else is waiting before the next turn, so one turn (and one disk
                // batch) covers many blocks; bounded to keep batches small.
                for _ in 0..INBOUND_BATCH {
                    let Ok(message) = self.from_network.try_recv() else { break };
                    self.inbound(message);
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                self.engine.handle_timeout(Instant::now());
            }
            _ = self.tick.tick() => self.report_progress(progress),
        }
        ControlFlow::Continue(())
    }

    fn disk_done(&mut self, done: DiskDone) {
        let now = Instant::now();
        match done {
            DiskDone::Checked { piece, check } => {
                self.engine.handle_piece_checked(now, piece, check)
            }
            DiskDone::Read { key, block, data } => {
                self.engine.handle_block_read(now, key, block, data);
            }
            DiskDone::Failed(error) => self.failure = Some(error),
        }
    }

    fn inbound(&mut self, message: Inbound) {
        let now = Instant::now();
        let (engine, io) = (&mut self.engine, &mut self.io);
        match message {
            Inbound::Connected { key, stream } => {
                let connection = net::start(key, stream, io.inbound.clone());
                io.connections.insert(key, connection);
                engine.handle_connected(now, key);
            }
            Inbound::ConnectFailed { key } => engine.handle_connect_failed(now, key),
            Inbound::Incoming {
                addr,
                handshake,
                stream,
            } => {
                if let Some(key) = engine.handle_incoming(now, addr, handshake) {
                    let connection = net::start(key, stream, io.inbound.clone());
                    io.connections.insert(key, connection);
                }
            }
            Inbound::Data { key, bytes } => engine.handle_peer_data(now, key, &bytes),
            Inbound::Written { key, bytes } => engine.handle_peer_written(now, key, bytes),
            Inbound::Closed { key } => {
                io.connections.remove(&key);
                engine.handle_peer_closed(now, key);
            }
            Inbound::Peers { addrs, source } => engine.add_peers(now, addrs, source),
            Inbound::WebSeedPiece { key, piece, result } => match result {
                Ok(data) => engine.handle_web_seed_piece(now, key, piece, data),
                Err(error) => engine.handle_web_seed_failed(now, key, piece, error.failure),
            },
        }
    }

    /// Tells the announcer the totals and the caller where the run is.
    fn report_progress(&mut self, progress: &mut impl FnMut(&Progress)) {
        let stats = self.engine.stats(Instant::now());
        if let Some(announcer) = &self.announcer {
            announcer.update(totals(&self.torrent, &stats));
        }
        let phase = if self.engine.is_complete() {
            Phase::Seeding
        } else {
            Phase::Downloading
        };
        #[cfg(feature = "dht")]
        if let Some(dht) = &self.dht {
            dht.update(PeerWants {
                wanted: phase == Phase::Downloading,
                connected: stats.peers,
            });
        }
        progress(&Progress {
            phase,
            stats,
            elapsed: self.started.elapsed(),
            dht_peers: self.dht_peers(),
        });
    }

    /// Closes the peers, flushes an unfinished download's files, stops the disk threads and
    /// announces `stopped`; a disk error seen on the way is the run's error.
    pub(super) async fn finish(mut self, pieces_on_disk: u32) -> Result<Summary, RunError> {
        let now = Instant::now();
        let dht_peers = self.dht_peers();
        self.engine.shutdown(now);
        drive(&mut self.engine, now, &mut self.io);
        self.io.connections.clear();
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
        let mut jobs = std::mem::take(&mut self.io.jobs);
        if !self.engine.is_complete() {
            jobs.push(DiskJob::Flush);
        }
        self.disk.submit(jobs).await;
        let disk = self.disk;
        tokio::task::spawn_blocking(move || disk.stop())
            .await
            .expect("the disk thread stops cleanly");
        // A flush error reported while stopping still counts.
        let mut failure = self.failure;
        while let Ok(done) = self.from_disk.try_recv() {
            if let DiskDone::Failed(error) = done {
                failure.get_or_insert(error);
            }
        }
        let stats = self.engine.stats(Instant::now());
        #[cfg(feature = "dht")]
        if let Some(dht) = self.dht.take() {
            dht.stop();
        }
        if let Some(announcer) = self.announcer {
            announcer.stop(totals(&self.torrent, &stats)).await;
        }
        if let Some(error) = failure {
            return Err(error.into());
        }
        Ok(Summary {
            complete: self.engine.is_complete(),
            stats,
            pieces_on_disk,
            size: self.torrent.data_length(),
            download_time: self.download_time.unwrap_or_else(|| self.started.elapsed()),
            elapsed: self.started.elapsed(),
            dht_peers,
        })
    }

    /// Distinct peers found through the DHT so far.
    fn dht_peers(&self) -> usize {
        #[cfg(feature = "dht")]
        if let Some(dht) = &self.dht {
            return dht.found();
        }
        0
    }
}

/// The transfer totals a tracker is told.
fn totals(torrent: &Torrent, stats: &EngineStats) -> TrackerProgress {
    TrackerProgress {
        uploaded: stats.uploaded,
        downloaded: stats.downloaded,
        left: torrent
            .total_length()
            .saturating_sub(u64::from(stats.pieces_have) * u64::from(torrent.piece_length())),
    }
}
