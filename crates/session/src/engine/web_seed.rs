//! Web seeds (BEP 19) as one more source of pieces for the engine.
//!
//! A web seed is an HTTP server holding every file of the torrent. It has no wire protocol to
//! run, so the engine treats it as a seed that delivers whole pieces: an idle web seed is handed
//! a piece with [`EngineCommand::FetchPiece`] (the picker reserves every block of it, so peers are
//! not asked for the same blocks until the endgame), the driver fetches it with ranged GETs,
//! and the bytes come back through [`Engine::handle_web_seed_piece`] into the same path as
//! blocks from peers: written, hashed, counted. A web seed gets its next piece only when the
//! last one has been hashed: a server that lies costs one piece, not as many as it can send
//! while the hasher catches up. A fetch that fails releases the piece for others; a web seed
//! that fails three times in a row, or sends part of a piece that fails its hash, is dropped for
//! the rest of the run.

use std::time::{Duration, Instant};

use bytes::Bytes;
use swarmgate_core::{BLOCK_SIZE, Bitfield, PieceIndex};

use super::{Engine, EngineCommand};
use crate::picker::PeerKey;

/// Consecutive failed fetches after which a web seed is given up.
pub(super) const MAX_FAILURES: u32 = 3;

/// How long a web seed rests after a failed fetch that named no wait of its own.
pub const WEB_SEED_BACKOFF: Duration = Duration::from_secs(5);

/// What a failed web seed fetch says about the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebSeedFailure {
    /// It may work later (timeout, 5xx, 429, a cut body): rest `retry_after` (the server's
    /// `Retry-After`) or a few seconds, then try again; three in a row and the seed is dropped.
    Retry {
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// It will not work (404, no Range support, wrong lengths): drop the seed now.
    GiveUp,
}

/// One web seed as the engine sees it.
#[derive(Debug, Default)]
pub(super) struct WebSeed {
    /// The piece being fetched, or fetched and waiting for its hash check.
    busy: Option<PieceIndex>,
    /// The piece was delivered; the seed waits for its verdict.
    delivered: bool,
    /// Failed fetches since the last success.
    failures: u32,
    /// No fetch before this (after a failure).
    resting_until: Option<Instant>,
}

impl Engine {
    /// Adds a web seed; the driver keeps its URL under the returned key and fetches what
    /// [`EngineCommand::FetchPiece`] names for that key.
    pub fn add_web_seed(&mut self, now: Instant) -> PeerKey {
        let key = self.new_key();
        let count = self.config.geometry.piece_count();
        self.picker.add_peer(&Bitfield::full(count));
        self.web_seeds.insert(key, WebSeed::default());
        self.schedule_web_seeds(now);
        key
    }

    /// Web seeds still in use.
    pub fn web_seed_count(&self) -> usize {
        self.web_seeds.len()
    }

    /// The bytes of `piece`, fetched from web seed `key`: written and verified like blocks
    /// from a peer. A length other than the piece's is a failed fetch.
    pub fn handle_web_seed_piece(
        &mut self,
        now: Instant,
        key: PeerKey,
        piece: PieceIndex,
        data: Bytes,
    ) {
        let expected = self.config.geometry.piece_size(piece);
        let Some(seed) = self.web_seeds.get_mut(&key) else {
            return;
        };
        if seed.busy != Some(piece) || seed.delivered || expected != Some(data.len() as u32) {
            self.handle_web_seed_failed(now, key, piece, WebSeedFailure::GiveUp);
            return;
        }
        seed.delivered = true;
        let mut offset = 0u32;
        while (offset as usize) < data.len() {
            let length = BLOCK_SIZE.min(data.len() as u32 - offset);
            let block = swarmgate_core::BlockRef {
                piece,
                offset,
                length,
            };
            let bytes = data.slice(offset as usize..(offset + length) as usize);
            self.on_block(now, key, block, bytes);
            offset += length;
        }
        // Peers may have delivered the whole piece first (endgame): then no check will come
        // for this delivery, and the seed is free again.
        if self.picker.have().get(piece) {
            self.web_seed_checked(now, piece, true);
        }
    }

    /// A piece was hashed: web seeds waiting for its verdict are free again (a failed piece
    /// has already dropped the seeds that sent part of it).
    pub(super) fn web_seed_checked(&mut self, now: Instant, piece: PieceIndex, passed: bool) {
        for seed in self.web_seeds.values_mut() {
            if seed.busy == Some(piece) && seed.delivered {
                seed.busy = None;
                seed.delivered = false;
                if passed {
                    seed.failures = 0;
                }
            }
        }
        self.schedule_web_seeds(now);
    }

    /// Web seed `key` could not deliver `piece`: the piece is released for others, and the seed
    /// rests (the server's `Retry-After`, or [`WEB_SEED_BACKOFF`]) before its next fetch. It is
    /// dropped at once for [`WebSeedFailure::GiveUp`], and after three retryable failures in a
    /// row.
    pub fn handle_web_seed_failed(
        &mut self,
        now: Instant,
        key: PeerKey,
        piece: PieceIndex,
        failure: WebSeedFailure,
    ) {
        let Some(seed) = self.web_seeds.get_mut(&key) else {
            return;
        };
        if seed.busy == Some(piece) {
            seed.busy = None;
            seed.delivered = false;
        }
        seed.failures += 1;
        let rest = match failure {
            WebSeedFailure::Retry { retry_after } => retry_after.unwrap_or(WEB_SEED_BACKOFF),
            WebSeedFailure::GiveUp => Duration::ZERO,
        };
        seed.resting_until = Some(now + rest);
        self.picker.release_peer(key);
        if seed.failures >= MAX_FAILURES || failure == WebSeedFailure::GiveUp {
            self.drop_web_seed(key);
        }
        self.schedule_web_seeds(now);
    }

    /// When the next resting web seed may fetch again, if one is resting.
    pub(super) fn web_seed_timeout(&self) -> Option<Instant> {
        self.web_seeds
            .values()
            .filter(|seed| seed.busy.is_none())
            .filter_map(|seed| seed.resting_until)
            .min()
    }

    /// Forgets a web seed: no more fetches are handed to it.
    pub(super) fn drop_web_seed(&mut self, key: PeerKey) {
        if self.web_seeds.remove(&key).is_some() {
            let count = self.config.geometry.piece_count();
            self.picker.remove_peer(&Bitfield::full(count));
            self.picker.release_peer(key);
        }
    }

    /// Whether `key` is a web seed.
    pub(super) fn is_web_seed(&self, key: PeerKey) -> bool {
        self.web_seeds.contains_key(&key)
    }

    /// Hands a piece to every idle web seed that is not resting, while there are pieces to fetch.
    pub(super) fn schedule_web_seeds(&mut self, now: Instant) {
        if !self.config.download || self.picker.is_complete() {
            return;
        }
        let idle: Vec<PeerKey> = self
            .web_seeds
            .iter()
            .filter(|(_, seed)| seed.busy.is_none() && seed.resting_until.is_none_or(|t| t <= now))
            .map(|(&key, _)| key)
            .collect();
        for key in idle {
            let Some(piece) = self.picker.pick_whole_piece(key) else {
                return;
            };
            if let Some(seed) = self.web_seeds.get_mut(&key) {
                seed.busy = Some(piece);
            }
            self.commands
                .push_back(EngineCommand::FetchPiece { key, piece });
        }
    }
}
