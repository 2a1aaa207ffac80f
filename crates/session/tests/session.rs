//! Integration tests of swarmgate-session: the engine in simulation (no sockets, virtual time)
//! and the tokio driver over loopback TCP.

#[cfg(feature = "tokio")]
#[path = "session/driver.rs"]
mod driver;
#[path = "session/sim.rs"]
mod sim;
#[path = "session/swarm_sim.rs"]
mod swarm_sim;
#[path = "session/web_seed.rs"]
mod web_seed;
