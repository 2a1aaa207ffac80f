//! Integration tests for swarmgate-tracker: spec vectors, properties, the UDP machine under fake
//! time, loopback clients and opentracker interop.

#[cfg(feature = "client")]
mod interop;
#[cfg(feature = "client")]
mod loopback;
mod machine;
mod props;
mod server;
#[cfg(all(feature = "client", feature = "server"))]
mod server_io;
mod server_local;
mod server_props;
mod spec;
