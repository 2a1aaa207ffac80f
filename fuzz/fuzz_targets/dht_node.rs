//! Fuzzes swarmgate-dht's `Node` (issue 13): the input configures one node (families,
//! read-only mode, BEP 42, the amplification factor, small bounds) and is then read as a
//! sequence of operations on it: raw and well-formed datagrams from a handful of IPv4 and IPv6
//! sources (one of them always read-only), answers and errors to the queries the node sent (from
//! the right address or not), time passing the way a driver passes it, get_peers and announce
//! calls, bootstraps, and restarts through the saved table's bytes (its own, or the input's).
//!
//! After every step, with every datagram and event drained: nothing panicked; every datagram
//! the node sends decodes; an answer (a response or an error) goes only to a query's sender,
//! once, never in read-only mode, never to an answer, echoing the transaction id, within
//! `answer_factor` times the query and `max_answer_len`; every datagram is counted somewhere;
//! queries in flight, lookups, the store and the tables stay within their bounds; counters only
//! grow; the saved table holds no node that breaks BEP 42, our own id or a read-only node; events
//! name only lookups that were started, each ended once.

#![no_main]

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use swarmgate_core::{InfoHashV1, SplitMix64};
use swarmgate_dht::{
    Body, KrpcError, KrpcLimits, LookupId, Message, Method, Node, NodeConfig, NodeEvent, NodeId,
    NodeInfo, NodeStats, Response, SavedTable, Want,
};

/// The fuzz input, read front to back; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken.to_vec()
    }
    /// Up to `max - 1` bytes, the count read first.
    fn chunk(&mut self, max: u8) -> Vec<u8> {
        let len = self.byte() % max;
        self.bytes(usize::from(len))
    }
    fn id(&mut self) -> [u8; 20] {
        let mut id = [0; 20];
        id.iter_mut().for_each(|b| *b = self.byte());
        id
    }
}

/// The datagram sources: public and exempt IPv4 and IPv6 addresses, an IPv4-mapped one, two
/// sharing an IP, and (the last) one that always says `ro`.
const SOURCES: [&str; 9] = [
    "198.51.100.1:6881",
    "198.51.100.1:7000",
    "203.0.113.9:6881",
    "10.0.0.1:6881",
    "127.0.0.1:6881",
    "[2001:db8::1]:6881",
    "[2001:db8:0:1::2]:7000",
    "[::ffff:198.51.100.2]:6881",
    "198.51.100.3:6881",
];
const READ_ONLY: usize = 8;
const HASHES: [[u8; 20]; 3] = [[1; 20], [2; 20], [0xff; 20]];

struct Harness {
    config: NodeConfig,
    node: Node,
    now: Instant,
    seed: u64,
    sources: Vec<SocketAddr>,
    /// Queries the node sent, most recent last: (to, transaction id).
    asked: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Tokens the node handed out, by the IP they were given to.
    tokens: Vec<(IpAddr, Vec<u8>)>,
    started: HashSet<LookupId>,
    done: HashSet<LookupId>,
    last: NodeStats,
    /// The node's id when its output was last drained: a query encoded before a BEP 42 id
    /// change in the same step still carries it.
    drained_id: NodeId,
}

