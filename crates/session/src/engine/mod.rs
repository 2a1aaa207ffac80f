//! The sans-IO torrent engine: every peer of one torrent, the piece picker and the choker.
//!
//! The engine is a state machine in the shape of quinn-proto: the driver feeds it what happened
//! (`handle_*`, each with `now`) and carries out what it asks for. It owns no socket, file, clock
//! or global RNG, so the same engine runs over TCP in `swarm download`, in the gateway's seeder
//! and over testkit's simulated network in tests. [`Engine`]'s docs give the call order.
//!
//! Block data never stays here: a block that arrives is handed out at once as
//! [`EngineCommand::WriteBlock`], and a piece whose blocks are all written is handed out as
//! [`EngineCommand::VerifyPiece`]. Only a verified piece is counted as had, announced with `have`
//! or served to other peers. Memory is a few hundred bytes per piece in progress and per peer,
//! whatever the size of the torrent.
//!
//! What a peer makes us send is bounded too: its requests by its session's `reqq` (and dropped
//! when it is choked), disk reads for it while 256 KiB wait for its socket, and a peer that
//! keeps writing while 4 MiB of our answers wait is dropped
//! ([`DisconnectReason::Backlog`]): rejects, metadata pieces and haves are answers too, and a
//! peer that never reads would otherwise grow them without end.
//!
//! # Commands and events: two types, two queues
//!
//! What comes out besides bytes is of two kinds, told apart by type and by queue, as quinn-proto
//! tells the endpoint's events (`poll_endpoint_events`) from the application's (`poll`):
//! [`Engine::poll_command`] gives [`EngineCommand`]s, work the driver must carry out and mostly
//! answer (connect, disconnect, write, verify, read, fetch); [`Engine::poll_event`] gives
//! [`EngineEvent`]s, news it may observe (a piece verified or failed, a ban, a piece started,
//! endgame, complete).
//!
//! Why not one enum of both kinds: a driver that cares about a few notifications writes
//! `_ => {}` for the rest, and that arm also swallows a command added later, which compiles and
//! then stalls a download. Why not one poll returning `Command(..)` or `Event(..)`: every arm
//! nests a level deeper and `_ => {}` is just as easy to write. With two types a match over
//! commands has nothing it may ignore, so it is written without a wildcard, and it is written
//! once: [`drive`] drains the three queues into an [`EngineIo`], which has one required method
//! per command. The download driver, the seeder's torrent task and the simulation each implement
//! it, so a new command does not compile until every one of them carries it out.
//!
//! Events need not be drained: a seeding engine emits one (`Complete`) and a download a few per
//! piece it fetches and one per ban, so a driver that never reads them (the seeder) holds a
//! bounded handful. Commands are never optional.

mod choke;
mod connect;
mod drive;
mod peer;
mod rate;
mod react;
mod types;
mod web_seed;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use swarmgate_core::{Bitfield, BlockRef, PeerId, PieceIndex};
use swarmgate_peer::{Handshake, PeerSession, Role, SessionConfig};
use swarmgate_rank::Source;

use crate::picker::{PeerKey, PiecePicker};
use connect::Candidates;
pub use drive::{EngineIo, drive};
use peer::{MAX_BACKLOG, Peer};
use swarmgate_core::SplitMix64;
pub use types::{
    DisconnectReason, EngineCommand, EngineConfig, EngineEvent, EngineStats, PieceCheck,
};
pub use web_seed::{WEB_SEED_BACKOFF, WebSeedFailure};

/// Who sent one block of a piece that failed, and the SHA-1 of what they sent.
type BlockSender = (SocketAddr, PeerKey, Option<[u8; 20]>);

