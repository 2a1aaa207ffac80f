//! The `gateway` binary end to end, each test from a fresh temporary folder with the binary
//! started on port 0 of loopback (and SIGKILLed when the test ends): uploads and the download
//! API (`api`), real BitTorrent clients downloading by .torrent and by magnet (`clients`,
//! ignored unless aria2c, transmission-cli and python3-libtorrent are installed), restarts after
//! SIGKILL and SIGTERM (`restart`), Nostr announcements and following against an in-process
//! relay (`nostr`) and read by other implementations (`nostr_interop`, ignored unless Node and
//! PyPI's nostr-relay are set up), bad input (`bad_input`), floods (`rate_limits`), slowloris,
//! connection caps and oversized requests from 127.0.0.2 (`http_attack`), a connection flood on
//! the peer port while libtorrent and aria2c download (`peer_attack`, ignored unless both are
//! installed), a data folder that runs out of space (`disk_full`: a tmpfs, or `RLIMIT_FSIZE` on
//! the gateway), and what the
//! status endpoints, metrics and diagnostics report (`status`). The two fixture files (5 MiB and
//! 300 MiB of seeded random bytes) are made once under Cargo's temporary folder for this target
//! and reused by later runs.

mod api;
mod bad_input;
mod blossom;
mod clients;
mod dht;
#[cfg(target_os = "linux")]
mod disk_full;
mod federation;
mod http_attack;
mod mirror;
mod nostr;
mod nostr_interop;
mod peer_attack;
mod rate_limits;
mod relay;
mod restart;
mod status;
mod support;
mod uploads;
