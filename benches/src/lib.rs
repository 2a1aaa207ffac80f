//! Shared fixtures for the Swarmgate benchmarks: the benches themselves live in `benches/`.