impl Harness {
    fn new(input: &mut Input<'_>) -> Harness {
        let flags = input.byte();
        let mut config = NodeConfig {
            ipv6: flags & 1 == 1,
            read_only: flags & 2 == 2,
            answer_factor: usize::from(input.byte() % 16) + 1,
            max_answer_len: usize::from(input.u16() % 1_437) + 64,
            max_pending: usize::from(input.byte() % 64) + 1,
            max_values: usize::from(input.byte() % 60),
            max_samples: usize::from(input.byte() % 30),
            ..NodeConfig::default()
        };
        config.routing.enforce_bep42 = flags & 4 == 0;
        config.routing.allow_local_duplicates = flags & 8 == 8;
        config.store.allow_local_duplicates = flags & 8 == 8;
        config.store.max_peers = usize::from(input.byte() % 64) + 1;
        config.store.max_peers_per_hash = usize::from(input.byte() % 16) + 1;
        config.rate.per_second = u32::from(input.byte() % 8);
        config.rate.burst = u32::from(input.byte() % 8) + 1;
        config.rate.max_tracked = usize::from(input.byte() % 16) + 1;
        let now = Instant::now();
        let seed = u64::from(input.byte());
        let node = Node::new(config.clone(), now, seed, None);
        Harness {
            drained_id: node.id(),
            node,
            config,
            now,
            seed,
            sources: SOURCES.iter().map(|s| s.parse().unwrap()).collect(),
            asked: VecDeque::new(),
            tokens: Vec::new(),
            started: HashSet::new(),
            done: HashSet::new(),
            last: NodeStats::default(),
        }
    }

    fn source(&self, input: &mut Input<'_>) -> (usize, SocketAddr) {
        let index = usize::from(input.byte()) % self.sources.len();
        (index, self.sources[index])
    }

    /// A node id: BEP 42 for `ip`, the node's own, or any.
    fn node_id(&self, input: &mut Input<'_>, ip: IpAddr) -> NodeId {
        match input.byte() % 4 {
            0 => NodeId::secure_for(ip, &mut SplitMix64::new(u64::from(input.byte()))),
            1 => self.node.id(),
            2 => NodeId(input.id()),
            _ => NodeId([input.byte(); 20]),
        }
    }

    fn step(&mut self, input: &mut Input<'_>) {
        match input.byte() % 12 {
            0 => {
                // Any bytes, from any source but the read-only one (which always says `ro`).
                let from = self.sources[usize::from(input.byte()) % READ_ONLY];
                let len = usize::from(input.u16() % 1_600);
                let datagram = input.bytes(len);
                self.deliver(from, &datagram);
            }
            1 => {
                let (index, from) = self.source(input);
                let mut query = self.query(input, from);
                query.read_only |= index == READ_ONLY;
                self.deliver(from, &encode(&query));
            }
            2 | 3 => self.answer(input),
            4 => {
                let target = self.now + Duration::from_millis(u64::from(input.u16()) * 20);
                self.run_until(target);
            }
            5 => {
                let hash = InfoHashV1(HASHES[usize::from(input.byte()) % HASHES.len()]);
                let id = self.node.get_peers(self.now, hash);
                assert!(self.started.insert(id), "a new lookup id");
            }
            6 => {
                let hash = InfoHashV1(HASHES[usize::from(input.byte()) % HASHES.len()]);
                let port = input.flag().then(|| input.u16());
                let id = self.node.announce(self.now, hash, port, input.flag());
                assert!(self.started.insert(id), "a new lookup id");
            }
            7 => {
                let saved = self.node.save(self.now);
                let back = SavedTable::decode(&saved.encode()).expect("a saved table reads back");
                assert_eq!(back, saved);
                self.restart(Some(&back));
            }
            8 => {
                let len = usize::from(input.byte());
                if let Ok(saved) = SavedTable::decode(&input.bytes(len)) {
                    self.restart(Some(&saved));
                }
            }
            9 => {
                let mask = input.byte();
                let routers: Vec<SocketAddr> = (0..self.sources.len())
                    .filter(|i| mask >> (i % 8) & 1 == 1)
                    .map(|i| self.sources[i])
                    .collect();
                self.node.bootstrap(self.now, routers);
            }
            10 => {
                // A flood: one query, many times, from one source or from ever-new IPs.
                let (index, from) = self.source(input);
                let mut query = self.query(input, from);
                query.read_only |= index == READ_ONLY;
                let bytes = encode(&query);
                let spread = input.flag();
                for n in 0..u32::from(input.byte()) {
                    let ip = Ipv4Addr::from(0xc612_0000 + n);
                    let from = if spread {
                        SocketAddr::from((ip, 6881))
                    } else {
                        from
                    };
                    self.deliver(from, &bytes);
                }
            }
            _ => {
                self.node.handle_timeout(self.now);
                self.drain(None);
            }
        }
        self.check();
    }

