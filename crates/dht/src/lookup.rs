//! One iterative Kademlia lookup (BEP 5 `find_node` / `get_peers`): which node to ask next,
//! when to stop, and what it found; sans-IO, the node machine sends the queries.
//!
//! Call order: [`Lookup::new`] with the closest nodes the table knows; then, repeatedly, send a
//! query to each node [`Lookup::next_queries`] gives; feed every answer to
//! [`Lookup::handle_response`], every error or lost query to [`Lookup::handle_failure`], and
//! call [`Lookup::handle_timeout`] at [`Lookup::poll_timeout`]; stop when
//! [`Lookup::is_done`]. [`Lookup::peers`] and [`Lookup::closest`] are the result (the latter
//! with the tokens an announce needs).
//!
//! How it keeps moving (libtorrent's ideas): `alpha` queries are in flight at once; a query
//! that has not answered within the short timeout no longer counts as in flight, so a slow or
//! dead node gets a replacement at once instead of holding a slot until its full timeout (it may
//! still answer, and its answer is used). The lookup ends when the `k` closest nodes it knows
//! that have not failed have all answered and nothing closer is still in flight.
//!
//! Which nodes, and how many at once (libtorrent's `add_requests`, in its default "aggressive"
//! mode): only the `k` closest candidates that could still end the lookup count, those
//! answered, asked within the short timeout, or fresh. Queries go only to fresh nodes among
//! them: without that bound, every slot freed while a dead node in the lead ran to its full
//! timeout went to a node too far away to matter. And a query in flight holds one of the
//! `alpha` slots only while its node is among them: once answers have shown closer nodes, the
//! next step need not wait for a far node's answer. `alpha` is 4: in the deterministic
//! simulation of 10,000 nodes (`examples/dht_sim.rs`, figures in docs/PERFORMANCE.md), the
//! smallest that brings the median first peer under 400 ms with 20 % of the nodes silent, and
//! the largest that keeps the median lookup within 20 queries.
//!
//! A node whose
//! answer cannot be trusted (its id breaks BEP 42 where the node enforces it) still supplies
//! nodes and peers, but neither a token nor a place among the `k` that end the lookup.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::id::{Distance, NodeId, NodeInfo};

/// How a lookup runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupConfig {
    /// Queries in flight at once (not counting those past the short timeout, nor those to
    /// nodes no longer among the `k` closest that could end the lookup).
    pub alpha: usize,
    /// How many closest nodes must answer before the lookup ends (BEP 5's K).
    pub k: usize,
    /// After this, a query no longer holds its slot: a replacement goes out.
    pub short_timeout: Duration,
    /// After this, a query has failed.
    pub timeout: Duration,
    /// Candidates kept, closest first; farther ones are forgotten.
    pub max_candidates: usize,
}

impl Default for LookupConfig {
    /// 4 in flight, K = 8, a replacement after 1 s, failure after 4 s, 128 candidates.
    fn default() -> Self {
        Self {
            alpha: 4,
            k: 8,
            short_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(4),
            max_candidates: 128,
        }
    }
}

/// Where one candidate is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Known, not asked yet.
    Fresh,
    /// Asked at `sent`; `slow` once past the short timeout.
    Asked { sent: Instant, slow: bool },
    /// Answered; `token` for an announce, `trusted` when it may end the lookup.
    Answered {
        token: Option<Vec<u8>>,
        trusted: bool,
    },
    /// Failed to answer, or answered with an error.
    Failed,
}

#[derive(Clone, Debug)]
struct Candidate {
    node: NodeInfo,
    state: State,
    /// The hop at which it was learned: 1 for the starting nodes.
    depth: u32,
}

/// A node that answered, closest first, as [`Lookup::closest`] gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    /// The node.
    pub node: NodeInfo,
    /// The announce token it gave (get_peers), if any.
    pub token: Option<Vec<u8>>,
}

/// What a lookup cost, for statistics and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LookupStats {
    /// Queries sent.
    pub queries: u32,
    /// Answers received.
    pub answers: u32,
    /// Queries that failed (timed out or errored).
    pub failures: u32,
    /// The deepest hop queried: how many rounds the lookup took.
    pub rounds: u32,
}

/// One lookup; see the module docs.
#[derive(Debug)]
pub struct Lookup {
    target: NodeId,
    config: LookupConfig,
    candidates: BTreeMap<Distance, Candidate>,
    peers: Vec<SocketAddr>,
    seen_peers: HashSet<SocketAddr>,
    stats: LookupStats,
    started: Instant,
}

impl Lookup {
    /// A lookup of `target` starting from `start` (the closest nodes the routing table holds).
    pub fn new(
        now: Instant,
        target: NodeId,
        start: impl IntoIterator<Item = NodeInfo>,
        config: LookupConfig,
    ) -> Lookup {
        let mut lookup = Lookup {
            target,
            config,
            candidates: BTreeMap::new(),
            peers: Vec::new(),
            seen_peers: HashSet::new(),
            stats: LookupStats::default(),
            started: now,
        };
        for node in start {
            lookup.add_candidate(node, 1);
        }
        lookup
    }

    /// The target.
    pub fn target(&self) -> NodeId {
        self.target
    }

