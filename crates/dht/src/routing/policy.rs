//! Who gets into the routing table: the insertion policy, the replacement of failing nodes, the
//! bucket splits, and the rebuild around a new own id (BEP 5, BEP 42, BEP 43; see the parent
//! module for the rules).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::{Family, Insertion, K, MAX_BUCKETS, Refusal, RoutingTable};
use crate::bucket::{Bucket, Entry, Event, Slot, ip_bytes};
use crate::clock::Stamp;
use crate::id::{NodeId, NodeInfo, is_exempt};

impl RoutingTable {
    /// A node we heard of (from another node's answer, or a saved table): kept as questionable
    /// if it is new and has room, without touching the state of a node already held.
    pub fn heard_of(&mut self, now: Instant, node: NodeInfo) -> Insertion {
        self.record(now, node, Event::HeardOf, false)
    }

    /// `node` answered a query of ours: it becomes (or stays) good. `read_only` is its `ro`
    /// flag (BEP 43): such a node is never inserted.
    pub fn answered(&mut self, now: Instant, node: NodeInfo, read_only: bool) -> Insertion {
        self.record(now, node, Event::Answered, read_only)
    }

    /// `node` sent us a query: a node that once answered stays good; a new one is kept as
    /// questionable. `read_only` is the query's `ro` flag (BEP 43).
    pub fn queried_by(&mut self, now: Instant, node: NodeInfo, read_only: bool) -> Insertion {
        self.record(now, node, Event::Queried, read_only)
    }

    /// A query to `node` went unanswered. A live node counts the failure and, once it has
    /// failed [`RoutingConfig::max_failures_with_replacement`](super::RoutingConfig::max_failures_with_replacement) times while a replacement waits,
    /// gives its place to the best one; a waiting node is dropped. False when `node` (that id at
    /// that address) is not held.
    pub fn failed(&mut self, now: Instant, node: &NodeInfo) -> bool {
        let now = self.epoch.stamp(now);
        let index = self.bucket_index(&node.id);
        let threshold = self.replace_threshold();
        let bucket = &mut self.buckets[index];
        let Some(slot) = bucket.find(&node.id) else {
            return false;
        };
        let entry = bucket.entry_mut(slot);
        if !entry.is_at(&node.addr) {
            return false;
        }
        entry.fails = entry.fails.saturating_add(1);
        let fails = entry.fails;
        match slot {
            Slot::Live(_) if fails >= threshold && !bucket.replacements.is_empty() => {
                bucket.remove(slot);
                bucket.last_changed = now;
                self.stats.replaced += 1;
            }
            Slot::Live(_) => {}
            Slot::Spare(_) => {
                bucket.remove(slot);
            }
        }
        true
    }

