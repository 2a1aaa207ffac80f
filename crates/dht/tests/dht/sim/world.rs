//! The DHT simulation's world (issue 13): swarmgate-dht nodes on testkit's [`SimUdp`], each
//! joined through its own [`Node::bootstrap`], with silent nodes, churn, and the ground truth
//! that lookups are judged by.
//!
//! Shared by the integration test (`tests/dht/sim`) and the big run (`examples/dht_sim.rs`
//! includes this file by path).
//!
//! Addresses: member `n` is at 198.18.0.0 + n + 1, port 6881 (RFC 2544's benchmarking range:
//! 131,070 addresses, none exempt from BEP 42), with an id made BEP 42-secure for that
//! address, so every node runs the default configuration, BEP 42 enforced and the per-IP rate
//! limit on, as on the Internet. Each node's one-way latency is drawn uniformly from
//! [`WorldConfig::latency`] (10-150 ms by default: round trips spread over 20-300 ms).
//!
//! A silent member receives nothing and does nothing (its node is frozen: no timers), but stays
//! in the others' tables: a node that hung, or went behind a firewall. A killed member is gone,
//! its address unused.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use swarmgate_core::{InfoHashV1, SplitMix64};
use swarmgate_dht::{K, LookupId, LookupStats, Node, NodeConfig, NodeEvent, NodeId, NodeInfo};
use swarmgate_testkit::{HostConfig, HostId, SimUdp, UdpEvent};

/// The first address of RFC 2544's benchmarking range, 198.18.0.0/15.
const FIRST_ADDR: u32 = 0xc612_0000;
/// The port every node listens on.
pub(crate) const PORT: u16 = 6881;

/// How long a newcomer is given to join: its lookup of its own id takes a few round trips,
/// and the 4 s query timeout at worst. Before that its table may still be empty (a lookup of
/// its own then finds nothing) and its neighbours may not know it yet.
pub(crate) const JOINING: Duration = Duration::from_secs(5);

/// How the world is built.
#[derive(Clone, Debug)]
pub(crate) struct WorldConfig {
    /// Seeds the network, the choices and every node's RNG.
    pub(crate) seed: u64,
    /// Nodes to build the network with.
    pub(crate) nodes: usize,
    /// The range a node's one-way latency is drawn from, uniformly.
    pub(crate) latency: (Duration, Duration),
    /// Time between two joins while building.
    pub(crate) join_every: Duration,
    /// How many running nodes a newcomer bootstraps from (chosen at random).
    pub(crate) bootstrap_from: usize,
    /// How long the network runs after the last join before it counts as settled.
    pub(crate) settle: Duration,
    /// Every node's configuration (its id is set per node).
    pub(crate) node: NodeConfig,
}

impl WorldConfig {
    /// `nodes` nodes from `seed`: latencies 10-150 ms, a join every 10 ms from 3 running
    /// nodes, 2 minutes to settle, default nodes.
    pub(crate) fn new(nodes: usize, seed: u64) -> Self {
        WorldConfig {
            seed,
            nodes,
            latency: (Duration::from_millis(10), Duration::from_millis(150)),
            join_every: Duration::from_millis(10),
            bootstrap_from: 3,
            settle: Duration::from_secs(120),
            node: NodeConfig::default(),
        }
    }
}

/// A lookup the world watches, from start to end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Watched {
    /// The info-hash looked up.
    pub(crate) target: InfoHashV1,
    /// The member that asked.
    pub(crate) asker: usize,
    /// When it started (virtual time since the epoch).
    pub(crate) started: Duration,
    /// How long after the start the first peer came, if one did.
    pub(crate) first_peer: Option<Duration>,
    /// How it ended, once it has.
    pub(crate) done: Option<Done>,
}

/// How a watched lookup ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Done {
    /// How long after its start.
    pub(crate) after: Duration,
    /// What it cost.
    pub(crate) stats: LookupStats,
    /// The closest nodes that answered.
    pub(crate) closest: Vec<NodeInfo>,
    /// Peers found.
    pub(crate) peers: usize,
    /// Nodes announced to (announces only).
    pub(crate) announced_to: usize,
}

