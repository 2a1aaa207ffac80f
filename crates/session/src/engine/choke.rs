//! Choking (BEP 3): tit-for-tat rounds every ten seconds plus an optimistic unchoke that moves on
//! every thirty, with the choices made by swarmgate-rank.
//!
//! While downloading, the peers that give us the most get our upload slots; once complete, the
//! peers that take the fastest do. One slot is kept for a random interested peer (new peers
//! weighted up) so newcomers with nothing to trade can start. Between rounds an interested peer is
//! unchoked at once while a slot is free, so a lone leecher does not wait ten seconds.

use std::time::{Duration, Instant};

use swarmgate_rank::{ChokeMode, PeerFacts, UnchokeCandidate, choose_optimistic, choose_unchoked};

use super::peer::Peer;
use super::{Engine, EngineConfig};
use crate::picker::PeerKey;

pub(super) struct Choker {
    next_round: Instant,
    next_optimistic: Instant,
    optimistic: Option<PeerKey>,
    interval: Duration,
    optimistic_interval: Duration,
}

impl Choker {
    pub(super) fn new(now: Instant, config: &EngineConfig) -> Self {
        Self {
            next_round: now + config.choke_interval,
            next_optimistic: now,
            optimistic: None,
            interval: config.choke_interval,
            optimistic_interval: config.optimistic_interval,
        }
    }

    pub(super) fn due(&self, now: Instant) -> bool {
        now >= self.next_round
    }

    pub(super) fn next_due(&self) -> Instant {
        self.next_round
    }

    pub(super) fn forget(&mut self, key: PeerKey) {
        if self.optimistic == Some(key) {
            self.optimistic = None;
        }
    }
}

impl Engine {
    pub(super) fn run_choker(&mut self, now: Instant) {
        let mode = if self.picker.is_complete() {
            ChokeMode::Seeding
        } else {
            ChokeMode::Leeching
        };
        let candidates: Vec<UnchokeCandidate> = self
            .peers
            .iter_mut()
            .map(|(key, peer)| UnchokeCandidate {
                id: key.0,
                interested: peer.session.peer_interested(),
                download_rate: peer.download.rate(now),
                upload_rate: peer.upload.rate(now),
                score: score(peer, &self.config),
                connected_for: now.saturating_duration_since(peer.connected_at),
            })
            .collect();
        let slots = self.config.unchoke_slots.max(1);
        let mut unchoked = choose_unchoked(&candidates, slots - 1, mode);
        let choker = &mut self.choker;
        let optimistic_gone = choker
            .optimistic
            .is_none_or(|k| !candidates.iter().any(|c| c.id == k.0 && c.interested));
        if now >= choker.next_optimistic || optimistic_gone {
            choker.optimistic =
                choose_optimistic(&candidates, &unchoked, self.rng.next_u64()).map(PeerKey);
            choker.next_optimistic = now + choker.optimistic_interval;
        }
        if let Some(key) = choker.optimistic {
            if !unchoked.contains(&key.0) {
                unchoked.push(key.0);
            }
        }
        for (key, peer) in &mut self.peers {
            let choking = !unchoked.contains(&key.0);
            peer.session.set_choking(choking);
            if choking {
                // The session dropped (or rejected) the peer's queued requests: reading them
                // would be wasted, and a peer that re-requests across choke rounds would
                // otherwise grow this queue past its `reqq`.
                peer.uploads.clear();
            }
            self.dirty.push(*key);
        }
        choker.next_round = now + choker.interval;
    }

    /// Unchokes a newly interested peer at once if a slot is free.
    pub(super) fn unchoke_if_room(&mut self, key: PeerKey) {
        let unchoked = self
            .peers
            .values()
            .filter(|p| !p.session.am_choking())
            .count();
        if unchoked < self.config.unchoke_slots {
            if let Some(peer) = self.peers.get_mut(&key) {
                peer.session.set_choking(false);
                self.dirty.push(key);
            }
        }
    }
}

impl Engine {
    /// Gives the slots of peers that left to interested peers still choked, lowest key first
    /// (the longest waiting), at once rather than at the next round: a seed with more leechers
    /// than slots would otherwise leave a slot idle for up to `choke_interval` each time a
    /// leecher finishes.
    pub(super) fn fill_free_slots(&mut self) {
        let unchoked = self
            .peers
            .values()
            .filter(|p| !p.session.am_choking())
            .count();
        let free = self.config.unchoke_slots.saturating_sub(unchoked);
        if free == 0 {
            return;
        }
        let mut waiting: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.session.am_choking() && p.session.peer_interested())
            .map(|(&key, _)| key)
            .collect();
        waiting.sort_unstable();
        for key in waiting.into_iter().take(free) {
            if let Some(peer) = self.peers.get_mut(&key) {
                peer.session.set_choking(false);
                self.dirty.push(key);
            }
        }
    }
}

/// The peer's rank score from what we know of it.
pub(super) fn score(peer: &Peer, config: &EngineConfig) -> f64 {
    let facts = PeerFacts {
        addr: peer.addr,
        source: peer.source,
        blocks_received: peer.blocks_received,
        hash_failures: peer.hash_failures,
        snubs: peer.snubs,
        outstanding: peer.session.outstanding() as u32,
        max_outstanding: peer.session.max_outstanding() as u32,
        since_seen: Some(Duration::ZERO),
    };
    swarmgate_rank::score(&facts, &config.local_addrs, &config.weights)
}
