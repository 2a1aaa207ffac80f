//! Integration tests of swarmgate-session: the engine in simulation (no sockets, virtual time)
//! and the tokio driver and the multi-torrent seeder over loopback TCP.

#[cfg(feature = "tokio")]
#[path = "session/driver.rs"]
mod driver;
#[cfg(feature = "tokio")]
#[path = "session/seeder.rs"]
mod seeder;
#[path = "session/sim.rs"]
mod sim;
#[path = "session/swarm_sim.rs"]
mod swarm_sim;
#[cfg(feature = "tokio")]
#[path = "session/web_seed.rs"]
mod web_seed;
