//! The engine's reactions to what peers say and to piece verdicts: requests, interest, uploads,
//! cancels in endgame, and the hash-failure blame ("smart ban").
//!
//! Blame works as in libtorrent: a piece that fails with a single sender bans that sender at once.
//! A piece that fails with several senders keeps who sent which block; when the piece later
//! passes, the driver reports the SHA-1 of each block of the good copy, and every peer whose block
//! differed from the good one is banned. Honest peers that shared a piece with a liar are never
//! punished for it.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use swarmgate_core::{BLOCK_SIZE, BlockRef, PieceIndex};
use swarmgate_peer::PeerEvent;

use super::peer::{MAX_READS_IN_FLIGHT, MAX_UNSENT};
use super::{DisconnectReason, Engine, EngineCommand, EngineEvent};
use crate::picker::{BlockOutcome, PeerKey};

impl Engine {
    /// Handles every event `key`'s session has produced, then tops up its requests.
    pub(super) fn react_all(&mut self, now: Instant, key: PeerKey) {
        while let Some(event) = self
            .peers
            .get_mut(&key)
            .and_then(|p| p.session.poll_event())
        {
            self.react(now, key, event);
        }
        self.fill_requests(now, key);
    }

    fn react(&mut self, now: Instant, key: PeerKey, event: PeerEvent) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        match event {
            PeerEvent::Handshake { peer_id, .. } => {
                if self.banned_ids.contains(&peer_id) {
                    self.drop_peer(now, key, DisconnectReason::Banned);
                    return;
                }
                peer.session.send_bitfield(self.picker.have());
            }
            PeerEvent::PiecesKnown | PeerEvent::Have(_) => {
                let Some(pieces) = peer.session.peer_pieces() else {
                    return;
                };
                match event {
                    PeerEvent::Have(piece) if peer.counted => self.picker.peer_has(piece, pieces),
                    _ if !peer.counted => {
                        self.picker.add_peer(pieces);
                        peer.counted = true;
                    }
                    _ => {}
                }
                self.update_interest(now, key);
            }
            PeerEvent::Choked { dropped } => {
                for block in dropped {
                    self.picker.release(key, block);
                }
            }
            PeerEvent::Interested => self.unchoke_if_room(key),
            PeerEvent::Block { block, data } => self.on_block(now, key, block, data),
            PeerEvent::Request(block) => {
                if self.picker.have().get(block.piece) {
                    peer.uploads.push_back(block);
                    self.issue_reads(key);
                } else {
                    peer.session.reject(block);
                }
            }
            PeerEvent::Cancelled(block) => peer.uploads.retain(|&b| b != block),
            PeerEvent::Rejected(block) => self.picker.release(key, block),
            PeerEvent::RequestsTimedOut { blocks } => {
                peer.snubs += 1;
                for block in blocks {
                    self.picker.release(key, block);
                }
            }
            PeerEvent::ExtendedHandshake
            | PeerEvent::Unchoked
            | PeerEvent::NotInterested
            | PeerEvent::Suggest(_)
            | PeerEvent::AllowedFast(_)
            | PeerEvent::Port(_)
            | PeerEvent::Metadata(_)
            | PeerEvent::Extended { .. } => {}
        }
    }

    /// Keeps about `request_queue_time` of the peer's rate requested from it.
    pub(super) fn fill_requests(&mut self, now: Instant, key: PeerKey) {
        if !self.config.download || self.picker.is_complete() {
            return;
        }
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let session = &mut peer.session;
        if !session.am_interested() {
            return;
        }
        let allowed = if session.peer_choking() {
            if session.allowed_fast().is_empty() {
                return;
            }
            Some(session.allowed_fast().to_vec())
        } else {
            None
        };
        let rate = peer.download.rate(now) as f64;
        let by_rate =
            (rate * self.config.request_queue_time.as_secs_f64() / f64::from(BLOCK_SIZE)) as usize;
        let want = by_rate
            .clamp(self.config.min_requests, self.config.max_requests)
            .min(session.max_outstanding());
        let outstanding = session.outstanding();
        let Some(pieces) = session.peer_pieces() else {
            return;
        };
        if outstanding >= want {
            return;
        }
        let mut blocks = Vec::with_capacity(want - outstanding);
        let was_endgame = self.picker.in_endgame();
        self.picker.pick(
            key,
            pieces,
            allowed.as_deref(),
            want - outstanding,
            &mut blocks,
        );
        for piece in self.picker.take_started() {
            let availability = self.picker.availability(piece);
            self.events.push_back(EngineEvent::PieceStarted {
                piece,
                peer: key,
                availability,
            });
        }
        for block in blocks {
            if session.request(now, block).is_err() {
                self.picker.release(key, block);
            }
        }
        if !was_endgame && self.picker.in_endgame() {
            self.events.push_back(EngineEvent::EndgameStarted);
        }
        self.dirty.push(key);
    }

    pub(super) fn on_block(&mut self, now: Instant, key: PeerKey, block: BlockRef, data: Bytes) {
        let length = data.len() as u64;
        match self.picker.received(key, block) {
            BlockOutcome::Accepted {
                others,
                piece_complete,
            } => {
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.download.add(now, length);
                    peer.blocks_received += 1;
                    self.used.insert(peer.addr);
                }
                self.download_rate.add(now, length);
                self.stats.downloaded += length;
                self.commands
                    .push_back(EngineCommand::WriteBlock { block, data });
                for other in others {
                    if let Some(peer) = self.peers.get_mut(&other) {
                        peer.session.cancel(block);
                        self.stats.cancels_sent += 1;
                        self.dirty.push(other);
                    }
                }
                if piece_complete {
                    self.commands.push_back(EngineCommand::VerifyPiece {
                        piece: block.piece,
                        block_digests: self.suspects.contains_key(&block.piece),
                    });
                }
            }
            BlockOutcome::Duplicate => self.stats.wasted += length,
        }
    }

    /// Asks the driver for disk reads of queued uploads while the peer's socket keeps up.
    pub(super) fn issue_reads(&mut self, key: PeerKey) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        while peer.reads_in_flight < MAX_READS_IN_FLIGHT && peer.unsent < MAX_UNSENT {
            let Some(block) = peer.uploads.pop_front() else {
                break;
            };
            peer.reads_in_flight += 1;
            self.commands
                .push_back(EngineCommand::ReadBlock { key, block });
        }
    }

    /// Interested exactly when the peer has a piece we lack; drops a seed once we are one too.
    pub(super) fn update_interest(&mut self, now: Instant, key: PeerKey) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let Some(pieces) = peer.session.peer_pieces() else {
            return;
        };
        if self.picker.is_complete() && pieces.is_full() {
            self.drop_peer(now, key, DisconnectReason::BothSeeds);
            return;
        }
        let wanted = self.config.download && self.picker.wants_from(pieces);
        peer.session.set_interested(wanted);
        self.dirty.push(key);
    }

    pub(super) fn piece_passed(
        &mut self,
        now: Instant,
        piece: PieceIndex,
        digests: Option<Vec<[u8; 20]>>,
    ) {
        self.picker.checked(piece, true);
        self.stats.pieces_fetched += 1;
        self.events.push_back(EngineEvent::PieceVerified(piece));
        if let (Some(records), Some(good)) = (self.suspects.remove(&piece), digests) {
            let liars: Vec<(SocketAddr, PeerKey)> = records
                .iter()
                .zip(&good)
                .filter(|((_, _, sent), good)| sent.is_some_and(|sent| sent != **good))
                .map(|((addr, key, _), _)| (*addr, *key))
                .collect();
            for (addr, key) in liars {
                self.ban(now, key, addr);
            }
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            if let Some(peer) = self.peers.get_mut(&key) {
                peer.session.have(piece);
                self.dirty.push(key);
            }
            self.update_interest(now, key);
        }
        self.report_complete();
    }

    pub(super) fn piece_failed(
        &mut self,
        now: Instant,
        piece: PieceIndex,
        digests: Option<Vec<[u8; 20]>>,
    ) {
        let senders = self.picker.senders(piece);
        self.picker.checked(piece, false);
        self.stats.hash_failures += 1;
        let mut distinct = senders.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let mut addrs = Vec::with_capacity(distinct.len());
        for key in &distinct {
            if let Some(&addr) = self.addresses.get(key) {
                addrs.push(addr);
            }
            if let Some(peer) = self.peers.get_mut(key) {
                peer.hash_failures += 1;
            }
        }
        self.events.push_back(EngineEvent::PieceFailed {
            piece,
            senders: addrs.clone(),
        });
        // A web seed that sent part of a failed piece is not trusted with more: it has no
        // address to ban, and the piece is fetched again from someone else.
        for key in &distinct {
            if self.is_web_seed(*key) {
                self.drop_web_seed(*key);
            }
        }
        if let [only] = distinct[..] {
            if let Some(&addr) = self.addresses.get(&only) {
                self.ban(now, only, addr);
            }
        } else if !self.suspects.contains_key(&piece) {
            let records = senders
                .iter()
                .enumerate()
                .filter_map(|(i, key)| {
                    let addr = *self.addresses.get(key)?;
                    let digest = digests.as_ref().and_then(|d| d.get(i).copied());
                    Some((addr, *key, digest))
                })
                .collect();
            self.suspects.insert(piece, records);
        }
    }

    fn ban(&mut self, now: Instant, key: PeerKey, addr: SocketAddr) {
        if !self.banned.insert(addr) {
            return;
        }
        if let Some(id) = self.peers.get(&key).and_then(|p| p.session.peer_id()) {
            self.banned_ids.insert(id);
        }
        self.stats.banned += 1;
        self.candidates.remove(addr);
        self.events.push_back(EngineEvent::Banned(addr));
        self.drop_peer(now, key, DisconnectReason::Banned);
    }
}
