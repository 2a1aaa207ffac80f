//! Simulated TCP (no BEP): the identifiers, settings, deliveries and counters of [`SimNet`].
//!
//! [`SimNet`]: crate::SimNet

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

/// A node of a [`SimNet`](crate::SimNet): one simulated host with one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's position in creation order (0 for the first node), for indexing a `Vec`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}

/// One end of a simulated connection; the two ends of a connection have different ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub(crate) u32);

impl ConnId {
    /// The end's position in creation order, for indexing a `Vec`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// A node's access link: how fast it uploads and downloads, and how far away it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeConfig {
    /// Bytes per second the node sends, shared by its connections; [`NodeConfig::UNLIMITED`]
    /// for no limit. 0 is taken as 1.
    pub upload_rate: u64,
    /// Bytes per second the node receives, over all its connections; [`NodeConfig::UNLIMITED`]
    /// for no limit. 0 is taken as 1.
    pub download_rate: u64,
    /// One-way delay added to every delivery from this node (fixed for a connection when it is
    /// opened).
    pub latency: Duration,
}

impl NodeConfig {
    /// The rate that means "no limit".
    pub const UNLIMITED: u64 = u64::MAX;

    /// No rate limits and no latency.
    pub fn unlimited() -> Self {
        Self {
            upload_rate: Self::UNLIMITED,
            download_rate: Self::UNLIMITED,
            latency: Duration::ZERO,
        }
    }

    /// Both directions at `bytes_per_second`, with `latency`.
    pub fn symmetric(bytes_per_second: u64, latency: Duration) -> Self {
        Self {
            upload_rate: bytes_per_second,
            download_rate: bytes_per_second,
            latency,
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self::unlimited()
    }
}

/// Settings of the whole network; [`SimConfig::default`] suits peer-wire simulations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SimConfig {
    /// The most bytes one [`DeliveryKind::Data`] carries: the unit of the uplink's round robin.
    /// Default 16 KiB + 13, one BEP 3 `piece` message with its header. 0 is taken as 1.
    pub max_chunk: usize,
    /// Bytes a connection may have sent but not yet delivered (TCP's window); a connection
    /// with a full window waits and the uplink serves the others. A chunk is sent while the
    /// window is not full, so at least one chunk is always in flight. Default 1 MiB.
    pub window: u64,
    /// Each connection gets an extra one-way delay drawn uniformly from `0..=jitter` with the
    /// network's seeded RNG, the same for both directions (so ordering holds). Default 0, in
    /// which case the seed changes nothing.
    pub jitter: Duration,
    /// The most scheduler steps one [`SimNet::run_until`](crate::SimNet::run_until) or
    /// [`SimNet::drive`](crate::SimNet::drive) call may take before it gives up with
    /// [`SimError::StepLimit`](crate::SimError::StepLimit). Default 10,000,000.
    pub step_limit: u64,
}

impl SimConfig {
    /// The default chunk: a 16 KiB block in a `piece` message (4 + 1 + 4 + 4 header bytes).
    pub const DEFAULT_MAX_CHUNK: usize = 16 * 1024 + 13;
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            max_chunk: Self::DEFAULT_MAX_CHUNK,
            window: 1024 * 1024,
            jitter: Duration::ZERO,
            step_limit: 10_000_000,
        }
    }
}

/// Something that happened at a node, to be handed to the state machine running there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// The node it happened at.
    pub node: NodeId,
    /// The node's end of the connection.
    pub conn: ConnId,
    /// What happened.
    pub kind: DeliveryKind,
}

/// What a [`Delivery`] reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryKind {
    /// Another node connected to this one (the accepting end; arrives one latency after
    /// `connect`).
    Accepted {
        /// The connecting node.
        from: NodeId,
    },
    /// This node's outgoing connection is established (one round trip after `connect`).
    Connected,
    /// This node's outgoing connection was refused or timed out; the end is closed.
    Refused,
    /// Bytes from the other end, in order; chunk boundaries carry no meaning.
    Data(Bytes),
    /// The other end closed (after every byte it had queued) or vanished; the end is closed.
    Closed,
}

/// The state of one end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// Opened, not yet reported as `Accepted` or `Connected`; bytes sent now wait.
    Connecting,
    /// Established: bytes flow both ways.
    Open,
    /// Closed here, still sending the bytes queued before `close`.
    Closing,
    /// Closed (locally, by the peer, refused, or its node was killed).
    Closed,
}

/// Who an end belongs to and whom it talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnInfo {
    /// The node this end belongs to.
    pub node: NodeId,
    /// The node at the other end.
    pub peer_node: NodeId,
    /// The other end of the connection.
    pub peer_conn: ConnId,
    /// This node's address.
    pub local_addr: SocketAddr,
    /// The other node's address (its listening address, also for inbound connections, so a
    /// peer is keyed by one address whichever side dialled).
    pub remote_addr: SocketAddr,
    /// True for the end that called `connect`.
    pub outbound: bool,
    /// The end's state.
    pub state: ConnState,
}

/// Byte counters of one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeStats {
    /// Bytes put on the wire by this node's uplink.
    pub bytes_sent: u64,
    /// Bytes delivered to this node as [`DeliveryKind::Data`].
    pub bytes_received: u64,
    /// Connections this node opened or accepted.
    pub connections: u64,
}

/// Byte counters of one connection end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnStats {
    /// Bytes accepted by `send` and not yet put on the wire.
    pub bytes_queued: u64,
    /// Bytes put on the wire from this end.
    pub bytes_sent: u64,
    /// Bytes delivered to this end as [`DeliveryKind::Data`].
    pub bytes_received: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_unlimited_and_ids_print_their_kind() {
        let config = NodeConfig::default();
        assert_eq!(config.upload_rate, NodeConfig::UNLIMITED);
        assert_eq!(config.latency, Duration::ZERO);
        assert_eq!(SimConfig::default().max_chunk, 16_397);
        assert_eq!(NodeId(3).to_string(), "node#3");
        assert_eq!(ConnId(4).to_string(), "conn#4");
        assert_eq!(ConnId(4).index(), 4);
    }
}
