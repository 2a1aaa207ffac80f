//! Simulated UDP (no BEP): the identifiers, settings, events, errors and counters of
//! [`SimUdp`](crate::SimUdp)(super::SimUdp).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A host of a [`SimUdp`](crate::SimUdp): one simulated machine with one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub(super) u32);

impl HostId {
    /// The host's position in creation order (0 for the first), for indexing a `Vec`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host#{}", self.0)
    }
}

/// How far away a host is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HostConfig {
    /// One-way delay added to every datagram the host sends.
    pub latency: Duration,
}

impl HostConfig {
    /// A host whose datagrams take `latency` to arrive.
    pub fn with_latency(latency: Duration) -> Self {
        Self { latency }
    }
}

/// The network's settings: what happens to every datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UdpConfig {
    /// Extra delay drawn uniformly from `0..=jitter` for each datagram (default none).
    pub jitter: Duration,
    /// The probability that a datagram is lost on the way, in `[0, 1]` (default 0).
    pub loss: f64,
}

/// A datagram handed to its receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// The host that holds the destination address.
    pub to: HostId,
    /// The sender's address.
    pub from: SocketAddr,
    /// The bytes sent.
    pub payload: Vec<u8>,
}

/// What [`SimUdp::next_event`](crate::SimUdp::next_event) reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpEvent {
    /// A datagram arrived at a live host that is not silent.
    Datagram(Datagram),
    /// The wake-up set with [`SimUdp::set_wake`](crate::SimUdp::set_wake) is due.
    Wake {
        /// The host to wake.
        host: HostId,
    },
}

/// Whether a host takes part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostState {
    /// Sends and receives.
    Alive,
    /// Sends, but drops everything it receives.
    Silent,
    /// Gone for good.
    Killed,
}

/// A call that cannot be carried out: each one is a bug in the test.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UdpError {
    /// The host id was not issued by this network.
    #[error("{host} does not exist in this network")]
    UnknownHost {
        /// The id given.
        host: HostId,
    },
    /// The host was killed: it can send nothing and change nothing.
    #[error("{host} was killed")]
    HostDown {
        /// The killed host.
        host: HostId,
    },
    /// A live (or silent) host already holds the address: kill it first.
    #[error("{addr} is held by {holder}")]
    AddrInUse {
        /// The address asked for.
        addr: SocketAddr,
        /// The host holding it.
        holder: HostId,
    },
}

/// What became of the datagrams, network-wide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UdpStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams handed to their receiver.
    pub delivered: u64,
    /// Lost on the way (the [`UdpConfig::loss`] draw).
    pub lost: u64,
    /// Arrived where no live host was (never one, or a killed one).
    pub unroutable: u64,
    /// Arrived at a silent host and dropped.
    pub dropped_silent: u64,
}

/// One host's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HostStats {
    /// Datagrams it sent.
    pub sent: u64,
    /// Bytes it sent.
    pub bytes_sent: u64,
    /// Datagrams handed to it.
    pub received: u64,
    /// Bytes handed to it.
    pub bytes_received: u64,
    /// Datagrams that reached it while it was silent, dropped.
    pub dropped_silent: u64,
}
