//! Answering queries (BEP 5 ping, find_node, get_peers, announce_peer; BEP 32 `want`; BEP 33
//! scrapes; BEP 51 sample_infohashes), and keeping answers small.
//!
//! Every answer carries the asker's address as `ip` (BEP 42: how a node learns its external
//! address). Nodes are given in the families the asker wants (BEP 32), by default its own. An
//! answer, an error included, is at most `answer_factor` times its query and never over
//! `max_answer_len`: values go first, then IPv6 nodes, then the blooms, then the envelope's
//! extras; an answer that still does not fit is not sent, so a spoofed query cannot be turned
//! into a flood whatever the configuration. The asker is then offered to the routing table
//! (never a read-only one, BEP 43), and a newcomer to the table is pinged back, so that it
//! becomes good once it answers.

use std::net::SocketAddr;
use std::time::Instant;

use swarmgate_core::InfoHashV1;

use crate::id::{NodeId, NodeInfo};
use crate::krpc::{
    Body, ERROR_METHOD_UNKNOWN, ERROR_PROTOCOL, Message, Method, Query, Response, Want,
};
use crate::routing::{Family, Insertion, K};

use super::Node;

impl Node {
    /// Answers `query` (`query_len` bytes) from `from`.
    pub(super) fn answer(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transaction_id: Vec<u8>,
        query_len: usize,
        read_only: bool,
        query: Query,
    ) {
        let family = Family::of(&from);
        let mut response = Response::new(self.id);
        match query.method {
            Method::Ping => {}
            Method::FindNode { target, want } => {
                self.fill_nodes(now, &mut response, &target, want, from);
            }
            Method::GetPeers {
                info_hash,
                want,
                scrape,
                noseed,
            } => {
                response.token = Some(self.tokens.issue(from.ip()).to_vec());
                let max = self.config.max_values;
                let mut values = Vec::with_capacity(max.min(64));
                if let Some(own) = self.own_peer(&info_hash, family, noseed) {
                    values.push(own);
                }
                let stored = self
                    .store
                    .get(now, &info_hash.0, family, max, noseed, &mut self.rng);
                for peer in stored {
                    if values.len() < max.max(1) && !values.contains(&peer) {
                        values.push(peer);
                    }
                }
                response.values = values;
                if scrape {
                    let (seeds, peers) = self.store.blooms(now, &info_hash.0);
                    response.seeds_bloom = Some(Box::new(*seeds.as_bytes()));
                    response.peers_bloom = Some(Box::new(*peers.as_bytes()));
                }
                self.fill_nodes(now, &mut response, &NodeId(info_hash.0), want, from);
            }
            Method::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
                seed,
            } => {
                if !self.tokens.is_valid(now, from.ip(), &token) {
                    self.stats.announces_bad_token += 1;
                    let error = Message::error(transaction_id, ERROR_PROTOCOL, "invalid token");
                    self.reply(from, error, query_len);
                    return;
                }
                let port = if implied_port { from.port() } else { port };
                if port == 0 {
                    let error = Message::error(transaction_id, ERROR_PROTOCOL, "port 0");
                    self.reply(from, error, query_len);
                    return;
                }
                let peer = SocketAddr::new(from.ip().to_canonical(), port);
                self.store.announce(now, info_hash.0, peer, seed);
                self.stats.announces_stored += 1;
            }
            Method::SampleInfohashes { target, want } => {
                let (samples, num) = self.store.sample(&mut self.rng, self.config.max_samples);
                response.samples = Some(samples);
                response.num = Some(u32::try_from(num).unwrap_or(u32::MAX));
                response.interval = Some(self.config.sample_interval);
                self.fill_nodes(now, &mut response, &target, want, from);
            }
            Method::Unknown { .. } => {
                let error = Message::error(transaction_id, ERROR_METHOD_UNKNOWN, "method unknown");
                self.reply(from, error, query_len);
                self.table(family).queried_by(
                    now,
                    NodeInfo {
                        id: query.id,
                        addr: from,
                    },
                    read_only,
                );
                return;
            }
        }
        let mut message = Message::response(transaction_id, response);
        message.requester_ip = Some(from);
        message.version = self.config.version.clone();
        if self.send_within(from, message, query_len) {
            self.stats.answers_sent += 1;
        }
        let asker = NodeInfo {
            id: query.id,
            addr: from,
        };
        if self.table(family).queried_by(now, asker, read_only) == Insertion::Added {
            // A node new to the table stays questionable until it answers us, and answers
            // hand out good nodes only (BEP 5): ask it back, so a newcomer that queried its
            // neighbourhood is handed out by its neighbours from now on.
            self.query_ping(now, asker);
        }
    }

    /// Our own peer for `info_hash` in `family`, if the owner announced it through this node,
    /// we know our address, and the asker did not ask for no seeds while we seed (BEP 33).
    fn own_peer(&self, info_hash: &InfoHashV1, family: Family, noseed: bool) -> Option<SocketAddr> {
        let &(port, seed) = self.own.get(info_hash)?;
        let own = self.own_addr()?;
        if Family::of(&own) != family || (noseed && seed) {
            return None;
        }
        Some(SocketAddr::new(own.ip(), port.unwrap_or(own.port())))
    }

    /// The closest nodes to `target` in the families wanted (BEP 32; by default the asker's).
    fn fill_nodes(
        &mut self,
        now: Instant,
        response: &mut Response,
        target: &NodeId,
        want: Option<Want>,
        asker: SocketAddr,
    ) {
        let family = Family::of(&asker);
        let want = want.unwrap_or(Want {
            v4: family == Family::V4,
            v6: family == Family::V6,
        });
        // The K closest, less the asker itself: a node handed its own address queries itself
        // (libtorrent does). Not topped up with a ninth: more, farther candidates only cost the
        // asker queries (the 10,000-node simulation's median rose from 20 to 21 with silent
        // nodes).
        let others = |mut nodes: Vec<NodeInfo>| {
            nodes.retain(|node| node.addr != asker);
            nodes
        };
        if want.v4 && self.config.ipv4 {
            response.nodes = others(self.table4.closest(now, target, K));
        }
        if want.v6 && self.config.ipv6 {
            response.nodes6 = others(self.table6.closest(now, target, K));
        }
    }

    /// Sends an error answering a `query_len`-byte query, with the asker's address and our
    /// version, within the amplification bound.
    pub(super) fn reply(&mut self, to: SocketAddr, mut message: Message, query_len: usize) {
        message.requester_ip = Some(to);
        message.version = self.config.version.clone();
        if self.send_within(to, message, query_len) {
            self.stats.errors_sent += 1;
        }
    }

    /// Sends `message`, the answer to a `query_len`-byte query, trimming it until it fits the
    /// amplification bound; an answer that cannot be made to fit is not sent (and counted).
    /// Whether it was sent.
    fn send_within(&mut self, to: SocketAddr, mut message: Message, query_len: usize) -> bool {
        let budget = query_len
            .saturating_mul(self.config.answer_factor)
            .min(self.config.max_answer_len);
        let mut out = Vec::with_capacity(512);
        loop {
            out.clear();
            message.encode(&mut out);
            if out.len() <= budget {
                break;
            }
            if !trim(&mut message) {
                self.stats.drops.oversized_answers += 1;
                return false;
            }
            self.stats.drops.trimmed_answers += 1;
        }
        self.stats.sent_bytes += out.len() as u64;
        self.transmit.push_back((to, out));
        true
    }
}

