//! Integration tests of swarmgate-session: the engine in simulation (no sockets, virtual time),
//! the tokio driver and the multi-torrent seeder over loopback TCP, and the DHT as a peer source.

#[cfg(feature = "dht")]
mod dht;
#[cfg(feature = "tokio")]
mod driver;
#[cfg(feature = "tokio")]
mod seeder;
mod sim;
mod swarm_sim;
#[cfg(feature = "tokio")]
mod web_seed;
