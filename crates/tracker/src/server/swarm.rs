//! One torrent's swarm as a tracker keeps it (BEP 3, 7, 23): seeders and leechers per address
//! family, stored in their compact wire form.
//!
//! Peers are kept as the bytes an answer sends (6 for IPv4, 18 for IPv6), so an announce copies
//! them out without formatting anything. Each family is a [`PeerSet`]: two dense vectors
//! (seeders, leechers) and one index from peer id to position, so that finding a peer, moving it
//! from leecher to seeder and removing it are O(1), and picking `numwant` peers is a copy of a
//! contiguous window starting at a random offset. An IPv4 peer costs 32 bytes in its vector plus
//! one index entry (24 bytes and a control byte, at most 7/8 full).
//!
//! Times are whole seconds since the registry's epoch (`u32`: 136 years), so a peer's expiry
//! costs four bytes.

use std::collections::HashMap;

use swarmgate_core::PeerId;

/// Bit 31 of an index entry says which vector the position is in.
const SEEDER_BIT: u32 = 1 << 31;

/// A peer as stored: its id, its compact address and when it expires.
#[derive(Clone, Copy, Debug)]
struct Peer<const N: usize> {
    id: PeerId,
    addr: [u8; N],
    expires: u32,
}

/// What an upsert found before it wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Previous {
    /// The peer was not in the set.
    Absent,
    /// The peer was a leecher.
    Leecher,
    /// The peer was a seeder.
    Seeder,
}

/// The peers of one address family: `N` is the compact address length (6 or 18).
#[derive(Debug, Default)]
pub(crate) struct PeerSet<const N: usize> {
    seeders: Vec<Peer<N>>,
    leechers: Vec<Peer<N>>,
    index: HashMap<PeerId, u32>,
}

impl<const N: usize> PeerSet<N> {
    pub(crate) fn seeders(&self) -> usize {
        self.seeders.len()
    }

    pub(crate) fn leechers(&self) -> usize {
        self.leechers.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn contains(&self, id: &PeerId) -> bool {
        self.index.contains_key(id)
    }

    fn list_mut(&mut self, seeder: bool) -> &mut Vec<Peer<N>> {
        if seeder {
            &mut self.seeders
        } else {
            &mut self.leechers
        }
    }

    fn slot(seeder: bool, position: usize) -> u32 {
        // Positions are bounded by the per-torrent peer limit, far below 2^31.
        let position = position as u32;
        if seeder {
            position | SEEDER_BIT
        } else {
            position
        }
    }

    /// Inserts or refreshes a peer; returns what it was before.
    pub(crate) fn upsert(
        &mut self,
        id: PeerId,
        addr: [u8; N],
        seeder: bool,
        expires: u32,
    ) -> Previous {
        let peer = Peer { id, addr, expires };
        match self.index.get(&id).copied() {
            Some(slot) => {
                let was_seeder = slot & SEEDER_BIT != 0;
                let position = (slot & !SEEDER_BIT) as usize;
                if was_seeder == seeder {
                    self.list_mut(seeder)[position] = peer;
                } else {
                    self.take(was_seeder, position);
                    self.push(peer, seeder);
                }
                if was_seeder {
                    Previous::Seeder
                } else {
                    Previous::Leecher
                }
            }
            None => {
                self.push(peer, seeder);
                Previous::Absent
            }
        }
    }

    fn push(&mut self, peer: Peer<N>, seeder: bool) {
        let list = self.list_mut(seeder);
        list.push(peer);
        let slot = Self::slot(seeder, list.len() - 1);
        self.index.insert(peer.id, slot);
    }

    /// Removes the peer at `position` of one vector, keeping the index of the peer that moves
    /// into its place right. The caller removes or rewrites the taken peer's own index entry.
    fn take(&mut self, seeder: bool, position: usize) -> Peer<N> {
        let list = self.list_mut(seeder);
        let taken = list.swap_remove(position);
        if let Some(moved) = list.get(position) {
            let id = moved.id;
            self.index.insert(id, Self::slot(seeder, position));
        }
        taken
    }

    /// Removes a peer; returns what it was.
    pub(crate) fn remove(&mut self, id: &PeerId) -> Previous {
        match self.index.remove(id) {
            Some(slot) => {
                let seeder = slot & SEEDER_BIT != 0;
                self.take(seeder, (slot & !SEEDER_BIT) as usize);
                if seeder {
                    Previous::Seeder
                } else {
                    Previous::Leecher
                }
            }
            None => Previous::Absent,
        }
    }

    /// Drops every peer whose expiry is at or before `now`; returns (seeders, leechers) dropped.
    pub(crate) fn purge(&mut self, now: u32) -> (usize, usize) {
        let mut dropped = (0, 0);
        for seeder in [true, false] {
            let mut position = 0;
            while position < self.list_mut(seeder).len() {
                let peer = self.list_mut(seeder)[position];
                if peer.expires <= now {
                    self.index.remove(&peer.id);
                    self.take(seeder, position);
                    if seeder {
                        dropped.0 += 1;
                    } else {
                        dropped.1 += 1;
                    }
                } else {
                    position += 1;
                }
            }
            let list = self.list_mut(seeder);
            if list.capacity() > 16 && list.len() < list.capacity() / 4 {
                list.shrink_to(list.len() * 2);
            }
        }
        if self.index.capacity() > 16 && self.index.len() < self.index.capacity() / 4 {
            self.index.shrink_to(self.index.len() * 2);
        }
        dropped
    }

    /// Appends up to `max` compact addresses to `out`, never `exclude`'s: leechers only when
    /// the asking peer is a seeder (a seeder has no use for seeders), otherwise seeders then
    /// leechers. When there are more candidates than wanted, the window starts at
    /// `random % candidates` and wraps. Returns how many were written.
    pub(crate) fn select(
        &self,
        for_seeder: bool,
        exclude: &PeerId,
        max: usize,
        random: u64,
        out: &mut Vec<u8>,
    ) -> usize {
        let seeders: &[Peer<N>] = if for_seeder { &[] } else { &self.seeders };
        let candidates = seeders.len() + self.leechers.len();
        if max == 0 || candidates == 0 {
            return 0;
        }
        let start = if candidates <= max {
            0
        } else {
            // The remainder is below `candidates`, a usize.
            (random % candidates as u64) as usize
        };
        let mut written = 0;
        for step in 0..candidates {
            let at = (start + step) % candidates;
            let peer = match seeders.get(at) {
                Some(peer) => peer,
                None => &self.leechers[at - seeders.len()],
            };
            if peer.id == *exclude {
                continue;
            }
            out.extend_from_slice(&peer.addr);
            written += 1;
            if written == max {
                break;
            }
        }
        written
    }

    /// Every stored address (for callers that dial the swarm themselves).
    pub(crate) fn addresses(&self) -> impl Iterator<Item = ([u8; N], bool)> + '_ {
        let seeders = self.seeders.iter().map(|p| (p.addr, true));
        seeders.chain(self.leechers.iter().map(|p| (p.addr, false)))
    }
}

