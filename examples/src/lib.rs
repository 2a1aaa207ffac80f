//! Runnable examples for the Swarmgate crates live in `examples/examples/`; this library is empty.
