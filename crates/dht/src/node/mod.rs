//! The DHT node (BEP 5): one sans-IO state machine that answers queries, runs lookups and
//! announces, keeps its routing tables, tokens and peer store, and paces itself.
//!
//! Call order (quinn-proto's shape):
//! 1. [`Node::new`] with a [`NodeConfig`], `now`, an RNG seed and, if there is one, the table
//!    saved by the last run ([`Node::save`]); then [`Node::bootstrap`] with router addresses
//!    (needed only when the saved table is empty or stale).
//! 2. Feed it: every datagram with [`Node::handle_datagram`], and at [`Node::poll_timeout`]
//!    call [`Node::handle_timeout`]. Ask it: [`Node::get_peers`], [`Node::announce`].
//! 3. Drain it: send every [`Node::poll_transmit`] datagram to its address (the driver must;
//!    a dropped one is a lost query), and observe every [`Node::poll_event`] (peers found,
//!    lookups and announces done, the own id changed).
//!
//! What it does on its own: answers ping, find_node, get_peers (with BEP 33 scrapes),
//! announce_peer (tokens bound to the asker's IP) and sample_infohashes (BEP 51); refuses
//! queries over the per-IP rate limit and never answers an answer; bootstraps while its tables
//! are empty; refreshes idle buckets and pings questionable nodes; changes its id when peers
//! agree on an external address its id does not fit (BEP 42). Its own lookups read its own store
//! first, so two nodes alone can meet (libtorrent's cannot). Every drop has a counter.

mod answer;
mod client;
mod config;
mod stats;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, SplitMix64};

use crate::id::{NodeId, NodeInfo};
use crate::krpc::{Body, Message};
use crate::lookup::LookupStats;
use crate::persist::SavedTable;
use crate::rate::RateLimiter;
use crate::routing::{Family, RoutingTable};
use crate::store::PeerStore;
use crate::tokens::Tokens;

use client::{Pending, Running};
pub use config::NodeConfig;
pub use stats::{Drops, NodeStats};

/// How often the node looks after its tables, tokens and store.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(5);

/// A lookup the caller started, as events name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// What the node tells its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// Peers of `info_hash` found by lookup `id` (each reported once per lookup; the own
    /// store's peers come first).
    Peers {
        /// The lookup.
        id: LookupId,
        /// The torrent.
        info_hash: InfoHashV1,
        /// New peers.
        peers: Vec<SocketAddr>,
    },
    /// Lookup `id` ended; for an announce, `announced_to` nodes were sent announce_peer.
    LookupDone {
        /// The lookup.
        id: LookupId,
        /// The torrent.
        info_hash: InfoHashV1,
        /// Peers found in all.
        peers: usize,
        /// Nodes announced to (0 for a plain get_peers).
        announced_to: usize,
        /// What it cost.
        stats: LookupStats,
        /// Where it ended: the closest nodes that answered (up to the lookup's `k`, closest
        /// first, only answers it trusts under BEP 42), those an announce went to. A caller can
        /// check a lookup against the nodes it should have found.
        closest: Vec<NodeInfo>,
    },
    /// The own id changed to fit the external address peers report (BEP 42).
    IdChanged {
        /// The new id.
        id: NodeId,
        /// The external address it fits.
        external: IpAddr,
    },
}

