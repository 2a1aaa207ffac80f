//! Simulated TCP (no BEP): the event scheduler that moves bytes through links in virtual time.
//!
//! One heap of events ordered by (time, sequence number). Handlers follow the model in the
//! [`net`](crate::net) module docs: the uplink round robin (`pump`), propagation (`Arrive`), the
//! downlink queue (`Arrive` computes when the chunk is through), and delivery (`Deliver`), plus
//! the connection set-up and tear-down events. Every handler checks the state of the ends it
//! touches, so an event made stale by a close or a kill does nothing.

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::net::SimNet;
use crate::types::{ConnId, ConnState, Delivery, DeliveryKind, NodeId};

/// Something the network will do at a point of virtual time.
#[derive(Debug)]
pub(crate) enum Event {
    /// The callee's end of a new connection opens.
    Accept { end: ConnId },
    /// The caller's end opens, or is refused.
    Connect { end: ConnId, refused: bool },
    /// A node's uplink has finished sending its current chunk.
    UplinkFree { node: NodeId },
    /// A chunk (or a bare FIN) reaches the receiver's downlink.
    Arrive {
        to: ConnId,
        from: ConnId,
        data: Bytes,
        fin: bool,
    },
    /// A chunk is through the receiver's downlink.
    Deliver {
        to: ConnId,
        from: ConnId,
        data: Bytes,
        fin: bool,
    },
    /// The peer of `end` was killed.
    Reset { end: ConnId },
}

impl Event {
    /// A bare FIN from `from` to `to`.
    pub(crate) fn fin(to: ConnId, from: ConnId) -> Self {
        Event::Arrive {
            to,
            from,
            data: Bytes::new(),
            fin: true,
        }
    }
}

/// An event with its time; ordered so that `BinaryHeap` pops the earliest, ties by `seq`.
/// Both simulated networks use it (byte pipes with [`Event`], datagrams with their own).
#[derive(Debug)]
pub(crate) struct Scheduled<E = Event> {
    pub(crate) at: Duration,
    pub(crate) seq: u64,
    pub(crate) event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Scheduled<E> {}

impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Scheduled<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the heap's maximum is the earliest event.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// How long `n` bytes hold a link of `rate` bytes per second (rounded up to the nanosecond).
pub(crate) fn transfer_time(n: u64, rate: u64) -> Duration {
    if n == 0 || rate == u64::MAX {
        return Duration::ZERO;
    }
    let nanos = (u128::from(n) * 1_000_000_000).div_ceil(u128::from(rate.max(1)));
    Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
}

impl SimNet {
    /// When the next event is due; `None` when nothing will happen without new input.
    /// Deliveries already waiting in [`SimNet::poll_delivery`] are not events.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.peek().map(|s| self.epoch + s.at)
    }

    pub(crate) fn next_event_offset(&self) -> Option<Duration> {
        self.queue.peek().map(|s| s.at)
    }

    /// Runs every event due at or before `t`, then sets the clock to `t`; `t` earlier than
    /// [`SimNet::now`] does nothing. Deliveries from several instants are queued in order; to
    /// hand each to its node at its own time, advance to [`SimNet::next_event_at`] one step at a
    /// time ([`SimNet::step`], [`SimNet::run_until`]).
    pub fn advance_to(&mut self, t: Instant) {
        let target = t.saturating_duration_since(self.epoch);
        if target <= self.now {
            return;
        }
        self.run_events_until(target);
        self.now = target;
    }

    /// Advances the clock by `d` (see [`SimNet::advance_to`]).
    pub fn advance_by(&mut self, d: Duration) {
        let target = self.now.saturating_add(d);
        if target > self.now {
            self.run_events_until(target);
            self.now = target;
        }
    }

    /// Moves the clock to the next event and runs every event due then (including those they
    /// schedule for the same instant). False when no event is pending.
    pub fn step(&mut self) -> bool {
        match self.next_event_offset() {
            Some(at) => {
                self.run_events_until(at);
                true
            }
            None => false,
        }
    }

