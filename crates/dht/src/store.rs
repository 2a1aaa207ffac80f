//! The peer store (BEP 5 `announce_peer`, BEP 33 seeds and scrape blooms, BEP 51 samples): the
//! peers announced to us, per info-hash, with expiry and bounds per info-hash and in total.
//!
//! Peers are unique per (info-hash, IP), as libtorrent keeps them: one host cannot fill a swarm
//! by announcing many ports ([`StoreConfig::allow_local_duplicates`] keys loopback and private
//! addresses by IP and port, for tests that share 127.0.0.1). An announce refreshes the peer's
//! 30-minute life. Each swarm keeps its IPv4 and IPv6 peers in two vectors ordered by announce
//! time (12 and 24 bytes a peer), so expiry trims a prefix and the oldest peer is the first; a
//! sorted set of each swarm's oldest announce finds the store's oldest peer when the total bound
//! is reached, and the swarms whose peers expire. Swarms sit in a vector indexed by a map, so a
//! sample is random access and nothing depends on the map's iteration order: the same seed
//! gives the same answers.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use swarmgate_core::SplitMix64;

use crate::bloom::ScrapeBloom;
use crate::clock::{Epoch, Stamp, at_least, secs};
use crate::id::is_exempt;
use crate::routing::Family;

/// How long an announce keeps a peer (BEP 5 leaves it to the node; 30 minutes, as libtorrent).
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);

/// The most peers one info-hash may hold: BEP 33's filters stop meaning anything past 6,000
/// seeds or peers.
pub const MAX_PEERS_PER_HASH: usize = 5_999;

/// The store's bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreConfig {
    /// How long an announce keeps a peer (default [`PEER_TTL`]).
    pub peer_ttl: Duration,
    /// Peers per info-hash, both families (default 2,000; at most [`MAX_PEERS_PER_HASH`]). The
    /// oldest announce gives way to a new one.
    pub max_peers_per_hash: usize,
    /// Peers in the whole store (default 100,000). The oldest announce anywhere gives way.
    pub max_peers: usize,
    /// Key loopback and private addresses by IP and port rather than IP (default false).
    pub allow_local_duplicates: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            peer_ttl: PEER_TTL,
            max_peers_per_hash: 2_000,
            max_peers: 100_000,
            allow_local_duplicates: false,
        }
    }
}

/// What an announce did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announced {
    /// A new peer.
    Added,
    /// A peer already held (same IP): its port, seed flag and life were renewed.
    Refreshed,
}

/// Counters of what the store did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// New peers.
    pub added: u64,
    /// Announces of peers already held.
    pub refreshed: u64,
    /// Peers whose life ran out.
    pub expired: u64,
    /// Peers that gave way because their info-hash was full.
    pub evicted_hash_full: u64,
    /// Peers that gave way because the store was full.
    pub evicted_store_full: u64,
}

/// One stored peer: `N` is 4 (IPv4) or 16 (IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stored<const N: usize> {
    ip: [u8; N],
    port: u16,
    seed: bool,
    announced: Stamp,
}

/// The peers of one info-hash, each family ordered by announce time.
#[derive(Clone, Debug)]
struct Swarm {
    info_hash: [u8; 20],
    v4: Vec<Stored<4>>,
    v6: Vec<Stored<16>>,
}

impl Swarm {
    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// The oldest announce held.
    fn oldest(&self) -> Option<Stamp> {
        let v4 = self.v4.first().map(|p| p.announced);
        let v6 = self.v6.first().map(|p| p.announced);
        v4.into_iter().chain(v6).min()
    }

