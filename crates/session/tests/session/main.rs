//! Integration tests of swarmgate-session: the engine in simulation (no sockets, virtual time)
//! and the tokio driver and the multi-torrent seeder over loopback TCP.

#[cfg(feature = "tokio")]
mod driver;
#[cfg(feature = "tokio")]
mod seeder;
mod sim;
mod swarm_sim;
#[cfg(feature = "tokio")]
mod web_seed;
