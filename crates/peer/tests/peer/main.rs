//! Integration tests for swarmgate-peer: codec spec vectors, round trips and truncation sweeps;
//! two in-memory sessions wired together with fake time; hostile input; ut_metadata; tokio
//! connections on 127.0.0.1; and (ignored unless python3-libtorrent is installed) interop with a
//! libtorrent seeder.

mod codec;
mod harness;
mod hostile;
#[cfg(feature = "tokio")]
mod interop;
mod metadata;
#[cfg(feature = "tokio")]
mod net;
mod session;
