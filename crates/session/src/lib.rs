//! The torrent engine: piece picking, choking, and download and seed sessions over the protocol
//! crates.
//!
//! The crate owns the decisions a BitTorrent client makes for one torrent: which peers to dial
//! ([`Engine`] ranks candidates with swarmgate-rank), which blocks to ask each peer for
//! ([`PiecePicker`]: rarest first, finish started pieces, endgame with cancels), how many requests
//! to keep in flight (sized to each peer's measured rate and its `reqq`), whom to upload to
//! (tit-for-tat with an optimistic unchoke), and whom to ban (a peer whose block made a piece
//! fail its hash). It does not parse the wire (swarmgate-peer), talk to trackers
//! (swarmgate-tracker) or touch files (swarmgate-storage): it composes them.
//!
//! Two layers:
//! - [`Engine`], a sans-IO state machine: bytes and verdicts in; bytes, [`EngineCommand`]s (work
//!   the driver must carry out: connect, disconnect, write, verify, read, fetch) and
//!   [`EngineEvent`]s (news it may observe: verified, failed, banned, endgame, complete) out;
//!   time passed in as `now`. [`Engine`]'s docs give the call order and what each command wants
//!   back. [`drive`] runs that order over an [`EngineIo`], one method per command, and every
//!   driver below (and the simulation in the tests) is one. It builds with
//!   `--no-default-features` and runs deterministically in simulation (swarmgate-testkit).
//! - [`run`] (feature `tokio`, on by default): the engine over TCP sockets, disk threads and
//!   tracker announces, and (feature `dht`, on by default) the mainline DHT as one more source
//!   of peers: give [`RunConfig`] and [`MagnetOptions`] a running `swarmgate_dht::Dht` and the
//!   torrent is looked up while it wants peers and kept announced while it accepts them (a
//!   magnet link with nothing but its info-hash resolves through it); `swarm download` is a
//!   thin shell around it.
//! - [`Seeder`] (feature `tokio`): many torrents seeded from one listening port, one engine task
//!   per torrent with peers, blocks read from a [`BlockSource`] (for the gateway, a stored
//!   file's verified pieces: swarmgate-blobstore's `ContentBlocks`); the gateway's peer service.
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use swarmgate_core::PeerId;
//! use swarmgate_metainfo::Torrent;
//! use swarmgate_session::{RunConfig, run};
//!
//! let torrent = Arc::new(Torrent::from_bytes(&std::fs::read("file.torrent")?)?);
//! let config = RunConfig::new("downloads", PeerId::swarmgate(*b"example-id-1"));
//! let summary = run(torrent, config, |p| eprintln!("{:?}", p.stats), std::future::pending()).await?;
//! assert!(summary.complete);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "tokio")]
mod driver;
mod engine;
mod picker;
#[cfg(feature = "tokio")]
mod seeder;
#[cfg(feature = "tokio")]
mod socket;

#[cfg(feature = "tokio")]
pub use driver::{
    FetchError, FetchFuture, MagnetError, MagnetOptions, Phase, PieceFetcher, Progress, RunConfig,
    RunError, Summary, resolve_magnet, run,
};
pub use engine::{
    DisconnectReason, Engine, EngineCommand, EngineConfig, EngineEvent, EngineIo, EngineStats,
    PieceCheck, WEB_SEED_BACKOFF, WebSeedFailure, drive,
};
pub use picker::{BlockOutcome, ENDGAME_REQUESTERS, PeerKey, PiecePicker};
#[cfg(feature = "tokio")]
pub use seeder::{BlockSource, Refusals, SeedError, Seeder, SeederConfig, SeederStats};
