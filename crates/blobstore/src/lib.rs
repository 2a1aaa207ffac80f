//! The gateway's content-addressed store: files by sha256 as blobs or 2 MiB chunks, their
//! metadata, streamed ingest and verified torrent pieces.
//!
//! The crate owns what a server keeps of the files it was given (BEP 3 torrents over Blossom
//! BUD-01 blobs), in two parts behind two traits, so that a deployment can swap either backend
//! (an S3 content store, a PostgreSQL metadata store) and the layers above (the catalog, the
//! gateway, a Blossom server) are tested over the in-memory ones:
//!
//! - The file bytes sit behind [`ContentStore`]: [`ContentStore::ingest`] streams an upload to a
//!   temporary file while hashing it (the file's sha256 and each chunk's, and when asked the
//!   SHA-1 pieces of its v1 torrent, each on a thread of its own), written with `O_DIRECT` where
//!   the file system takes it, and makes it visible by an atomic rename once synced; files under
//!   a threshold (100 MiB) are one blob, larger ones 2 MiB chunks that are each one torrent
//!   piece, identical chunks stored once. Any byte range of any file reads back without loading
//!   the file ([`ContentStore::read_exact_at`], [`ContentReader`]), and [`PieceSource`] serves a
//!   stored file as torrent pieces, each verified against its SHA-1 once, through
//!   swarmgate-storage's byte-bounded LRU [`PieceCache`](swarmgate_storage::PieceCache);
//!   [`ContentBlocks`] hands those pieces to a seeder as its
//!   [`BlockSource`](swarmgate_storage::BlockSource).
//!   [`FsContentStore`] keeps files under `data/` and cleans up after a crash at open;
//!   [`MemoryContentStore`] keeps them in memory; both pass the content conformance suite.
//! - The metadata sits behind [`MetadataStore`]: an [`Upload`] (its [`FileRecord`],
//!   [`TorrentRecord`], [`ChunkRecord`]s and Blossom [`Pubkey`](swarmgate_core::Pubkey) owners)
//!   is stored in one transaction, found again by [`Sha256`](swarmgate_core::Sha256) or
//!   info-hash, listed newest first, and deleted with a report of the content no other file
//!   needs ([`Removed`]); named counters feed the statistics. `SqliteStore` (feature `sqlite`, on
//!   by default) keeps it in SQLite (WAL, `synchronous = FULL`, versioned migrations at open)
//!   through an r2d2 pool; [`MemoryStore`] keeps it in memory. Both pass the conformance suite
//!   that the `conformance` feature makes public for any further backend.
//!
//! It is synchronous and has no tokio: async callers run it on blocking threads, and one
//! instance serves them all (`Send + Sync`, `&self` methods). It does not decide what to store
//! (the catalog does: sizes, names, torrents) nor serve anything over a network. A BitTorrent
//! client that only downloads needs none of it: its files on disk are swarmgate-storage's
//! `TorrentStorage` (docs/decisions/0004-storage-split.md).
//!
//! ```
//! use std::sync::Arc;
//! use swarmgate_blobstore::{
//!     ContentOptions, ContentStore, IngestOptions, MemoryContentStore, PIECE_LENGTH, PieceSource,
//! };
//! use swarmgate_core::PieceIndex;
//!
//! let store = Arc::new(MemoryContentStore::new(ContentOptions::default()));
//! let data = vec![7u8; 3 << 20];
//! let options = IngestOptions { piece_hashes: true, ..IngestOptions::default() };
//! let ingested = store.ingest(&mut &data[..], &options)?;
//! assert_eq!(ingested.size, 3 << 20);
//!
//! // The file as torrent pieces, each checked against its SHA-1 before it is handed out.
//! let store: Arc<dyn ContentStore> = store;
//! let pieces = PieceSource::open(store, &ingested.sha256, PIECE_LENGTH)?
//!     .with_piece_hashes(ingested.piece_sha1.clone())?;
//! assert_eq!(pieces.read_piece(PieceIndex(1))?.len(), 1 << 20);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod content;
mod meta;

#[cfg(feature = "conformance")]
pub use content::conformance as content_conformance;
pub use content::{
    CHUNK_SIZE, ContentBlocks, ContentError, ContentOptions, ContentReader, ContentStore,
    DEFAULT_BLOB_THRESHOLD, FsContentStore, IngestOptions, Ingested, MemoryContentStore,
    PIECE_LENGTH, PieceSource, Recovery, RemovedContent, StoredFile,
};
#[cfg(feature = "conformance")]
pub use meta::conformance;
pub use meta::{
    COUNTER_MAX, ChunkRecord, FileRecord, Layout, MemoryStore, MetaError, MetadataStore, Removed,
    TorrentRecord, Upload,
};
#[cfg(feature = "sqlite")]
pub use meta::{SCHEMA_VERSION, SqliteOptions, SqliteStore};
