//! Swarmgate storage: torrent data on disk with positioned reads and writes, piece verification and resume.
//!
//! The crate owns the files of a torrent being downloaded or seeded: [`TorrentStorage`] turns
//! blocks (piece, offset, bytes) into positioned writes and reads across the torrent's files,
//! hashes and verifies pieces against the torrent's v1 (SHA-1) hashes, checks what is already on
//! disk when a download resumes ([`TorrentStorage::check_existing`], on several threads), and
//! syncs written files before the engine records pieces as done ([`TorrentStorage::flush`]).
//! BEP 47 pad files are never written and read as zeros; symlink entries are not created.
//!
//! [`PieceCache`] is a byte-bounded LRU of whole pieces shared by every reader of one process
//! (a web seed serving a torrent's files, the gateway's verified pieces): concurrent misses of
//! one piece load it once; [`read_by_pieces`] cuts any byte range out of whole pieces, for the
//! readers that keep or verify pieces whole. [`BlockSource`] is what a seeder reads verified
//! blocks through, whatever store holds them.
//!
//! The gateway's content-addressed store (files by sha256, their metadata database, streamed
//! ingest) is another crate, swarmgate-blobstore: a client that only downloads links neither it
//! nor SQLite (docs/decisions/0004-storage-split.md).
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

mod block_source;
mod cache;
mod check;
mod error;
mod handles;
mod ranges;
mod torrent_files;

pub use block_source::BlockSource;
pub use cache::{CacheId, CacheStats, PieceCache, PieceKey};
pub use error::StorageError;
pub use ranges::{PieceSpan, read_by_pieces};
pub use torrent_files::{StorageOptions, TorrentStorage};
