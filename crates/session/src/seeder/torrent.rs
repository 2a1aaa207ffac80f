//! One seeded torrent's task (BEP 3 uploads, BEP 9 metadata): its [`Engine`] over the peers the
//! accept loop and the dials hand it, its block reads on the blocking pool.
//!
//! Each turn carries out what the engine asked for through [`drive`], the loop every driver of
//! the engine shares, into [`Serving`] (the peers' sockets and the block reads), then waits for
//! one input: a command from the rest of the seeder, a block read, socket events, or a timer.
//!
//! The task starts with its torrent's first peer and ends `idle_grace` after its last one left,
//! so an idle torrent costs only its table entry. It ends through the torrent table's lock,
//! after checking its command queue is empty: senders queue only under that lock, so a peer
//! handed over while the task was ending is never lost (the next one starts a new task).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use swarmgate_core::{Bitfield, BlockRef, InfoHashV1};
use swarmgate_metainfo::Torrent;
use swarmgate_peer::Handshake;
use swarmgate_rank::Source;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

mod reads;
mod serving;

use super::BlockSource;
use super::conn::{ConnEvent, Link};
use super::shared::{Counters, DialGuard, IncomingGuard, Shared, Slot, State, TaskHandle};
use crate::engine::{Engine, EngineConfig, EngineStats, drive};
use crate::picker::PeerKey;
use serving::{Peer, Serving};

/// Socket events waiting for the task, at most (each one read of at most 32 KiB).
const EVENT_QUEUE: usize = 64;
/// Socket events handled in one turn after the one that woke the task.
const EVENT_BATCH: usize = 31;
/// How often the task publishes its figures for `Seeder::torrent_stats`.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// What the rest of the seeder hands a torrent's task.
pub(super) enum Command {
    /// A peer connected to us and sent this handshake (for this torrent).
    Incoming {
        addr: SocketAddr,
        handshake: Handshake,
        stream: TcpStream,
        slot: Slot,
        registered: IncomingGuard,
    },
    /// We dialled `addr` for this torrent; nothing was sent yet.
    Dialled {
        addr: SocketAddr,
        stream: TcpStream,
        slot: Slot,
        guard: DialGuard,
    },
    /// Close every peer and end.
    Stop,
}

/// Hands `command` to `info_hash`'s task, starting one if it has none (or its task died).
/// Gives the command back when the torrent is not seeded.
pub(super) fn deliver(
    shared: &Arc<Shared>,
    state: &mut State,
    info_hash: InfoHashV1,
    command: Command,
) -> Option<Command> {
    let id = state.next_task;
    let Some(entry) = state.torrents.get_mut(&info_hash) else {
        return Some(command);
    };
    let command = match &entry.task {
        Some(task) => match task.commands.send(command) {
            Ok(()) => return None,
            // The task is gone without unregistering (it panicked): start another.
            Err(mpsc::error::SendError(command)) => command,
        },
        None => command,
    };
    state.next_task += 1;
    let (commands, queue) = mpsc::unbounded_channel();
    // Cannot fail: the receiver is alive until the task starts.
    let _ = commands.send(command);
    shared.counters.active.fetch_add(1, Ordering::Relaxed);
    let active = Active(Arc::clone(&shared.counters));
    // The engine is built in the task, not under the table's lock.
    let setup = Setup {
        shared: Arc::clone(shared),
        info_hash,
        id,
        entry_id: entry.id,
        torrent: Arc::clone(&entry.torrent),
        source: Arc::clone(&entry.source),
        base_uploaded: entry.stats.uploaded,
    };
    let join = shared
        .runtime
        .spawn(async move { Task::new(setup).run(queue, active).await });
    let old = entry.task.replace(TaskHandle { id, commands, join });
    if let Some(old) = old {
        state.push_ended(old.join);
    }
    None
}

