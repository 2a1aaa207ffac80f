//! Integration tests for swarmgate-metainfo: corpus verdicts, interop with libtorrent and
//! mktorrent, the validation rules one by one, property tests, and the writer's goldens and
//! round trips.

mod corpus;
mod golden;
mod interop;
mod props;
mod rules;
mod support;
mod writer;
