//! Simulated TCP (no BEP): nodes, reliable ordered byte pipes and a virtual clock.
//!
//! # The model
//!
//! Every node has an access link: an uplink of `upload_rate` bytes/s and a downlink of
//! `download_rate` bytes/s, and a one-way `latency` added to everything it sends.
//!
//! - **Uplink.** Bytes handed to [`SimNet::send`] wait in the end's send queue. The node's uplink
//!   serves its connections round robin, one chunk of at most [`SimConfig::max_chunk`] bytes
//!   (coalesced from queued `Bytes`, as TCP segments do) at a time. A chunk of `n` bytes holds the
//!   uplink for `n / upload_rate` seconds, so `k` busy connections each get `1/k` of the rate,
//!   and an idle connection takes nothing.
//! - **Window.** A connection may have at most [`SimConfig::window`] bytes on the wire (sent,
//!   not yet delivered). A connection whose receiver is slow fills its window and waits, and the
//!   uplink's time goes to the other connections, as TCP flow control would have it.
//! - **Propagation.** A chunk reaches the receiver's downlink `latency` after it left the uplink
//!   (plus the connection's jitter, see [`SimConfig::jitter`]).
//! - **Downlink.** Chunks pass the receiver's downlink one at a time, first come first served,
//!   each holding it `n / download_rate` seconds; the chunk is delivered when its last byte is
//!   through. A receiver's capacity is thus shared in proportion to what arrives.
//!
//! Store-and-forward at both links means a lone chunk takes `n/up + latency + n/down`; over a
//! long transfer the rate is the smaller of the two links, to within one chunk.
//!
//! **Connections.** [`SimNet::connect`] reports `Accepted` at the callee after one latency and
//! `Connected` at the caller after a round trip (caller's latency + callee's). An end sends
//! nothing before it is reported; bytes given to it earlier wait. A node marked unreachable
//! (or killed) answers `Refused` after the round trip; [`SimNet::connect_fails_after`] makes an
//! attempt fail after any delay (a connect timeout). [`SimNet::close`] is a full close: the end
//! receives nothing more, its queued bytes still go out, and then the peer gets `Closed`.
//! [`SimNet::kill`] makes a node vanish: all its ends close at once, nothing it had queued or
//! in flight is delivered, nothing sent to it is delivered, and each peer gets `Closed` one
//! latency later (a reset travelling back).
//!
//! **Determinism.** Events are kept in a heap ordered by (virtual time, sequence number), so
//! simultaneous events run in the order they were scheduled; nothing depends on hashing, wall
//! time or threads. The seed only feeds the jitter and [`SimNet::rng`] (two separate streams);
//! with no jitter, two runs with any seeds deliver the same log.

