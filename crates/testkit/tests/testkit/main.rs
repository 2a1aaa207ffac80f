//! Integration tests of swarmgate-testkit: the simulated network's semantics (ordering,
//! connection life cycle, determinism), its bandwidth model (rates, caps, fairness, latency),
//! a small swarm driven through `SimHost`, and the torrent fixtures.

mod fixtures;
mod net;
mod rates;
mod support;
mod swarm;