    /// Drops the oldest peer. Announces of the same second tie: then the peer goes from the
    /// family other than `newest`, the family of the latest announce, whose own front may be
    /// that very announce.
    fn pop_oldest(&mut self, newest: Family) {
        let v4 = self.v4.first().map(|p| p.announced);
        let v6 = self.v6.first().map(|p| p.announced);
        let from_v6 = match (v4, v6) {
            (Some(a), Some(b)) => b < a || (b == a && newest == Family::V4),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if from_v6 {
            self.v6.remove(0);
        } else if !self.v4.is_empty() {
            self.v4.remove(0);
        }
    }

    /// Drops the peers announced `ttl` or more before `now`; how many.
    fn expire(&mut self, now: Stamp, ttl: u32) -> usize {
        let v4 = self.v4.partition_point(|p| at_least(p.announced, now, ttl));
        let v6 = self.v6.partition_point(|p| at_least(p.announced, now, ttl));
        self.v4.drain(..v4);
        self.v6.drain(..v6);
        v4 + v6
    }
}

/// Adds or refreshes a peer in one family's vector, keeping it ordered by announce time.
fn upsert<const N: usize>(
    peers: &mut Vec<Stored<N>>,
    ip: [u8; N],
    port: u16,
    seed: bool,
    announced: Stamp,
    per_port: bool,
) -> Announced {
    let peer = Stored {
        ip,
        port,
        seed,
        announced,
    };
    let held = peers
        .iter()
        .position(|p| p.ip == peer.ip && (!per_port || p.port == peer.port));
    let outcome = match held {
        Some(i) => {
            peers.remove(i);
            Announced::Refreshed
        }
        None => Announced::Added,
    };
    if peers.capacity() == 0 {
        // Most info-hashes a node stores have one peer or two: room for four would be wasted.
        peers.reserve_exact(1);
    }
    peers.push(peer);
    outcome
}

/// The live peers of one family's vector: those announced less than `ttl` before `now`.
fn live<const N: usize>(peers: &[Stored<N>], now: Stamp, ttl: u32) -> &[Stored<N>] {
    &peers[peers.partition_point(|p| at_least(p.announced, now, ttl))..]
}

/// Up to `max` addresses from a random place in `peers`, wrapping around; seeds skipped if
/// `noseed`.
fn window<const N: usize>(
    peers: &[Stored<N>],
    max: usize,
    noseed: bool,
    rng: &mut SplitMix64,
    addr: impl Fn(&Stored<N>) -> SocketAddr,
) -> Vec<SocketAddr> {
    let start = rng.below(peers.len());
    let (tail, head) = peers.split_at(start);
    head.iter()
        .chain(tail)
        .filter(|p| !(noseed && p.seed))
        .take(max)
        .map(addr)
        .collect()
}

/// A swarm's place in the vector, as the index keeps it (four bytes rather than eight: the
/// store's memory goal; a store of four billion info-hashes is far beyond any bound).
fn slot_number(slot: usize) -> u32 {
    u32::try_from(slot).unwrap_or(u32::MAX)
}

/// The peers announced to this node.
///
/// ```
/// use std::time::Instant;
/// use swarmgate_core::SplitMix64;
/// use swarmgate_dht::{Announced, Family, PeerStore, StoreConfig};
///
/// let now = Instant::now();
/// let mut store = PeerStore::new(StoreConfig::default(), now);
/// let peer = "192.0.2.7:6881".parse()?;
/// assert_eq!(store.announce(now, [1; 20], peer, false), Announced::Added);
/// let mut rng = SplitMix64::new(1);
/// assert_eq!(store.get(now, &[1; 20], Family::V4, 50, false, &mut rng), [peer]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PeerStore {
    config: StoreConfig,
    epoch: Epoch,
    swarms: Vec<Swarm>,
    index: HashMap<[u8; 20], u32>,
    /// Each swarm's oldest announce.
    oldest: BTreeSet<(Stamp, [u8; 20])>,
    total: usize,
    stats: StoreStats,
}

impl PeerStore {
    /// An empty store.
    pub fn new(config: StoreConfig, now: Instant) -> Self {
        PeerStore {
            config,
            epoch: Epoch::new(now),
            swarms: Vec::new(),
            index: HashMap::new(),
            oldest: BTreeSet::new(),
            total: 0,
            stats: StoreStats::default(),
        }
    }

    /// Peers held, every info-hash and family.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether no peer is held.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Info-hashes held.
    pub fn info_hashes(&self) -> usize {
        self.swarms.len()
    }

    /// Peers held for `info_hash` (both families, expired ones not yet dropped included).
    pub fn peers_of(&self, info_hash: &[u8; 20]) -> usize {
        self.swarm(info_hash).map_or(0, Swarm::len)
    }

    /// The counters.
    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    /// Records that `peer` (its announce port) holds `info_hash` at `now`, as a seed if `seed`
    /// (BEP 33). The caller checked the token.
    pub fn announce(
        &mut self,
        now: Instant,
        info_hash: [u8; 20],
        peer: SocketAddr,
        seed: bool,
    ) -> Announced {
        let now = self.epoch.stamp(now);
        let per_port = self.config.allow_local_duplicates && is_exempt(peer.ip());
        let slot = match self.index.get(&info_hash) {
            Some(&slot) => slot as usize,
            None => {
                self.swarms.push(Swarm {
                    info_hash,
                    v4: Vec::new(),
                    v6: Vec::new(),
                });
                self.index
                    .insert(info_hash, slot_number(self.swarms.len() - 1));
                self.swarms.len() - 1
            }
        };
        let before = self.swarms[slot].oldest();
        let swarm = &mut self.swarms[slot];
        let port = peer.port();
        let outcome = match peer.ip().to_canonical() {
            IpAddr::V4(v4) => upsert(&mut swarm.v4, v4.octets(), port, seed, now, per_port),
            IpAddr::V6(v6) => upsert(&mut swarm.v6, v6.octets(), port, seed, now, per_port),
        };
        match outcome {
            Announced::Added => {
                self.stats.added += 1;
                self.total += 1;
            }
            Announced::Refreshed => self.stats.refreshed += 1,
        }
        let cap = self.config.max_peers_per_hash.clamp(1, MAX_PEERS_PER_HASH);
        let family = Family::of(&peer);
        if swarm.len() > cap {
            swarm.pop_oldest(family);
            self.total -= 1;
            self.stats.evicted_hash_full += 1;
        }
        self.reindex(slot, before);
        while self.total > self.config.max_peers.max(1) {
            let Some(&(_, hash)) = self.oldest.first() else {
                break;
            };
            let Some(slot) = self.slot(&hash) else {
                break;
            };
            let before = self.swarms[slot].oldest();
            self.swarms[slot].pop_oldest(family);
            self.total -= 1;
            self.stats.evicted_store_full += 1;
            self.reindex(slot, before);
        }
        outcome
    }

