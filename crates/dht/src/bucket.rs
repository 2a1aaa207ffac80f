//! One k-bucket of the routing table (BEP 5): up to [`K`] live nodes, a replacement cache of nodes
//! seen while it was full, and the node states good, questionable and bad.
//!
//! A node is kept in 48 bytes ([`Entry`]): its id, its address as 16 bytes (IPv4 mapped), its
//! port, two four-byte [`Stamp`]s and two bytes of state. Its state follows BEP 5: *good* when
//! it answered one of our queries in the last 15 minutes, or queried us in the last 15 minutes
//! after having once answered, and has not failed a query since its last answer; *bad* when it
//! failed `max_failures` queries in a row; *questionable* otherwise (a node we only heard of is
//! questionable until it answers).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::clock::{NEVER, Stamp, at_least, secs};
use crate::id::{NodeId, NodeInfo};
use crate::routing::{GOOD_FOR, K, NodeStatus};

/// A node of the table, live or in a replacement cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) id: NodeId,
    /// The address, IPv4 as an IPv4-mapped IPv6 address.
    pub(crate) ip: [u8; 16],
    pub(crate) port: u16,
    /// Queries it failed to answer since its last answer.
    pub(crate) fails: u8,
    /// It answered one of our queries at least once.
    pub(crate) answered: bool,
    /// Its last answer, or its last query to us after it had answered ([`NEVER`] before).
    pub(crate) last_good: Stamp,
    /// Its last message of any kind, or when we heard of it.
    pub(crate) last_seen: Stamp,
}

/// What happened with a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// Another node or a saved table told us of it: nothing is known of its health.
    HeardOf,
    /// It answered one of our queries.
    Answered,
    /// It sent us a query.
    Queried,
}

impl Entry {
    pub(crate) fn new(node: &NodeInfo, event: Event, now: Stamp) -> Entry {
        let mut entry = Entry {
            id: node.id,
            ip: ip_bytes(node.addr.ip()),
            port: node.addr.port(),
            fails: 0,
            answered: false,
            last_good: NEVER,
            last_seen: now,
        };
        entry.record(event, now);
        entry
    }

    /// Updates the state for `event` at `now`.
    pub(crate) fn record(&mut self, event: Event, now: Stamp) {
        match event {
            Event::HeardOf => {}
            Event::Answered => {
                self.answered = true;
                self.fails = 0;
                self.last_good = now;
                self.last_seen = now;
            }
            Event::Queried => {
                self.last_seen = now;
                if self.answered {
                    self.last_good = now;
                }
            }
        }
    }

    pub(crate) fn status(&self, now: Stamp, max_failures: u8) -> NodeStatus {
        if self.fails >= max_failures {
            NodeStatus::Bad
        } else if self.fails == 0 && self.answered && !at_least(self.last_good, now, secs(GOOD_FOR))
        {
            NodeStatus::Good
        } else {
            NodeStatus::Questionable
        }
    }

    /// Which replacement to promote first, which to drop first: nodes that answered, then the
    /// most recently seen.
    pub(crate) fn rank(&self) -> (bool, Stamp) {
        (self.answered, self.last_seen)
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::new(Ipv6Addr::from(self.ip).to_canonical(), self.port)
    }

    pub(crate) fn info(&self) -> NodeInfo {
        NodeInfo {
            id: self.id,
            addr: self.addr(),
        }
    }

    pub(crate) fn is_at(&self, addr: &SocketAddr) -> bool {
        self.port == addr.port() && self.ip == ip_bytes(addr.ip())
    }
}

/// An address as 16 bytes, IPv4 mapped into IPv6.
pub(crate) fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Where a node sits in its bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Live(usize),
    Spare(usize),
}

/// One bucket: the live nodes and the replacement cache.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    pub(crate) nodes: Vec<Entry>,
    pub(crate) replacements: Vec<Entry>,
    /// When a node was added, replaced or answered, or a refresh was handed out (BEP 5's "last
    /// changed").
    pub(crate) last_changed: Stamp,
    /// When its questionable nodes were last handed out to be pinged.
    pub(crate) last_ping: Stamp,
}

impl Bucket {
    pub(crate) fn new(now: Stamp) -> Bucket {
        Bucket {
            nodes: Vec::with_capacity(K),
            replacements: Vec::new(),
            last_changed: now,
            last_ping: NEVER,
        }
    }

    pub(crate) fn find(&self, id: &NodeId) -> Option<Slot> {
        if let Some(i) = self.nodes.iter().position(|e| e.id == *id) {
            return Some(Slot::Live(i));
        }
        self.replacements
            .iter()
            .position(|e| e.id == *id)
            .map(Slot::Spare)
    }

    pub(crate) fn entry_mut(&mut self, slot: Slot) -> &mut Entry {
        match slot {
            Slot::Live(i) => &mut self.nodes[i],
            Slot::Spare(i) => &mut self.replacements[i],
        }
    }

