//! Third-party BitTorrent programs for interop tests (BEP 3 peers and trackers, BEP 9 magnets,
//! BEP 19 web seeds, as real clients speak them): python3-libtorrent peers, aria2c,
//! transmission-cli and opentracker, each started on 127.0.0.1 and killed when dropped, and
//! what tests need around them (free ports, deterministic files, digests).
//!
//! Unlike the rest of this crate, this module touches real processes, sockets and the clock: it
//! is for the `#[ignore = "needs …"]` interop tests of the binaries, which `.ci/run` runs with
//! the programs installed. Every wait is bounded, and every helper panics with what it saw
//! rather than return an error: a test has nothing better to do with one. std only.
//!
//! ```no_run
//! use std::time::Duration;
//! use swarmgate_testkit::programs::{aria2_tracked, sha256};
//!
//! let dir = std::env::temp_dir().join("aria2-example");
//! let (mut aria2, log) = aria2_tracked("file.torrent", &dir, &dir.join("work"), false, false);
//! let status = aria2.wait_exit(Duration::from_secs(120));
//! assert!(status.success(), "{}", std::fs::read_to_string(log).unwrap_or_default());
//! println!("{:?}", sha256(&dir.join("file.bin")));
//! ```

mod clients;
mod libtorrent;
mod process;
mod util;

pub use clients::{Opentracker, aria2_seed, aria2_tracked, transmission, transmission_leech};
pub use libtorrent::{
    LT_PEER, LtPeer, lt_command, lt_create, lt_leech, lt_leech_with, lt_seed, started,
};
pub use process::{Running, send_signal};
pub use util::{
    answers_handshake, free_port, hex_decode, hex_encode, random_bytes, sha256, sha256_reader,
    tree_digest, url_encode, write_random,
};