use std::collections::{BinaryHeap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::SimError;
use crate::events::{Event, Scheduled};
use crate::rng::SimRng;
use crate::types::{ConnId, ConnState, Delivery, NodeConfig, NodeId, NodeStats, SimConfig};

/// The port every node's fake address carries.
pub const SIM_PORT: u16 = 6881;

/// Separates the jitter stream from the test's stream drawn from the same seed.
const JITTER_STREAM: u64 = 0x6a09_e667_f3bc_c908;

/// Virtual time is capped here (a century) so that `epoch + offset` can never overflow.
pub(crate) const MAX_OFFSET: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

pub(crate) struct Node {
    pub(crate) config: NodeConfig,
    pub(crate) addr: SocketAddr,
    pub(crate) reachable: bool,
    pub(crate) alive: bool,
    /// Ends that are connecting, open or closing, in ascending id order.
    pub(crate) ends: Vec<ConnId>,
    /// An `UplinkFree` event is pending: the uplink is transmitting.
    pub(crate) uplink_busy: bool,
    /// The end served last by the round robin.
    pub(crate) last_served: Option<ConnId>,
    /// When the downlink finishes the last chunk it has accepted.
    pub(crate) downlink_free_at: Duration,
    pub(crate) stats: NodeStats,
}

pub(crate) struct End {
    pub(crate) node: NodeId,
    pub(crate) peer: ConnId,
    pub(crate) outbound: bool,
    pub(crate) state: ConnState,
    /// The node of this end was killed: what it sent is never delivered.
    pub(crate) dead: bool,
    pub(crate) queue: VecDeque<Bytes>,
    pub(crate) queued: u64,
    pub(crate) in_flight: u64,
    /// When the last chunk from this end left the uplink.
    pub(crate) last_departure: Duration,
    /// One-way delay from this end to its peer.
    pub(crate) latency: Duration,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
}

/// A deterministic in-memory network of nodes joined by reliable, ordered byte pipes, on a
/// virtual clock. See the [crate docs](crate#the-network-model) for the bandwidth model.
pub struct SimNet {
    pub(crate) epoch: Instant,
    pub(crate) now: Duration,
    pub(crate) config: SimConfig,
    pub(crate) rng: SimRng,
    /// Draws the jitter; separate from `rng` so a test's own draws do not shift the delays.
    pub(crate) jitter_rng: SimRng,
    pub(crate) nodes: Vec<Node>,
    pub(crate) ends: Vec<End>,
    pub(crate) queue: BinaryHeap<Scheduled>,
    pub(crate) seq: u64,
    pub(crate) outbox: VecDeque<Delivery>,
}

impl SimNet {
    /// An empty network with the default [`SimConfig`]; `seed` drives its RNG.
    pub fn new(seed: u64) -> Self {
        Self::with_config(seed, SimConfig::default())
    }

    /// An empty network with `config`.
    pub fn with_config(seed: u64, config: SimConfig) -> Self {
        Self {
            epoch: Instant::now(),
            now: Duration::ZERO,
            config: SimConfig {
                max_chunk: config.max_chunk.max(1),
                window: config.window.max(1),
                ..config
            },
            rng: SimRng::new(seed),
            jitter_rng: SimRng::new(seed ^ JITTER_STREAM),
            nodes: Vec::new(),
            ends: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            outbox: VecDeque::new(),
        }
    }

    /// The network's settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The seeded RNG, for the test's own choices (piece sets, peer order...).
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// The instant virtual time started from, taken once by the constructor.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The current virtual time: `epoch() + elapsed()`.
    pub fn now(&self) -> Instant {
        self.epoch + self.now
    }

    /// Virtual time elapsed since the epoch.
    pub fn elapsed(&self) -> Duration {
        self.now
    }

    /// Adds a node with a fresh address `10.0.x.y:6881` (x.y counting from 0.1).
    ///
    /// # Panics
    ///
    /// Past 16,777,214 nodes, when the 10.0.0.0/8 addresses run out.
    pub fn add_node(&mut self, config: NodeConfig) -> NodeId {
        let n = self.nodes.len() as u32 + 1;
        assert!(n < 1 << 24, "SimNet supports at most 2^24 - 2 nodes");
        let ip = Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8);
        self.nodes.push(Node {
            config,
            addr: SocketAddr::V4(SocketAddrV4::new(ip, SIM_PORT)),
            reachable: true,
            alive: true,
            ends: Vec::new(),
            uplink_busy: false,
            last_served: None,
            downlink_free_at: Duration::ZERO,
            stats: NodeStats::default(),
        });
        NodeId(n - 1)
    }

    /// Replaces a node's rates and latency. Rates apply from the next chunk; the latency applies
    /// to connections opened from now on (a connection keeps its delay, so ordering holds).
    pub fn set_config(&mut self, node: NodeId, config: NodeConfig) -> Result<(), SimError> {
        self.node_mut(node)?.config = config;
        Ok(())
    }

    /// Marks a node as refusing (or again accepting) incoming connections.
    pub fn set_unreachable(&mut self, node: NodeId, unreachable: bool) -> Result<(), SimError> {
        self.node_mut(node)?.reachable = !unreachable;
        Ok(())
    }

    /// Opens a connection from `from` to `to`; returns (the caller's end, the callee's end).
    ///
    /// The callee's end is reported by an `Accepted` delivery after `from`'s latency, the
    /// caller's by `Connected` after the round trip, or `Refused` if `to` is unreachable or
    /// killed (the callee's end then never opens).
    pub fn connect(&mut self, from: NodeId, to: NodeId) -> Result<(ConnId, ConnId), SimError> {
        self.check_alive(from)?;
        let to_node = self.node(to)?;
        let refused = !to_node.reachable || !to_node.alive;
        let to_latency = to_node.config.latency;
        let jitter = self.draw_jitter();
        let from_latency = self.nodes[from.index()]
            .config
            .latency
            .saturating_add(jitter);
        let to_latency = to_latency.saturating_add(jitter);
        let (a, b) = self.open_pair(from, to, from_latency, to_latency, !refused);
        let round_trip = from_latency.saturating_add(to_latency);
        if !refused {
            self.schedule(from_latency, Event::Accept { end: b });
        }
        self.schedule(round_trip, Event::Connect { end: a, refused });
        Ok((a, b))
    }

    /// Opens a connection attempt that fails with `Refused` at the caller after `after`
    /// (a SYN into a black hole, then the caller's timeout); `to` never hears of it.
    pub fn connect_fails_after(
        &mut self,
        from: NodeId,
        to: NodeId,
        after: Duration,
    ) -> Result<ConnId, SimError> {
        self.check_alive(from)?;
        self.node(to)?;
        let latency = self.nodes[from.index()].config.latency;
        let (a, _) = self.open_pair(from, to, latency, latency, false);
        self.schedule(
            after,
            Event::Connect {
                end: a,
                refused: true,
            },
        );
        Ok(a)
    }

    /// Queues `bytes` on `conn`; they go out when the end is open and the uplink serves it.
    pub fn send(&mut self, conn: ConnId, bytes: Bytes) -> Result<(), SimError> {
        let end = self.end_mut(conn)?;
        if !matches!(end.state, ConnState::Connecting | ConnState::Open) {
            return Err(SimError::ConnClosed { conn });
        }
        if bytes.is_empty() {
            return Ok(());
        }
        end.queued += bytes.len() as u64;
        end.queue.push_back(bytes);
        if end.state == ConnState::Open {
            let node = end.node;
            self.pump(node);
        }
        Ok(())
    }

    /// Closes `conn`: it receives nothing more, its queued bytes still go out, then the peer
    /// gets `Closed`. Closing a closed end does nothing.
    pub fn close(&mut self, conn: ConnId) -> Result<(), SimError> {
        let now = self.now;
        let end = self.end_mut(conn)?;
        match end.state {
            ConnState::Connecting => {
                // The Accept / Connect handlers tell the peer, if it ever opened.
                self.finish_end(conn);
            }
            ConnState::Open if end.queued > 0 => end.state = ConnState::Closing,
            ConnState::Open => {
                let at = end.last_departure.max(now).saturating_add(end.latency);
                let peer = end.peer;
                self.schedule_at(at, Event::fin(peer, conn));
                self.finish_end(conn);
            }
            ConnState::Closing | ConnState::Closed => {}
        }
        Ok(())
    }

    /// Makes `node` vanish: every connection of it closes at once and nothing it had queued or
    /// in flight arrives; each peer gets `Closed` one latency later. The node stays down.
    pub fn kill(&mut self, node: NodeId) -> Result<(), SimError> {
        self.node_mut(node)?.alive = false;
        // Every end ever opened here, closed ones included: their FINs in flight die too.
        for index in 0..self.ends.len() {
            let end = &mut self.ends[index];
            if end.node != node || end.dead {
                continue;
            }
            end.dead = true;
            let (peer, latency) = (end.peer, end.latency);
            self.finish_end(ConnId(index as u32));
            if matches!(
                self.ends[peer.index()].state,
                ConnState::Open | ConnState::Closing
            ) {
                self.schedule(latency, Event::Reset { end: peer });
            }
        }
        Ok(())
    }

    /// The next delivery, in the order they happened; `None` when all have been taken.
    pub fn poll_delivery(&mut self) -> Option<Delivery> {
        self.outbox.pop_front()
    }

    fn node(&self, node: NodeId) -> Result<&Node, SimError> {
        self.nodes
            .get(node.index())
            .ok_or(SimError::UnknownNode { node })
    }

    fn node_mut(&mut self, node: NodeId) -> Result<&mut Node, SimError> {
        self.nodes
            .get_mut(node.index())
            .ok_or(SimError::UnknownNode { node })
    }

    fn end_mut(&mut self, conn: ConnId) -> Result<&mut End, SimError> {
        self.ends
            .get_mut(conn.index())
            .ok_or(SimError::UnknownConn { conn })
    }

    fn check_alive(&self, node: NodeId) -> Result<(), SimError> {
        match self.node(node)?.alive {
            true => Ok(()),
            false => Err(SimError::NodeDown { node }),
        }
    }

    fn draw_jitter(&mut self) -> Duration {
        let max = self.config.jitter.as_nanos().min(u128::from(u64::MAX - 1)) as u64;
        match max {
            0 => Duration::ZERO,
            max => Duration::from_nanos(self.jitter_rng.below(max + 1)),
        }
    }

    /// Creates both ends; the callee's end is listed at its node only if it will open.
    fn open_pair(
        &mut self,
        from: NodeId,
        to: NodeId,
        from_latency: Duration,
        to_latency: Duration,
        callee_opens: bool,
    ) -> (ConnId, ConnId) {
        let a = ConnId(self.ends.len() as u32);
        let b = ConnId(a.0 + 1);
        let end = |node, peer, outbound, state, latency| End {
            node,
            peer,
            outbound,
            state,
            dead: false,
            queue: VecDeque::new(),
            queued: 0,
            in_flight: 0,
            last_departure: Duration::ZERO,
            latency,
            bytes_sent: 0,
            bytes_received: 0,
        };
        self.ends
            .push(end(from, b, true, ConnState::Connecting, from_latency));
        let callee_state = match callee_opens {
            true => ConnState::Connecting,
            false => ConnState::Closed,
        };
        self.ends.push(end(to, a, false, callee_state, to_latency));
        self.nodes[from.index()].ends.push(a);
        self.nodes[from.index()].stats.connections += 1;
        if callee_opens {
            self.nodes[to.index()].ends.push(b);
            self.nodes[to.index()].stats.connections += 1;
        }
        (a, b)
    }

    /// Marks an end closed, drops its queue and unlists it from its node.
    pub(crate) fn finish_end(&mut self, conn: ConnId) {
        let end = &mut self.ends[conn.index()];
        end.state = ConnState::Closed;
        end.queue.clear();
        end.queued = 0;
        let node = &mut self.nodes[end.node.index()];
        node.ends.retain(|&c| c != conn);
    }

    /// Schedules `event` `delay` from now.
    pub(crate) fn schedule(&mut self, delay: Duration, event: Event) {
        let at = self.now.saturating_add(delay);
        self.schedule_at(at, event);
    }

    /// Schedules `event` at virtual offset `at` (capped at a century).
    pub(crate) fn schedule_at(&mut self, at: Duration, event: Event) {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Scheduled {
            at: at.min(MAX_OFFSET),
            seq,
            event,
        });
    }
}

