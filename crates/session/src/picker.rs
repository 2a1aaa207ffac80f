//! Piece picking (BEP 3 "rarest first", with the refinements every serious client makes).
//!
//! Three rules, in this order, decide which blocks a peer is asked for:
//!
//! 1. **Finish what was started.** Open blocks of pieces already in progress go first, so pieces
//!    complete (and can be verified, announced and uploaded) instead of the download fanning out
//!    into hundreds of half-done pieces.
//! 2. **Rarest first.** A new piece is the one the fewest connected peers have. Ties are broken by
//!    scanning from a random offset (seeded), so swarms of our clients do not all chase piece 0.
//!    Peers that have everything are counted once in `seeds` instead of in every piece, as
//!    libtorrent does, so a seed connecting or leaving costs O(1).
//! 3. **Endgame.** When no block is left unrequested in any piece the peer could give us, blocks
//!    already requested from other peers are requested again (at most [`ENDGAME_REQUESTERS`]
//!    requesters per block); the first copy to arrive wins and the caller cancels the rest.
//!
//! The picker keeps no block data: blocks go to disk as they arrive. It tracks who delivered each
//! block of a piece in progress, so a piece that fails its hash can be blamed on its senders.

use std::collections::HashMap;

use swarmgate_core::{BLOCK_SIZE, Bitfield, BlockRef, Geometry, PieceIndex};

use swarmgate_core::SplitMix64;

/// The engine's handle for one connected peer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PeerKey(pub u64);

/// At most this many peers are asked for the same block in endgame.
pub const ENDGAME_REQUESTERS: usize = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
enum BlockState {
    Open,
    Requested(Vec<PeerKey>),
    Received(PeerKey),
}

#[derive(Debug)]
struct PartialPiece {
    piece: PieceIndex,
    blocks: Vec<BlockState>,
    open: u32,
    received: u32,
}

/// What became of a block that arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// The block is new: write it. `others` also had it requested (endgame) and should be sent a
    /// cancel; `piece_complete` says every block of the piece is now in.
    Accepted {
        /// Other peers with an outstanding request for the same block.
        others: Vec<PeerKey>,
        /// Every block of the piece has arrived: verify it.
        piece_complete: bool,
    },
    /// We already have this block (or its piece): drop it.
    Duplicate,
}

/// Which pieces to ask which peer for.
#[derive(Debug)]
pub struct PiecePicker {
    geometry: Geometry,
    have: Bitfield,
    verifying: Bitfield,
    availability: Vec<u32>,
    seeds: u32,
    partial: Vec<PartialPiece>,
    partial_index: HashMap<PieceIndex, usize>,
    rng: SplitMix64,
    endgame: bool,
    started: Vec<PieceIndex>,
}

impl PiecePicker {
    /// A picker for a torrent of `geometry` of which we already have `have`.
    pub fn new(geometry: Geometry, have: Bitfield, seed: u64) -> Self {
        let count = geometry.piece_count();
        Self {
            geometry,
            have,
            verifying: Bitfield::new(count),
            availability: vec![0; count as usize],
            seeds: 0,
            partial: Vec::new(),
            partial_index: HashMap::new(),
            rng: SplitMix64::new(seed),
            endgame: false,
            started: Vec::new(),
        }
    }

