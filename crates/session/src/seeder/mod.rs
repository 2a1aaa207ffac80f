//! BEP 3 seeding of many torrents from one listening port, with BEP 9 metadata for magnet
//! links: the gateway's peer service.
//!
//! [`Seeder::start`] takes a bound listener; [`Seeder::add`] makes a torrent seeded from a
//! [`BlockSource`] (for the gateway, a stored file's verified pieces: swarmgate-blobstore's
//! `ContentBlocks`); [`Seeder::connect`] dials a leecher the gateway's tracker reported
//! (Transmission 3.00, for one, ignores loopback peers a tracker hands it, so it is reached only
//! when we dial it).
//!
//! How it runs, and why:
//! - One accept loop for every torrent. It reads each peer's handshake (within
//!   `handshake_timeout`) and routes the socket by info-hash; an unknown info-hash is closed.
//! - One task per torrent owns that torrent's sans-IO [`Engine`](crate::Engine) (seeding: every
//!   piece had, nothing downloaded, the info dictionary served), as `run` does for one torrent.
//!   The task starts with the torrent's first peer and ends `idle_grace` after its last one
//!   left, so a seeded torrent that nobody wants costs a table entry (a few hundred bytes plus
//!   the shared `Torrent`), not a task, an engine and a bitfield.
//! - Block reads go to tokio's blocking pool. A read that fails (data missing, a cached piece
//!   whose hash does not match) or returns the wrong length sends nothing: the peer that asked is
//!   disconnected and the error counted.
//! - Every open socket (being handshaken, being dialled, or a peer) holds one of
//!   `max_connections` slots; past it sockets are closed at once and counted as refused, as are
//!   peers past a torrent's `max_peers_per_torrent`.
//! - Before that, an accepted socket passes the admission table (`admission.rs`): caps per address, per /24
//!   or /64 and on half-open sockets (`max_half_open`, below `max_connections`, so peers that
//!   finished a handshake always find room), eviction of the oldest idle half-open socket when
//!   that table is full, and a short handshake timeout under pressure. Its refusals are counted
//!   by reason in [`SeederStats::refusals`]. The policy lives here, not in the gateway, so that
//!   every user of the seeder (`swarm download --seed` too) is as hard to flood.
//! - A dial is deduplicated per (torrent, address): ignored while one is under way or connected,
//!   and for `redial_after` (30 s) after it failed. The engine never
//!   redials on its own (its peers come from `handle_dialled`, not its candidate list).
//! - [`Seeder::shutdown`] closes the listener and every socket and waits for every task (block
//!   reads included). Dropping the last handle without it stops everything without waiting.

mod accept;
mod admission;
mod config;
mod conn;
mod shared;
mod torrent;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use swarmgate_core::{Geometry, InfoHash, InfoHashV1, PeerId};
use swarmgate_metainfo::Torrent;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::engine::EngineStats;
pub use config::{Refusals, SeederConfig, SeederStats};
use shared::{Counters, Entry, Shared, Slot};
pub use swarmgate_storage::BlockSource;
use torrent::Command;

/// Why a torrent cannot be seeded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The torrent has no v1 info-hash and piece hashes (v2-only): peers could not fetch it
    /// from us. Seed a hybrid torrent instead.
    #[error("v2-only torrents cannot be seeded yet (no v1 info-hash)")]
    V2Only,
    /// The source's pieces are not the torrent's: another file or another piece length.
    #[error(
        "the source has {source_length} bytes in pieces of {source_piece}, the torrent {torrent_length} in pieces of {torrent_piece}"
    )]
    Geometry {
        /// The torrent's total length.
        torrent_length: u64,
        /// The torrent's piece length.
        torrent_piece: u32,
        /// The source's total length.
        source_length: u64,
        /// The source's piece length.
        source_piece: u32,
    },
    /// The seeder was shut down.
    #[error("the seeder is shut down")]
    Stopped,
}

