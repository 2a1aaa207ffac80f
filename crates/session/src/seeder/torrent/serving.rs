//! A seeded torrent's side of the engine contract: what its task does with each command of its
//! seeding [`Engine`] (every piece had, nothing downloaded).
//!
//! Bytes go to the peers' links, a disconnect drops the link (which closes the socket), and a
//! block read goes to the block source ([`reads`](super::reads)). A seeding engine never dials
//! (its peers come from `handle_incoming` and `handle_dialled`), never asks for a block it lacks,
//! so never writes or verifies, and has no web seed; should it ever ask, a dial or a fetch is
//! refused back to it and a write or a verify is dropped with a warning, since a block source
//! is read-only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use swarmgate_core::{BlockRef, Geometry, PieceIndex};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::ReadDone;
use crate::engine::{DisconnectReason, Engine, EngineIo, WebSeedFailure};
use crate::picker::PeerKey;
use crate::seeder::BlockSource;
use crate::seeder::conn::Link;
use crate::seeder::shared::{Counters, DialGuard, IncomingGuard, Slot};

/// An engine's peer: its socket tasks, its connection slot and its record (of our dial, or of
/// its peer id when it dialled us).
pub(super) struct Peer {
    pub(super) link: Link,
    pub(super) _slot: Slot,
    pub(super) _dial: Option<DialGuard>,
    pub(super) _incoming: Option<IncomingGuard>,
}

/// The peers' sockets and the block reads of one torrent's task.
pub(super) struct Serving {
    pub(super) source: Arc<dyn BlockSource>,
    pub(super) peers: HashMap<PeerKey, Peer>,
    /// Socket tasks and block reads: the task ends only once they have.
    pub(super) io: JoinSet<()>,
    /// Where block reads report, on the task or from the blocking pool.
    pub(super) reads: mpsc::UnboundedSender<ReadDone>,
    /// Pieces with a read on the blocking pool, and the blocks of them asked for meanwhile:
    /// one thread loads a piece while its other blocks wait here, not on threads of their own.
    pub(super) loading: HashMap<PieceIndex, Vec<(PeerKey, BlockRef)>>,
    pub(super) geometry: Geometry,
    /// The seeder's figures (peers dropped for not reading are counted here).
    pub(super) counters: Arc<Counters>,
}

impl EngineIo for Serving {
    fn transmit(&mut self, _: &mut Engine, _: Instant, key: PeerKey, bytes: Bytes) {
        // Reported written by the link's writer task, as `ConnEvent::Written`.
        if let Some(peer) = self.peers.get(&key) {
            peer.link.send(bytes);
        }
    }

    fn connect(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, _: SocketAddr) {
        engine.handle_connect_failed(now, key);
    }

    fn disconnect(&mut self, key: PeerKey, reason: DisconnectReason) {
        if let DisconnectReason::Backlog { unsent } = reason {
            Counters::add(&self.counters.slow_readers, 1);
            tracing::debug!(unsent, "dropped a peer that does not read its socket");
        }
        self.peers.remove(&key);
    }

    fn write(&mut self, block: BlockRef, _: Bytes) {
        tracing::warn!(
            piece = block.piece.0,
            offset = block.offset,
            "a seeding engine asked to write a block: dropped"
        );
    }

    fn verify(&mut self, _: &mut Engine, _: Instant, piece: PieceIndex, _: bool) {
        tracing::warn!(
            piece = piece.0,
            "a seeding engine asked to verify a piece: dropped"
        );
    }

    fn read(&mut self, _: &mut Engine, _: Instant, key: PeerKey, block: BlockRef) {
        // Answered through `ReadDone`, on the task's next turn.
        self.start_read(key, block);
    }

    fn fetch(&mut self, engine: &mut Engine, now: Instant, key: PeerKey, piece: PieceIndex) {
        engine.handle_web_seed_failed(now, key, piece, WebSeedFailure::GiveUp);
    }
}
