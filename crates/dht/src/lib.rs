//! The mainline DHT (BEP 5, 32, 33, 42, 43, 51): a sans-IO Kademlia node with a tokio UDP driver.
//!
//! The entry type is [`Node`]: the whole DHT node as one sans-IO state machine (answering
//! queries within a per-IP rate limit and an amplification bound, bootstrapping, refreshing,
//! running lookups and announces, following its external address), in quinn-proto's shape:
//! `handle_datagram` / `handle_timeout` in, `poll_transmit` / `poll_event` / `poll_timeout` out.
//! Its parts are public for anyone who builds another node: node ids and the XOR
//! metric, BEP 42 ids derived from the node's IP with their check and exemptions, and nodes in
//! their compact wire form ([`NodeId`], [`Distance`], [`NodeInfo`], [`is_exempt`]); one
//! iterative lookup that keeps `alpha` queries moving past slow nodes ([`Lookup`]). Every part
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
//!
//! The wire: [`Message::decode`] reads one KRPC datagram within [`KrpcLimits`] (every BEP 5
//! query, answer and error, BEP 32 `want`/`nodes6`, BEP 33 scrapes, BEP 42 `ip`, BEP 43 `ro`,
//! BEP 51 `sample_infohashes`) and says with [`KrpcError`] whether to drop a bad datagram or
//! answer it with error 203; [`Message::encode`] writes canonical bencode. [`ScrapeBloom`] is
//! BEP 33's filter of seed and peer addresses.
//!
//! ```
//! use swarmgate_dht::{Body, KrpcLimits, Message, Method, NodeId, Response};
//!
//! let datagram = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
//! let ping = Message::decode(datagram, &KrpcLimits::default())?;
//! let Body::Query(query) = &ping.body else { unreachable!("a query") };
//! assert_eq!(query.method, Method::Ping);
//! assert_eq!(query.id.as_bytes(), b"abcdefghij0123456789");
//!
//! // Answer with our own id, echoing the transaction id byte for byte.
//! let own_id = NodeId(*b"mnopqrstuvwxyz123456");
//! let pong = Message::response(ping.transaction_id.clone(), Response::new(own_id));
//! let mut out = Vec::new();
//! pong.encode(&mut out);
//! assert_eq!(out, b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re");
//! # Ok::<(), swarmgate_dht::KrpcError>(())
//! ```

mod bloom;
mod bucket;
mod clock;
#[cfg(feature = "tokio")]
mod driver;
mod id;
mod krpc;
mod lookup;
mod node;
mod persist;
mod rate;
mod routing;
mod store;
mod tokens;

pub use bloom::ScrapeBloom;
#[cfg(feature = "tokio")]
pub use driver::{
    Dht, DhtConfig, DhtError, DriverStats, LookupReport, PeerStream, WELL_KNOWN_ROUTERS,
};
pub use id::{COMPACT_NODE_V4_LEN, COMPACT_NODE_V6_LEN, Distance, NodeId, NodeInfo, is_exempt};
pub use krpc::{
    BLOOM_LEN, Body, ERROR_GENERIC, ERROR_METHOD_UNKNOWN, ERROR_PROTOCOL, ERROR_SERVER,
    IgnoreReason, InvalidField, KrpcError, KrpcLimits, Message, Method, Problem, Query, Response,
    Want,
};
pub use lookup::{Answered, Lookup, LookupConfig, LookupStats};
pub use node::{Drops, LookupId, Node, NodeConfig, NodeEvent, NodeStats};
pub use persist::{PersistError, SavedTable};
pub use rate::{RateConfig, RateLimiter, RateStats};
pub use routing::{
    BucketInfo, Family, GOOD_FOR, Insertion, K, NodeStatus, PING_INTERVAL, REFRESH_AFTER, Refusal,
    RoutingConfig, RoutingStats, RoutingTable, TableHealth,
};
pub use store::{Announced, MAX_PEERS_PER_HASH, PEER_TTL, PeerStore, StoreConfig, StoreStats};
pub use tokens::{TOKEN_LEN, TOKEN_ROTATION, Tokens};