    /// Up to `max` live peers of `info_hash` in `family`, from a random place in the swarm
    /// (as trackers answer); without seeds if `noseed` (BEP 33).
    pub fn get(
        &self,
        now: Instant,
        info_hash: &[u8; 20],
        family: Family,
        max: usize,
        noseed: bool,
        rng: &mut SplitMix64,
    ) -> Vec<SocketAddr> {
        let (now, ttl) = (self.epoch.stamp(now), secs(self.config.peer_ttl));
        let Some(swarm) = self.swarm(info_hash) else {
            return Vec::new();
        };
        match family {
            Family::V4 => window(live(&swarm.v4, now, ttl), max, noseed, rng, |p| {
                SocketAddr::from((Ipv4Addr::from(p.ip), p.port))
            }),
            Family::V6 => window(live(&swarm.v6, now, ttl), max, noseed, rng, |p| {
                SocketAddr::from((Ipv6Addr::from(p.ip), p.port))
            }),
        }
    }

    /// BEP 33's filters of the live seeds' and the live other peers' IPs, both families.
    pub fn blooms(&self, now: Instant, info_hash: &[u8; 20]) -> (ScrapeBloom, ScrapeBloom) {
        let (now, ttl) = (self.epoch.stamp(now), secs(self.config.peer_ttl));
        let mut seeds = ScrapeBloom::new();
        let mut peers = ScrapeBloom::new();
        if let Some(swarm) = self.swarm(info_hash) {
            let v4 = live(&swarm.v4, now, ttl)
                .iter()
                .map(|p| (IpAddr::from(p.ip), p.seed));
            let v6 = live(&swarm.v6, now, ttl)
                .iter()
                .map(|p| (IpAddr::from(p.ip), p.seed));
            for (ip, seed) in v4.chain(v6) {
                if seed {
                    seeds.insert(ip);
                } else {
                    peers.insert(ip);
                }
            }
        }
        (seeds, peers)
    }

    /// BEP 51: up to `max` distinct info-hashes drawn at random, and how many are held.
    pub fn sample(&self, rng: &mut SplitMix64, max: usize) -> (Vec<[u8; 20]>, usize) {
        let held = self.swarms.len();
        let want = max.min(held);
        // Floyd's sampling: `want` distinct slots in `want` draws.
        let mut chosen = HashSet::with_capacity(want);
        let mut sample = Vec::with_capacity(want);
        for upper in held - want..held {
            let pick = rng.below(upper + 1);
            let slot = if chosen.insert(pick) {
                pick
            } else {
                chosen.insert(upper);
                upper
            };
            sample.push(self.swarms[slot].info_hash);
        }
        (sample, held)
    }

    /// Drops the peers whose life ran out at `now`, and the info-hashes left with none.
    pub fn expire(&mut self, now: Instant) {
        let (now, ttl) = (self.epoch.stamp(now), secs(self.config.peer_ttl));
        while let Some(&(oldest, hash)) = self.oldest.first() {
            if !at_least(oldest, now, ttl) {
                break;
            }
            let Some(slot) = self.slot(&hash) else {
                break;
            };
            let dropped = self.swarms[slot].expire(now, ttl);
            self.total -= dropped;
            self.stats.expired += dropped as u64;
            self.reindex(slot, Some(oldest));
        }
    }

    /// When the next peer expires, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let &(oldest, _) = self.oldest.first()?;
        let ttl = Duration::from_secs(u64::from(secs(self.config.peer_ttl)));
        Some(self.epoch.instant(oldest) + ttl)
    }

    fn slot(&self, info_hash: &[u8; 20]) -> Option<usize> {
        self.index.get(info_hash).map(|&slot| slot as usize)
    }

    fn swarm(&self, info_hash: &[u8; 20]) -> Option<&Swarm> {
        self.slot(info_hash).map(|slot| &self.swarms[slot])
    }

    /// Brings the oldest-announce index up to date for the swarm at `slot`, whose oldest
    /// announce was `before`, and drops the swarm if it is empty.
    fn reindex(&mut self, slot: usize, before: Option<Stamp>) {
        let swarm = &self.swarms[slot];
        let (hash, after) = (swarm.info_hash, swarm.oldest());
        if before != after {
            if let Some(stamp) = before {
                self.oldest.remove(&(stamp, hash));
            }
            if let Some(stamp) = after {
                self.oldest.insert((stamp, hash));
            }
        }
        if after.is_none() {
            self.index.remove(&hash);
            self.swarms.swap_remove(slot);
            if let Some(moved) = self.swarms.get(slot) {
                self.index.insert(moved.info_hash, slot_number(slot));
            }
        }
    }
}

#[cfg(test)]
mod tests;
