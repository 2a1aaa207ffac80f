//! The node as a client: its queries in flight (matched by a 2-byte transaction id and the
//! address asked), the lookups they serve, what answers teach the routing tables, and the
//! external address answers report (BEP 42).
//!
//! An answer counts only if it comes from the address the query went to with a transaction id
//! we issued (libtorrent ignores replies from another port too); anything else is dropped and
//! counted. A lookup's answers also offer their nodes to the tables as candidates, so lookups
//! keep the tables fresh. A finished announce sends announce_peer, with each node's own token,
//! to the closest nodes that answered.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use swarmgate_core::InfoHashV1;

use crate::id::{NodeId, NodeInfo, is_exempt};
use crate::krpc::{Message, Method, Response, Want};
use crate::lookup::Lookup;
use crate::routing::{Family, K};

use super::{LookupId, Node, NodeEvent};

/// How many external-address reports are kept, and how many must agree to change the id.
const VOTES: usize = 10;
const VOTES_TO_AGREE: usize = 3;

/// One query of ours in flight.
#[derive(Debug)]
pub(super) struct Pending {
    /// When it went out.
    pub sent: Instant,
    /// Where it went: the answer must come from here.
    pub addr: SocketAddr,
    /// The id we believe the node has (none for a router).
    pub node: Option<NodeId>,
    /// What it is for.
    pub purpose: Purpose,
}

/// What a query is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Checking a questionable node.
    Ping,
    /// Asking a router (or a known node) for nodes near our id.
    Bootstrap,
    /// A step of a lookup.
    Lookup(LookupId),
    /// The announce that ends a lookup.
    Announce,
}

/// A lookup in progress.
#[derive(Debug)]
pub(super) struct Running {
    /// The lookup itself.
    pub lookup: Lookup,
    /// The torrent, for get_peers lookups; `None` for a bucket refresh (find_node).
    pub info_hash: Option<InfoHashV1>,
    /// For an announce: the port (`None`: implied) and the seed flag.
    pub announce: Option<(Option<u16>, bool)>,
    /// How many of its peers were reported.
    pub reported: usize,
}

impl Node {
    /// Starts a lookup the owner asked for.
    pub(super) fn start_lookup(
        &mut self,
        now: Instant,
        info_hash: InfoHashV1,
        announce: Option<(Option<u16>, bool)>,
    ) -> LookupId {
        let id = self.new_lookup_id();
        self.stats.lookups_started += 1;
        let start = self.closest_known(now, &NodeId(info_hash.0));
        let mut lookup = Lookup::new(now, NodeId(info_hash.0), start, self.config.lookup);
        // Our own store first: a node answers its own lookups too.
        let mut own = Vec::new();
        for family in [Family::V4, Family::V6] {
            let mut found = self
                .store
                .get(now, &info_hash.0, family, 200, false, &mut self.rng);
            own.append(&mut found);
        }
        lookup.add_peers(&own);
        self.lookups.insert(
            id,
            Running {
                lookup,
                info_hash: Some(info_hash),
                announce,
                reported: own.len(),
            },
        );
        if !own.is_empty() {
            self.events.push_back(NodeEvent::Peers {
                id,
                info_hash,
                peers: own,
            });
        }
        self.drive_lookups(now);
        id
    }

    /// Starts a find_node lookup of our own id, unless one runs (BEP 5: "upon inserting the
    /// first node into its routing table and when starting up thereafter"): the nodes closest
    /// to us answer, so the table learns our neighbourhood, and by being queried they learn us.
    /// Without it a newcomer is known only to the routers it asked, and lookups pass it by.
    pub(super) fn start_join_lookup(&mut self, now: Instant) {
        if self
            .join_lookup
            .is_some_and(|id| self.lookups.contains_key(&id))
        {
            return;
        }
        let id = self.start_refresh(now, self.id);
        self.join_lookup = Some(id);
    }

    /// Starts a find_node lookup of `target` to refresh the bucket it falls in.
    pub(super) fn start_refresh(&mut self, now: Instant, target: NodeId) -> LookupId {
        let id = self.new_lookup_id();
        let start = self.closest_known(now, &target);
        let lookup = Lookup::new(now, target, start, self.config.lookup);
        let running = Running {
            lookup,
            info_hash: None,
            announce: None,
            reported: 0,
        };
        self.lookups.insert(id, running);
        id
    }

