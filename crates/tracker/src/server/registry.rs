//! The swarm registry (BEP 3): every tracked torrent's swarm, in shards behind their own locks
//! so that both cores serve announces at once.
//!
//! A torrent lives in the shard its info-hash's first byte picks. A lock is held for one
//! announce or scrape (a hash lookup, an upsert, a copy of at most `numwant` compact peers): a
//! few hundred nanoseconds, so 64 shards leave two or more workers almost never waiting on each
//! other. Each shard also keeps its own counters (announces, scrapes, seeders, leechers) under
//! the same lock, so counting costs no shared cache line; totals are summed on demand.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use swarmgate_core::{InfoHashV1, SplitMix64, decode_compact_peer};

use super::swarm::{PeerSet, Previous, Swarm};
use crate::announce::{AnnounceEvent, ScrapeStats};
use crate::udp::AddressFamily;

const SHARDS: usize = 64;

/// One announce, already checked and resolved by the tracker's policy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival {
    pub(crate) info_hash: InfoHashV1,
    /// The address peers will be told (IP already canonical): the peer's identity.
    pub(crate) addr: SocketAddr,
    pub(crate) seeder: bool,
    pub(crate) event: AnnounceEvent,
    /// When the peer is forgotten unless it announces again (registry seconds).
    pub(crate) expires: u32,
    pub(crate) numwant: usize,
    /// Track the torrent even if it is not on the allow-list (open tracker).
    pub(crate) open: bool,
    pub(crate) max_torrents: usize,
    pub(crate) max_peers: usize,
}

/// A swarm's counts after an announce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) complete: u32,
    pub(crate) incomplete: u32,
    pub(crate) downloaded: u32,
}

/// Why the registry refused an announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The torrent is not on the allow-list.
    NotAllowed,
    /// The registry holds as many torrents as it may.
    TooManyTorrents,
    /// The swarm holds as many peers as it may.
    TooManyPeers,
}

/// Totals over every shard.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    pub(crate) torrents: u64,
    pub(crate) allowed: u64,
    pub(crate) seeders: u64,
    pub(crate) leechers: u64,
    pub(crate) announces: u64,
    pub(crate) scrapes: u64,
}

#[derive(Debug)]
struct Shard {
    torrents: HashMap<InfoHashV1, Swarm>,
    allowed: HashSet<InfoHashV1>,
    rng: SplitMix64,
    seeders: u64,
    leechers: u64,
    announces: u64,
    scrapes: u64,
}

impl Shard {
    /// Moves the shard's seeder and leecher totals by one peer's change of state.
    fn account(&mut self, before: Previous, after: Previous) {
        match before {
            Previous::Seeder => self.seeders -= 1,
            Previous::Leecher => self.leechers -= 1,
            Previous::Absent => {}
        }
        match after {
            Previous::Seeder => self.seeders += 1,
            Previous::Leecher => self.leechers += 1,
            Previous::Absent => {}
        }
    }
}

fn counts(swarm: &Swarm) -> Counts {
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Counts {
        complete: clamp(swarm.seeders()),
        incomplete: clamp(swarm.leechers()),
        downloaded: swarm.downloaded,
    }
}

fn stats(swarm: &Swarm) -> ScrapeStats {
    let c = counts(swarm);
    ScrapeStats {
        complete: c.complete,
        downloaded: c.downloaded,
        incomplete: c.incomplete,
    }
}

/// Writes, removes or refreshes one peer in one family's set.
fn apply<const N: usize>(
    set: &mut PeerSet<N>,
    arrival: &Arrival,
    addr: [u8; N],
    random: u64,
    out: &mut Vec<u8>,
) -> (Previous, Previous, usize) {
    if arrival.event == AnnounceEvent::Stopped {
        return (set.remove(&addr), Previous::Absent, 0);
    }
    let before = set.upsert(addr, arrival.seeder, arrival.expires);
    let after = if arrival.seeder {
        Previous::Seeder
    } else {
        Previous::Leecher
    };
    let written = set.select(arrival.seeder, &addr, arrival.numwant, random, out);
    (before, after, written)
}

