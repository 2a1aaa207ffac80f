//! One torrent's swarm as a tracker keeps it (BEP 3, 7, 23): seeders and leechers per address
//! family, stored in their compact wire form.
//!
//! A peer is its address: the compact bytes an answer sends (6 for IPv4, 18 for IPv6), which
//! are also its key, as in opentracker and aquatic. Keying by address rather than by peer id
//! means one client cannot push another out of a swarm by announcing its peer id, a client
//! that restarts with a new id is not counted twice, and the key is smaller than an id. Each
//! family is a [`PeerSet`]: two dense vectors (seeders, leechers) and one index from address to
//! position, so that finding a peer, moving it from leecher to seeder and removing it are O(1),
//! and picking `numwant` peers is a copy of a contiguous window starting at a random offset. An
//! IPv4 peer costs 12 bytes in its vector plus one index entry (12 bytes and a control byte, in
//! a table at most 7/8 full).
//!
//! Times are whole seconds since the registry's epoch (`u32`: 136 years), so a peer's expiry
//! costs four bytes.

use std::collections::HashMap;

/// Bit 31 of an index entry says which vector the position is in.
const SEEDER_BIT: u32 = 1 << 31;

/// A peer as stored: its compact address and when it expires.
#[derive(Clone, Copy, Debug)]
struct Peer<const N: usize> {
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

/// A set this large gets an index; one that shrinks to half of it loses the index again.
const INDEX_FROM: usize = 32;

/// The peers of one address family: `N` is the compact address length (6 or 18).
#[derive(Debug, Default)]
pub(crate) struct PeerSet<const N: usize> {
    seeders: Vec<Peer<N>>,
    leechers: Vec<Peer<N>>,
    /// Address to slot, once the set has [`INDEX_FROM`] peers; below that a scan of two short
    /// vectors is as fast as a hash lookup, and most swarms are small.
    #[expect(
        clippy::box_collection,
        reason = "boxed, an absent index costs 8 bytes per swarm and family instead of 48"
    )]
    index: Option<Box<HashMap<[u8; N], u32>>>,
}

impl<const N: usize> PeerSet<N> {
    pub(crate) fn seeders(&self) -> usize {
        self.seeders.len()
    }

    pub(crate) fn leechers(&self) -> usize {
        self.leechers.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.seeders.len() + self.leechers.len()
    }

    pub(crate) fn contains(&self, addr: &[u8; N]) -> bool {
        self.find(addr).is_some()
    }

    /// Where a peer is: through the index, or by scanning a small set.
    fn find(&self, addr: &[u8; N]) -> Option<u32> {
        if let Some(index) = &self.index {
            return index.get(addr).copied();
        }
        let at = |list: &[Peer<N>]| list.iter().position(|p| p.addr == *addr);
        at(&self.seeders)
            .map(|i| Self::slot(true, i))
            .or_else(|| at(&self.leechers).map(|i| Self::slot(false, i)))
    }

