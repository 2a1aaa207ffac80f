//! The routing table (BEP 5, one per address family as BEP 32 asks): [`K`]-buckets that split
//! only where the own id falls, node states, replacement caches, refreshes, and the insertion
//! policy (BEP 42 ids, BEP 43 read-only nodes, one node per IP).
//!
//! The table starts as one bucket covering the whole id space. Bucket `i` holds the nodes whose
//! ids share exactly `i` leading bits with ours; the last bucket holds those sharing at least as
//! many bits as its index, and it alone splits when full, so the table keeps many nodes near its
//! own id and few far away (at most 160 buckets). A node that arrives at a full bucket that
//! cannot split waits in the bucket's replacement cache; it takes the place of a bad node, or of
//! a questionable one after a query to it failed.
//!
//! What is refused (and counted, [`RoutingStats`]): our own id, a node of the other family, an
//! address no one can send to, a node that said `ro` (BEP 43: it answers no queries), an id that
//! breaks BEP 42 for its public address (exempt addresses always pass), and a second node at an
//! IP already held (libtorrent's rule against one host filling the table;
//! [`RoutingConfig::allow_local_duplicates`] lifts it for loopback and private addresses, where
//! every test node shares 127.0.0.1). A node that changes its address or its id is believed only
//! when it answers a query of ours there: a query's source address can be forged, an answer's
//! cannot without seeing our query; a new id answering from a held IP and port replaces the old
//! one (the node restarted), a new id at a held IP and another port is refused. The IP rule is a scan of the table rather than an index: a
//! table holds a few hundred nodes, and an index would cost each one more than its entry.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use swarmgate_core::SplitMix64;

use crate::bucket::{Bucket, Entry, Slot};
use crate::clock::{Epoch, NEVER, at_least, secs};
use crate::id::{Distance, NodeId, NodeInfo};

mod policy;

/// Nodes per bucket (BEP 5's K).
pub const K: usize = 8;

/// How long an answer keeps a node good (BEP 5: 15 minutes).
pub const GOOD_FOR: Duration = Duration::from_secs(15 * 60);

/// How long a bucket may go unchanged before it wants a refresh (BEP 5: 15 minutes).
pub const REFRESH_AFTER: Duration = Duration::from_secs(15 * 60);

/// How long after a bucket's questionable nodes were handed out to be pinged they may be handed
/// out again (a ping that is neither answered nor reported failed is retried after this).
pub const PING_INTERVAL: Duration = Duration::from_secs(15);

/// The most buckets a table has: one per bit of the id.
const MAX_BUCKETS: usize = 160;

/// An address family: BEP 32 keeps one routing table for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 (an IPv4-mapped IPv6 address counts as IPv4).
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `ip`.
    pub fn of_ip(ip: IpAddr) -> Family {
        match ip.to_canonical() {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The family of `addr`'s IP.
    pub fn of(addr: &SocketAddr) -> Family {
        Family::of_ip(addr.ip())
    }
}

/// BEP 5's node states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeStatus {
    /// Answered a query of ours in the last 15 minutes, or queried us in the last 15 minutes
    /// after having once answered, and failed no query since its last answer.
    Good,
    /// Neither good nor bad: silent for 15 minutes, never heard from, or it failed a query.
    Questionable,
    /// Failed [`RoutingConfig::max_failures`] queries in a row: never handed out, replaced by
    /// the first newcomer.
    Bad,
}

/// The table's policy knobs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoutingConfig {
    /// Nodes kept waiting per full bucket (default 8, as many as the bucket holds).
    pub replacements: usize,
    /// Failed queries in a row that make a node bad (default 5; at least 1).
    pub max_failures: u8,
    /// Failed queries in a row after which a node gives its place to a waiting replacement
    /// (default 1, as libtorrent: a replacement that waits is worth more than a node that just
    /// failed).
    pub max_failures_with_replacement: u8,
    /// Refuse ids that break BEP 42 for their (non-exempt) address (default true).
    pub enforce_bep42: bool,
    /// Let several nodes share one loopback or private IP, one per port (default false: tests
    /// on 127.0.0.1 turn it on).
    pub allow_local_duplicates: bool,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            replacements: K,
            max_failures: 5,
            max_failures_with_replacement: 1,
            enforce_bep42: true,
            allow_local_duplicates: false,
        }
    }
}