/// Every tracked swarm.
#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
    torrents: AtomicUsize,
}

impl Registry {
    pub(crate) fn new(seed: u64) -> Self {
        let shards = (0..SHARDS as u64)
            .map(|i| {
                Mutex::new(Shard {
                    torrents: HashMap::new(),
                    allowed: HashSet::new(),
                    rng: SplitMix64::new(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    seeders: 0,
                    leechers: 0,
                    announces: 0,
                    scrapes: 0,
                })
            })
            .collect();
        Registry {
            shards,
            torrents: AtomicUsize::new(0),
        }
    }

    fn shard(&self, info_hash: &InfoHashV1) -> std::sync::MutexGuard<'_, Shard> {
        let shard = &self.shards[usize::from(info_hash.0[0]) % SHARDS];
        // A panic while holding a shard lock leaves consistent data (no update spans a
        // panic point), so a poisoned lock is used as is.
        shard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an announce and appends up to `numwant` compact peers of the arrival's family
    /// to `out`; returns the swarm's counts and how many peers were written.
    pub(crate) fn announce(
        &self,
        arrival: &Arrival,
        out: &mut Vec<u8>,
    ) -> Result<(Counts, usize), Refused> {
        let mut guard = self.shard(&arrival.info_hash);
        let shard = &mut *guard;
        shard.announces += 1;
        let random = shard.rng.next_u64();
        if !arrival.open && !shard.allowed.contains(&arrival.info_hash) {
            return Err(Refused::NotAllowed);
        }
        let swarm = match shard.torrents.get_mut(&arrival.info_hash) {
            Some(swarm) => swarm,
            None if arrival.event == AnnounceEvent::Stopped => return Ok((Counts::default(), 0)),
            None => {
                if self.torrents.load(Ordering::Relaxed) >= arrival.max_torrents {
                    return Err(Refused::TooManyTorrents);
                }
                self.torrents.fetch_add(1, Ordering::Relaxed);
                shard.torrents.entry(arrival.info_hash).or_default()
            }
        };
        // The compact forms (BEP 23, BEP 7), built on the stack: this runs on every announce.
        let (mut v4, mut v6) = ([0u8; 6], [0u8; 18]);
        let port = arrival.addr.port().to_be_bytes();
        let is_v4 = match arrival.addr.ip() {
            IpAddr::V4(ip) => {
                v4[..4].copy_from_slice(&ip.octets());
                v4[4..].copy_from_slice(&port);
                true
            }
            IpAddr::V6(ip) => {
                v6[..16].copy_from_slice(&ip.octets());
                v6[16..].copy_from_slice(&port);
                false
            }
        };
        if swarm.peers() >= arrival.max_peers && arrival.event != AnnounceEvent::Stopped {
            let known = if is_v4 {
                swarm.v4.contains(&v4)
            } else {
                swarm.v6.as_ref().is_some_and(|set| set.contains(&v6))
            };
            if !known {
                return Err(Refused::TooManyPeers);
            }
        }
        let (before, after, written) = if is_v4 {
            apply(&mut swarm.v4, arrival, v4, random, out)
        } else {
            apply(swarm.v6_mut(), arrival, v6, random, out)
        };
        if arrival.event == AnnounceEvent::Completed && before != Previous::Seeder {
            swarm.downloaded = swarm.downloaded.saturating_add(1);
        }
        let counts = counts(swarm);
        shard.account(before, after);
        Ok((counts, written))
    }

    /// Scrape counts for one torrent (zeros for an unknown one), counted as one scrape.
    pub(crate) fn scrape(&self, info_hash: &InfoHashV1) -> ScrapeStats {
        let mut shard = self.shard(info_hash);
        shard.scrapes += 1;
        shard.torrents.get(info_hash).map(stats).unwrap_or_default()
    }

    /// Scrape counts for every torrent with peers. A swarm forgotten for want of peers takes its
    /// download count with it.
    pub(crate) fn scrape_all(&self) -> Vec<(InfoHashV1, ScrapeStats)> {
        let mut all = Vec::with_capacity(self.torrents.load(Ordering::Relaxed));
        for (i, shard) in self.shards.iter().enumerate() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            // A full scrape counts once.
            shard.scrapes += u64::from(i == 0);
            all.extend(shard.torrents.iter().map(|(h, s)| (*h, stats(s))));
        }
        all
    }