    /// A well-formed query from `from`, every method and envelope.
    fn query(&mut self, input: &mut Input<'_>, from: SocketAddr) -> Message {
        let tid_len = [0, 1, 2, 4, 32, 33][usize::from(input.byte()) % 6];
        let tid = input.bytes(tid_len);
        let id = self.node_id(input, from.ip());
        let want = match input.byte() % 4 {
            0 => None,
            w => Some(Want {
                v4: w & 1 == 1,
                v6: w & 2 == 2,
            }),
        };
        let info_hash = InfoHashV1(HASHES[usize::from(input.byte()) % HASHES.len()]);
        let method = match input.byte() % 6 {
            0 => Method::Ping,
            1 => Method::FindNode {
                target: NodeId(input.id()),
                want,
            },
            2 => Method::GetPeers {
                info_hash,
                want,
                scrape: input.flag(),
                noseed: input.flag(),
            },
            3 => {
                let token = match input.byte() % 3 {
                    0 => self.tokens.iter().rev().find(|(ip, _)| *ip == from.ip()),
                    1 => self.tokens.last(),
                    _ => None,
                };
                let token = match token {
                    Some((_, token)) => token.clone(),
                    None => input.chunk(12),
                };
                Method::AnnouncePeer {
                    info_hash,
                    port: input.u16(),
                    implied_port: input.flag(),
                    token,
                    seed: input.flag(),
                }
            }
            4 => Method::SampleInfohashes {
                target: NodeId(input.id()),
                want,
            },
            _ => Method::Unknown {
                name: [b"get".to_vec(), input.chunk(8)].concat(),
            },
        };
        let mut query = Message::query(tid, id, method);
        query.read_only = input.flag();
        if input.flag() {
            query.version = Some(input.chunk(64));
        }
        query
    }

    /// An answer or an error to a query the node sent: from its address, or another; with its
    /// transaction id, or another; well-formed, or with a byte changed.
    fn answer(&mut self, input: &mut Input<'_>) {
        if self.asked.is_empty() {
            return;
        }
        let (to, tid) = self.asked[usize::from(input.byte()) % self.asked.len()].clone();
        let (mut from, mut tid) = (to, tid);
        let tamper = input.byte() % 6;
        match tamper {
            1 => from = self.source(input).1,
            2 => from.set_port(from.port().wrapping_add(1)),
            3 => tid = input.chunk(4),
            _ => {}
        }
        let mut message = if input.byte() % 4 == 0 {
            Message::error(tid, i64::from(input.byte()), "no")
        } else {
            let mut response = Response::new(self.node_id(input, from.ip()));
            for _ in 0..input.byte() % 10 {
                let (_, addr) = self.source(input);
                let node = NodeInfo {
                    id: self.node_id(input, addr.ip()),
                    addr,
                };
                match addr {
                    SocketAddr::V4(_) => response.nodes.push(node),
                    SocketAddr::V6(_) => response.nodes6.push(node),
                }
            }
            for _ in 0..input.byte() % 8 {
                response.values.push(self.source(input).1);
            }
            if input.flag() {
                response.token = Some(input.chunk(12));
            }
            Message::response(tid, response)
        };
        let reporters = ["203.0.113.50:1", "203.0.113.51:1", "[2001:db8::99]:1"];
        if input.flag() {
            message.requester_ip = reporters[usize::from(input.byte()) % 3].parse().ok();
        }
        message.read_only = input.flag() || self.sources.get(READ_ONLY) == Some(&from);
        let mut bytes = encode(&message);
        if tamper == 4 && !bytes.is_empty() && !message.read_only {
            let at = usize::from(input.u16()) % bytes.len();
            bytes[at] = input.byte();
        }
        let before = self.node.stats(self.now);
        self.deliver(from, &bytes);
        if from != to && matches!(tamper, 1 | 2) {
            let after = self.node.stats(self.now);
            assert_eq!(
                after.answers_received, before.answers_received,
                "spoofed answer"
            );
            assert_eq!(
                after.errors_received, before.errors_received,
                "spoofed error"
            );
        }
    }