    /// Takes a new own id (BEP 42: our external IP changed) and rebuilds the buckets around it,
    /// keeping every node's state: live nodes are placed first, best first, then the waiting
    /// ones. A node whose id is the new own id is dropped.
    pub fn set_own_id(&mut self, now: Instant, own_id: NodeId) {
        if own_id == self.own_id {
            return;
        }
        let stamp = self.epoch.stamp(now);
        let max_failures = self.max_failures();
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::new(stamp)]);
        self.own_id = own_id;
        let mut live: Vec<Entry> = Vec::new();
        let mut spare: Vec<Entry> = Vec::new();
        for bucket in old {
            live.extend(bucket.nodes);
            spare.extend(bucket.replacements);
        }
        live.sort_by_key(|e| (e.status(stamp, max_failures), std::cmp::Reverse(e.rank())));
        spare.sort_by_key(|e| std::cmp::Reverse(e.rank()));
        for entry in live.into_iter().chain(spare) {
            if entry.id != own_id {
                self.place(entry, stamp);
            }
        }
    }

    fn record(&mut self, now: Instant, node: NodeInfo, event: Event, read_only: bool) -> Insertion {
        let stamp = self.epoch.stamp(now);
        if let Err(refusal) = self.admissible(&node, read_only) {
            self.stats.count(refusal);
            return Insertion::Refused(refusal);
        }
        let index = self.bucket_index(&node.id);
        if let Some(slot) = self.buckets[index].find(&node.id) {
            return self.update(index, slot, &node, event, stamp);
        }
        if let Some((other_index, other_slot)) = self.holder_of(&node.addr, &node.id) {
            let same_port = self.buckets[other_index]
                .entry_mut(other_slot)
                .is_at(&node.addr);
            if event != Event::Answered || !same_port {
                self.stats.count(Refusal::DuplicateIp);
                return Insertion::Refused(Refusal::DuplicateIp);
            }
            // The address answered with another id (the node restarted with a new one): the
            // old id is gone (libtorrent evicts it too).
            self.buckets[other_index].remove(other_slot);
            self.stats.superseded += 1;
        }
        let insertion = self.place(Entry::new(&node, event, stamp), stamp);
        match insertion {
            Insertion::Added => self.stats.added += 1,
            Insertion::Cached => self.stats.cached += 1,
            Insertion::Refused(refusal) => self.stats.count(refusal),
            Insertion::Updated => {}
        }
        insertion
    }

    fn admissible(&self, node: &NodeInfo, read_only: bool) -> Result<(), Refusal> {
        let ip = node.addr.ip().to_canonical();
        if node.id == self.own_id {
            Err(Refusal::OwnId)
        } else if Family::of_ip(ip) != self.family {
            Err(Refusal::WrongFamily)
        } else if node.addr.port() == 0
            || ip.is_unspecified()
            || ip.is_multicast()
            || is_broadcast(ip)
        {
            Err(Refusal::Unreachable)
        } else if read_only {
            Err(Refusal::ReadOnly)
        } else if self.config.enforce_bep42 && !node.id.is_secure_for(ip) {
            Err(Refusal::InsecureId)
        } else {
            Ok(())
        }
    }

    /// Updates a node already held.
    fn update(
        &mut self,
        index: usize,
        slot: Slot,
        node: &NodeInfo,
        event: Event,
        now: Stamp,
    ) -> Insertion {
        let moved = !self.buckets[index].entry_mut(slot).is_at(&node.addr);
        if moved {
            if event != Event::Answered {
                self.stats.count(Refusal::Moved);
                return Insertion::Refused(Refusal::Moved);
            }
            if self.holder_of(&node.addr, &node.id).is_some() {
                self.stats.count(Refusal::DuplicateIp);
                return Insertion::Refused(Refusal::DuplicateIp);
            }
        }
        let bucket = &mut self.buckets[index];
        let entry = bucket.entry_mut(slot);
        if moved {
            entry.ip = ip_bytes(node.addr.ip());
            entry.port = node.addr.port();
        }
        entry.record(event, now);
        if event == Event::Answered && matches!(slot, Slot::Live(_)) {
            bucket.last_changed = now;
        }
        Insertion::Updated
    }

    /// The node, other than `id`, that holds `addr`'s IP (or, where local duplicates are
    /// allowed, its IP and port).
    fn holder_of(&self, addr: &SocketAddr, id: &NodeId) -> Option<(usize, Slot)> {
        let ip = ip_bytes(addr.ip());
        let per_port = self.config.allow_local_duplicates && is_exempt(addr.ip());
        for (index, bucket) in self.buckets.iter().enumerate() {
            let clash =
                |e: &Entry| e.id != *id && e.ip == ip && (!per_port || e.port == addr.port());
            if let Some(i) = bucket.nodes.iter().position(clash) {
                return Some((index, Slot::Live(i)));
            }
            if let Some(i) = bucket.replacements.iter().position(clash) {
                return Some((index, Slot::Spare(i)));
            }
        }
        None
    }

    /// Puts a node that is not held into its bucket: a free place, a bad (or failing) node's
    /// place, a split of the last bucket, or the replacement cache.
    fn place(&mut self, entry: Entry, now: Stamp) -> Insertion {
        let threshold = self.replace_threshold();
        let max_failures = self.max_failures();
        loop {
            let index = self.bucket_index(&entry.id);
            let last = index + 1 == self.buckets.len();
            let bucket = &mut self.buckets[index];
            if bucket.nodes.len() < K {
                bucket.nodes.push(entry);
                bucket.last_changed = now;
                return Insertion::Added;
            }
            if let Some(victim) = bucket.replaceable(max_failures, threshold) {
                bucket.nodes[victim] = entry;
                bucket.last_changed = now;
                self.stats.replaced += 1;
                return Insertion::Added;
            }
            if last && self.buckets.len() < MAX_BUCKETS {
                self.split();
                continue;
            }
            let capacity = self.config.replacements;
            return if self.buckets[index].cache(entry, capacity) {
                Insertion::Cached
            } else {
                Insertion::Refused(Refusal::Full)
            };
        }
    }

    /// Splits the last bucket: the nodes sharing one more bit with the own id move to a new
    /// last bucket, and both fill their free places from their replacement caches.
    fn split(&mut self) {
        let depth = self.buckets.len() as u32;
        let own_id = self.own_id;
        let last = self.buckets.last_mut().expect("a table has a bucket");
        let mut deeper = Bucket::new(last.last_changed);
        let deeper_than = |e: &Entry| own_id.common_prefix(&e.id) >= depth;
        let (go, stay): (Vec<Entry>, Vec<Entry>) = last.nodes.drain(..).partition(deeper_than);
        last.nodes.extend(stay);
        deeper.nodes.extend(go);
        let (go, stay): (Vec<Entry>, Vec<Entry>) =
            last.replacements.drain(..).partition(deeper_than);
        last.replacements.extend(stay);
        if !go.is_empty() {
            deeper
                .replacements
                .reserve_exact(self.config.replacements.max(go.len()));
            deeper.replacements.extend(go);
        }
        last.fill_from_replacements();
        deeper.fill_from_replacements();
        self.buckets.push(deeper);
        self.stats.splits += 1;
    }
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::RoutingConfig;

    fn node(id_byte: u8, ip: [u8; 4]) -> NodeInfo {
        NodeInfo {
            id: NodeId([id_byte; 20]),
            addr: SocketAddr::from((ip, 6881)),
        }
    }

    #[test]
    fn the_first_bucket_covers_everything_and_splits_toward_the_own_id() {
        let now = Instant::now();
        let mut table =
            RoutingTable::new(NodeId([0; 20]), Family::V4, RoutingConfig::default(), now);
        // Eight nodes far from the own id (first bit set) fill the only bucket.
        for n in 0..8u8 {
            assert_eq!(
                table.answered(now, node(0x80 | n, [10, 0, 0, n]), false),
                Insertion::Added
            );
        }
        assert_eq!(table.health(now).buckets, 1);
        // A ninth far node: the bucket splits, the far ones stay in bucket 0 (full), the
        // newcomer waits.
        assert_eq!(
            table.answered(now, node(0x90, [10, 0, 1, 1]), false),
            Insertion::Cached
        );
        assert_eq!(table.health(now).buckets, 2);
        assert_eq!(table.stats().splits, 1);
        // A near node goes to the new last bucket.
        assert_eq!(
            table.answered(now, node(0x01, [10, 0, 1, 2]), false),
            Insertion::Added
        );
        assert_eq!(table.len(), 9);
        assert!(table.is_waiting(&NodeId([0x90; 20])));
    }

    #[test]
    fn refusals_are_counted() {
        let now = Instant::now();
        let mut table =
            RoutingTable::new(NodeId([0; 20]), Family::V4, RoutingConfig::default(), now);
        let v6 = NodeInfo {
            id: NodeId([1; 20]),
            addr: "[2001:db8::1]:6881".parse().unwrap(),
        };
        assert_eq!(
            table.answered(now, v6, false),
            Insertion::Refused(Refusal::WrongFamily)
        );
        let own = node(0, [10, 0, 0, 1]);
        assert_eq!(
            table.answered(now, own, false),
            Insertion::Refused(Refusal::OwnId)
        );
        let port0 = NodeInfo {
            id: NodeId([2; 20]),
            addr: "10.0.0.2:0".parse().unwrap(),
        };
        assert_eq!(
            table.answered(now, port0, false),
            Insertion::Refused(Refusal::Unreachable)
        );
        let broadcast = node(3, [255, 255, 255, 255]);
        assert_eq!(
            table.heard_of(now, broadcast),
            Insertion::Refused(Refusal::Unreachable)
        );
        assert_eq!(
            table.queried_by(now, node(4, [10, 0, 0, 4]), true),
            Insertion::Refused(Refusal::ReadOnly)
        );
        let stats = table.stats();
        assert_eq!(
            (
                stats.refused_wrong_family,
                stats.refused_own_id,
                stats.refused_unreachable,
                stats.refused_read_only
            ),
            (1, 1, 2, 1)
        );
        assert!(table.is_empty());
    }

    #[test]
    fn a_node_moves_only_when_it_answers_from_the_new_address() {
        let now = Instant::now();
        let mut table =
            RoutingTable::new(NodeId([0; 20]), Family::V4, RoutingConfig::default(), now);
        let a = node(0x40, [10, 0, 0, 1]);
        table.answered(now, a, false);
        let moved = NodeInfo {
            addr: "10.0.0.9:7000".parse().unwrap(),
            ..a
        };
        assert_eq!(
            table.queried_by(now, moved, false),
            Insertion::Refused(Refusal::Moved)
        );
        assert_eq!(table.nodes().next(), Some(a));
        assert_eq!(table.answered(now, moved, false), Insertion::Updated);
        assert_eq!(table.nodes().next(), Some(moved));
        assert!(
            !table.failed(now, &a),
            "the old address is not the node any more"
        );
    }
}