/// Seeds many torrents over one listener; see the module docs. Cheap to clone; every method is
/// non-blocking except [`shutdown`](Self::shutdown).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use swarmgate_core::{PeerId, PieceIndex};
/// use swarmgate_metainfo::TorrentBuilder;
/// use swarmgate_blobstore::{
///     ContentBlocks, ContentOptions, ContentStore, IngestOptions, MemoryContentStore, PieceSource,
/// };
/// use swarmgate_session::{Seeder, SeederConfig};
/// use swarmgate_storage::PieceCache;
///
/// // A stored file and its torrent (the gateway has both once a file is uploaded).
/// let data = vec![42u8; 100_000];
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("file.bin"), &data)?;
/// let built = TorrentBuilder::new(dir.path().join("file.bin"))
///     .piece_length(32 * 1024)
///     .build()?;
/// let torrent = Arc::new(built.torrent);
/// let store: Arc<dyn ContentStore> = Arc::new(MemoryContentStore::new(ContentOptions::default()));
/// let stored = store.ingest(&mut &data[..], &IngestOptions::default())?;
/// // A blob has no piece hashes of its own: verify against the torrent's.
/// let hashes = (0..torrent.piece_count())
///     .filter_map(|i| torrent.piece_hash(PieceIndex(i)))
///     .collect();
/// let pieces = PieceSource::open(store, &stored.sha256, torrent.piece_length())?
///     .with_piece_hashes(hashes)?;
/// let cache = Arc::new(PieceCache::new(64 << 20));
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let config = SeederConfig::new(PeerId::swarmgate(*b"gateway-0001"));
/// let seeder = Seeder::start(listener, config)?;
/// assert!(seeder.add(torrent, Arc::new(ContentBlocks::new(pieces, cache)))?);
/// assert_eq!(seeder.stats().torrents, 1);
/// // Peers now connect to seeder.local_addr(); seeder.connect(..) dials one.
/// seeder.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Seeder {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

impl std::fmt::Debug for Seeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeder")
            .field("local_addr", &self.shared.local_addr)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Stops everything when the last handle is dropped.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        drop(close(&self.0));
    }
}

/// What a closing seeder still has running.
struct Closing {
    accept: Option<JoinHandle<()>>,
    helpers: JoinSet<()>,
    tasks: Vec<JoinHandle<()>>,
}

/// Marks the seeder closed, stops the accept loop and tells every torrent task to stop; the
/// caller waits for what is returned (or drops it: helpers are aborted, tasks end on their own).
fn close(shared: &Shared) -> Closing {
    let mut state = shared.state();
    state.closed = true;
    let accept = state.accept.take();
    if let Some(accept) = &accept {
        accept.abort();
    }
    let helpers = std::mem::take(&mut state.helpers);
    let mut tasks: Vec<JoinHandle<()>> = state.ended.drain(..).collect();
    for entry in state.torrents.values_mut() {
        if let Some(task) = entry.task.take() {
            let _ = task.commands.send(Command::Stop);
            tasks.push(task.join);
        }
    }
    Closing {
        accept,
        helpers,
        tasks,
    }
}

impl Seeder {
    /// Accepts peers on `listener` for every added torrent (routing by the handshake's
    /// info-hash; an unknown info-hash is closed) until [`shutdown`](Self::shutdown). Runs on
    /// the current tokio runtime; an error when there is none, or the listener has no address.
    pub fn start(listener: TcpListener, config: SeederConfig) -> io::Result<Seeder> {
        let local_addr = listener.local_addr()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let shared = Arc::new(Shared::new(config, local_addr, runtime.clone()));
        let accept = runtime.spawn(accept::run(Arc::clone(&shared), listener));
        shared.state().accept = Some(accept);
        Ok(Seeder {
            _owner: Arc::new(Owner(Arc::clone(&shared))),
            shared,
        })
    }

