//! Integration tests for swarmgate-dht: the KRPC wire and BEP 33's bloom filter against the
//! BEPs' vectors, with round-trip and never-panic sweeps; the node's state (routing table,
//! tokens, peer store, rate limit, saved table) through the public API; the node under attack
//! (rate limits, amplification, forged answers and tokens, garbage); and the deterministic
//! simulation of many nodes on testkit's datagram network (`sim`).

mod bloom;
mod driver;
mod hostile;
mod interop;
mod krpc;
mod krpc_beps;
mod krpc_props;
mod persist;
mod rate;
mod routing;
mod sim;
mod store;
mod tokens;
