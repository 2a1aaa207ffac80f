//! Integration tests for swarmgate-peer: codec spec vectors, round trips and truncation sweeps;
//! two in-memory sessions wired together with fake time; hostile input; ut_metadata; tokio
//! connections on 127.0.0.1; and (ignored unless python3-libtorrent is installed) interop with a
//! libtorrent seeder.

#[path = "peer/codec.rs"]
mod codec;
#[path = "peer/harness.rs"]
mod harness;
#[path = "peer/hostile.rs"]
mod hostile;
#[cfg(feature = "tokio")]
#[path = "peer/interop.rs"]
mod interop;
#[path = "peer/metadata.rs"]
mod metadata;
#[cfg(feature = "tokio")]
#[path = "peer/net.rs"]
mod net;
#[path = "peer/session.rs"]
mod session;