    /// The address peers connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Seeds `torrent` (v1 or hybrid; v2-only is an error) from `source`: every piece is
    /// offered, and the info dictionary too (BEP 9, so magnet-link clients get the metadata
    /// from us). Adding a torrent already seeded replaces nothing and returns `Ok(false)`.
    pub fn add(
        &self,
        torrent: Arc<Torrent>,
        source: Arc<dyn BlockSource>,
    ) -> Result<bool, SeedError> {
        let info_hash = match torrent.info_hash() {
            InfoHash::V1(hash) | InfoHash::Hybrid(hash, _) => hash,
            InfoHash::V2(_) => return Err(SeedError::V2Only),
        };
        let geometry = torrent.layout().geometry();
        if let Some(theirs) = source.geometry() {
            if theirs != geometry {
                return Err(geometry_error(geometry, theirs));
            }
        }
        let pieces = geometry.piece_count();
        let mut state = self.shared.state();
        if state.closed {
            return Err(SeedError::Stopped);
        }
        if state.torrents.contains_key(&info_hash) {
            return Ok(false);
        }
        let id = state.next_task;
        state.next_task += 1;
        let stats = EngineStats {
            pieces_have: pieces,
            pieces_total: pieces,
            ..EngineStats::default()
        };
        let entry = Entry {
            id,
            torrent,
            source,
            task: None,
            stats,
        };
        state.torrents.insert(info_hash, entry);
        Ok(true)
    }

    /// Stops seeding `info_hash` and closes its peers; false if it was not seeded.
    pub fn remove(&self, info_hash: &InfoHashV1) -> bool {
        let removed = {
            let mut state = self.shared.state();
            let Some(mut entry) = state.torrents.remove(info_hash) else {
                return false;
            };
            if let Some(task) = entry.task.take() {
                let _ = task.commands.send(Command::Stop);
                state.push_ended(task.join);
            }
            entry
        };
        drop(removed);
        self.shared.forget_dials(info_hash);
        true
    }

    /// Dials `addr`, a peer of the seeded torrent `info_hash`. Deduplicated: ignored while
    /// connected to or dialling that address for that torrent, and for `redial_after` after a
    /// failed dial; ignored for unknown torrents, and counted as refused when
    /// `max_connections` are open.
    pub fn connect(&self, info_hash: &InfoHashV1, addr: SocketAddr) {
        self.start_dial(info_hash, addr, None);
    }

    /// Dials `addr`, a peer that just announced `info_hash` with `peer_id` to our tracker, as
    /// [`connect`](Self::connect) does, but `announce_dial_delay` later and only if that peer
    /// has not connected to us meanwhile. Clients that dial the peers a tracker hands them do
    /// so at once, and a dial of ours meeting theirs head-on gets both closed by libtorrent as
    /// duplicates (it then waits a minute); clients that do not dial (Transmission 3.00 on
    /// loopback) are reached a moment later.
    pub fn connect_announced(&self, info_hash: &InfoHashV1, addr: SocketAddr, peer_id: PeerId) {
        self.start_dial(info_hash, addr, Some(peer_id));
    }

    fn start_dial(&self, info_hash: &InfoHashV1, addr: SocketAddr, announced: Option<PeerId>) {
        if addr == self.shared.local_addr || addr.ip().is_unspecified() || addr.port() == 0 {
            return;
        }
        {
            let state = self.shared.state();
            if state.closed || !state.torrents.contains_key(info_hash) {
                return;
            }
        }
        let Some(guard) = self.shared.begin_dial(*info_hash, addr) else {
            return;
        };
        let Some(slot) = Slot::take(&self.shared.counters) else {
            return;
        };
        Counters::add(&self.shared.counters.dials, 1);
        let task = accept::dial(
            Arc::clone(&self.shared),
            *info_hash,
            addr,
            slot,
            guard,
            announced,
        );
        let mut state = self.shared.state();
        if !state.closed {
            state.spawn_helper(&self.shared.runtime, task);
        }
    }

    /// The seeder's figures.
    pub fn stats(&self) -> SeederStats {
        self.shared.stats()
    }