/// One torrent's peers, pieces and choices: a sans-IO state machine its driver feeds and drains.
///
/// # Driving an engine
///
/// The engine does no I/O and reads no clock; its driver owns the sockets, the storage and the
/// timer, and keeps to this order (as quinn-proto's `Connection` asks of its endpoint):
///
/// 1. **Feed it** what happened, each call with the [`Instant`] it happened at:
///    - where peers are: [`add_peers`](Self::add_peers) (candidates it dials when it has room),
///      [`handle_incoming`](Self::handle_incoming) (a peer dialled us and sent its handshake),
///      [`handle_dialled`](Self::handle_dialled) (we dialled on our own), and
///      [`add_web_seed`](Self::add_web_seed);
///    - a peer's socket: [`handle_peer_data`](Self::handle_peer_data),
///      [`handle_peer_written`](Self::handle_peer_written),
///      [`handle_peer_closed`](Self::handle_peer_closed);
///    - the answers to its commands (the table below);
///    - time: [`handle_timeout`](Self::handle_timeout) once the instant from
///      [`poll_timeout`](Self::poll_timeout) has come.
/// 2. **Drain it** after every call that fed it, until all three queues are empty:
///    [`poll_transmit`](Self::poll_transmit) (bytes for a peer's socket, in order),
///    [`poll_command`](Self::poll_command) (work it must do, in order) and
///    [`poll_event`](Self::poll_event) (news it may use). Carrying out a command may feed the
///    engine again at once (a cache hit, a refused dial, a simulated disk), which gives more
///    output; [`drive`] runs this loop over an [`EngineIo`] and is what every driver in the
///    workspace uses.
/// 3. **Sleep** until the next input or [`poll_timeout`](Self::poll_timeout), whichever comes
///    first, then go back to 1.
///
/// What the driver owes for each output:
///
/// | output | the driver | and reports with |
/// |---|---|---|
/// | `poll_transmit` bytes for `key` | queues them on `key`'s socket | [`handle_peer_written`](Self::handle_peer_written) as they reach it |
/// | [`Connect`](EngineCommand::Connect) | opens a TCP connection | [`handle_connected`](Self::handle_connected) or [`handle_connect_failed`](Self::handle_connect_failed) |
/// | [`Disconnect`](EngineCommand::Disconnect) | closes the socket | nothing: the peer is forgotten |
/// | [`WriteBlock`](EngineCommand::WriteBlock) | writes it before its piece is hashed | nothing: its piece's verify answers |
/// | [`VerifyPiece`](EngineCommand::VerifyPiece) | hashes the piece once its writes are done | [`handle_piece_checked`](Self::handle_piece_checked) |
/// | [`ReadBlock`](EngineCommand::ReadBlock) | reads the block | [`handle_block_read`](Self::handle_block_read) |
/// | [`FetchPiece`](EngineCommand::FetchPiece) | fetches the piece from the web seed | [`handle_web_seed_piece`](Self::handle_web_seed_piece) or [`handle_web_seed_failed`](Self::handle_web_seed_failed) |
/// | any [`EngineEvent`] | may log, count or act on it | nothing |
///
/// A socket that closes on its own is reported with
/// [`handle_peer_closed`](Self::handle_peer_closed) (harmless for a peer already disconnected).
/// To stop, call [`shutdown`](Self::shutdown) and carry out the disconnects it gives.
pub struct Engine {
    config: EngineConfig,
    picker: PiecePicker,
    peers: HashMap<PeerKey, Peer>,
    connecting: HashMap<PeerKey, (SocketAddr, Source)>,
    candidates: Candidates,
    banned: HashSet<SocketAddr>,
    banned_ids: HashSet<PeerId>,
    used: HashSet<SocketAddr>,
    addresses: HashMap<PeerKey, SocketAddr>,
    next_key: u64,
    dirty: Vec<PeerKey>,
    transmit: VecDeque<(PeerKey, Bytes)>,
    commands: VecDeque<EngineCommand>,
    events: VecDeque<EngineEvent>,
    suspects: HashMap<PieceIndex, Vec<BlockSender>>,
    choker: choke::Choker,
    rng: SplitMix64,
    stats: EngineStats,
    download_rate: rate::RateMeter,
    upload_rate: rate::RateMeter,
    complete_reported: bool,
    web_seeds: BTreeMap<PeerKey, web_seed::WebSeed>,
}

impl Engine {
    /// An engine for a torrent of which `have` is already verified on disk.
    pub fn new(config: EngineConfig, have: Bitfield, now: Instant) -> Self {
        let picker = PiecePicker::new(config.geometry, have, config.seed);
        let stats = EngineStats {
            pieces_have: picker.have().count(),
            pieces_total: config.geometry.piece_count(),
            ..EngineStats::default()
        };
        let mut engine = Self {
            picker,
            peers: HashMap::new(),
            connecting: HashMap::new(),
            candidates: Candidates::default(),
            banned: HashSet::new(),
            banned_ids: HashSet::new(),
            used: HashSet::new(),
            addresses: HashMap::new(),
            next_key: 1,
            dirty: Vec::new(),
            transmit: VecDeque::new(),
            commands: VecDeque::new(),
            events: VecDeque::new(),
            suspects: HashMap::new(),
            choker: choke::Choker::new(now, &config),
            rng: SplitMix64::new(config.seed ^ 0x5eed),
            stats,
            download_rate: rate::RateMeter::new(now),
            upload_rate: rate::RateMeter::new(now),
            complete_reported: false,
            web_seeds: BTreeMap::new(),
            config,
        };
        engine.report_complete();
        engine
    }

    /// The pieces verified so far.
    pub fn have(&self) -> &Bitfield {
        self.picker.have()
    }