    /// Removes the entry at `slot`; a live node's place goes to the best replacement.
    pub(crate) fn remove(&mut self, slot: Slot) -> Entry {
        match slot {
            Slot::Live(i) => {
                let gone = self.nodes.swap_remove(i);
                self.fill_from_replacements();
                gone
            }
            Slot::Spare(i) => self.replacements.swap_remove(i),
        }
    }

    /// A live node a newcomer may take the place of: a bad one, or else, since the newcomer is
    /// a replacement in waiting, one that failed `max_failures_with_replacement` queries (the
    /// one that failed most).
    pub(crate) fn replaceable(
        &self,
        max_failures: u8,
        max_failures_with_replacement: u8,
    ) -> Option<usize> {
        let threshold = max_failures.min(max_failures_with_replacement).max(1);
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, e)| e.fails >= threshold)
            .max_by_key(|(_, e)| e.fails)
            .map(|(i, _)| i)
    }

    /// Moves the best replacements into free live places.
    pub(crate) fn fill_from_replacements(&mut self) {
        while self.nodes.len() < K {
            let Some(best) = self.best_replacement() else {
                return;
            };
            let entry = self.replacements.swap_remove(best);
            self.nodes.push(entry);
        }
    }

    fn best_replacement(&self) -> Option<usize> {
        self.replacements
            .iter()
            .enumerate()
            .max_by_key(|(_, e)| e.rank())
            .map(|(i, _)| i)
    }

    /// Keeps `entry` in the replacement cache of at most `capacity` entries, dropping the
    /// lowest-ranked one when full; false when `entry` itself ranks lowest.
    pub(crate) fn cache(&mut self, entry: Entry, capacity: usize) -> bool {
        if capacity == 0 {
            return false;
        }
        if self.replacements.len() < capacity {
            if self.replacements.capacity() == 0 {
                self.replacements.reserve_exact(capacity);
            }
            self.replacements.push(entry);
            return true;
        }
        let worst = self
            .replacements
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.rank())
            .map(|(i, _)| i);
        match worst {
            Some(i) if self.replacements[i].rank() < entry.rank() => {
                self.replacements[i] = entry;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> NodeInfo {
        NodeInfo {
            id: NodeId([n; 20]),
            addr: SocketAddr::from(([10, 0, 0, n], 6881)),
        }
    }

    #[test]
    fn an_entry_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 48);
    }

    #[test]
    fn states_follow_bep5() {
        let max = 3;
        let mut heard = Entry::new(&node(1), Event::HeardOf, 10);
        assert_eq!(heard.status(10, max), NodeStatus::Questionable);
        heard.record(Event::Queried, 11);
        assert_eq!(
            heard.status(11, max),
            NodeStatus::Questionable,
            "a query alone does not make a node good: it must have answered once"
        );
        let mut answered = Entry::new(&node(2), Event::Answered, 10);
        assert_eq!(answered.status(10, max), NodeStatus::Good);
        assert_eq!(answered.status(10 + 899, max), NodeStatus::Good);
        assert_eq!(answered.status(10 + 900, max), NodeStatus::Questionable);
        answered.record(Event::Queried, 2000);
        assert_eq!(
            answered.status(2000, max),
            NodeStatus::Good,
            "a query after an answer keeps it good"
        );
        answered.fails = 1;
        assert_eq!(answered.status(2000, max), NodeStatus::Questionable);
        answered.fails = 3;
        assert_eq!(answered.status(2000, max), NodeStatus::Bad);
        answered.record(Event::Answered, 2001);
        assert_eq!(answered.status(2001, max), NodeStatus::Good);
    }

    #[test]
    fn the_cache_keeps_the_best_ranked_and_promotion_takes_the_best() {
        let mut bucket = Bucket::new(1);
        assert!(bucket.cache(Entry::new(&node(1), Event::HeardOf, 5), 2));
        assert!(bucket.cache(Entry::new(&node(2), Event::Answered, 3), 2));
        // Full: a newer unanswered node displaces the older unanswered one.
        assert!(bucket.cache(Entry::new(&node(3), Event::HeardOf, 6), 2));
        assert!(bucket.find(&node(1).id).is_none());
        // An older unanswered node ranks below everything held.
        assert!(!bucket.cache(Entry::new(&node(4), Event::HeardOf, 2), 2));
        assert!(!bucket.cache(Entry::new(&node(5), Event::HeardOf, 9), 0));
        bucket.fill_from_replacements();
        assert_eq!(bucket.nodes[0].id, node(2).id, "answered first");
        assert_eq!(bucket.nodes[1].id, node(3).id);
        assert!(bucket.replacements.is_empty());
        assert_eq!(bucket.nodes[0].addr(), node(2).addr);
        assert!(bucket.nodes[0].is_at(&node(2).addr));
    }
}