    /// When the lookup started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The nodes to query now (each exactly once): the closest fresh candidates among the `k`
    /// closest that could still end the lookup, as many as there are free slots (see the
    /// module docs).
    #[must_use]
    pub fn next_queries(&mut self, now: Instant) -> Vec<NodeInfo> {
        // A query in flight holds a slot only while its node is among those `k`.
        let mut places = self.config.k;
        let mut busy = 0;
        for candidate in self.candidates.values() {
            if places == 0 {
                break;
            }
            match candidate.state {
                State::Asked { slow: false, .. } => {
                    busy += 1;
                    places -= 1;
                }
                State::Fresh | State::Answered { trusted: true, .. } => places -= 1,
                State::Answered { trusted: false, .. }
                | State::Asked { slow: true, .. }
                | State::Failed => {}
            }
        }
        let free = self.config.alpha.saturating_sub(busy);
        if free == 0 || self.is_done() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(free);
        let mut places = self.config.k;
        for candidate in self.candidates.values_mut() {
            if out.len() == free || places == 0 {
                break;
            }
            match candidate.state {
                State::Fresh => {
                    candidate.state = State::Asked {
                        sent: now,
                        slow: false,
                    };
                    self.stats.queries += 1;
                    self.stats.rounds = self.stats.rounds.max(candidate.depth);
                    out.push(candidate.node);
                    places -= 1;
                }
                State::Answered { trusted: true, .. } | State::Asked { slow: false, .. } => {
                    places -= 1;
                }
                State::Answered { trusted: false, .. }
                | State::Asked { slow: true, .. }
                | State::Failed => {}
            }
        }
        out
    }

    /// `from` answered: the nodes it knows closer to the target, the peers it has, and its
    /// token. `trusted` is false for an answer the node does not trust (see the module docs).
    /// An answer from a node that was not asked is ignored.
    pub fn handle_response(
        &mut self,
        from: &NodeInfo,
        nodes: &[NodeInfo],
        values: &[SocketAddr],
        token: Option<Vec<u8>>,
        trusted: bool,
    ) {
        let key = from.id.distance(&self.target);
        let Some(candidate) = self.candidates.get_mut(&key) else {
            return;
        };
        if candidate.node.addr != from.addr || !matches!(candidate.state, State::Asked { .. }) {
            return;
        }
        let depth = candidate.depth;
        candidate.state = State::Answered {
            token: token.filter(|_| trusted),
            trusted,
        };
        self.stats.answers += 1;
        for value in values {
            if self.seen_peers.insert(*value) {
                self.peers.push(*value);
            }
        }
        for node in nodes {
            self.add_candidate(*node, depth + 1);
        }
    }

    /// Peers known before any answer (the asking node's own store): counted as found, so an
    /// answer that repeats them adds nothing.
    pub fn add_peers(&mut self, peers: &[SocketAddr]) {
        for peer in peers {
            if self.seen_peers.insert(*peer) {
                self.peers.push(*peer);
            }
        }
    }

    /// `node`'s query failed (an error answer, or the caller gave up on it).
    pub fn handle_failure(&mut self, node: &NodeInfo) {
        let key = node.id.distance(&self.target);
        if let Some(candidate) = self.candidates.get_mut(&key) {
            if candidate.node.addr == node.addr && matches!(candidate.state, State::Asked { .. }) {
                candidate.state = State::Failed;
                self.stats.failures += 1;
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work: the next short or full timeout
    /// of a query in flight.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.candidates
            .values()
            .filter_map(|c| match c.state {
                State::Asked { sent, slow: false } => Some(sent + self.config.short_timeout),
                State::Asked { sent, slow: true } => Some(sent + self.config.timeout),
                _ => None,
            })
            .min()
    }

    /// Marks queries past the short timeout as slow (their slot is free) and those past the
    /// full timeout as failed.
    pub fn handle_timeout(&mut self, now: Instant) {
        for candidate in self.candidates.values_mut() {
            if let State::Asked { sent, slow } = candidate.state {
                if now >= sent + self.config.timeout {
                    candidate.state = State::Failed;
                    self.stats.failures += 1;
                } else if !slow && now >= sent + self.config.short_timeout {
                    candidate.state = State::Asked { sent, slow: true };
                }
            }
        }
    }

    /// Whether the lookup is over: the `k` closest candidates that have not failed have all
    /// answered (trusted), or nothing is left to ask and nothing is in flight.
    pub fn is_done(&self) -> bool {
        let mut answered = 0;
        for candidate in self.candidates.values() {
            match &candidate.state {
                State::Failed | State::Answered { trusted: false, .. } => continue,
                State::Answered { trusted: true, .. } => {
                    answered += 1;
                    if answered == self.config.k {
                        return true;
                    }
                }
                State::Fresh | State::Asked { .. } => return false,
            }
        }
        true
    }

    /// The peers found so far, in the order they came, each once.
    pub fn peers(&self) -> &[SocketAddr] {
        &self.peers
    }

    /// Up to `k` closest trusted nodes that answered, closest first, with their tokens.
    pub fn closest(&self) -> Vec<Answered> {
        self.candidates
            .values()
            .filter_map(|c| match &c.state {
                State::Answered {
                    token,
                    trusted: true,
                } => Some(Answered {
                    node: c.node,
                    token: token.clone(),
                }),
                _ => None,
            })
            .take(self.config.k)
            .collect()
    }

    /// What the lookup cost so far.
    pub fn stats(&self) -> LookupStats {
        self.stats
    }

    fn add_candidate(&mut self, node: NodeInfo, depth: u32) {
        let key = node.id.distance(&self.target);
        if self.candidates.contains_key(&key) {
            return;
        }
        if self.candidates.len() >= self.config.max_candidates {
            match self.candidates.last_key_value() {
                Some((farthest, c)) if *farthest > key && c.state == State::Fresh => {
                    let farthest = *farthest;
                    self.candidates.remove(&farthest);
                }
                _ => return,
            }
        }
        self.candidates.insert(
            key,
            Candidate {
                node,
                state: State::Fresh,
                depth,
            },
        );
    }
}

#[cfg(test)]
mod tests;
