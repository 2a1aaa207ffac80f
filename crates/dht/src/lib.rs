//! The mainline DHT (BEP 5, 32, 33, 42, 43, 51): a sans-IO Kademlia node with a tokio UDP driver.
//!
//! The crate is being built in parts (issue 13). What it owns today: node ids and the XOR
//! metric, BEP 42 ids derived from the node's IP with their check and exemptions, and nodes in
//! their compact wire form ([`NodeId`], [`Distance`], [`NodeInfo`], [`is_exempt`]). Every part
//! takes `now` and a seeded [`SplitMix64`](swarmgate_core::SplitMix64) rather than reading a
//! clock or a global RNG, so a network of thousands of nodes runs in a test, deterministically.
//!
//! The node's state: the BEP 5 routing table, one per address family ([`RoutingTable`]: buckets
//! that split where the own id falls, good / questionable / bad nodes, replacement caches,
//! refreshes, BEP 42 and BEP 43 insertion rules), its saved form ([`SavedTable`]), announce
//! tokens from rotating secrets ([`Tokens`]), the announced peers with BEP 33 seeds and blooms
//! and BEP 51 samples ([`PeerStore`]), and the per-IP query limit ([`RateLimiter`]).
//!
//! ```
//! use std::net::IpAddr;
//! use swarmgate_core::SplitMix64;
//! use swarmgate_dht::NodeId;
//!
//! let ip: IpAddr = "203.0.113.9".parse()?;
//! let id = NodeId::secure_for(ip, &mut SplitMix64::new(1));
//! assert!(id.is_secure_for(ip)); // BEP 42: the first 21 bits follow the IP
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod id;

mod bloom_standin;
mod bucket;
mod clock;
mod persist;
mod rate;
mod routing;
mod store;
mod tokens;

pub use id::{COMPACT_NODE_V4_LEN, COMPACT_NODE_V6_LEN, Distance, NodeId, NodeInfo, is_exempt};

// Until bloom.rs (another branch) merges: the store's blooms need a nameable type.
pub use bloom_standin::ScrapeBloom;
pub use persist::{PersistError, SavedTable};
pub use rate::{RateConfig, RateLimiter, RateStats};
pub use routing::{
    BucketInfo, Family, GOOD_FOR, Insertion, K, NodeStatus, PING_INTERVAL, REFRESH_AFTER, Refusal,
    RoutingConfig, RoutingStats, RoutingTable, TableHealth,
};
pub use store::{Announced, MAX_PEERS_PER_HASH, PEER_TTL, PeerStore, StoreConfig, StoreStats};
pub use tokens::{TOKEN_LEN, TOKEN_ROTATION, Tokens};