/// What became of a node the table was told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insertion {
    /// It is now a live node of the table.
    Added,
    /// It was held already (live or waiting); its state was updated.
    Updated,
    /// Its bucket is full of nodes that are not bad: it waits in the replacement cache.
    Cached,
    /// It was not kept.
    Refused(Refusal),
}

/// Why a node was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// It has our own id.
    OwnId,
    /// Its address belongs to the other table's family.
    WrongFamily,
    /// Port 0, or an unspecified, multicast or broadcast IP.
    Unreachable,
    /// It sent `ro` (BEP 43): it answers no queries.
    ReadOnly,
    /// Its id breaks BEP 42 for its public address.
    InsecureId,
    /// Another node holds its IP (or its IP and port).
    DuplicateIp,
    /// It is held at another address, and did not answer from the new one.
    Moved,
    /// Its bucket and the bucket's replacement cache are full of better nodes.
    Full,
}

/// Counters of what the table did, for the node's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoutingStats {
    /// Nodes that became live.
    pub added: u64,
    /// Nodes put in a replacement cache.
    pub cached: u64,
    /// Live nodes that lost their place to a waiting or arriving node.
    pub replaced: u64,
    /// Nodes dropped because an answering node with another id took their IP.
    pub superseded: u64,
    /// Bucket splits.
    pub splits: u64,
    /// Refused: our own id.
    pub refused_own_id: u64,
    /// Refused: the other family.
    pub refused_wrong_family: u64,
    /// Refused: an address no one can send to.
    pub refused_unreachable: u64,
    /// Refused: a BEP 43 read-only node.
    pub refused_read_only: u64,
    /// Refused: an id that breaks BEP 42.
    pub refused_insecure_id: u64,
    /// Refused: a second node at an IP.
    pub refused_duplicate_ip: u64,
    /// Refused: a move to another address that was not confirmed by an answer.
    pub refused_moved: u64,
    /// Refused: the bucket and its cache are full.
    pub refused_full: u64,
}

impl RoutingStats {
    fn count(&mut self, refusal: Refusal) {
        let counter = match refusal {
            Refusal::OwnId => &mut self.refused_own_id,
            Refusal::WrongFamily => &mut self.refused_wrong_family,
            Refusal::Unreachable => &mut self.refused_unreachable,
            Refusal::ReadOnly => &mut self.refused_read_only,
            Refusal::InsecureId => &mut self.refused_insecure_id,
            Refusal::DuplicateIp => &mut self.refused_duplicate_ip,
            Refusal::Moved => &mut self.refused_moved,
            Refusal::Full => &mut self.refused_full,
        };
        *counter += 1;
    }
}

/// The table's health at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TableHealth {
    /// Live good nodes.
    pub good: usize,
    /// Live questionable nodes.
    pub questionable: usize,
    /// Live bad nodes (kept until a newcomer takes their place).
    pub bad: usize,
    /// Nodes waiting in replacement caches.
    pub replacements: usize,
    /// Buckets.
    pub buckets: usize,
}

/// One bucket as seen from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketInfo {
    /// The bucket's index: its nodes share exactly this many leading bits with the own id (the
    /// last bucket: at least this many).
    pub depth: u32,
    /// Its live nodes.
    pub nodes: Vec<NodeInfo>,
    /// Its replacement cache.
    pub replacements: Vec<NodeInfo>,
}

/// A BEP 5 routing table for one address family.
///
/// ```
/// use std::time::Instant;
/// use swarmgate_dht::{Family, Insertion, NodeId, NodeInfo, RoutingConfig, RoutingTable};
///
/// let now = Instant::now();
/// let mut table = RoutingTable::new(NodeId([0; 20]), Family::V4, RoutingConfig::default(), now);
/// let node = NodeInfo { id: NodeId([0x80; 20]), addr: "10.0.0.7:6881".parse()? };
/// assert_eq!(table.answered(now, node, false), Insertion::Added);
/// assert_eq!(table.closest(now, &NodeId([0xff; 20]), 8), [node]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RoutingTable {
    own_id: NodeId,
    family: Family,
    config: RoutingConfig,
    epoch: Epoch,
    buckets: Vec<Bucket>,
    stats: RoutingStats,
}

