//! A deterministic in-memory network with virtual time, and fixture builders, for testing
//! Swarmgate's state machines.
//!
//! Swarmgate's protocol machines are sans-IO: they take `handle_*(now, input)` calls, emit bytes
//! through `poll_transmit` (and, for the torrent engine, commands through `poll_command`) and
//! ask for wake-ups through `poll_timeout`. This crate gives their
//! tests a world to run in with no sockets, no clock and no threads, so a swarm of twenty peers
//! runs in milliseconds and the same seed gives the same run, delivery for delivery. It owns:
//!
//! - [`SimNet`]: nodes with upload and download rates and latency, joined by reliable, ordered
//!   byte pipes (TCP-like: connect, accept, refuse, close after queued data, a node that
//!   vanishes), on a virtual clock; with [`SimHost`] and [`SimNet::drive`] to run machines and
//!   their timers over it in time order;
//! - [`SimUdp`]: hosts that exchange datagrams (UDP-like: each host with its own latency, loss
//!   and jitter, silent hosts that drop what they receive, hosts killed and added during a run)
//!   on a virtual clock, with one wake-up timer per host, so thousands of sans-IO machines (DHT
//!   nodes) run in time order without a timer scan;
//! - [`SimRng`]: a seeded, dependency-free RNG (SplitMix64) for the tests' own choices;
//! - [`TorrentFixture`]: valid v1 torrents (single- or multi-file, BEP 47 pad files) with
//!   deterministic random content, as `.torrent` bytes, a parsed [`swarmgate_metainfo::Torrent`],
//!   the data, files on disk and a magnet link;
//! - [`programs`]: the real third-party clients (python3-libtorrent, aria2c, transmission-cli,
//!   opentracker) that the binaries' interop tests run, on loopback, killed when dropped. This
//!   module alone touches processes, sockets and the clock.
//!
//! It does not speak any protocol (the machines under test do), outside [`programs`] does not
//! touch a real socket or the system clock (the epoch is one `Instant::now()`, taken at
//! construction; everything after is virtual), and is not published: it is a dev-dependency of
//! the other crates.
//!
//! # The network model
//!
//! Each node's uplink serves its connections round robin, one chunk (at most 16 KiB + 13 bytes
//! by default) at a time, so busy connections share the upload rate equally; a chunk then
//! travels for the sender's latency and passes the receiver's downlink first come first served,
//! so the download rate caps what a node receives. A chunk is delivered when its last byte is
//! through. A per-connection window keeps a slow receiver from hogging its sender's uplink.
//! Simultaneous events run in the order they were scheduled, so runs are reproducible. The
//! details, and the exact semantics of connect, close and kill, are on [`SimNet`]'s methods and in
//! the source of the `net` module.
//!
//! # Example
//!
//! A seeder at 1 MB/s sends a fixture's first piece to a leecher 20 ms away; the run is in
//! virtual time, so it takes as long as the numbers say, not as long as the machine takes.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use swarmgate_testkit::{DeliveryKind, NodeConfig, SimNet, TorrentFixture};
//!
//! let fixture = TorrentFixture::new(42).piece_length(256 * 1024).build();
//! let mut net = SimNet::new(42);
//! let seeder = net.add_node(NodeConfig::symmetric(1_000_000, Duration::from_millis(20)));
//! let leecher = net.add_node(NodeConfig::symmetric(10_000_000, Duration::from_millis(20)));
//!
//! let (to_seeder, _) = net.connect(leecher, seeder)?;
//! let mut received = Vec::new();
//! let report = net.run_until(net.now() + Duration::from_secs(10), |net, delivery| {
//!     match delivery.kind {
//!         // The seeder answers as soon as it sees the connection.
//!         DeliveryKind::Accepted { .. } => {
//!             let piece = Bytes::copy_from_slice(fixture.piece(0));
//!             net.send(delivery.conn, piece).expect("open connection");
//!         }
//!         DeliveryKind::Data(bytes) if delivery.conn == to_seeder => {
//!             received.extend_from_slice(&bytes)
//!         }
//!         _ => {}
//!     }
//! })?;
//!
//! assert_eq!(received, fixture.piece(0));
//! // 262,144 bytes at 1 MB/s, plus 20 ms to accept and 20 ms to travel.
//! let took = report.last_activity.as_secs_f64();
//! assert!((0.30..0.32).contains(&took), "{took}");
//! assert_eq!(net.node_stats(leecher).map(|s| s.bytes_received), Some(262_144));
//! # Ok::<(), swarmgate_testkit::SimError>(())
//! ```

mod datagram;
mod drive;
mod error;
mod events;
mod fixtures;
mod lookup;
mod net;
pub mod programs;
mod rng;
mod types;

pub use datagram::{
    Datagram, HostConfig, HostId, HostState, HostStats, SimUdp, UdpConfig, UdpError, UdpEvent,
    UdpStats,
};
pub use drive::{RunOutcome, RunReport, SimHost};
pub use error::{FixtureError, SimError};
pub use fixtures::{Fixture, TorrentFixture};
pub use net::{SIM_PORT, SimNet};
pub use rng::SimRng;
pub use types::{
    ConnId, ConnInfo, ConnState, ConnStats, Delivery, DeliveryKind, NodeConfig, NodeId, NodeStats,
    SimConfig,
};
