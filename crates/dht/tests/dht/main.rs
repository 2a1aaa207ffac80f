//! Integration tests for swarmgate-dht: the node's state (routing table, tokens, peer store, rate
//! limit, saved table) through the public API.

mod persist;
mod rate;
mod routing;
mod store;
mod tokens;