    /// Passes time as a driver does: `handle_timeout` at every `poll_timeout` up to `target`.
    fn run_until(&mut self, target: Instant) {
        for _ in 0..2_000 {
            let next = self.node.poll_timeout().filter(|t| *t <= target);
            let Some(next) = next else { break };
            self.now = self.now.max(next);
            self.node.handle_timeout(self.now);
            self.drain(None);
        }
        self.now = self.now.max(target);
    }

    fn restart(&mut self, saved: Option<&SavedTable>) {
        self.seed += 1;
        self.node = Node::new(self.config.clone(), self.now, self.seed, saved);
        self.asked.clear();
        self.started.clear();
        self.done.clear();
        self.last = NodeStats::default();
    }

    /// Delivers a datagram and checks the node's answer to it.
    fn deliver(&mut self, from: SocketAddr, datagram: &[u8]) {
        let before = self.node.stats(self.now);
        self.node.handle_datagram(self.now, from, datagram);
        let answers = self.drain(Some((from, datagram)));
        let after = self.node.stats(self.now);
        assert!(
            accounted(&after) > accounted(&before),
            "an uncounted datagram"
        );
        let replies =
            (after.answers_sent + after.errors_sent) - (before.answers_sent + before.errors_sent);
        assert_eq!(replies, answers, "answers sent are counted");
    }

    /// Takes every datagram and event out of the node and checks them; `asker` is the datagram
    /// just delivered, if any. How many answers went out.
    fn drain(&mut self, asker: Option<(SocketAddr, &[u8])>) -> u64 {
        let unbounded = KrpcLimits {
            max_datagram_len: usize::MAX,
            ..KrpcLimits::default()
        };
        let mut answers = 0;
        for _ in 0..100_000 {
            let Some((to, bytes)) = self.node.poll_transmit() else {
                break;
            };
            let message = Message::decode(&bytes, &unbounded).expect("our datagrams decode");
            if let Body::Query(query) = &message.body {
                assert!(
                    query.id == self.node.id() || query.id == self.drained_id,
                    "a query with the id {:?}, neither the node's {:?} nor the one before {:?}",
                    query.id,
                    self.node.id(),
                    self.drained_id
                );
                assert_eq!(message.read_only, self.config.read_only);
                self.asked.push_back((to, message.transaction_id.clone()));
                if self.asked.len() > 64 {
                    self.asked.pop_front();
                }
                continue;
            }
            answers += 1;
            assert!(
                !self.config.read_only,
                "BEP 43: a read-only node answers nothing"
            );
            let (from, query) = asker.expect("an answer only to a datagram");
            assert_eq!(to, from, "answers go to the asker");
            assert_eq!(answers, 1, "one answer per query");
            let bound = (self.config.answer_factor * query.len()).min(self.config.max_answer_len);
            assert!(
                bytes.len() <= bound,
                "{} bytes for {}",
                bytes.len(),
                query.len()
            );
            let echoed = match Message::decode(query, &self.config.krpc) {
                Ok(Message {
                    body: Body::Query(_),
                    transaction_id,
                    ..
                }) => transaction_id,
                Err(KrpcError::Malformed {
                    is_query: true,
                    transaction_id,
                    ..
                }) => transaction_id,
                other => panic!("{other:?} was answered"),
            };
            assert_eq!(message.transaction_id, echoed);
            if let Body::Response(Response {
                token: Some(token), ..
            }) = message.body
            {
                self.tokens.push((to.ip(), token));
                if self.tokens.len() > 16 {
                    self.tokens.remove(0);
                }
            }
        }
        assert!(self.node.poll_transmit().is_none(), "a bounded queue");
        while let Some(event) = self.node.poll_event() {
            match event {
                NodeEvent::Peers { id, peers, .. } => {
                    assert!(self.started.contains(&id) && !self.done.contains(&id));
                    assert!(!peers.is_empty());
                }
                NodeEvent::LookupDone { id, .. } => {
                    assert!(self.started.contains(&id), "an owner's lookup");
                    assert!(self.done.insert(id), "ended once");
                }
                NodeEvent::IdChanged { .. } => {}
            }
        }
        self.drained_id = self.node.id();
        answers
    }

