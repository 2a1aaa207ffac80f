//! Integration tests for swarmgate-bencode: spec vectors, spans, streaming prefixes, round trips,
//! a differential test against bendy, and serde.

mod common;
mod differential;
mod prefix;
mod roundtrip;
mod serde_tests;
mod spans;
mod spec;