    /// The pieces we have (verified).
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// True once every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.have.is_full()
    }

    /// True once the picker has started requesting blocks twice (endgame).
    pub fn in_endgame(&self) -> bool {
        self.endgame
    }

    /// How many connected peers have `piece`.
    pub fn availability(&self, piece: PieceIndex) -> u32 {
        self.availability
            .get(piece.as_usize())
            .map_or(0, |a| a + self.seeds)
    }

    /// The pieces in progress (some blocks requested or received, not yet verified).
    pub fn pieces_in_progress(&self) -> usize {
        self.partial.len()
    }

    /// Whether `peers_pieces` holds anything we still want.
    pub fn wants_from(&self, peers_pieces: &Bitfield) -> bool {
        if peers_pieces.is_full() {
            return !self.have.is_full();
        }
        peers_pieces.ones().any(|p| !self.have.get(p))
    }

    /// A peer with `pieces` connected (or sent its bitfield).
    pub fn add_peer(&mut self, pieces: &Bitfield) {
        if pieces.is_full() {
            self.seeds += 1;
        } else {
            for piece in pieces.ones() {
                self.availability[piece.as_usize()] += 1;
            }
        }
    }

    /// A peer with `pieces` left; its outstanding requests are released separately
    /// ([`release_peer`](Self::release_peer)).
    pub fn remove_peer(&mut self, pieces: &Bitfield) {
        if pieces.is_full() {
            self.seeds = self.seeds.saturating_sub(1);
        } else {
            for piece in pieces.ones() {
                let slot = &mut self.availability[piece.as_usize()];
                *slot = slot.saturating_sub(1);
            }
        }
    }

    /// A peer announced `piece`. `now_seed` says its bitfield just became full: its per-piece
    /// counts move into the seed count.
    pub fn peer_has(&mut self, piece: PieceIndex, pieces_after: &Bitfield) {
        if pieces_after.is_full() {
            for other in pieces_after.ones().filter(|&p| p != piece) {
                let slot = &mut self.availability[other.as_usize()];
                *slot = slot.saturating_sub(1);
            }
            self.seeds += 1;
        } else if let Some(slot) = self.availability.get_mut(piece.as_usize()) {
            *slot += 1;
        }
    }

    /// Up to `count` blocks to request from `peer`, which has `peers_pieces`; appended to `out`.
    /// `allowed` limits the choice to pieces the peer lets us fetch (all of its pieces when it
    /// has unchoked us; its allowed-fast set when it has not).
    pub fn pick(
        &mut self,
        peer: PeerKey,
        peers_pieces: &Bitfield,
        allowed: Option<&[PieceIndex]>,
        count: usize,
        out: &mut Vec<BlockRef>,
    ) {
        let start = out.len();
        let usable = |piece: PieceIndex| {
            peers_pieces.get(piece) && allowed.is_none_or(|set| set.contains(&piece))
        };
        // 1. Open blocks of started pieces, the most advanced pieces first.
        let mut order: Vec<usize> = (0..self.partial.len())
            .filter(|&i| self.partial[i].open > 0 && usable(self.partial[i].piece))
            .collect();
        order.sort_by_key(|&i| {
            let p = &self.partial[i];
            (p.open, p.piece)
        });
        for i in order {
            if out.len() - start >= count {
                return;
            }
            self.request_open(i, peer, count - (out.len() - start), out);
        }
        // 2. New pieces, rarest first.
        while out.len() - start < count {
            let Some(piece) = self.rarest_new_piece(&usable) else {
                break;
            };
            let i = self.start_piece(piece);
            self.request_open(i, peer, count - (out.len() - start), out);
        }
        // 3. Endgame: no block is left open anywhere that any connected peer could give us.
        if out.len() - start < count && self.nothing_open() {
            self.endgame |= self.have.count() + self.verifying.count() < self.have.len();
            self.request_duplicates(peer, &usable, count - (out.len() - start), out);
        }
    }

    fn nothing_open(&self) -> bool {
        self.partial.iter().all(|p| p.open == 0)
            && !self.have.zeros().any(|p| {
                !self.verifying.get(p)
                    && !self.partial_index.contains_key(&p)
                    && self.availability(p) > 0
            })
    }

    fn rarest_new_piece(&mut self, usable: &impl Fn(PieceIndex) -> bool) -> Option<PieceIndex> {
        let count = self.geometry.piece_count();
        if count == 0 {
            return None;
        }
        let offset = (self.rng.next_u64() % u64::from(count)) as u32;
        let mut best: Option<(u32, PieceIndex)> = None;
        for step in 0..count {
            let piece = PieceIndex((offset + step) % count);
            if self.have.get(piece)
                || self.verifying.get(piece)
                || self.partial_index.contains_key(&piece)
                || !usable(piece)
            {
                continue;
            }
            let rarity = self.availability[piece.as_usize()];
            if best.is_none_or(|(r, _)| rarity < r) {
                best = Some((rarity, piece));
                if rarity == 0 {
                    break;
                }
            }
        }
        best.map(|(_, piece)| piece)
    }

    /// A whole piece for a source that delivers pieces, not blocks (a BEP 19 web seed): every
    /// block of it is requested from `source` at once. A started piece with no block requested
    /// yet (reopened after a failure, or released) comes first, then the rarest new piece; a
    /// piece others are already fetching is never split with a whole-piece source, so the
    /// source's range request covers exactly one piece.
    pub fn pick_whole_piece(&mut self, source: PeerKey) -> Option<PieceIndex> {
        let reopened = self
            .partial
            .iter()
            .position(|p| p.open as usize == p.blocks.len());
        let i = match reopened {
            Some(i) => i,
            None => {
                let piece = self.rarest_new_piece(&|_| true)?;
                self.start_piece(piece)
            }
        };
        let mut blocks = Vec::new();
        self.request_open(i, source, usize::MAX, &mut blocks);
        Some(self.partial[i].piece)
    }

    /// The pieces started (first blocks requested) since the last call, in order.
    pub fn take_started(&mut self) -> Vec<PieceIndex> {
        std::mem::take(&mut self.started)
    }

    fn start_piece(&mut self, piece: PieceIndex) -> usize {
        self.started.push(piece);
        let blocks = self.geometry.blocks_in_piece(piece);
        self.partial.push(PartialPiece {
            piece,
            blocks: vec![BlockState::Open; blocks as usize],
            open: blocks,
            received: 0,
        });
        let index = self.partial.len() - 1;
        self.partial_index.insert(piece, index);
        index
    }

    fn request_open(&mut self, i: usize, peer: PeerKey, count: usize, out: &mut Vec<BlockRef>) {
        let geometry = self.geometry;
        let p = &mut self.partial[i];
        let mut taken = 0;
        for (b, state) in p.blocks.iter_mut().enumerate() {
            if taken == count {
                break;
            }
            if *state == BlockState::Open {
                *state = BlockState::Requested(vec![peer]);
                p.open -= 1;
                taken += 1;
                out.extend(geometry.block(p.piece, b as u32));
            }
        }
    }

    fn request_duplicates(
        &mut self,
        peer: PeerKey,
        usable: &impl Fn(PieceIndex) -> bool,
        count: usize,
        out: &mut Vec<BlockRef>,
    ) {
        let geometry = self.geometry;
        let mut taken = 0;
        for p in self.partial.iter_mut().filter(|p| usable(p.piece)) {
            for (b, state) in p.blocks.iter_mut().enumerate() {
                if taken == count {
                    return;
                }
                if let BlockState::Requested(by) = state {
                    if by.len() < ENDGAME_REQUESTERS && !by.contains(&peer) {
                        by.push(peer);
                        taken += 1;
                        out.extend(geometry.block(p.piece, b as u32));
                    }
                }
            }
        }
    }

    /// `peer` will not deliver `block` (choked, rejected, timed out): another peer may take it.
    pub fn release(&mut self, peer: PeerKey, block: BlockRef) {
        let Some((i, b)) = self.locate(block) else {
            return;
        };
        let p = &mut self.partial[i];
        if let BlockState::Requested(by) = &mut p.blocks[b] {
            by.retain(|&k| k != peer);
            if by.is_empty() {
                p.blocks[b] = BlockState::Open;
                p.open += 1;
            }
        }
    }

    /// Releases every request `peer` holds (it disconnected).
    pub fn release_peer(&mut self, peer: PeerKey) {
        for p in &mut self.partial {
            for state in &mut p.blocks {
                if let BlockState::Requested(by) = state {
                    by.retain(|&k| k != peer);
                    if by.is_empty() {
                        *state = BlockState::Open;
                        p.open += 1;
                    }
                }
            }
        }
    }

    /// `peer` delivered `block`.
    pub fn received(&mut self, peer: PeerKey, block: BlockRef) -> BlockOutcome {
        let Some((i, b)) = self.locate(block) else {
            return BlockOutcome::Duplicate;
        };
        let p = &mut self.partial[i];
        let others = match std::mem::replace(&mut p.blocks[b], BlockState::Received(peer)) {
            BlockState::Received(first) => {
                p.blocks[b] = BlockState::Received(first);
                return BlockOutcome::Duplicate;
            }
            BlockState::Open => {
                p.open -= 1;
                Vec::new()
            }
            BlockState::Requested(mut by) => {
                by.retain(|&k| k != peer);
                by
            }
        };
        p.received += 1;
        let piece_complete = p.received as usize == p.blocks.len();
        if piece_complete {
            self.verifying.set(p.piece);
        }
        BlockOutcome::Accepted {
            others,
            piece_complete,
        }
    }

    /// The peers that delivered the blocks of `piece`, block by block (for blame on failure).
    pub fn senders(&self, piece: PieceIndex) -> Vec<PeerKey> {
        self.partial_index
            .get(&piece)
            .map(|&i| {
                self.partial[i]
                    .blocks
                    .iter()
                    .filter_map(|s| match s {
                        BlockState::Received(k) => Some(*k),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The verdict on a complete piece: kept on success, every block reopened on failure.
    pub fn checked(&mut self, piece: PieceIndex, ok: bool) {
        self.verifying.clear(piece);
        let Some(i) = self.partial_index.remove(&piece) else {
            return;
        };
        let removed = self.partial.swap_remove(i);
        if let Some(moved) = self.partial.get(i) {
            self.partial_index.insert(moved.piece, i);
        }
        if ok {
            self.have.set(piece);
        } else {
            let blocks = removed.blocks.len() as u32;
            self.partial.push(PartialPiece {
                piece,
                blocks: vec![BlockState::Open; blocks as usize],
                open: blocks,
                received: 0,
            });
            self.partial_index.insert(piece, self.partial.len() - 1);
        }
    }

    fn locate(&self, block: BlockRef) -> Option<(usize, usize)> {
        if !self.geometry.is_valid_block(block) {
            return None;
        }
        let i = *self.partial_index.get(&block.piece)?;
        Some((i, (block.offset / BLOCK_SIZE) as usize))
    }
}

#[cfg(test)]
mod tests;