    /// The bounds and the counters, after each step.
    fn check(&mut self) {
        let stats = self.node.stats(self.now);
        let in_flight = stats
            .queries_sent
            .checked_sub(stats.answers_received + stats.errors_received + stats.timeouts)
            .expect("each query ends once");
        assert!(
            in_flight <= self.config.max_pending as u64,
            "{in_flight} in flight"
        );
        let owners = (self.started.len() - self.done.len()) as u64;
        assert!(stats.lookups_done <= stats.lookups_started);
        assert!(stats.lookups_running <= owners + 2 * 160, "{stats:?}");
        assert!(stats.stored_peers <= self.config.store.max_peers as u64);
        assert!(stats.stored_info_hashes <= stats.stored_peers);
        assert_eq!(stats.rate.refused, stats.drops.rate_limited);
        for table in [stats.table4, stats.table6] {
            assert!(table.buckets <= 160);
            assert!(table.good + table.questionable + table.bad <= 8 * table.buckets);
            assert!(table.replacements <= self.config.routing.replacements * table.buckets);
        }
        let (now, last) = (counters(&stats), counters(&self.last));
        assert!(
            now.iter().zip(&last).all(|(n, l)| n >= l),
            "counters only grow"
        );
        self.last = stats;
        let saved = self.node.save(self.now);
        let own = self.node.id();
        let read_only = self.sources[READ_ONLY];
        for node in saved.nodes.iter().chain(&saved.nodes6) {
            assert_ne!(node.id, own);
            assert_ne!(node.addr.port(), 0);
            assert_ne!(node.addr, read_only, "BEP 43: never kept");
            if self.config.routing.enforce_bep42 {
                assert!(node.id.is_secure_for(node.addr.ip()), "BEP 42: never kept");
            }
        }
    }
}

/// Every datagram leaves a trace in one of these.
fn accounted(stats: &NodeStats) -> u64 {
    let d = stats.drops;
    d.not_krpc
        + d.malformed_query
        + d.malformed_answer
        + d.unexpected_answer
        + d.rate_limited
        + d.read_only
        + stats.queries_received
        + stats.answers_received
        + stats.errors_received
}

/// The counters that never go down.
fn counters(s: &NodeStats) -> [u64; 26] {
    let d = s.drops;
    [
        s.queries_received,
        s.answers_sent,
        s.errors_sent,
        s.queries_sent,
        s.answers_received,
        s.errors_received,
        s.timeouts,
        s.announces_stored,
        s.announces_bad_token,
        s.lookups_started,
        s.lookups_done,
        s.lookups_with_peers,
        s.lookups_answered,
        s.bootstraps,
        s.id_changes,
        s.sent_bytes,
        d.not_krpc,
        d.malformed_query,
        d.malformed_answer,
        d.unexpected_answer,
        d.rate_limited,
        d.read_only,
        d.overloaded,
        d.trimmed_answers + d.oversized_answers,
        s.rate.allowed,
        s.rate.refused + s.rate.forgotten_early,
    ]
}

fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut harness = Harness::new(&mut input);
    for _ in 0..256 {
        if input.0.is_empty() {
            break;
        }
        harness.step(&mut input);
    }
});
