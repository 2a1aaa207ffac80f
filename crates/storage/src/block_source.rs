//! Where a seeded torrent's blocks come from (BEP 3 `piece` messages): the [`BlockSource`]
//! trait, the one thing a seeder needs of whatever holds the data.
//!
//! It sits here, below the engine that calls it and beside the storage that may implement it,
//! so that any store can feed a seeder without the two crates knowing each other: the gateway's
//! content store implements it (swarmgate-blobstore's `ContentBlocks`), the session's seeder
//! takes an `Arc<dyn BlockSource>` per torrent.

use std::io;

use bytes::Bytes;
use swarmgate_core::{BlockRef, Geometry};

/// Where a seeded torrent's verified bytes come from.
///
/// Whatever it returns is sent to a peer as is, so an implementation returns only bytes it has
/// verified (or trusts): an `Err` (or bytes of another length than the block's) sends nothing
/// and disconnects the peer that asked.
pub trait BlockSource: Send + Sync + 'static {
    /// The bytes of `block` (a peer's request, already checked against the geometry). Called
    /// on tokio's blocking pool: it may read a disk.
    fn read_block(&self, block: BlockRef) -> io::Result<Bytes>;

    /// The bytes of `block` if they are at hand in memory, else `None` (the default), and the
    /// seeder calls [`read_block`](Self::read_block) on the blocking pool. Called on the async
    /// worker, so it must not block: a cache lookup, never a read. Most blocks of a piece come
    /// from here once its first block loaded it, which spares a thread hand-off per 16 KiB.
    fn read_cached(&self, block: BlockRef) -> Option<Bytes> {
        let _ = block;
        None
    }

    /// The piece geometry the source serves, when it knows it: `Seeder::add` refuses a torrent
    /// whose geometry differs. `None` (the default) skips the check.
    fn geometry(&self) -> Option<Geometry> {
        None
    }
}
