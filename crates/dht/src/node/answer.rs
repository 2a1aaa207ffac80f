//! Answering queries (BEP 5 ping, find_node, get_peers, announce_peer; BEP 32 `want`; BEP 33
//! scrapes; BEP 51 sample_infohashes), and keeping answers small.
//!
//! Every answer carries the asker's address as `ip` (BEP 42: how a node learns its external
//! address). Nodes are given in the families the asker wants (BEP 32), by default its own. An
//! answer is at most `answer_factor` times its query and never over `max_answer_len`: values go
//! first, then IPv6 nodes, then the blooms, so a spoofed query cannot be turned into a flood.
//! The asker is then offered to the routing table (never a read-only one, BEP 43), and a
//! newcomer to the table is pinged back, so that it becomes good once it answers.

use std::net::SocketAddr;
use std::time::Instant;

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
        self.stats.queries_received += 1;
        let family = Family::of(&from);
        let mut response = Response::new(self.id);
        match query.method {
            Method::Ping => {}
            Method::FindNode { target, want } => {
                self.fill_nodes(now, &mut response, &target, want, family);
            }
            Method::GetPeers {
                info_hash,
                want,
                scrape,
                noseed,
            } => {
                response.token = Some(self.tokens.issue(from.ip()).to_vec());
                let max = self.config.max_values;
                response.values =
                    self.store
                        .get(now, &info_hash.0, family, max, noseed, &mut self.rng);
                if scrape {
                    let (seeds, peers) = self.store.blooms(now, &info_hash.0);
                    response.seeds_bloom = Some(Box::new(*seeds.as_bytes()));
                    response.peers_bloom = Some(Box::new(*peers.as_bytes()));
                }
                self.fill_nodes(now, &mut response, &NodeId(info_hash.0), want, family);
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
                    self.reply(from, error);
                    return;
                }
                let port = if implied_port { from.port() } else { port };
                if port == 0 {
                    let error = Message::error(transaction_id, ERROR_PROTOCOL, "port 0");
                    self.reply(from, error);
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
                self.fill_nodes(now, &mut response, &target, want, family);
            }
            Method::Unknown { .. } => {
                let error = Message::error(transaction_id, ERROR_METHOD_UNKNOWN, "method unknown");
                self.reply(from, error);
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
        let budget = (query_len * self.config.answer_factor).min(self.config.max_answer_len);
        let mut message = Message::response(transaction_id, response);
        message.requester_ip = Some(from);
        message.version = self.config.version.clone();
        self.send_within(from, message, budget);
        self.stats.answers_sent += 1;
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

    /// The closest nodes to `target` in the families wanted (BEP 32; by default the asker's).
    fn fill_nodes(
        &mut self,
        now: Instant,
        response: &mut Response,
        target: &NodeId,
        want: Option<Want>,
        asker: Family,
    ) {
        let want = want.unwrap_or(Want {
            v4: asker == Family::V4,
            v6: asker == Family::V6,
        });
        if want.v4 && self.config.ipv4 {
            response.nodes = self.table4.closest(now, target, K);
        }
        if want.v6 && self.config.ipv6 {
            response.nodes6 = self.table6.closest(now, target, K);
        }
    }

    /// Sends an error (or any message) with the asker's address and our version.
    fn reply(&mut self, to: SocketAddr, mut message: Message) {
        message.requester_ip = Some(to);
        message.version = self.config.version.clone();
        self.stats.errors_sent += 1;
        self.send(to, &message);
    }

    /// Sends `message`, trimming its answer until it fits `budget` bytes.
    fn send_within(&mut self, to: SocketAddr, mut message: Message, budget: usize) {
        let mut out = Vec::with_capacity(512);
        loop {
            out.clear();
            message.encode(&mut out);
            if out.len() <= budget || !trim(&mut message) {
                break;
            }
            self.stats.drops.trimmed_answers += 1;
        }
        self.stats.sent_bytes += out.len() as u64;
        self.transmit.push_back((to, out));
    }
}

/// Takes the least needed part off an answer; `false` when nothing is left to take.
fn trim(message: &mut Message) -> bool {
    let Body::Response(response) = &mut message.body else {
        return false;
    };
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