/// One torrent: both families, the completed-download count, and whether the torrent is on the
/// allow-list (a registered swarm stays when its last peer leaves).
#[derive(Debug, Default)]
pub(crate) struct Swarm {
    pub(crate) v4: PeerSet<6>,
    pub(crate) v6: PeerSet<18>,
    pub(crate) downloaded: u32,
    pub(crate) registered: bool,
}

impl Swarm {
    pub(crate) fn seeders(&self) -> usize {
        self.v4.seeders() + self.v6.seeders()
    }

    pub(crate) fn leechers(&self) -> usize {
        self.v4.leechers() + self.v6.leechers()
    }

    pub(crate) fn peers(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> PeerId {
        PeerId([n; 20])
    }

    fn addr(n: u8) -> [u8; 6] {
        [127, 0, 0, n, 0x1a, 0xe1]
    }

    /// Every index entry points at a peer with that id, and every peer is indexed.
    fn assert_consistent<const N: usize>(set: &PeerSet<N>) {
        assert_eq!(set.index.len(), set.seeders.len() + set.leechers.len());
        for (id, slot) in &set.index {
            let list = if slot & SEEDER_BIT != 0 {
                &set.seeders
            } else {
                &set.leechers
            };
            assert_eq!(list[(slot & !SEEDER_BIT) as usize].id, *id);
        }
    }

    #[test]
    fn upsert_moves_between_lists_and_remove_keeps_the_index() {
        let mut set = PeerSet::<6>::default();
        for n in 0..10 {
            assert_eq!(
                set.upsert(id(n), addr(n), n % 2 == 0, 100),
                Previous::Absent
            );
        }
        assert_eq!((set.seeders(), set.leechers()), (5, 5));
        assert_eq!(set.upsert(id(1), addr(1), true, 100), Previous::Leecher);
        assert_eq!(set.upsert(id(1), addr(1), true, 200), Previous::Seeder);
        assert_eq!((set.seeders(), set.leechers()), (6, 4));
        assert_consistent(&set);
        assert_eq!(set.remove(&id(0)), Previous::Seeder);
        assert_eq!(set.remove(&id(0)), Previous::Absent);
        assert_eq!(set.remove(&id(3)), Previous::Leecher);
        assert_consistent(&set);
        assert_eq!(set.len(), 8);
    }

    #[test]
    fn purge_drops_exactly_the_expired() {
        let mut set = PeerSet::<6>::default();
        for n in 0..50 {
            set.upsert(id(n), addr(n), n % 3 == 0, u32::from(n));
        }
        let (seeders, leechers) = set.purge(25);
        assert_eq!(seeders + leechers, 26);
        assert_eq!(set.len(), 24);
        assert_consistent(&set);
        assert!(
            set.seeders
                .iter()
                .chain(&set.leechers)
                .all(|p| p.expires > 25)
        );
    }

    #[test]
    fn select_excludes_the_asker_and_serves_seeders_only_leechers() {
        let mut set = PeerSet::<6>::default();
        set.upsert(id(1), addr(1), true, 9);
        set.upsert(id(2), addr(2), false, 9);
        set.upsert(id(3), addr(3), false, 9);
        let mut out = Vec::new();
        assert_eq!(set.select(false, &id(2), 50, 7, &mut out), 2);
        assert_eq!(out, [addr(1), addr(3)].concat());
        out.clear();
        assert_eq!(set.select(true, &id(1), 50, 7, &mut out), 2);
        assert_eq!(out, [addr(2), addr(3)].concat());
        out.clear();
        assert_eq!(set.select(false, &id(9), 0, 7, &mut out), 0);
        assert!(out.is_empty());
    }

    #[test]
    fn select_windows_are_distinct_and_bounded() {
        let mut set = PeerSet::<6>::default();
        for n in 0..100 {
            set.upsert(id(n), addr(n), false, 9);
        }
        for random in [0, 1, 57, 99, 100, u64::MAX] {
            let mut out = Vec::new();
            assert_eq!(set.select(false, &id(5), 30, random, &mut out), 30);
            let mut seen: Vec<&[u8]> = out.chunks(6).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 30);
            assert!(!seen.contains(&&addr(5)[..]));
        }
    }
}
