//! How a node behaves: its families, its limits and its timers, with libtorrent-like defaults.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::id::NodeId;
use crate::krpc::KrpcLimits;
use crate::lookup::LookupConfig;
use crate::rate::RateConfig;
use crate::routing::RoutingConfig;
use crate::store::StoreConfig;

/// A node's configuration; [`NodeConfig::default`] is an IPv4 node with a random id.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The id to use when there is no saved table (`None`: random; the node changes it to fit
    /// its external address under BEP 42).
    pub id: Option<NodeId>,
    /// The address the node's socket is bound to (the driver sets it). Its port is the one
    /// announced with `implied_port`, its IP (when not unspecified) the node's own address
    /// until answering nodes agree on an external one; see [`Node::own_addr`](crate::Node::own_addr).
    pub local_addr: Option<SocketAddr>,
    /// The IP other nodes reach this node at, when the operator knows it (a server behind a
    /// known address, bound to 0.0.0.0): its own peer is then given in get_peers answers from
    /// the start, not only once answering nodes agree on its external address.
    pub public_ip: Option<IpAddr>,
    /// The node has an IPv4 socket.
    pub ipv4: bool,
    /// The node has an IPv6 socket (BEP 32).
    pub ipv6: bool,
    /// BEP 43: answer no query and say `ro=1` in ours (a node behind a NAT it cannot open).
    pub read_only: bool,
    /// The `v` key of our messages (client and version), if any.
    pub version: Option<Vec<u8>>,
    /// Decoding limits.
    pub krpc: KrpcLimits,
    /// Routing-table policy (BEP 42 enforcement, replacements, failures).
    pub routing: RoutingConfig,
    /// Peer-store bounds and lifetime.
    pub store: StoreConfig,
    /// Per-IP query rate limit.
    pub rate: RateConfig,
    /// How lookups run.
    pub lookup: LookupConfig,
    /// A query not answered within this has failed.
    pub query_timeout: Duration,
    /// Queries in flight at once, at most; more are not sent (and counted). Never more than
    /// 65,535: transaction ids are two bytes.
    pub max_pending: usize,
    /// How long to wait before bootstrapping again while the tables stay empty.
    pub bootstrap_retry: Duration,
    /// Peers in one get_peers answer, at most.
    pub max_values: usize,
    /// An answer is at most this many times the size of its query (and never more than
    /// `max_answer_len`): a node must not amplify a spoofed query into a flood.
    pub answer_factor: usize,
    /// The largest answer sent (BEP 32 keeps payloads near 1,024 bytes).
    pub max_answer_len: usize,
    /// The `interval` of BEP 51 sample_infohashes answers, seconds.
    pub sample_interval: u32,
    /// How many samples a sample_infohashes answer carries, at most.
    pub max_samples: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            id: None,
            local_addr: None,
            public_ip: None,
            ipv4: true,
            ipv6: false,
            read_only: false,
            version: Some(b"SG01".to_vec()),
            krpc: KrpcLimits::default(),
            routing: RoutingConfig::default(),
            store: StoreConfig::default(),
            rate: RateConfig::default(),
            lookup: LookupConfig::default(),
            query_timeout: Duration::from_secs(4),
            max_pending: 4_096,
            bootstrap_retry: Duration::from_secs(10),
            max_values: 50,
            answer_factor: 12,
            max_answer_len: 1_200,
            sample_interval: 300,
            max_samples: 20,
        }
    }
}

impl NodeConfig {
    /// For tests and private networks on one host: local addresses may share an IP (several
    /// nodes and peers on 127.0.0.1), and no per-IP rate limit applies.
    pub fn local_network() -> NodeConfig {
        let mut config = NodeConfig::default();
        config.routing.allow_local_duplicates = true;
        config.store.allow_local_duplicates = true;
        config.rate.per_second = 0;
        config
    }
}