/// How well the routing tables know the network.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct TableQuality {
    /// Members sampled.
    pub(crate) sampled: usize,
    /// Good nodes per table, on average.
    pub(crate) good: f64,
    /// Of each sampled member's K closest running nodes, the share its table holds as good.
    pub(crate) knows_closest: f64,
}

struct Member {
    host: HostId,
    /// `None` once killed.
    node: Option<Node>,
    info: NodeInfo,
    joined: Duration,
    left: Option<Duration>,
    silent: bool,
}

/// The network of nodes; see the module docs.
pub(crate) struct World {
    net: SimUdp,
    config: WorldConfig,
    /// Indexed like the network's hosts.
    members: Vec<Member>,
    /// Watched lookups by (asker, lookup id): their index in `records`.
    watched: BTreeMap<(usize, LookupId), usize>,
    records: Vec<Watched>,
}

impl World {
    /// An empty world at virtual time zero.
    pub(crate) fn new(config: WorldConfig) -> World {
        World {
            net: SimUdp::new(config.seed),
            config,
            members: Vec::new(),
            watched: BTreeMap::new(),
            records: Vec::new(),
        }
    }

    /// A world whose `config.nodes` nodes joined one after the other, each through
    /// [`Node::bootstrap`] from a few running ones, and then ran for `config.settle`.
    pub(crate) fn build(config: WorldConfig) -> World {
        let mut world = World::new(config);
        for n in 0..world.config.nodes {
            world.run_until(world.config.join_every * n as u32);
            world.join();
        }
        let settled = world.elapsed() + world.config.settle;
        world.run_until(settled);
        world
    }

    /// Virtual time since the epoch.
    pub(crate) fn elapsed(&self) -> Duration {
        self.net.elapsed()
    }

    /// The network's seeded RNG, for the scenario's choices.
    pub(crate) fn rng(&mut self) -> &mut swarmgate_testkit::SimRng {
        self.net.rng()
    }

    /// Whether `member` runs: neither killed nor silent.
    pub(crate) fn is_running(&self, member: usize) -> bool {
        let m = &self.members[member];
        m.node.is_some() && !m.silent
    }

    /// Members running now.
    pub(crate) fn running(&self) -> usize {
        (0..self.members.len())
            .filter(|&m| self.is_running(m))
            .count()
    }

    /// A running member chosen at random (`None` when none runs).
    pub(crate) fn random_running(&mut self) -> Option<usize> {
        let running: Vec<usize> = (0..self.members.len())
            .filter(|&m| self.is_running(m))
            .collect();
        let pick = self.net.rng().below(running.len() as u64) as usize;
        running.get(pick).copied()
    }

    /// A running member that joined at least [`JOINING`] ago, chosen at random.
    pub(crate) fn random_joined(&mut self) -> Option<usize> {
        let now = self.net.elapsed();
        let joined: Vec<usize> = (0..self.members.len())
            .filter(|&m| self.is_running(m) && self.members[m].joined + JOINING <= now)
            .collect();
        let pick = self.net.rng().below(joined.len() as u64) as usize;
        joined.get(pick).copied()
    }

    /// Whether `node` joined less than [`JOINING`] before watched lookup `record` started.
    pub(crate) fn is_new(&self, record: usize, node: &NodeInfo) -> bool {
        let started = self.records[record].started;
        self.members
            .iter()
            .find(|m| m.info == *node)
            .is_some_and(|m| m.joined + JOINING > started)
    }

    /// The lookups watched so far, in the order they started.
    pub(crate) fn records(&self) -> &[Watched] {
        &self.records
    }

    /// Whether `member` has a watched lookup still running.
    pub(crate) fn is_asking(&self, member: usize) -> bool {
        self.watched
            .range((member, LookupId(0))..=(member, LookupId(u64::MAX)))
            .any(|(_, &r)| self.records[r].done.is_none())
    }