    /// Runs all events due at or before `target` (a virtual offset). Terminates: without new
    /// input from outside, every event either moves queued bytes one step along or does nothing.
    pub(crate) fn run_events_until(&mut self, target: Duration) {
        while let Some(next) = self.queue.peek() {
            if next.at > target {
                break;
            }
            let Some(scheduled) = self.queue.pop() else {
                break;
            };
            self.now = self.now.max(scheduled.at);
            self.handle(scheduled.event);
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Accept { end } => self.on_accept(end),
            Event::Connect { end, refused } => self.on_connect(end, refused),
            Event::UplinkFree { node } => {
                self.nodes[node.index()].uplink_busy = false;
                self.pump(node);
            }
            Event::Arrive {
                to,
                from,
                data,
                fin,
            } => self.on_arrive(to, from, data, fin),
            Event::Deliver {
                to,
                from,
                data,
                fin,
            } => self.on_deliver(to, from, data, fin),
            Event::Reset { end } => {
                let state = self.ends[end.index()].state;
                if state == ConnState::Open {
                    self.push(end, DeliveryKind::Closed);
                }
                if matches!(state, ConnState::Open | ConnState::Closing) {
                    self.finish_end(end);
                }
            }
        }
    }

    fn on_accept(&mut self, end: ConnId) {
        let peer = self.ends[end.index()].peer;
        let caller = &self.ends[peer.index()];
        let caller_gone = caller.dead || caller.state == ConnState::Closed;
        let callee = &self.ends[end.index()];
        match callee.state {
            ConnState::Connecting if caller_gone => self.finish_end(end),
            ConnState::Connecting => {
                self.ends[end.index()].state = ConnState::Open;
                let from = self.ends[peer.index()].node;
                self.push(end, DeliveryKind::Accepted { from });
                let node = self.ends[end.index()].node;
                self.pump(node);
            }
            // Closed by the test before it was accepted: answer the caller with a FIN, which
            // arrives no earlier than its `Connected`.
            ConnState::Closed if !callee.dead && !caller_gone => {
                let latency = callee.latency;
                self.schedule(latency, Event::fin(peer, end));
            }
            _ => {}
        }
    }

    fn on_connect(&mut self, end: ConnId, refused: bool) {
        let e = &self.ends[end.index()];
        let peer = e.peer;
        let callee = &self.ends[peer.index()];
        match e.state {
            ConnState::Connecting if refused || callee.dead => {
                self.finish_end(end);
                self.push(end, DeliveryKind::Refused);
            }
            ConnState::Connecting => {
                self.ends[end.index()].state = ConnState::Open;
                self.push(end, DeliveryKind::Connected);
                let node = self.ends[end.index()].node;
                self.pump(node);
            }
            // Closed by the test while connecting, after the callee accepted: tell the callee.
            ConnState::Closed if !e.dead && !refused && callee.state == ConnState::Open => {
                let latency = e.latency;
                self.schedule(latency, Event::fin(peer, end));
            }
            _ => {}
        }
    }

    fn on_arrive(&mut self, to: ConnId, from: ConnId, data: Bytes, fin: bool) {
        let receiver = &self.ends[to.index()];
        if self.ends[from.index()].dead || receiver.dead || receiver.state == ConnState::Closed {
            self.release_window(from, data.len() as u64);
            return;
        }
        let node = &mut self.nodes[receiver.node.index()];
        let start = node.downlink_free_at.max(self.now);
        let done =
            start.saturating_add(transfer_time(data.len() as u64, node.config.download_rate));
        node.downlink_free_at = done;
        self.schedule_at(
            done,
            Event::Deliver {
                to,
                from,
                data,
                fin,
            },
        );
    }

    fn on_deliver(&mut self, to: ConnId, from: ConnId, data: Bytes, fin: bool) {
        let n = data.len() as u64;
        self.release_window(from, n);
        let receiver = &self.ends[to.index()];
        if self.ends[from.index()].dead || receiver.dead || receiver.state != ConnState::Open {
            return;
        }
        if n > 0 {
            self.ends[to.index()].bytes_received += n;
            let node = self.ends[to.index()].node;
            self.nodes[node.index()].stats.bytes_received += n;
            self.push(to, DeliveryKind::Data(data));
        }
        if fin {
            self.finish_end(to);
            self.push(to, DeliveryKind::Closed);
        }
    }

    /// Frees `n` bytes of `from`'s window and lets its uplink use them.
    fn release_window(&mut self, from: ConnId, n: u64) {
        if n == 0 {
            return;
        }
        let end = &mut self.ends[from.index()];
        end.in_flight = end.in_flight.saturating_sub(n);
        let node = end.node;
        self.pump(node);
    }

    fn push(&mut self, conn: ConnId, kind: DeliveryKind) {
        let node = self.ends[conn.index()].node;
        self.outbox.push_back(Delivery { node, conn, kind });
    }

