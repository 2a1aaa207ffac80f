//! The gateway's metadata (BEP 3 / BEP 52 torrents of stored files, BEP 9 magnets, Blossom
//! owners): the [`MetadataStore`] trait and its two backends.
//!
//! The trait is shaped by what the gateway does with it: store an upload (file, torrent, chunks,
//! first owners) as one unit, look a file up by its sha256 or by its torrent's info-hash, list the
//! files newest first, delete one and learn which content to drop, keep Blossom owners, count
//! things for the statistics pages, and check the database at start. Methods are synchronous and
//! take `&self`; the store is shared by every request thread (`Send + Sync`), and async callers
//! run it on blocking threads, as they do file I/O.
//!
//! [`SqliteStore`] is the real one (SQLite in WAL mode through an r2d2 pool); [`MemoryStore`]
//! keeps everything in maps behind a mutex, for tests of the crates above and to keep the trait
//! honest: both pass the same conformance suite (`conformance` feature), and a future backend
//! (PostgreSQL for several gateways behind one address) runs it too.

mod error;
mod memory;
mod record;
#[cfg(feature = "sqlite")]
mod schema;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_read;
#[cfg(feature = "sqlite")]
mod sqlite_rows;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::MetaError;
pub use memory::MemoryStore;
pub use record::{ChunkRecord, FileRecord, Layout, Removed, TorrentRecord, Upload};
#[cfg(feature = "sqlite")]
pub use schema::SCHEMA_VERSION;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore};

use swarmgate_core::{InfoHash, Pubkey, Sha256};

/// The largest counter value: counters saturate here (SQLite integers are signed 64-bit).
pub const COUNTER_MAX: u64 = i64::MAX as u64;

/// A store of file metadata, torrents, chunk lists, Blossom owners and counters.
///
/// Every method is one transaction: a reader sees an upload with all its parts or not at all.
/// Methods about one file answer [`MetaError::NotFound`] when the file is not stored, except the
/// lookups, which answer `None`.
pub trait MetadataStore: Send + Sync {
    /// Stores `upload` (the file, its torrent, its chunks and its first owners) in one
    /// transaction: afterwards every part is visible, or on error none is. Duplicate owners are
    /// stored once. [`MetaError::Conflict`] when the sha256 or an info-hash is already stored,
    /// or a chunk index appears twice; [`MetaError::Invalid`] for numbers no backend can hold
    /// (above `i64::MAX`) and a chunk size or piece length of 0.
    fn put(&self, upload: &Upload) -> Result<(), MetaError>;

    /// The file with this sha256.
    fn file(&self, sha256: &Sha256) -> Result<Option<FileRecord>, MetaError>;

    /// Everything about the file with this sha256, chunks by index and owners sorted.
    fn upload(&self, sha256: &Sha256) -> Result<Option<Upload>, MetaError>;

    /// The torrent of the file with this sha256.
    fn torrent(&self, sha256: &Sha256) -> Result<Option<TorrentRecord>, MetaError>;

    /// The chunks of the file with this sha256, by index (empty for a blob).
    fn chunks(&self, sha256: &Sha256) -> Result<Option<Vec<ChunkRecord>>, MetaError>;

    /// The file whose torrent has this info-hash. A v1 hash (the 20 bytes of handshakes,
    /// trackers and the DHT) also finds a v2 torrent by its truncated v2 hash; a hybrid hash
    /// finds a torrent that has either of its hashes.
    fn file_by_info_hash(&self, info_hash: &InfoHash) -> Result<Option<FileRecord>, MetaError>;

    /// Up to `limit` files, newest first (by `created`, then the later stored first), skipping
    /// the first `offset`.
    fn list(&self, offset: u64, limit: u32) -> Result<Vec<FileRecord>, MetaError>;

    /// The number of stored files.
    fn count(&self) -> Result<u64, MetaError>;

    /// Removes the file with this sha256 and everything attached to it, in one transaction, and
    /// says what was removed and which chunks no other file needs.
    fn delete(&self, sha256: &Sha256) -> Result<Removed, MetaError>;

    /// Makes `owner` an owner of the file; `false` when it already was.
    fn add_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<bool, MetaError>;

    /// Takes `owner` off the file's owners; `false` when it was not one. The file stays, even
    /// with no owner left: deleting it is the caller's choice.
    fn remove_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<bool, MetaError>;

    /// The owners of the file, sorted.
    fn owners(&self, sha256: &Sha256) -> Result<Vec<Pubkey>, MetaError>;

    /// The files `owner` owns, newest first (Blossom's `GET /list/<pubkey>`).
    fn files_of_owner(&self, owner: &Pubkey) -> Result<Vec<FileRecord>, MetaError>;

    /// Adds `delta` to the counter `name` (created at 0) and returns its new value, saturating
    /// at [`COUNTER_MAX`]. Concurrent adds are never lost.
    fn add_to_counter(&self, name: &str, delta: u64) -> Result<u64, MetaError>;

    /// Adds each `(name, delta)` in turn, in one transaction (for SQLite: one fsync, where
    /// separate adds pay one each): how a caller that counts in memory flushes its counts.
    fn add_to_counters(&self, deltas: &[(&str, u64)]) -> Result<(), MetaError>;

    /// The value of the counter `name`; 0 when it was never added to.
    fn counter(&self, name: &str) -> Result<u64, MetaError>;

    /// Every counter, by name.
    fn counters(&self) -> Result<Vec<(String, u64)>, MetaError>;

    /// Checks the store's own consistency (for SQLite: `PRAGMA integrity_check` and
    /// `foreign_key_check`); [`MetaError::Corrupt`] with the findings otherwise.
    fn integrity_check(&self) -> Result<(), MetaError>;
}