    /// True once every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.picker.is_complete()
    }

    /// Payload bytes uploaded so far (what [`Engine::stats`] reports, without its rates).
    pub fn uploaded(&self) -> u64 {
        self.stats.uploaded
    }

    /// Figures so far, as of `now`.
    pub fn stats(&mut self, now: Instant) -> EngineStats {
        let mut stats = self.stats.clone();
        stats.peers = self.peers.len();
        stats.peers_used = self.used.len();
        stats.pieces_have = self.picker.have().count();
        stats.download_rate = self.download_rate.rate(now);
        stats.upload_rate = self.upload_rate.rate(now);
        stats
    }

    /// The address of a connected (or connecting) peer.
    pub fn peer_addr(&self, key: PeerKey) -> Option<SocketAddr> {
        self.peers
            .get(&key)
            .map(|p| p.addr)
            .or_else(|| self.connecting.get(&key).map(|c| c.0))
    }

    /// Peers to try, from a tracker, the DHT, by hand...
    pub fn add_peers(
        &mut self,
        now: Instant,
        addrs: impl IntoIterator<Item = SocketAddr>,
        source: Source,
    ) {
        for addr in addrs {
            if !self.banned.contains(&addr) && !self.is_connected_to(addr) {
                self.candidates.add(addr, source);
            }
        }
        self.connect_more(now);
    }

    /// The connection to `key` (from [`EngineCommand::Connect`]) is open.
    pub fn handle_connected(&mut self, now: Instant, key: PeerKey) {
        let Some((addr, source)) = self.connecting.remove(&key) else {
            return;
        };
        self.candidates.connected(addr);
        let session = PeerSession::new(self.session_config(), Role::Initiator, now);
        self.peers
            .insert(key, Peer::new(addr, source, session, now));
        self.dirty.push(key);
        self.connect_more(now);
    }

    /// The connection to `key` could not be opened.
    pub fn handle_connect_failed(&mut self, now: Instant, key: PeerKey) {
        if let Some((addr, _)) = self.connecting.remove(&key) {
            self.candidates
                .failed(addr, now, self.config.max_connect_failures);
        }
        self.connect_more(now);
    }

    /// A peer connected to us and sent `theirs`, whose info-hash the driver matched to this
    /// torrent. Returns its key, or `None` if we have no room for it or it is banned.
    pub fn handle_incoming(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        theirs: Handshake,
    ) -> Option<PeerKey> {
        if self.peers.len() >= self.config.max_peers
            || self.banned.contains(&addr)
            || self.banned_ids.contains(&theirs.peer_id)
            || theirs.info_hash != self.config.info_hash
        {
            return None;
        }
        let key = self.new_key();
        let session = PeerSession::accepted(self.session_config(), theirs, now);
        self.addresses.insert(key, addr);
        let mut peer = Peer::new(addr, Source::Incoming, session, now);
        peer.session.send_bitfield(self.picker.have());
        self.peers.insert(key, peer);
        self.dirty.push(key);
        self.react_all(now, key);
        Some(key)
    }

    /// Bytes arrived from `key`.
    pub fn handle_peer_data(&mut self, now: Instant, key: PeerKey, bytes: &[u8]) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let result = peer.session.handle_bytes(now, bytes);
        let unsent = peer.unsent;
        self.dirty.push(key);
        self.react_all(now, key);
        if let Err(error) = result {
            self.drop_peer(now, key, DisconnectReason::Error(error.to_string()));
        } else if unsent > MAX_BACKLOG {
            // It keeps writing while what we answered waits for its socket: every message it
            // sends may add an answer (a reject, a metadata piece), so it is not kept.
            self.drop_peer(now, key, DisconnectReason::Backlog { unsent });
        }
    }

    /// `bytes` of what [`poll_transmit`](Self::poll_transmit) gave for `key` have reached the
    /// socket: more uploads may be read from disk.
    pub fn handle_peer_written(&mut self, now: Instant, key: PeerKey, bytes: usize) {
        // Every input carries its time; how fast a socket drains is not used (yet).
        let _ = now;
        if let Some(peer) = self.peers.get_mut(&key) {
            peer.unsent = peer.unsent.saturating_sub(bytes);
            self.issue_reads(key);
        }
    }

    /// The connection to `key` closed (by the peer, or after an I/O error).
    pub fn handle_peer_closed(&mut self, now: Instant, key: PeerKey) {
        self.forget_peer(now, key);
        self.fill_free_slots();
        self.connect_more(now);
    }

    /// The verdict on a piece handed out with [`EngineCommand::VerifyPiece`].
    pub fn handle_piece_checked(&mut self, now: Instant, piece: PieceIndex, check: PieceCheck) {
        let passed = check.passed;
        if passed {
            self.piece_passed(now, piece, check.block_digests);
        } else {
            self.piece_failed(now, piece, check.block_digests);
        }
        self.web_seed_checked(now, piece, passed);
    }

    /// The data for an upload asked for with [`EngineCommand::ReadBlock`].
    pub fn handle_block_read(&mut self, now: Instant, key: PeerKey, block: BlockRef, data: Bytes) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        peer.reads_in_flight = peer.reads_in_flight.saturating_sub(1);
        let length = data.len() as u64;
        if peer.session.send_block(block, data) {
            peer.upload.add(now, length);
            self.upload_rate.add(now, length);
            self.stats.uploaded += length;
        }
        self.dirty.push(key);
        self.issue_reads(key);
    }

    /// Runs timers: peer keep-alives and timeouts, choking rounds, connection retries.
    pub fn handle_timeout(&mut self, now: Instant) {
        let keys: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.session.poll_timeout().is_some_and(|t| t <= now))
            .map(|(&k, _)| k)
            .collect();
        for key in keys {
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            let result = peer.session.handle_timeout(now);
            self.dirty.push(key);
            self.react_all(now, key);
            if let Err(error) = result {
                self.drop_peer(now, key, DisconnectReason::Error(error.to_string()));
            }
        }
        if self.choker.due(now) {
            self.run_choker(now);
        }
        self.connect_more(now);
        self.schedule_web_seeds(now);
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peers = self.peers.values().filter_map(|p| p.session.poll_timeout());
        peers
            .chain(Some(self.choker.next_due()))
            .chain(self.candidates.next_retry())
            .chain(self.web_seed_timeout())
            .min()
    }

    /// Bytes to queue on a peer's socket, in order; report them with
    /// [`handle_peer_written`](Self::handle_peer_written) as they reach it.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(PeerKey, Bytes)> {
        if self.transmit.is_empty() {
            for key in std::mem::take(&mut self.dirty) {
                if let Some(peer) = self.peers.get_mut(&key) {
                    if let Some(bytes) = peer.session.poll_transmit() {
                        peer.unsent += bytes.len();
                        self.transmit.push_back((key, bytes));
                    }
                }
            }
        }
        self.transmit.pop_front()
    }

    /// The next command the driver must carry out; see [`Engine`] for what each one wants back.
    #[must_use]
    pub fn poll_command(&mut self) -> Option<EngineCommand> {
        self.commands.pop_front()
    }

    /// The next piece of news for the driver, which may ignore it.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// Says goodbye to every peer: a [`EngineCommand::Disconnect`] for each one, connected or
    /// being dialled, for the driver to carry out.
    pub fn shutdown(&mut self, now: Instant) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.forget_peer(now, key);
            self.commands.push_back(EngineCommand::Disconnect {
                key,
                reason: DisconnectReason::Shutdown,
            });
        }
        for key in std::mem::take(&mut self.connecting).into_keys() {
            self.commands.push_back(EngineCommand::Disconnect {
                key,
                reason: DisconnectReason::Shutdown,
            });
        }
    }

    fn session_config(&self) -> SessionConfig {
        let mut session = self.config.session.clone();
        session.info_hash = self.config.info_hash;
        session.peer_id = self.config.peer_id;
        session.geometry = Some(self.config.geometry);
        session.metadata = self.config.metadata.clone();
        session.client = self.config.client.clone();
        session.listen_port = self.config.listen_port;
        session
    }

    fn new_key(&mut self) -> PeerKey {
        let key = PeerKey(self.next_key);
        self.next_key += 1;
        key
    }

    fn is_connected_to(&self, addr: SocketAddr) -> bool {
        self.peers.values().any(|p| p.addr == addr) || self.connecting.values().any(|c| c.0 == addr)
    }

    /// Drops a peer the engine gave up on, and tells the driver to close it.
    fn drop_peer(&mut self, now: Instant, key: PeerKey, reason: DisconnectReason) {
        if self.forget_peer(now, key) {
            self.commands
                .push_back(EngineCommand::Disconnect { key, reason });
            self.fill_free_slots();
        }
        self.connect_more(now);
    }

    /// Removes every trace of a peer from the picker and the tables; false if it was unknown.
    fn forget_peer(&mut self, now: Instant, key: PeerKey) -> bool {
        // A complete torrent has no piece in progress to blame a sender of, so the address is
        // not kept: a long-lived seeding engine's memory stays bounded by its connected peers.
        if self.picker.is_complete() {
            self.addresses.remove(&key);
        }
        let Some(peer) = self.peers.remove(&key) else {
            return self.connecting.remove(&key).is_some();
        };
        if peer.counted {
            if let Some(pieces) = peer.session.peer_pieces() {
                self.picker.remove_peer(pieces);
            }
        }
        self.picker.release_peer(key);
        self.choker.forget(key);
        self.candidates.disconnected(peer.addr, now);
        true
    }

    fn report_complete(&mut self) {
        if self.picker.is_complete() && !self.complete_reported {
            self.complete_reported = true;
            self.events.push_back(EngineEvent::Complete);
        }
    }
}

#[cfg(test)]
mod tests;