    fn new_lookup_id(&mut self) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        id
    }

    /// The closest nodes the tables of the spoken families hold.
    fn closest_known(&self, now: Instant, target: &NodeId) -> Vec<NodeInfo> {
        let mut nodes = Vec::new();
        if self.config.ipv4 {
            nodes.extend(self.table4.closest(now, target, 2 * K));
        }
        if self.config.ipv6 {
            nodes.extend(self.table6.closest(now, target, 2 * K));
        }
        nodes
    }

    /// Sends every query the running lookups want, and ends those that are done.
    pub(super) fn drive_lookups(&mut self, now: Instant) {
        let ids: Vec<LookupId> = self.lookups.keys().copied().collect();
        for id in ids {
            let Some(running) = self.lookups.get_mut(&id) else {
                continue;
            };
            let info_hash = running.info_hash;
            let target = running.lookup.target();
            let asks = running.lookup.next_queries(now);
            for node in asks {
                let method = match info_hash {
                    Some(info_hash) => Method::GetPeers {
                        info_hash,
                        want: self.want(),
                        scrape: false,
                        noseed: false,
                    },
                    None => Method::FindNode {
                        target,
                        want: self.want(),
                    },
                };
                self.send_query(now, node.addr, Some(node.id), method, Purpose::Lookup(id));
            }
            if self.lookups.get(&id).is_some_and(|r| r.lookup.is_done()) {
                self.finish_lookup(now, id);
            }
        }
    }

    /// BEP 32 `want`: what this node can use, when it speaks both families.
    fn want(&self) -> Option<Want> {
        (self.config.ipv4 && self.config.ipv6).then_some(Want { v4: true, v6: true })
    }

    fn finish_lookup(&mut self, now: Instant, id: LookupId) {
        let Some(running) = self.lookups.remove(&id) else {
            return;
        };
        let Some(info_hash) = running.info_hash else {
            return;
        };
        let mut announced_to = 0;
        let closest = running.lookup.closest();
        if let Some((port, seed)) = running.announce {
            for answered in &closest {
                let Some(token) = answered.token.clone() else {
                    continue;
                };
                let method = Method::AnnouncePeer {
                    info_hash,
                    port: port.unwrap_or(0),
                    implied_port: port.is_none(),
                    token,
                    seed,
                };
                let to = answered.node;
                self.send_query(now, to.addr, Some(to.id), method, Purpose::Announce);
                announced_to += 1;
            }
        }
        let peers = running.lookup.peers().len();
        self.stats.lookups_done += 1;
        if peers > 0 {
            self.stats.lookups_with_peers += 1;
        }
        if running.lookup.stats().answers > 0 {
            self.stats.lookups_answered += 1;
        }
        self.events.push_back(NodeEvent::LookupDone {
            id,
            info_hash,
            peers,
            announced_to,
            stats: running.lookup.stats(),
            closest: closest.into_iter().map(|a| a.node).collect(),
        });
    }

    /// Sends a query unless too many are in flight.
    pub(super) fn send_query(
        &mut self,
        now: Instant,
        to: SocketAddr,
        node: Option<NodeId>,
        method: Method,
        purpose: Purpose,
    ) {
        if self.pending.len() >= self.config.max_pending || !self.speaks(&to) {
            self.stats.drops.overloaded += 1;
            if let (Purpose::Lookup(id), Some(node)) = (purpose, node) {
                if let Some(running) = self.lookups.get_mut(&id) {
                    running
                        .lookup
                        .handle_failure(&NodeInfo { id: node, addr: to });
                }
            }
            return;
        }
        let tid = self.new_tid();
        let mut message = Message::query(tid.to_be_bytes().to_vec(), self.id, method);
        message.read_only = self.config.read_only;
        message.version = self.config.version.clone();
        self.send(to, &message);
        self.stats.queries_sent += 1;
        let pending = Pending {
            sent: now,
            addr: to,
            node,
            purpose,
        };
        self.pending.insert(tid, pending);
    }

    /// A transaction id no query in flight has.
    fn new_tid(&mut self) -> u16 {
        loop {
            self.next_tid = self.next_tid.wrapping_add(1);
            if !self.pending.contains_key(&self.next_tid) {
                return self.next_tid;
            }
        }
    }

    pub(super) fn query_ping(&mut self, now: Instant, node: NodeInfo) {
        self.send_query(now, node.addr, Some(node.id), Method::Ping, Purpose::Ping);
    }

    /// A find_node of `target` to `to` (a router when `node` is `None`), for bootstrap.
    pub(super) fn query_bootstrap(&mut self, now: Instant, to: SocketAddr, node: Option<NodeId>) {
        let method = Method::FindNode {
            target: self.id,
            want: self.want(),
        };
        self.send_query(now, to, node, method, Purpose::Bootstrap);
    }

    /// An answer (`Ok`) or an error code (`Err`) with transaction id `tid` from `from`.
    pub(super) fn handle_answer(
        &mut self,
        now: Instant,
        from: SocketAddr,
        tid: &[u8],
        reported: Option<SocketAddr>,
        read_only: bool,
        answer: Result<Response, i64>,
    ) {
        let key = <[u8; 2]>::try_from(tid).ok().map(u16::from_be_bytes);
        let matches = key
            .and_then(|k| self.pending.get(&k))
            .is_some_and(|p| p.addr == from);
        let (Some(key), true) = (key, matches) else {
            self.stats.drops.unexpected_answer += 1;
            return;
        };
        let Some(pending) = self.pending.remove(&key) else {
            return;
        };
        let response = match answer {
            Ok(response) => response,
            Err(_) => {
                self.stats.errors_received += 1;
                self.lookup_failed(&pending);
                return;
            }
        };
        self.stats.answers_received += 1;
        let node = NodeInfo {
            id: response.id,
            addr: from,
        };
        let family = Family::of(&from);
        self.table(family).answered(now, node, read_only);
        if let Some(reported) = reported {
            self.vote(now, from.ip(), reported.ip());
        }
        // Nodes in the families we speak, never ourselves (a node lists us back to us).
        let own = self.id;
        let learned: Vec<NodeInfo> = response
            .nodes
            .iter()
            .filter(|_| self.config.ipv4)
            .chain(response.nodes6.iter().filter(|_| self.config.ipv6))
            .filter(|n| n.id != own)
            .copied()
            .collect();
        for candidate in &learned {
            self.table(Family::of(&candidate.addr))
                .heard_of(now, *candidate);
        }
        if pending.purpose == Purpose::Bootstrap {
            self.start_join_lookup(now);
        }
        let Purpose::Lookup(id) = pending.purpose else {
            return;
        };
        let trusted = !self.config.routing.enforce_bep42 || response.id.is_secure_for(from.ip());
        let Some(running) = self.lookups.get_mut(&id) else {
            return;
        };
        // The lookup asked the node under the id we knew; it answers as that entry.
        let asked = NodeInfo {
            id: pending.node.unwrap_or(response.id),
            addr: from,
        };
        running
            .lookup
            .handle_response(&asked, &learned, &response.values, response.token, trusted);
        let found = running.lookup.peers();
        if found.len() > running.reported {
            let peers = found[running.reported..].to_vec();
            running.reported = found.len();
            if let Some(info_hash) = running.info_hash {
                self.events.push_back(NodeEvent::Peers {
                    id,
                    info_hash,
                    peers,
                });
            }
        }
    }

    /// Queries past the timeout have failed: the node is told so, and so is its lookup.
    pub(super) fn expire_queries(&mut self, now: Instant) {
        let timeout = self.config.query_timeout;
        let expired: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.sent + timeout)
            .map(|(tid, _)| *tid)
            .collect();
        for tid in expired {
            let Some(pending) = self.pending.remove(&tid) else {
                continue;
            };
            self.stats.timeouts += 1;
            if let Some(id) = pending.node {
                let node = NodeInfo {
                    id,
                    addr: pending.addr,
                };
                self.table(Family::of(&pending.addr)).failed(now, &node);
            }
            self.lookup_failed(&pending);
        }
    }

    fn lookup_failed(&mut self, pending: &Pending) {
        if let (Purpose::Lookup(id), Some(node)) = (pending.purpose, pending.node) {
            if let Some(running) = self.lookups.get_mut(&id) {
                running.lookup.handle_failure(&NodeInfo {
                    id: node,
                    addr: pending.addr,
                });
            }
        }
    }

    /// Records that `reporter` sees us at `external`; when enough distinct reporters agree on
    /// a public address our id does not fit (BEP 42), takes an id that does.
    fn vote(&mut self, now: Instant, reporter: IpAddr, external: IpAddr) {
        let external = external.to_canonical();
        if is_exempt(external) || self.votes.iter().any(|(r, _)| *r == reporter) {
            return;
        }
        self.votes.push_back((reporter, external));
        while self.votes.len() > VOTES {
            self.votes.pop_front();
        }
        let mut counts: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for (_, ip) in &self.votes {
            *counts.entry(*ip).or_default() += 1;
        }
        let agreed = counts
            .into_iter()
            .find(|(_, n)| *n >= VOTES_TO_AGREE)
            .map(|(ip, _)| ip);
        let Some(ip) = agreed else {
            return;
        };
        self.external = Some(ip);
        if self.id.is_secure_for(ip) {
            return;
        }
        let id = NodeId::secure_for(ip, &mut self.rng);
        self.id = id;
        self.table4.set_own_id(now, id);
        self.table6.set_own_id(now, id);
        self.votes.clear();
        self.stats.id_changes += 1;
        self.events
            .push_back(NodeEvent::IdChanged { id, external: ip });
    }
}