impl RoutingTable {
    /// An empty table (one bucket) for `own_id`'s nodes of `family`.
    pub fn new(own_id: NodeId, family: Family, config: RoutingConfig, now: Instant) -> Self {
        let epoch = Epoch::new(now);
        RoutingTable {
            own_id,
            family,
            config,
            buckets: vec![Bucket::new(epoch.stamp(now))],
            epoch,
            stats: RoutingStats::default(),
        }
    }

    /// The id the buckets are arranged around.
    pub fn own_id(&self) -> NodeId {
        self.own_id
    }

    /// The family of the nodes held.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Live nodes (replacement caches not counted).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    /// Whether no node is live.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.nodes.is_empty())
    }

    /// The counters.
    pub fn stats(&self) -> RoutingStats {
        self.stats
    }

    /// How many nodes are good, questionable and bad at `now`, and how many buckets there are.
    pub fn health(&self, now: Instant) -> TableHealth {
        let now = self.epoch.stamp(now);
        let mut health = TableHealth {
            buckets: self.buckets.len(),
            ..TableHealth::default()
        };
        for bucket in &self.buckets {
            health.replacements += bucket.replacements.len();
            for entry in &bucket.nodes {
                match entry.status(now, self.max_failures()) {
                    NodeStatus::Good => health.good += 1,
                    NodeStatus::Questionable => health.questionable += 1,
                    NodeStatus::Bad => health.bad += 1,
                }
            }
        }
        health
    }

    /// The state of live node `id` at `now` (`None` when it is not live).
    pub fn status(&self, now: Instant, id: &NodeId) -> Option<NodeStatus> {
        let bucket = &self.buckets[self.bucket_index(id)];
        match bucket.find(id)? {
            Slot::Live(i) => {
                Some(bucket.nodes[i].status(self.epoch.stamp(now), self.max_failures()))
            }
            Slot::Spare(_) => None,
        }
    }

    /// Whether `id` waits in a replacement cache.
    pub fn is_waiting(&self, id: &NodeId) -> bool {
        let bucket = &self.buckets[self.bucket_index(id)];
        matches!(bucket.find(id), Some(Slot::Spare(_)))
    }

    /// Up to `n` live nodes closest to `target`: the closest good nodes, then, if fewer than `n`
    /// are good, the closest questionable ones; never a bad node. Sorted by distance.
    pub fn closest(&self, now: Instant, target: &NodeId, n: usize) -> Vec<NodeInfo> {
        let now = self.epoch.stamp(now);
        let mut found: Vec<(bool, Distance, NodeInfo)> = Vec::new();
        let mut good = 0;
        // Buckets in order of distance to the target: the target's own bucket, then every
        // deeper one (their distances share the target's bucket bit, mixed among themselves),
        // then each shallower one in turn, each wholly farther than the ones before.
        let first = self.bucket_index(target);
        let order = std::iter::once(first)
            .chain(first + 1..self.buckets.len())
            .chain((0..first).rev());
        for (step, index) in order.enumerate() {
            // The deeper buckets form one tier with the target's bucket's successors: only stop
            // between tiers.
            let tier_ends = step == 0 || index < first || index + 1 == self.buckets.len();
            for entry in &self.buckets[index].nodes {
                let status = entry.status(now, self.max_failures());
                if status == NodeStatus::Bad {
                    continue;
                }
                good += usize::from(status == NodeStatus::Good);
                found.push((
                    status != NodeStatus::Good,
                    entry.id.distance(target),
                    entry.info(),
                ));
            }
            if tier_ends && good >= n {
                break;
            }
        }
        found.sort_unstable_by_key(|a| (a.0, a.1));
        found.truncate(n);
        found.sort_unstable_by_key(|(_, distance, _)| *distance);
        found.into_iter().map(|(_, _, node)| node).collect()
    }

    /// Targets to look up: one random id inside each bucket that has not changed for
    /// [`REFRESH_AFTER`]. Handing a target out restarts its bucket's timer.
    pub fn refresh_due(&mut self, now: Instant, rng: &mut SplitMix64) -> Vec<NodeId> {
        let now = self.epoch.stamp(now);
        let mut targets = Vec::new();
        for (depth, bucket) in self.buckets.iter_mut().enumerate() {
            if at_least(bucket.last_changed, now, secs(REFRESH_AFTER)) {
                bucket.last_changed = now;
                targets.push(self.own_id.random_in_bucket(depth as u32, rng));
            }
        }
        targets
    }

    /// Questionable live nodes to ping: those of full buckets where replacements wait, at most
    /// once per [`PING_INTERVAL`] per bucket. Report the outcome with
    /// [`answered`](Self::answered) or [`failed`](Self::failed).
    pub fn pings_due(&mut self, now: Instant) -> Vec<NodeInfo> {
        let now = self.epoch.stamp(now);
        let max_failures = self.max_failures();
        let mut due = Vec::new();
        for bucket in &mut self.buckets {
            let waiting = bucket.nodes.len() == K && !bucket.replacements.is_empty();
            let rested =
                bucket.last_ping == NEVER || at_least(bucket.last_ping, now, secs(PING_INTERVAL));
            if !waiting || !rested {
                continue;
            }
            let before = due.len();
            due.extend(
                bucket
                    .nodes
                    .iter()
                    .filter(|e| e.status(now, max_failures) == NodeStatus::Questionable)
                    .map(Entry::info),
            );
            if due.len() > before {
                bucket.last_ping = now;
            }
        }
        due
    }

    /// The good live nodes: what a saved table keeps.
    pub fn good_nodes(&self, now: Instant) -> Vec<NodeInfo> {
        let now = self.epoch.stamp(now);
        self.buckets
            .iter()
            .flat_map(|b| &b.nodes)
            .filter(|e| e.status(now, self.max_failures()) == NodeStatus::Good)
            .map(Entry::info)
            .collect()
    }

    /// Every live node, bucket by bucket.
    pub fn nodes(&self) -> impl Iterator<Item = NodeInfo> + '_ {
        self.buckets.iter().flat_map(|b| &b.nodes).map(Entry::info)
    }

    /// The buckets, shallowest first.
    pub fn buckets(&self) -> Vec<BucketInfo> {
        self.buckets
            .iter()
            .enumerate()
            .map(|(depth, b)| BucketInfo {
                depth: depth as u32,
                nodes: b.nodes.iter().map(Entry::info).collect(),
                replacements: b.replacements.iter().map(Entry::info).collect(),
            })
            .collect()
    }

    fn max_failures(&self) -> u8 {
        self.config.max_failures.max(1)
    }

    fn replace_threshold(&self) -> u8 {
        self.max_failures()
            .min(self.config.max_failures_with_replacement)
            .max(1)
    }

    fn bucket_index(&self, id: &NodeId) -> usize {
        (self.own_id.common_prefix(id) as usize).min(self.buckets.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_prefers_a_far_good_node_to_a_near_questionable_one() {
        let now = Instant::now();
        let own = NodeId([0; 20]);
        let mut table = RoutingTable::new(own, Family::V4, RoutingConfig::default(), now);
        let mut near = NodeId([0; 20]);
        near.0[19] = 1;
        let far = NodeId([0xff; 20]);
        let near = NodeInfo {
            id: near,
            addr: "10.0.0.1:1".parse().unwrap(),
        };
        let far = NodeInfo {
            id: far,
            addr: "10.0.0.2:1".parse().unwrap(),
        };
        table.heard_of(now, near);
        table.answered(now, far, false);
        assert_eq!(table.closest(now, &own, 1), [far]);
        assert_eq!(
            table.closest(now, &own, 2),
            [near, far],
            "sorted by distance"
        );
        assert_eq!(table.closest(now, &own, 0), []);
        assert_eq!(Family::of(&near.addr), Family::V4);
        assert_eq!(Family::of_ip("::1".parse().unwrap()), Family::V6);
    }
}
