//! Integration tests for swarmgate-metainfo: corpus verdicts, interop with libtorrent and
//! mktorrent, the validation rules one by one, and property tests.

mod corpus;
mod golden;
mod interop;
mod props;
mod rules;
mod support;