    /// Adds a node at the next address, with a random latency, bootstrapping from up to
    /// `config.bootstrap_from` running members; returns its member number.
    pub(crate) fn join(&mut self) -> usize {
        let n = self.members.len();
        let ip = Ipv4Addr::from(FIRST_ADDR + 1 + u32::try_from(n).expect("few members"));
        assert!(
            n < 131_070,
            "the benchmarking range holds 131,070 addresses"
        );
        let addr = SocketAddr::new(IpAddr::V4(ip), PORT);
        let (low, high) = self.config.latency;
        let spread = high.saturating_sub(low).as_nanos() as u64;
        let latency = low + Duration::from_nanos(self.net.rng().below(spread + 1));
        let host = self
            .net
            .add_host_at(addr, HostConfig::with_latency(latency))
            .expect("a fresh address");
        assert_eq!(host.index(), n, "members and hosts are numbered alike");
        let seed = self.net.rng().next_u64();
        let mut id_rng = SplitMix64::new(seed ^ 0x5851_f42d_4c95_7f2d);
        let id = NodeId::secure_for(ip.into(), &mut id_rng);
        let mut config = self.config.node.clone();
        config.id = Some(id);
        let now = self.net.now();
        let mut routers = Vec::new();
        for _ in 0..self.config.bootstrap_from * 4 {
            if routers.len() == self.config.bootstrap_from {
                break;
            }
            let Some(pick) = self.random_running() else {
                break;
            };
            let router = self.members[pick].info.addr;
            if !routers.contains(&router) {
                routers.push(router);
            }
        }
        let mut node = Node::new(config, now, seed, None);
        node.bootstrap(now, routers);
        self.members.push(Member {
            host,
            node: Some(node),
            info: NodeInfo { id, addr },
            joined: self.net.elapsed(),
            left: None,
            silent: false,
        });
        self.flush(n);
        n
    }

    /// Makes `member` silent: it drops what it receives and its node stops (see the module
    /// docs).
    pub(crate) fn silence(&mut self, member: usize) {
        let host = self.members[member].host;
        self.net.set_silent(host, true).expect("a live host");
        self.net.set_wake(host, None).expect("a live host");
        self.members[member].silent = true;
    }

    /// Kills `member`: its node is gone and nothing reaches its address.
    pub(crate) fn kill(&mut self, member: usize) {
        self.net
            .kill(self.members[member].host)
            .expect("a live host");
        let m = &mut self.members[member];
        m.node = None;
        m.left = Some(self.net.elapsed());
    }

    /// Starts a watched get_peers lookup of `target` at `asker`; returns its record number.
    pub(crate) fn get_peers(&mut self, asker: usize, target: InfoHashV1) -> usize {
        self.start(asker, target, None)
    }

    /// Starts a watched announce of `target` from `asker` (its peer on [`PORT`]).
    pub(crate) fn announce(&mut self, asker: usize, target: InfoHashV1) -> usize {
        self.start(asker, target, Some(PORT))
    }

    fn start(&mut self, asker: usize, target: InfoHashV1, announce: Option<u16>) -> usize {
        let now = self.net.now();
        let node = self.members[asker].node.as_mut().expect("a running asker");
        let id = match announce {
            Some(port) => node.announce(now, target, Some(port), false),
            None => node.get_peers(now, target),
        };
        let record = self.records.len();
        self.records.push(Watched {
            target,
            asker,
            started: self.net.elapsed(),
            first_peer: None,
            done: None,
        });
        self.watched.insert((asker, id), record);
        self.flush(asker);
        record
    }

    /// Runs the network until virtual time `until` (since the epoch).
    pub(crate) fn run_until(&mut self, until: Duration) {
        let deadline = self.net.epoch() + until;
        while let Some(event) = self.net.next_event(deadline) {
            let now = self.net.now();
            let member = match event {
                UdpEvent::Datagram(datagram) => {
                    let member = datagram.to.index();
                    if let Some(node) = self.members[member].node.as_mut() {
                        node.handle_datagram(now, datagram.from, &datagram.payload);
                    }
                    member
                }
                UdpEvent::Wake { host } => {
                    let member = host.index();
                    if let Some(node) = self.members[member].node.as_mut() {
                        node.handle_timeout(now);
                    }
                    member
                }
            };
            self.flush(member);
        }
    }

