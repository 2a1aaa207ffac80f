//! Integration tests for swarmgate-dht: the KRPC wire and BEP 33's bloom filter, against the
//! BEPs' vectors, with round-trip and never-panic sweeps.

mod bloom;
mod krpc;
mod krpc_beps;
mod krpc_props;
