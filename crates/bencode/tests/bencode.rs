//! Integration tests for swarmgate-bencode: spec vectors, spans, streaming prefixes, round trips,
//! a differential test against bendy, and serde.

#[path = "bencode/common.rs"]
mod common;
#[path = "bencode/differential.rs"]
mod differential;
#[path = "bencode/prefix.rs"]
mod prefix;
#[path = "bencode/roundtrip.rs"]
mod roundtrip;
#[path = "bencode/serde.rs"]
mod serde_tests;
#[path = "bencode/spans.rs"]
mod spans;
#[path = "bencode/spec.rs"]
mod spec;