    /// Sends what `member`'s node wants sent, records its events and sets its wake-up.
    fn flush(&mut self, member: usize) {
        let elapsed = self.net.elapsed();
        let host = self.members[member].host;
        let Some(node) = self.members[member].node.as_mut() else {
            return;
        };
        while let Some((to, datagram)) = node.poll_transmit() {
            self.net.send(host, to, datagram).expect("a live host");
        }
        while let Some(event) = node.poll_event() {
            let (id, done) = match event {
                NodeEvent::Peers { id, .. } => (id, None),
                NodeEvent::LookupDone {
                    id,
                    peers,
                    announced_to,
                    stats,
                    closest,
                    ..
                } => (id, Some((peers, announced_to, stats, closest))),
                NodeEvent::IdChanged { .. } => panic!("member {member} changed its BEP 42 id"),
            };
            let Some(&record) = self.watched.get(&(member, id)) else {
                continue;
            };
            let record = &mut self.records[record];
            let after = elapsed - record.started;
            match done {
                None => {
                    record.first_peer.get_or_insert(after);
                }
                Some((peers, announced_to, stats, closest)) => {
                    record.done = Some(Done {
                        after,
                        stats,
                        closest,
                        peers,
                        announced_to,
                    });
                }
            }
        }
        if !self.members[member].silent {
            let wake = self.members[member]
                .node
                .as_ref()
                .and_then(Node::poll_timeout);
            self.net.set_wake(host, wake).expect("a live host");
        }
    }

    /// The ground truth for watched lookup `record`: the K nodes closest to its target among
    /// those it could have found: members running from its start to its end, and those killed
    /// in between that it heard from (they answered while they ran). `None` while it runs.
    pub(crate) fn truth(&self, record: usize) -> Option<Vec<NodeInfo>> {
        let watched = &self.records[record];
        let done = watched.done.as_ref()?;
        let (started, ended) = (watched.started, watched.started + done.after);
        let target = NodeId(watched.target.0);
        let mut candidates: Vec<NodeInfo> = self
            .members
            .iter()
            .enumerate()
            .filter(|(n, m)| {
                let killed_in_between = m.left.is_some_and(|left| left > started && left <= ended);
                *n != watched.asker
                    && !m.silent
                    && m.joined <= started
                    && match m.left {
                        None => true,
                        Some(left) if left > ended => true,
                        Some(_) => killed_in_between && done.closest.contains(&m.info),
                    }
            })
            .map(|(_, m)| m.info)
            .collect();
        candidates.sort_unstable_by_key(|n| n.id.distance(&target));
        candidates.truncate(K);
        Some(candidates)
    }

    /// Where `node` stands, by distance to watched lookup `record`'s target, among every
    /// member that joined before the lookup ended, silent and killed ones included (the asker
    /// excepted). A node of the truth that stands at K or deeper sits behind entries that no
    /// longer answer, or that are new: the answers' K places may go to those instead.
    pub(crate) fn overall_rank(&self, record: usize, node: &NodeInfo) -> Option<usize> {
        let watched = &self.records[record];
        let ended = watched.started + watched.done.as_ref()?.after;
        let target = NodeId(watched.target.0);
        let distance = node.id.distance(&target);
        let closer = self
            .members
            .iter()
            .enumerate()
            .filter(|(n, m)| *n != watched.asker && m.joined <= ended)
            .filter(|(_, m)| m.info.id.distance(&target) < distance)
            .count();
        Some(closer)
    }

    /// How well the tables of up to `sample` running members (the first ones) hold their K
    /// closest running nodes.
    pub(crate) fn table_quality(&self, sample: usize) -> TableQuality {
        let now = self.net.now();
        let running: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| m.node.is_some() && !m.silent)
            .collect();
        let mut quality = TableQuality::default();
        let (mut good, mut known, mut wanted) = (0usize, 0usize, 0usize);
        for member in running.iter().take(sample) {
            let saved = member.node.as_ref().expect("running").save(now);
            good += saved.nodes.len();
            let mut closest: Vec<NodeInfo> = running
                .iter()
                .map(|m| m.info)
                .filter(|n| *n != member.info)
                .collect();
            closest.sort_unstable_by_key(|n| n.id.distance(&member.info.id));
            closest.truncate(K);
            wanted += closest.len();
            known += closest.iter().filter(|n| saved.nodes.contains(n)).count();
            quality.sampled += 1;
        }
        if quality.sampled > 0 {
            quality.good = good as f64 / quality.sampled as f64;
            quality.knows_closest = known as f64 / wanted.max(1) as f64;
        }
        quality
    }
}