    /// Puts a torrent on the allow-list; `false` if it already was. The swarm itself is made by
    /// the first announce: an allowed torrent costs its 20 bytes until then.
    pub(crate) fn register(&self, info_hash: InfoHashV1) -> bool {
        self.shard(&info_hash).allowed.insert(info_hash)
    }

    /// Takes a torrent off the allow-list and forgets its peers; `false` if it was neither
    /// allowed nor tracked.
    pub(crate) fn unregister(&self, info_hash: &InfoHashV1) -> bool {
        let mut guard = self.shard(info_hash);
        let shard = &mut *guard;
        let was_allowed = shard.allowed.remove(info_hash);
        match shard.torrents.remove(info_hash) {
            Some(swarm) => {
                shard.seeders -= swarm.seeders() as u64;
                shard.leechers -= swarm.leechers() as u64;
                self.torrents.fetch_sub(1, Ordering::Relaxed);
                true
            }
            None => was_allowed,
        }
    }

    /// Whether a torrent is on the allow-list.
    pub(crate) fn is_registered(&self, info_hash: &InfoHashV1) -> bool {
        self.shard(info_hash).allowed.contains(info_hash)
    }

    /// Every peer of a torrent with whether it is a seeder.
    pub(crate) fn peers(&self, info_hash: &InfoHashV1) -> Vec<(SocketAddr, bool)> {
        let shard = self.shard(info_hash);
        let Some(swarm) = shard.torrents.get(info_hash) else {
            return Vec::new();
        };
        let v4 = swarm.v4.addresses().map(|(a, s)| (a.to_vec(), s));
        let v6 = swarm
            .v6
            .iter()
            .flat_map(|set| set.addresses().map(|(a, s)| (a.to_vec(), s)));
        v4.chain(v6)
            .filter_map(|(a, s)| decode_compact_peer(&a).ok().map(|addr| (addr, s)))
            .collect()
    }

    /// Drops peers that expired at or before `now`, then swarms left empty (an allowed torrent
    /// stays allowed, and a new swarm is made by its next announce); returns how many peers
    /// were dropped.
    pub(crate) fn purge(&self, now: u32) -> usize {
        let mut dropped_total = 0;
        for shard in self.shards.iter() {
            let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let shard = &mut *guard;
            let (mut seeders, mut leechers) = (0, 0);
            let before = shard.torrents.len();
            shard.torrents.retain(|_, swarm| {
                let (s, l) = swarm.purge(now);
                seeders += s;
                leechers += l;
                swarm.peers() > 0
            });
            let removed = before - shard.torrents.len();
            self.torrents.fetch_sub(removed, Ordering::Relaxed);
            shard.seeders -= seeders as u64;
            shard.leechers -= leechers as u64;
            dropped_total += seeders + leechers;
        }
        dropped_total
    }

    pub(crate) fn totals(&self) -> Totals {
        let mut totals = Totals {
            torrents: self.torrents.load(Ordering::Relaxed) as u64,
            ..Totals::default()
        };
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            totals.allowed += shard.allowed.len() as u64;
            totals.seeders += shard.seeders;
            totals.leechers += shard.leechers;
            totals.announces += shard.announces;
            totals.scrapes += shard.scrapes;
        }
        totals
    }
}

/// The family an answer to `ip` carries peers of.
pub(crate) fn family_of(ip: &IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::V4
    } else {
        AddressFamily::V6
    }
}