    fn index_set(&mut self, addr: [u8; N], slot: u32) {
        if let Some(index) = &mut self.index {
            index.insert(addr, slot);
        }
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
    pub(crate) fn upsert(&mut self, addr: [u8; N], seeder: bool, expires: u32) -> Previous {
        let peer = Peer { addr, expires };
        match self.find(&addr) {
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
        if self.index.is_none() && self.len() >= INDEX_FROM {
            let mut index = HashMap::with_capacity(self.len() * 2);
            for (i, p) in self.seeders.iter().enumerate() {
                index.insert(p.addr, Self::slot(true, i));
            }
            for (i, p) in self.leechers.iter().enumerate() {
                index.insert(p.addr, Self::slot(false, i));
            }
            self.index = Some(Box::new(index));
        } else {
            self.index_set(peer.addr, slot);
        }
    }

    /// Removes the peer at `position` of one vector, keeping the index of the peer that moves
    /// into its place right. The caller removes or rewrites the taken peer's own index entry.
    fn take(&mut self, seeder: bool, position: usize) -> Peer<N> {
        let list = self.list_mut(seeder);
        let taken = list.swap_remove(position);
        if let Some(moved) = list.get(position) {
            let addr = moved.addr;
            self.index_set(addr, Self::slot(seeder, position));
        }
        taken
    }

    /// Removes a peer; returns what it was.
    pub(crate) fn remove(&mut self, addr: &[u8; N]) -> Previous {
        match self.find(addr) {
            Some(slot) => {
                if let Some(index) = &mut self.index {
                    index.remove(addr);
                }
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
                    if let Some(index) = &mut self.index {
                        index.remove(&peer.addr);
                    }
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
        if self.len() < INDEX_FROM / 2 {
            self.index = None;
        } else if let Some(index) = &mut self.index
            && index.len() < index.capacity() / 4
        {
            index.shrink_to(index.len() * 2);
        }
        dropped
    }

    /// Appends up to `max` compact addresses to `out`, never `exclude`: leechers only when
    /// the asking peer is a seeder (a seeder has no use for seeders), otherwise seeders then
    /// leechers. When there are more candidates than wanted, the window starts at
    /// `random % candidates` and wraps. Returns how many were written.
    pub(crate) fn select(
        &self,
        for_seeder: bool,
        exclude: &[u8; N],
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
            if peer.addr == *exclude {
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

/// One torrent: both families and the completed-download count. The IPv6 set is boxed and
/// made on first use: most swarms have no IPv6 peer, and a torrent costs little before its
/// first peer.
#[derive(Debug, Default)]
pub(crate) struct Swarm {
    pub(crate) v4: PeerSet<6>,
    pub(crate) v6: Option<Box<PeerSet<18>>>,
    pub(crate) downloaded: u32,
}

impl Swarm {
    pub(crate) fn seeders(&self) -> usize {
        self.v4.seeders() + self.v6.as_ref().map_or(0, |v6| v6.seeders())
    }

    pub(crate) fn leechers(&self) -> usize {
        self.v4.leechers() + self.v6.as_ref().map_or(0, |v6| v6.leechers())
    }

    pub(crate) fn peers(&self) -> usize {
        self.v4.len() + self.v6.as_ref().map_or(0, |v6| v6.len())
    }

    /// The IPv6 set, made if missing.
    pub(crate) fn v6_mut(&mut self) -> &mut PeerSet<18> {
        self.v6.get_or_insert_with(Box::default)
    }

    /// Drops expired peers of both families (and an emptied IPv6 set); returns (seeders,
    /// leechers) dropped.
    pub(crate) fn purge(&mut self, now: u32) -> (usize, usize) {
        let (mut seeders, mut leechers) = self.v4.purge(now);
        if let Some(v6) = &mut self.v6 {
            let (s, l) = v6.purge(now);
            seeders += s;
            leechers += l;
            if v6.len() == 0 {
                self.v6 = None;
            }
        }
        (seeders, leechers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> [u8; 6] {
        [127, 0, 0, n, 0x1a, 0xe1]
    }

    /// Every index entry points at a peer with that address, every peer is indexed, and the
    /// index exists exactly when the set is large.
    fn assert_consistent<const N: usize>(set: &PeerSet<N>) {
        let Some(index) = &set.index else {
            assert!(set.len() < INDEX_FROM);
            return;
        };
        assert!(set.len() >= INDEX_FROM / 2);
        assert_eq!(index.len(), set.seeders.len() + set.leechers.len());
        for (addr, slot) in index.iter() {
            let list = if slot & SEEDER_BIT != 0 {
                &set.seeders
            } else {
                &set.leechers
            };
            assert_eq!(list[(slot & !SEEDER_BIT) as usize].addr, *addr);
        }
    }

    #[test]
    fn upsert_moves_between_lists_and_remove_keeps_the_index() {
        // Small sets are scanned, large ones indexed: both ways must agree.
        for size in [10u8, 100] {
            let mut set = PeerSet::<6>::default();
            for n in 0..size {
                assert_eq!(set.upsert(addr(n), n % 2 == 0, 100), Previous::Absent);
            }
            assert_eq!(set.index.is_some(), usize::from(size) >= INDEX_FROM);
            let half = usize::from(size / 2);
            assert_eq!((set.seeders(), set.leechers()), (half, half));
            assert_eq!(set.upsert(addr(1), true, 100), Previous::Leecher);
            assert_eq!(set.upsert(addr(1), true, 200), Previous::Seeder);
            assert_eq!((set.seeders(), set.leechers()), (half + 1, half - 1));
            assert_consistent(&set);
            assert_eq!(set.remove(&addr(0)), Previous::Seeder);
            assert_eq!(set.remove(&addr(0)), Previous::Absent);
            assert_eq!(set.remove(&addr(3)), Previous::Leecher);
            assert_consistent(&set);
            assert_eq!(set.len(), usize::from(size) - 2);
            assert!(set.contains(&addr(1)) && !set.contains(&addr(3)));
        }
    }

    #[test]
    fn the_index_goes_when_the_set_shrinks() {
        let mut set = PeerSet::<6>::default();
        for n in 0..40 {
            set.upsert(addr(n), false, u32::from(n));
        }
        assert!(set.index.is_some());
        set.purge(30);
        assert_eq!(set.len(), 9);
        assert!(set.index.is_none());
        assert_consistent(&set);
        assert_eq!(set.upsert(addr(35), false, 99), Previous::Leecher);
    }

    #[test]
    fn purge_drops_exactly_the_expired() {
        let mut set = PeerSet::<6>::default();
        for n in 0..80 {
            set.upsert(addr(n), n % 3 == 0, u32::from(n));
        }
        let (seeders, leechers) = set.purge(25);
        assert_eq!(seeders + leechers, 26);
        assert_eq!(set.len(), 54);
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
        set.upsert(addr(1), true, 9);
        set.upsert(addr(2), false, 9);
        set.upsert(addr(3), false, 9);
        let mut out = Vec::new();
        assert_eq!(set.select(false, &addr(2), 50, 7, &mut out), 2);
        assert_eq!(out, [addr(1), addr(3)].concat());
        out.clear();
        assert_eq!(set.select(true, &addr(1), 50, 7, &mut out), 2);
        assert_eq!(out, [addr(2), addr(3)].concat());
        out.clear();
        assert_eq!(set.select(false, &addr(9), 0, 7, &mut out), 0);
        assert!(out.is_empty());
    }

    #[test]
    fn select_windows_are_distinct_and_bounded() {
        let mut set = PeerSet::<6>::default();
        for n in 0..100 {
            set.upsert(addr(n), false, 9);
        }
        for random in [0, 1, 57, 99, 100, u64::MAX] {
            let mut out = Vec::new();
            assert_eq!(set.select(false, &addr(5), 30, random, &mut out), 30);
            let mut seen: Vec<&[u8]> = out.chunks(6).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 30);
            assert!(!seen.contains(&&addr(5)[..]));
        }
    }
}