    /// The figures of one seeded torrent (uploaded counts since it was added; peers and rates
    /// as of its task's latest report, at most half a second old), or `None` if it is not
    /// seeded.
    pub fn torrent_stats(&self, info_hash: &InfoHashV1) -> Option<EngineStats> {
        let state = self.shared.state();
        state
            .torrents
            .get(info_hash)
            .map(|entry| entry.stats.clone())
    }

    /// Closes the listener and every peer, and stops; returns when all tasks are done.
    pub async fn shutdown(self) {
        let closing = close(&self.shared);
        if let Some(accept) = closing.accept {
            let _ = accept.await;
        }
        let mut helpers = closing.helpers;
        helpers.shutdown().await;
        for task in closing.tasks {
            let _ = task.await;
        }
    }
}

fn geometry_error(torrent: Geometry, source: Geometry) -> SeedError {
    SeedError::Geometry {
        torrent_length: torrent.total_length(),
        torrent_piece: torrent.piece_length(),
        source_length: source.total_length(),
        source_piece: source.piece_length(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use swarmgate_testkit::TorrentFixture;

    use super::*;

    /// A source that serves nothing, of a given geometry.
    struct Nothing(Option<Geometry>);

    impl BlockSource for Nothing {
        fn read_block(&self, _: swarmgate_core::BlockRef) -> io::Result<Bytes> {
            Err(io::Error::other("nothing here"))
        }

        fn geometry(&self) -> Option<Geometry> {
            self.0
        }
    }

    /// The gateway keeps a `Seeder` in its shared state and calls it from any task.
    #[test]
    fn handles_are_send_and_sync() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Seeder>();
        shareable::<Arc<dyn BlockSource>>();
    }

    #[tokio::test]
    async fn torrents_that_cannot_be_seeded_are_refused() {
        let torrent = Arc::new(TorrentFixture::new(36).build().torrent);
        let geometry = torrent.layout().geometry();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = SeederConfig::new(PeerId::swarmgate(*b"refusals-001"));
        let seeder = Seeder::start(listener, config).unwrap();

        let other = Geometry::new(geometry.total_length(), 16 * 1024).unwrap();
        let refused = seeder.add(Arc::clone(&torrent), Arc::new(Nothing(Some(other))));
        assert!(
            matches!(
                refused,
                Err(SeedError::Geometry {
                    source_piece: 16_384,
                    ..
                })
            ),
            "{refused:?}"
        );
        assert!(
            seeder
                .add(Arc::clone(&torrent), Arc::new(Nothing(None)))
                .unwrap()
        );
        let again = seeder.add(Arc::clone(&torrent), Arc::new(Nothing(Some(geometry))));
        assert!(!again.unwrap(), "already seeded");

        // A v2-only torrent: one file of one piece (no piece layers needed).
        let mut v2 = b"d4:infod9:file treed5:a.bind0:d6:lengthi100e11:pieces root32:".to_vec();
        v2.extend_from_slice(&[7; 32]);
        v2.extend_from_slice(b"eee12:meta versioni2e4:name5:a.bin12:piece lengthi16384eee");
        let v2 = Torrent::from_bytes(&v2).unwrap();
        let refused = seeder.add(Arc::new(v2), Arc::new(Nothing(None)));
        assert!(matches!(refused, Err(SeedError::V2Only)), "{refused:?}");

        let stopped = seeder.clone();
        seeder.shutdown().await;
        let info_hash = torrent.info_hash().v1().unwrap();
        assert!(
            stopped.torrent_stats(&info_hash).is_some(),
            "figures stay readable"
        );
        let refused = stopped.add(torrent, Arc::new(Nothing(None)));
        assert!(matches!(refused, Err(SeedError::Stopped)), "{refused:?}");
        stopped.connect(&info_hash, "127.0.0.1:1".parse().unwrap());
        assert_eq!(stopped.stats().dials, 0, "nothing is dialled once stopped");
    }
}
