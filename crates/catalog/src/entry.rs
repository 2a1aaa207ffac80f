//! One served file: its record (name, size, media type, owners, created), its BEP 3 torrent and
//! info-hash, and its pieces in the content store, read only after they pass their SHA-1.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use swarmgate_blobstore::{ContentBlocks, FileRecord, PieceSource};
use swarmgate_core::{InfoHashV1, Pubkey, Sha256};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::{PieceCache, read_by_pieces};

/// A stored, served file. Immutable: a change (a new owner) replaces the entry in the catalog.
pub struct Entry {
    /// Its metadata record.
    pub file: FileRecord,
    /// Its Blossom owners (Nostr keys), sorted; empty when uploaded without one.
    pub owners: Vec<Pubkey>,
    /// Its torrent's v1 info-hash.
    pub info_hash: InfoHashV1,
    /// Its torrent, as stored.
    pub torrent: Arc<Torrent>,
    pub(crate) pieces: PieceSource,
    pub(crate) cache: Arc<PieceCache>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("file", &self.file)
            .field("owners", &self.owners)
            .field("info_hash", &self.info_hash)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// Its address.
    pub fn sha256(&self) -> &Sha256 {
        &self.file.sha256
    }

    /// Its length in bytes.
    pub fn size(&self) -> u64 {
        self.file.size
    }

    /// Its pieces as a seeder's block source: each verified when it enters the cache.
    pub fn blocks(&self) -> ContentBlocks {
        ContentBlocks::new(self.pieces.clone(), Arc::clone(&self.cache))
    }

    /// `length` bytes from `offset`, cut from whole pieces that passed their SHA-1 (through the
    /// piece cache): a slice of one piece when the range lies in it (no copy), else the parts
    /// joined. A piece that fails its hash is an `InvalidData` error, never wrong bytes; a range
    /// past the end is `UnexpectedEof`.
    pub fn read(&self, offset: u64, length: usize) -> io::Result<Bytes> {
        read_by_pieces(&self.pieces.geometry(), offset, length, |span| {
            let piece = self
                .pieces
                .read_piece_cached(&self.cache, span.piece, true)?;
            Ok(piece.slice(span.range()))
        })
    }

    /// The same file with `owners` (sorted, deduplicated).
    pub(crate) fn with_owners(&self, mut owners: Vec<Pubkey>) -> Entry {
        owners.sort();
        owners.dedup();
        Entry {
            file: self.file.clone(),
            owners,
            info_hash: self.info_hash,
            torrent: Arc::clone(&self.torrent),
            pieces: self.pieces.clone(),
            cache: Arc::clone(&self.cache),
        }
    }
}