/// Counts a running torrent task, until it ends (or is dropped unstarted).
struct Active(Arc<Counters>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A block read's outcome, from the blocking pool.
struct ReadDone {
    /// The peer that asked; `None` for a read ahead that nobody asked for yet.
    key: Option<PeerKey>,
    block: BlockRef,
    result: io::Result<Bytes>,
}

/// What a new task needs from its torrent's entry.
struct Setup {
    shared: Arc<Shared>,
    info_hash: InfoHashV1,
    id: u64,
    entry_id: u64,
    torrent: Arc<Torrent>,
    source: Arc<dyn BlockSource>,
    /// Bytes uploaded by this torrent's earlier tasks.
    base_uploaded: u64,
}

struct Task {
    shared: Arc<Shared>,
    info_hash: InfoHashV1,
    id: u64,
    entry_id: u64,
    engine: Engine,
    /// What carries out the engine's commands: the peers' sockets and the block reads.
    serving: Serving,
    events: mpsc::Sender<ConnEvent>,
    events_rx: Option<mpsc::Receiver<ConnEvent>>,
    reads_rx: Option<mpsc::UnboundedReceiver<ReadDone>>,
    /// Bytes uploaded by this torrent's earlier tasks.
    base_uploaded: u64,
    idle_since: Option<Instant>,
    published: (Instant, usize),
}

impl Task {
    fn new(setup: Setup) -> Task {
        let Setup {
            shared,
            info_hash,
            id,
            entry_id,
            torrent,
            source,
            base_uploaded,
        } = setup;
        let now = Instant::now();
        let config = &shared.config;
        let geometry = torrent.layout().geometry();
        let mut engine_config = EngineConfig::new(info_hash, config.peer_id, geometry);
        // Copied per task, not kept per entry: an idle torrent holds only the shared `Torrent`.
        engine_config.metadata = Some(Bytes::copy_from_slice(torrent.info_bytes()));
        engine_config.listen_port = Some(shared.local_addr.port());
        engine_config.download = false;
        engine_config.max_peers = config.max_peers_per_torrent;
        engine_config.unchoke_slots = config.unchoke_slots;
        let hash_bits = u64::from_le_bytes(info_hash.0[..8].try_into().unwrap_or([0; 8]));
        engine_config.seed = config.seed_rng ^ hash_bits;
        let have = Bitfield::full(geometry.piece_count());
        let (events, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (reads, reads_rx) = mpsc::unbounded_channel();
        let counters = Arc::clone(&shared.counters);
        Task {
            engine: Engine::new(engine_config, have, now),
            shared,
            info_hash,
            id,
            entry_id,
            serving: Serving {
                source,
                peers: HashMap::new(),
                io: JoinSet::new(),
                reads,
                loading: HashMap::new(),
                geometry,
                counters,
            },
            events,
            events_rx: Some(events_rx),
            reads_rx: Some(reads_rx),
            base_uploaded,
            idle_since: Some(now),
            published: (now, 0),
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>, _active: Active) {
        let (Some(mut events), Some(mut reads)) = (self.events_rx.take(), self.reads_rx.take())
        else {
            return;
        };
        let grace = self.shared.config.idle_grace;
        loop {
            self.carry_out();
            let now = Instant::now();
            self.publish_if_due(now);
            let idle_end = self.idle_since.map(|since| since + grace);
            if idle_end.is_some_and(|end| end <= now) {
                match self.try_end(&mut commands, now) {
                    Some(Command::Stop) => break,
                    Some(command) => {
                        self.command(command);
                        continue;
                    }
                    None => {
                        // Unregistered: wait only for reads still on the blocking pool.
                        self.serving.io.shutdown().await;
                        return;
                    }
                }
            }
            let wake = [self.engine.poll_timeout(), idle_end]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now + PUBLISH_EVERY)
                .min(now + PUBLISH_EVERY);
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Command::Stop) | None => break,
                    Some(command) => self.command(command),
                },
                Some(done) = reads.recv() => self.read_done(done),
                Some(event) = events.recv() => {
                    self.conn_event(event);
                    for _ in 0..EVENT_BATCH {
                        let Ok(event) = events.try_recv() else { break };
                        self.conn_event(event);
                    }
                }
                Some(_) = self.serving.io.join_next(), if !self.serving.io.is_empty() => {}
                () = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if self.engine.poll_timeout().is_some_and(|due| due <= now) {
                        self.engine.handle_timeout(now);
                    }
                }
            }
        }
        self.stop().await;
    }

    /// Says goodbye to every peer, closes the sockets, waits for reads, publishes the figures.
    async fn stop(mut self) {
        let now = Instant::now();
        self.engine.shutdown(now);
        drive(&mut self.engine, now, &mut self.serving);
        self.serving.peers.clear();
        self.serving.io.shutdown().await;
        self.publish(now, None);
    }

    /// Ends the task if no command is waiting (checked under the table's lock); else returns it.
    fn try_end(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        now: Instant,
    ) -> Option<Command> {
        let stats = self.final_stats(now);
        let mut state = self.shared.state();
        if let Ok(command) = commands.try_recv() {
            return Some(command);
        }
        let mut ended = None;
        if let Some(entry) = state.torrents.get_mut(&self.info_hash) {
            if entry.id == self.entry_id {
                entry.stats = stats;
                if entry.task.as_ref().is_some_and(|t| t.id == self.id) {
                    ended = entry.task.take();
                }
            }
        }
        if let Some(task) = ended {
            state.push_ended(task.join);
        }
        None
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        let (key, stream, mut slot, dial, incoming) = match command {
            Command::Incoming {
                addr,
                handshake,
                stream,
                slot,
                registered,
            } => match self.engine.handle_incoming(now, addr, handshake) {
                Some(key) => (key, stream, slot, None, Some(registered)),
                None => return Counters::add(&self.shared.counters.refused, 1),
            },
            Command::Dialled {
                addr,
                stream,
                slot,
                guard,
            } => match self.engine.handle_dialled(now, addr, Source::Tracker) {
                Some(key) => (key, stream, slot, Some(guard), None),
                None => return Counters::add(&self.shared.counters.refused, 1),
            },
            Command::Stop => return,
        };
        slot.make_peer();
        let link = Link::start(key, stream, self.events.clone(), &mut self.serving.io);
        let peer = Peer {
            link,
            _slot: slot,
            _dial: dial,
            _incoming: incoming,
        };
        self.serving.peers.insert(key, peer);
    }

    fn conn_event(&mut self, event: ConnEvent) {
        let now = Instant::now();
        match event {
            ConnEvent::Data { key, bytes } => self.engine.handle_peer_data(now, key, &bytes),
            ConnEvent::Written { key, bytes } => self.engine.handle_peer_written(now, key, bytes),
            ConnEvent::Closed { key } => self.drop_peer(now, key),
        }
    }

    fn drop_peer(&mut self, now: Instant, key: PeerKey) {
        if self.serving.peers.remove(&key).is_some() {
            self.engine.handle_peer_closed(now, key);
        }
    }

    /// Carries out what the engine asked for until it asks for nothing more, and notes when the
    /// last peer left.
    fn carry_out(&mut self) {
        drive(&mut self.engine, Instant::now(), &mut self.serving);
        if self.serving.peers.is_empty() {
            self.idle_since.get_or_insert_with(Instant::now);
        } else {
            self.idle_since = None;
        }
    }

    fn stats(&mut self, now: Instant) -> EngineStats {
        let mut stats = self.engine.stats(now);
        stats.uploaded += self.base_uploaded;
        stats
    }

    fn final_stats(&mut self, now: Instant) -> EngineStats {
        let mut stats = self.stats(now);
        stats.peers = 0;
        stats.upload_rate = 0;
        stats.download_rate = 0;
        stats
    }

    fn publish_if_due(&mut self, now: Instant) {
        let (at, peers) = self.published;
        if now >= at + PUBLISH_EVERY || peers != self.serving.peers.len() {
            let stats = self.stats(now);
            self.publish(now, Some(stats));
        }
    }

    /// Writes the figures into the torrent's entry (the final ones when `stats` is `None`),
    /// unless the torrent was removed (or removed and added again) meanwhile.
    fn publish(&mut self, now: Instant, stats: Option<EngineStats>) {
        let stats = stats.unwrap_or_else(|| self.final_stats(now));
        self.published = (now, self.serving.peers.len());
        let mut state = self.shared.state();
        if let Some(entry) = state.torrents.get_mut(&self.info_hash) {
            if entry.id == self.entry_id {
                entry.stats = stats;
            }
        }
    }
}