/// The DHT node; see the module docs.
pub struct Node {
    config: NodeConfig,
    rng: SplitMix64,
    id: NodeId,
    table4: RoutingTable,
    table6: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    rate: RateLimiter,
    /// Queries in flight by transaction id. Ordered maps here and in `lookups`: the node
    /// walks them to expire queries and to send lookups' queries, and a hash order would
    /// make a seeded simulation differ from run to run.
    pending: BTreeMap<u16, Pending>,
    next_tid: u16,
    lookups: BTreeMap<LookupId, Running>,
    next_lookup: u64,
    /// The lookup of our own id that joins us to our neighbourhood, while it runs.
    join_lookup: Option<LookupId>,
    transmit: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<NodeEvent>,
    stats: NodeStats,
    routers: Vec<SocketAddr>,
    next_bootstrap: Instant,
    next_maintenance: Instant,
    /// External addresses reported by answering nodes (`ip`): (reporter, reported).
    votes: VecDeque<(IpAddr, IpAddr)>,
    /// The public address answering nodes agreed on, once they have.
    external: Option<IpAddr>,
    /// The owner's own torrents (announced through this node): our peer's port (`None`: the
    /// DHT socket's) and seed flag, given in get_peers answers beside the stored peers.
    own: BTreeMap<InfoHashV1, (Option<u16>, bool)>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("nodes4", &self.table4.len())
            .field("nodes6", &self.table6.len())
            .field("lookups", &self.lookups.len())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node with `config`, its randomness from `seed`; `saved` (the last run's
    /// [`Node::save`]) gives it its old id and its nodes as first candidates.
    pub fn new(
        mut config: NodeConfig,
        now: Instant,
        seed: u64,
        saved: Option<&SavedTable>,
    ) -> Node {
        // Transaction ids are two bytes: one must stay free for the next query.
        config.max_pending = config.max_pending.min(usize::from(u16::MAX));
        let mut rng = SplitMix64::new(seed);
        let id = saved
            .map(|s| s.id)
            .or(config.id)
            .unwrap_or_else(|| NodeId::random(&mut rng));
        let mut table4 = RoutingTable::new(id, Family::V4, config.routing.clone(), now);
        let mut table6 = RoutingTable::new(id, Family::V6, config.routing.clone(), now);
        if let Some(saved) = saved {
            saved.restore_into(now, &mut table4);
            saved.restore_into(now, &mut table6);
        }
        let tokens = Tokens::new(now, &mut rng);
        Node {
            store: PeerStore::new(config.store.clone(), now),
            rate: RateLimiter::new(config.rate.clone(), now),
            config,
            rng,
            id,
            table4,
            table6,
            tokens,
            pending: BTreeMap::new(),
            next_tid: 0,
            lookups: BTreeMap::new(),
            next_lookup: 1,
            join_lookup: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            stats: NodeStats::default(),
            routers: Vec::new(),
            next_bootstrap: now,
            next_maintenance: now,
            votes: VecDeque::new(),
            external: None,
            own: BTreeMap::new(),
        }
    }

    /// The own id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Routers (or any nodes) to ask for the first nodes, now and whenever the tables are
    /// empty again. The first answer starts a lookup of our own id (BEP 5), which finds our
    /// neighbours and makes us known to them; with a saved table, that lookup starts at once.
    pub fn bootstrap(&mut self, now: Instant, routers: impl IntoIterator<Item = SocketAddr>) {
        self.routers = routers.into_iter().collect();
        self.next_bootstrap = now;
        self.maintain(now);
        if !(self.table4.is_empty() && self.table6.is_empty()) {
            self.start_join_lookup(now);
            self.drive_lookups(now);
        }
    }

    /// Starts a get_peers lookup of `info_hash`; peers arrive as [`NodeEvent::Peers`].
    pub fn get_peers(&mut self, now: Instant, info_hash: InfoHashV1) -> LookupId {
        self.start_lookup(now, info_hash, None)
    }

    /// Starts a get_peers lookup of `info_hash` that ends by announcing to the closest nodes
    /// that gave tokens: our peer on `port` (`None`: the port the DHT's datagrams come from,
    /// BEP 5 `implied_port`), as a seed if `seed` (BEP 33). Peers found are reported too.
    ///
    /// From then on (until [`withdraw`](Self::withdraw)) the node also answers get_peers for
    /// `info_hash` with its own peer first (when it knows its address:
    /// [`own_addr`](Self::own_addr)), so a node that asks it directly finds it: a client whose
    /// only DHT contact is this node (libtorrent does not read its own store) still meets us.
    /// The own peer is kept apart from the store, where an announce from the same IP would
    /// replace it.
    pub fn announce(
        &mut self,
        now: Instant,
        info_hash: InfoHashV1,
        port: Option<u16>,
        seed: bool,
    ) -> LookupId {
        self.own.insert(info_hash, (port, seed));
        self.start_lookup(now, info_hash, Some((port, seed)))
    }

    /// Stops giving our own peer for `info_hash` (the owner no longer serves it).
    pub fn withdraw(&mut self, info_hash: &InfoHashV1) {
        self.own.remove(info_hash);
    }

    /// Where other nodes reach this one: the operator's [`NodeConfig::public_ip`], else the
    /// public address answering nodes agreed on (BEP 42 `ip`), else the socket's address
    /// ([`NodeConfig::local_addr`]) when it names an IP;
    /// `None` while neither is known. The port is always the local one.
    pub fn own_addr(&self) -> Option<SocketAddr> {
        let local = self.config.local_addr?;
        let same_family = |ip: &IpAddr| ip.is_ipv4() == local.is_ipv4();
        let ip = self
            .config
            .public_ip
            .filter(same_family)
            .or(self.external.filter(same_family))
            .unwrap_or(local.ip());
        (!ip.is_unspecified()).then_some(SocketAddr::new(ip, local.port()))
    }

    /// Answers or uses one datagram from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let message = match Message::decode(datagram, &self.config.krpc) {
            Ok(message) => message,
            Err(error) => {
                self.stats.drops.count_decode(&error);
                // Only a malformed query has a reply (203), and only where a query would.
                if let Some(reply) = error.reply() {
                    if self.may_answer(now, from) {
                        self.reply(from, reply, datagram.len());
                    }
                }
                return;
            }
        };
        match message.body {
            Body::Query(query) => {
                self.stats.queries_received += 1;
                if !self.may_answer(now, from) {
                    return;
                }
                self.answer(
                    now,
                    from,
                    message.transaction_id,
                    datagram.len(),
                    message.read_only,
                    query,
                );
            }
            Body::Response(response) => self.handle_answer(
                now,
                from,
                &message.transaction_id,
                message.requester_ip,
                message.read_only,
                Ok(response),
            ),
            Body::Error { code, .. } => self.handle_answer(
                now,
                from,
                &message.transaction_id,
                message.requester_ip,
                message.read_only,
                Err(code),
            ),
        }
        self.drive_lookups(now);
    }

    /// The next datagram to send, and where.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmit.pop_front()
    }

    /// The next event for the owner.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queries = self
            .pending
            .values()
            .map(|p| p.sent + self.config.query_timeout)
            .min();
        let lookups = self
            .lookups
            .values()
            .filter_map(|r| r.lookup.poll_timeout())
            .min();
        [Some(self.next_maintenance), queries, lookups]
            .into_iter()
            .flatten()
            .min()
    }

    /// Expires queries, moves lookups past slow nodes, and looks after the tables, tokens and
    /// store when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_queries(now);
        for running in self.lookups.values_mut() {
            running.lookup.handle_timeout(now);
        }
        if now >= self.next_maintenance {
            self.maintain(now);
        }
        self.drive_lookups(now);
    }

    /// The table to save for the next run (own id and good nodes).
    pub fn save(&self, now: Instant) -> SavedTable {
        SavedTable::from_tables(now, self.id, &[&self.table4, &self.table6])
    }

    /// The figures so far.
    pub fn stats(&self, now: Instant) -> NodeStats {
        let mut stats = self.stats;
        stats.table4 = self.table4.health(now);
        stats.table6 = self.table6.health(now);
        stats.stored_peers = self.store.len() as u64;
        stats.stored_info_hashes = self.store.info_hashes() as u64;
        stats.own_torrents = self.own.len() as u64;
        stats.lookups_running = self.lookups.len() as u64;
        stats.rate = self.rate.stats();
        stats
    }

    /// Whether a query from `from` may be answered: never in read-only mode (BEP 43), and only
    /// within the per-IP rate limit; a refusal is counted.
    fn may_answer(&mut self, now: Instant, from: SocketAddr) -> bool {
        if self.config.read_only {
            self.stats.drops.read_only += 1;
            false
        } else if !self.rate.check(now, from.ip()) {
            self.stats.drops.rate_limited += 1;
            false
        } else {
            true
        }
    }

    /// The table of `family`.
    fn table(&mut self, family: Family) -> &mut RoutingTable {
        match family {
            Family::V4 => &mut self.table4,
            Family::V6 => &mut self.table6,
        }
    }

    /// Whether the node speaks `family` (has a socket for it).
    fn speaks(&self, addr: &SocketAddr) -> bool {
        match Family::of(addr) {
            Family::V4 => self.config.ipv4,
            Family::V6 => self.config.ipv6,
        }
    }

    /// Encodes `message` for `to`.
    fn send(&mut self, to: SocketAddr, message: &Message) {
        let mut out = Vec::with_capacity(256);
        message.encode(&mut out);
        self.stats.sent_bytes += out.len() as u64;
        self.transmit.push_back((to, out));
    }

    /// Bootstrap when the tables are empty, refresh idle buckets, ping questionable nodes,
    /// rotate tokens, expire stored peers and forget idle rate-limit entries.
    fn maintain(&mut self, now: Instant) {
        self.next_maintenance = now + MAINTENANCE_EVERY;
        self.tokens.handle_timeout(now, &mut self.rng);
        self.store.expire(now);
        self.rate.purge(now);
        let empty = self.table4.is_empty() && self.table6.is_empty();
        if empty && now >= self.next_bootstrap && !self.routers.is_empty() {
            self.next_bootstrap = now + self.config.bootstrap_retry;
            let routers: Vec<SocketAddr> = self
                .routers
                .iter()
                .copied()
                .filter(|r| self.speaks(r))
                .collect();
            for router in routers {
                self.query_bootstrap(now, router, None);
            }
            self.stats.bootstraps += 1;
        }
        for family in [Family::V4, Family::V6] {
            let enabled = match family {
                Family::V4 => self.config.ipv4,
                Family::V6 => self.config.ipv6,
            };
            if !enabled {
                continue;
            }
            let mut rng = SplitMix64::new(self.rng.next_u64());
            let targets = self.table(family).refresh_due(now, &mut rng);
            for target in targets {
                self.start_refresh(now, target);
            }
            for node in self.table(family).pings_due(now) {
                self.query_ping(now, node);
            }
        }
    }
}

#[cfg(test)]
mod join_tests;
#[cfg(test)]
mod tests;