/// Takes the least needed part off an answer; `false` when nothing is left to take. The body
/// goes first (all but one value, the IPv6 nodes, the blooms, all but one node, the samples),
/// then the envelope's `v` and `ip`, then the last node and value, then an error's text.
fn trim(message: &mut Message) -> bool {
    if let Body::Response(response) = &mut message.body {
        if trim_response(response) {
            return true;
        }
    }
    if message.version.is_some() {
        message.version = None;
        return true;
    }
    if message.requester_ip.is_some() {
        message.requester_ip = None;
        return true;
    }
    match &mut message.body {
        Body::Response(response) if !response.nodes.is_empty() => response.nodes.clear(),
        Body::Response(response) if !response.values.is_empty() => response.values.clear(),
        Body::Error { message: text, .. } if !text.is_empty() => text.clear(),
        _ => return false,
    }
    true
}

/// The body's part of [`trim`], before the envelope is touched.
fn trim_response(response: &mut Response) -> bool {
    if response.values.len() > 1 {
        let keep = response.values.len() / 2;
        response.values.truncate(keep);
    } else if !response.nodes6.is_empty() {
        response.nodes6.clear();
    } else if response.seeds_bloom.is_some() || response.peers_bloom.is_some() {
        response.seeds_bloom = None;
        response.peers_bloom = None;
    } else if response.nodes.len() > 1 {
        let keep = response.nodes.len() / 2;
        response.nodes.truncate(keep);
    } else if let Some(samples) = response.samples.as_mut().filter(|s| !s.is_empty()) {
        let keep = samples.len() / 2;
        samples.truncate(keep);
    } else {
        return false;
    }
    true
}