    /// If the node's uplink is idle, starts sending the next chunk, round robin over the ends
    /// with queued bytes and room in their window.
    pub(crate) fn pump(&mut self, node_id: NodeId) {
        let node = &self.nodes[node_id.index()];
        if node.uplink_busy || !node.alive {
            return;
        }
        let window = self.config.window;
        let eligible = |c: &ConnId| {
            let e = &self.ends[c.index()];
            matches!(e.state, ConnState::Open | ConnState::Closing)
                && e.queued > 0
                && e.in_flight < window
        };
        // Round robin: the first eligible end after the last one served, else from the start.
        let after = node
            .ends
            .iter()
            .filter(|c| node.last_served.is_none_or(|last| **c > last))
            .find(|c| eligible(c));
        let Some(&conn) = after.or_else(|| node.ends.iter().find(|c| eligible(c))) else {
            return;
        };
        let rate = node.config.upload_rate;
        let max_chunk = self.config.max_chunk;

        let end = &mut self.ends[conn.index()];
        let data = take_chunk(end, max_chunk);
        let n = data.len() as u64;
        let fin = end.state == ConnState::Closing && end.queued == 0;
        let departure = self.now.saturating_add(transfer_time(n, rate));
        end.last_departure = departure;
        end.in_flight += n;
        end.bytes_sent += n;
        let (peer, latency) = (end.peer, end.latency);
        let node = &mut self.nodes[node_id.index()];
        node.stats.bytes_sent += n;
        node.last_served = Some(conn);
        node.uplink_busy = true;
        self.schedule_at(
            departure.saturating_add(latency),
            Event::Arrive {
                to: peer,
                from: conn,
                data,
                fin,
            },
        );
        self.schedule_at(departure, Event::UplinkFree { node: node_id });
        if fin {
            self.finish_end(conn);
        }
    }
}

/// Takes up to `max` bytes off the front of the end's queue, copying only when the chunk spans
/// several queued `Bytes`.
fn take_chunk(end: &mut crate::net::End, max: usize) -> Bytes {
    let want = (end.queued.min(max as u64)) as usize;
    let mut out: Option<BytesMut> = None;
    let mut first: Option<Bytes> = None;
    let mut taken = 0;
    while taken < want {
        let Some(front) = end.queue.front_mut() else {
            break;
        };
        let piece = if front.len() <= want - taken {
            end.queue.pop_front().unwrap_or_default()
        } else {
            front.split_to(want - taken)
        };
        taken += piece.len();
        match (&mut out, first.take()) {
            (None, None) => first = Some(piece),
            (None, Some(prev)) => {
                let mut buf = BytesMut::with_capacity(want);
                buf.extend_from_slice(&prev);
                buf.extend_from_slice(&piece);
                out = Some(buf);
            }
            (Some(buf), _) => buf.extend_from_slice(&piece),
        }
    }
    end.queued -= taken as u64;
    match out {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NodeConfig;

    #[test]
    fn transfer_time_rounds_up_and_unlimited_is_free() {
        assert_eq!(transfer_time(1_000_000, 1_000_000), Duration::from_secs(1));
        assert_eq!(transfer_time(1, 3), Duration::from_nanos(333_333_334));
        assert_eq!(transfer_time(5, u64::MAX), Duration::ZERO);
        assert_eq!(transfer_time(0, 1), Duration::ZERO);
        assert_eq!(transfer_time(2, 0), Duration::from_secs(2));
    }

    #[test]
    fn the_heap_pops_earliest_then_first_scheduled() {
        let mut net = SimNet::new(0);
        let node = net.add_node(NodeConfig::unlimited());
        let ev = || Event::UplinkFree { node };
        net.schedule_at(Duration::from_secs(2), ev());
        net.schedule_at(Duration::from_secs(1), ev());
        net.schedule_at(Duration::from_secs(1), ev());
        let order: Vec<_> = std::iter::from_fn(|| net.queue.pop())
            .map(|s| (s.at.as_secs(), s.seq))
            .collect();
        assert_eq!(order, [(1, 1), (1, 2), (2, 0)]);
    }

    #[test]
    fn chunks_coalesce_and_split_queued_bytes() {
        let mut net = SimNet::new(0);
        let a = net.add_node(NodeConfig::unlimited());
        let b = net.add_node(NodeConfig::unlimited());
        let (conn, _) = net.connect(a, b).expect("connect");
        for part in [&b"abc"[..], b"de", b"fghij"] {
            net.send(conn, Bytes::copy_from_slice(part)).expect("send");
        }
        let end = &mut net.ends[conn.index()];
        assert_eq!(take_chunk(end, 4), Bytes::from_static(b"abcd"));
        assert_eq!(take_chunk(end, 4), Bytes::from_static(b"efgh"));
        assert_eq!(take_chunk(end, 4), Bytes::from_static(b"ij"));
        assert_eq!(end.queued, 0);
        assert!(end.queue.is_empty());
    }
}
