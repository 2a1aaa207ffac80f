//! Integration tests of swarmgate-session: the engine in simulation (no sockets, virtual time)
//! and the tokio driver over loopback TCP.

#[path = "session/sim.rs"]
mod sim;
#[path = "session/swarm_sim.rs"]
mod swarm_sim;
