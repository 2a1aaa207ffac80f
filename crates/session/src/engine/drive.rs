//! One loop for every driver: [`drive`] drains an [`Engine`]'s transmits, commands and events
//! into an [`EngineIo`] until the engine has nothing more to say.
//!
//! The download driver (sockets, disk threads, web seeds), the seeder's torrent task (sockets and
//! a block source) and the simulation in the tests (memory, at virtual instants) each implement
//! [`EngineIo`], one method per command. `drive` matches every command without a wildcard and
//! those methods have no defaults, so a command added to [`EngineCommand`] does not compile
//! until every driver carries it out. Only [`EngineIo::observe`] has a default: events are news,
//! not work.
//!
//! A method whose command wants an answer gets the engine and `now`, so a driver that has the
//! answer at once (a cached block, a refused dial, a simulated disk) gives it there and then,
//! and one with real I/O to do keeps the key and answers when the I/O ends. An answer may make
//! more output, so `drive` goes round until a round finds none. Each output goes straight from
//! the engine's queue to the method: no allocation, no channel.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use swarmgate_core::{BlockRef, PieceIndex};

use super::{DisconnectReason, Engine, EngineCommand, EngineEvent};
use crate::picker::PeerKey;

/// A driver's side of the engine contract: what it does with each output of an [`Engine`]
/// (the table in [`Engine`]'s docs), called by [`drive`].
///
/// A driver with no network at all, whose every dial fails at once:
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Instant;
///
/// use bytes::Bytes;
/// use swarmgate_core::{Bitfield, BlockRef, Geometry, InfoHashV1, PeerId, PieceIndex};
/// use swarmgate_rank::Source;
/// use swarmgate_session::{
///     DisconnectReason, Engine, EngineConfig, EngineEvent, EngineIo, PeerKey, WebSeedFailure,
///     drive,
/// };
///
/// #[derive(Default)]
/// struct Offline {
///     refused: Vec<SocketAddr>,
///     complete: bool,
/// }
///
/// impl EngineIo for Offline {
///     fn transmit(&mut self, _: &mut Engine, _: Instant, _: PeerKey, _: Bytes) {
///         unreachable!("no peer ever connects")
///     }
///     fn connect(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, addr: SocketAddr) {
///         self.refused.push(addr);
///         engine.handle_connect_failed(now, key);
///     }
///     fn disconnect(&mut self, _: PeerKey, _: DisconnectReason) {}
///     fn write(&mut self, _: BlockRef, _: Bytes) {
///         unreachable!("no peer ever connects")
///     }
///     fn verify(&mut self, _: &mut Engine, _: Instant, _: PieceIndex, _: bool) {
///         unreachable!("no peer ever connects")
///     }
///     fn read(&mut self, _: &mut Engine, _: Instant, _: PeerKey, _: BlockRef) {
///         unreachable!("no peer ever connects")
///     }
///     fn fetch(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, piece: PieceIndex) {
///         engine.handle_web_seed_failed(now, key, piece, WebSeedFailure::GiveUp);
///     }
///     fn observe(&mut self, _: Instant, event: EngineEvent) {
///         self.complete |= matches!(event, EngineEvent::Complete);
///     }
/// }
///
/// let geometry = Geometry::new(4 * 16_384, 16_384).expect("four pieces");
/// let config = EngineConfig::new(InfoHashV1([7; 20]), PeerId::swarmgate([1; 12]), geometry);
/// let now = Instant::now();
/// let mut engine = Engine::new(config, Bitfield::new(4), now);
/// let mut io = Offline::default();
/// let peers: [SocketAddr; 2] = ["10.0.0.1:6881".parse()?, "10.0.0.2:6881".parse()?];
/// engine.add_peers(now, peers, Source::Manual);
/// drive(&mut engine, now, &mut io);
/// assert_eq!(io.refused.len(), 2, "both dialled, both refused");
/// assert!(!io.complete, "nothing downloaded");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub trait EngineIo {
    /// Queues `bytes` on `key`'s socket (or drops them if it has none) and reports with
    /// [`Engine::handle_peer_written`] as they reach the socket.
    fn transmit(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, bytes: Bytes);

    /// [`EngineCommand::Connect`]: opens a connection to `addr` and reports with
    /// [`Engine::handle_connected`] or [`Engine::handle_connect_failed`].
    fn connect(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, addr: SocketAddr);

    /// [`EngineCommand::Disconnect`]: closes `key`'s socket; the engine has forgotten it.
    fn disconnect(&mut self, key: PeerKey, reason: DisconnectReason);

    /// [`EngineCommand::WriteBlock`]: writes `data` at `block`, before the verify of its piece.
    fn write(&mut self, block: BlockRef, data: Bytes);

    /// [`EngineCommand::VerifyPiece`]: hashes `piece` once its writes are done and reports with
    /// [`Engine::handle_piece_checked`] (with each block's SHA-1 when `block_digests`).
    fn verify(&mut self, engine: &mut Engine, now: Instant, piece: PieceIndex, block_digests: bool);

    /// [`EngineCommand::ReadBlock`]: reads `block` for `key` and reports with
    /// [`Engine::handle_block_read`].
    fn read(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, block: BlockRef);

    /// [`EngineCommand::FetchPiece`]: fetches `piece` from web seed `key` and reports with
    /// [`Engine::handle_web_seed_piece`] or [`Engine::handle_web_seed_failed`].
    fn fetch(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, piece: PieceIndex);

    /// An [`EngineEvent`], for the driver to log, count or act on; ignored unless overridden.
    fn observe(&mut self, now: Instant, event: EngineEvent) {
        let _ = (now, event);
    }
}

/// Drains `engine` into `io` at `now` until the engine has nothing more to say: bytes to
/// [`EngineIo::transmit`], each command to its method, events to [`EngineIo::observe`], round
/// after round while the answers `io` gives at once make more. Call it after every input
/// (step 2 of [`Engine`]'s call order).
pub fn drive<I: EngineIo + ?Sized>(engine: &mut Engine, now: Instant, io: &mut I) {
    loop {
        let mut handed_out = false;
        while let Some((key, bytes)) = engine.poll_transmit() {
            handed_out = true;
            io.transmit(engine, now, key, bytes);
        }
        while let Some(command) = engine.poll_command() {
            handed_out = true;
            match command {
                EngineCommand::Connect { key, addr } => io.connect(engine, now, key, addr),
                EngineCommand::Disconnect { key, reason } => io.disconnect(key, reason),
                EngineCommand::WriteBlock { block, data } => io.write(block, data),
                EngineCommand::VerifyPiece {
                    piece,
                    block_digests,
                } => io.verify(engine, now, piece, block_digests),
                EngineCommand::ReadBlock { key, block } => io.read(engine, now, key, block),
                EngineCommand::FetchPiece { key, piece } => io.fetch(engine, now, key, piece),
            }
        }
        while let Some(event) = engine.poll_event() {
            io.observe(now, event);
        }
        if !handed_out {
            return;
        }
    }
}