impl std::fmt::Debug for SimNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNet")
            .field("elapsed", &self.now)
            .field("nodes", &self.nodes.len())
            .field("ends", &self.ends.len())
            .field("pending_events", &self.queue.len())
            .field("pending_deliveries", &self.outbox.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DeliveryKind;

    fn drain(net: &mut SimNet) -> Vec<DeliveryKind> {
        std::iter::from_fn(|| net.poll_delivery())
            .map(|d| d.kind)
            .collect()
    }

    #[test]
    fn a_node_may_connect_to_itself_and_die_cleanly() {
        let mut net = SimNet::new(1);
        let a = net.add_node(NodeConfig::symmetric(1_000, Duration::from_millis(5)));
        let (x, y) = net.connect(a, a).expect("connect");
        net.send(x, Bytes::from_static(b"loop")).expect("send");
        net.advance_by(Duration::from_secs(1));
        let kinds = drain(&mut net);
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        assert_eq!(kinds[2], DeliveryKind::Data(Bytes::from_static(b"loop")));
        net.kill(a).expect("kill");
        net.advance_by(Duration::from_secs(1));
        assert!(drain(&mut net).is_empty(), "a dead node is told nothing");
        assert_eq!(net.conn_state(x), Some(ConnState::Closed));
        assert_eq!(net.conn_state(y), Some(ConnState::Closed));
    }

    #[test]
    fn the_tests_own_draws_do_not_move_the_jitter() {
        let config = SimConfig {
            jitter: Duration::from_millis(50),
            ..SimConfig::default()
        };
        let delays = |draw_first: bool| {
            let mut net = SimNet::with_config(3, config);
            if draw_first {
                net.rng().next_u64();
            }
            let a = net.add_node(NodeConfig::default());
            let b = net.add_node(NodeConfig::default());
            net.connect(a, b).expect("connect");
            net.next_event_at().map(|t| t - net.epoch())
        };
        let delay = delays(false).expect("an accept is pending");
        assert!(delay <= Duration::from_millis(50));
        assert_eq!(delays(true), Some(delay));
    }

    #[test]
    fn absurd_latencies_saturate_instead_of_overflowing() {
        let mut net = SimNet::new(2);
        let far = NodeConfig::symmetric(NodeConfig::UNLIMITED, Duration::MAX);
        let a = net.add_node(far);
        let b = net.add_node(far);
        net.connect(a, b).expect("connect");
        let at = net.next_event_at().expect("pending");
        assert_eq!(at, net.epoch() + MAX_OFFSET);
        net.advance_to(at);
        assert_eq!(net.elapsed(), MAX_OFFSET);
    }
}
