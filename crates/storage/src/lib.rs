//! Swarmgate storage: torrent data on disk with positioned reads and writes, piece verification and resume.
//!
//! The crate owns the files of a torrent being downloaded or seeded: [`TorrentStorage`] turns
//! blocks (piece, offset, bytes) into positioned writes and reads across the torrent's files,
//! hashes and verifies pieces against the torrent's v1 (SHA-1) hashes, checks what is already on
//! disk when a download resumes ([`TorrentStorage::check_existing`], on several threads), and
//! syncs written files before the engine records pieces as done ([`TorrentStorage::flush`]).
//! BEP 47 pad files are never written and read as zeros; symlink entries are not created.
//!
//! The gateway's metadata sits behind the [`MetadataStore`] trait: an [`Upload`] (its
//! [`FileRecord`], [`TorrentRecord`], [`ChunkRecord`]s and Blossom [`Pubkey`] owners) is stored
//! in one transaction, found again by [`Sha256`] or info-hash, listed newest first, and deleted
//! with a report of the content no other file needs ([`Removed`]); named counters feed the
//! statistics. [`SqliteStore`] keeps it in SQLite (WAL, `synchronous = FULL`, versioned
//! migrations at open) through an r2d2 pool; [`MemoryStore`] keeps it in memory. Both pass the
//! conformance suite that the `conformance` feature makes public for any further backend.
//!
//! The gateway's file bytes sit behind the [`ContentStore`] trait: [`ContentStore::ingest`]
//! streams an upload to a temporary file while hashing it (the file's sha256 and each chunk's,
//! and when asked the SHA-1 pieces of its v1 torrent, each on a thread of its own), written with
//! `O_DIRECT` where the file system takes it, and makes it visible by an atomic rename once
//! synced; files under a threshold (100 MiB) are one blob, larger ones 2 MiB chunks that are
//! each one torrent piece, identical chunks stored once. Any byte range of any file reads back
//! without loading the file ([`ContentStore::read_exact_at`], [`ContentReader`]), and
//! [`PieceSource`] serves a stored file as torrent pieces through the byte-bounded LRU
//! [`PieceCache`]. [`FsContentStore`] keeps files under `data/` and cleans up after a crash at
//! open; [`MemoryContentStore`] keeps them in memory; both pass the content conformance suite.
//!
//! It is synchronous (`std::fs`, `FileExt` positioned I/O) and has no tokio: the engine calls it
//! from blocking threads, and one instance serves them all (`Send + Sync`, `&self` methods). It
//! does not choose pieces, talk to peers or verify BEP 52 v2 merkle trees. Errors are
//! [`StorageError`]s that tell a full disk and data not on disk apart from other I/O failures.
//!
//! ```
//! use swarmgate_core::{BlockRef, PieceIndex};
//! use swarmgate_metainfo::{Torrent, TorrentBuilder};
//! use swarmgate_storage::TorrentStorage;
//!
//! // A torrent of one 40,000-byte file in 16 KiB pieces.
//! let source = tempfile::tempdir()?;
//! let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
//! std::fs::write(source.path().join("data.bin"), &data)?;
//! let created = TorrentBuilder::new(source.path().join("data.bin"))
//!     .piece_length(16 * 1024)
//!     .build()?;
//! let torrent: Torrent = created.torrent;
//!
//! // Download it into another folder, piece by piece, then verify and read back.
//! let downloads = tempfile::tempdir()?;
//! let storage = TorrentStorage::open(downloads.path(), &torrent)?;
//! for (index, piece) in data.chunks(16 * 1024).enumerate() {
//!     storage.write_block(PieceIndex(index as u32), 0, piece)?;
//!     assert!(storage.verify_piece(PieceIndex(index as u32))?);
//! }
//! storage.flush()?;
//! let block = BlockRef { piece: PieceIndex(2), offset: 0, length: 40_000 - 2 * 16_384 };
//! assert_eq!(storage.read_block(block)?, &data[2 * 16_384..]);
//!
//! // A resume check finds every piece on disk.
//! let have = storage.check_existing(2, &mut |_done, _total| {})?;
//! assert!(have.is_full());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
mod check;
mod content;
mod error;
mod handles;
mod meta;
mod torrent_files;

pub use cache::{CacheId, CacheStats, PieceCache, PieceKey};
#[cfg(feature = "conformance")]
pub use content::conformance as content_conformance;
pub use content::{
    CHUNK_SIZE, ContentError, ContentOptions, ContentReader, ContentStore, DEFAULT_BLOB_THRESHOLD,
    FsContentStore, IngestOptions, Ingested, MemoryContentStore, PIECE_LENGTH, PieceSource,
    Recovery, RemovedContent, StoredFile,
};
pub use error::StorageError;
#[cfg(feature = "conformance")]
pub use meta::conformance;
pub use meta::{
    COUNTER_MAX, ChunkRecord, FileRecord, Layout, MemoryStore, MetaError, MetadataStore, Pubkey,
    Removed, SCHEMA_VERSION, Sha256, SqliteOptions, SqliteStore, TorrentRecord, Upload,
};
pub use torrent_files::{StorageOptions, TorrentStorage};
