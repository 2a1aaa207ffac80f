//! The content store (BEP 3 pieces of sha256-addressed files, the bytes behind Blossom BUD-01):
//! stored files on disk, content-addressed, written so that nothing half-written is visible.
//!
//! Layout under the data folder (`./data` by default):
//!
//! ```text
//! blobs/ab/cd/<sha256>       a file under the threshold (100 MiB by default), whole
//! chunks/ab/cd/<sha256>      a 2 MiB chunk of a larger file, named by its own sha256
//! manifests/ab/cd/<sha256>   a larger file's chunk list (see the manifest module)
//! tmp/                       ingests in progress; emptied by FsContentStore::open
//! ```
//!
//! (`ab/cd` are the first two bytes of the hash in hex, so no folder grows past a few hundred
//! entries.) A chunk is exactly one piece of the file's torrent (piece length 2 MiB), so the
//! gateway seeds a chunked file by reading chunks; identical chunks, in one file or across
//! files, are stored once.
//!
//! Choices, and why:
//! - An ingest streams into `tmp/` while hashing (with `O_DIRECT` on Linux: the page-cache copy
//!   costs as much CPU as a hash pass), `fdatasync`s, then renames into place and `fsync`s the
//!   folder: a file becomes visible whole or not at all, and survives a power cut
//!   once [`ContentStore::ingest`] has returned. A chunked file's chunks are renamed first and
//!   its manifest last; the manifest is what makes the file exist.
//! - The content store counts chunk references itself, from its manifests (an index built at
//!   open, updated under one lock by ingests and removals): [`ContentStore::remove`] deletes a
//!   file's chunks that no other stored file uses, without asking the metadata database. The
//!   database's own orphan list agrees whenever every stored file has its record; when it does
//!   not (a crash between the content commit and the database commit) the content store's count
//!   is the safe one, since it also covers files the database does not know.
//! - A manifest is also written to `tmp/` before the chunks move and renamed last; a removal
//!   first moves the manifest back to `tmp/`. So after a crash in the middle of either, `open`
//!   finds the manifest in `tmp/` and deletes the chunks of it that no stored file uses: no
//!   orphan chunk outlives a restart.
//! - One process owns a data folder: `open` empties `tmp/`, which would break another process's
//!   ingests in progress.
//! - Reads take no lock: a read racing the removal of the same file fails with
//!   [`ContentError::NotFound`].

mod blocks;
mod direct;
mod error;
mod fs;
mod fs_write;
mod ingest;
mod manifest;
mod memory;
mod pieces;
mod reader;
mod sink;
mod stages;
mod types;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::io::Read;

use sha2::Digest;

pub use blocks::ContentBlocks;
pub use error::ContentError;
pub use fs::{FsContentStore, Recovery};
pub use memory::MemoryContentStore;
pub use pieces::PieceSource;
pub use reader::ContentReader;
pub use types::{
    CHUNK_SIZE, ContentOptions, DEFAULT_BLOB_THRESHOLD, IngestOptions, Ingested, PIECE_LENGTH,
    RemovedContent, StoredFile,
};

use swarmgate_core::Sha256;

/// A store of files addressed by their sha256: ingest, stat, positioned reads, removal.
///
/// `Send + Sync`, synchronous, every method takes `&self`: share one in an `Arc` between the
/// request threads (async callers use blocking threads, as for any file I/O).
pub trait ContentStore: Send + Sync {
    /// Streams `reader` into the store, hashing as it goes, and makes the file visible (whole)
    /// only once it is durable. An upload of a file already stored writes nothing new and says
    /// so ([`Ingested::already_present`]). On any error nothing of the upload is kept:
    /// [`ContentError::Read`] when the reader fails, [`ContentError::TooLarge`] past
    /// [`IngestOptions::max_size`], [`ContentError::SizeMismatch`] when the length differs from
    /// [`IngestOptions::expected_size`].
    fn ingest(
        &self,
        reader: &mut dyn Read,
        options: &IngestOptions,
    ) -> Result<Ingested, ContentError>;

    /// The stored file with this sha256 (size, layout, chunks), or `None`.
    fn stat(&self, sha256: &Sha256) -> Result<Option<StoredFile>, ContentError>;

    /// Fills `buf` with the bytes of `file` from `offset`, across chunk boundaries.
    /// [`ContentError::RangeNotSatisfiable`] when the range passes the end (a zero-length read
    /// at the end is fine), [`ContentError::NotFound`] when the file was removed meanwhile.
    fn read_exact_at(
        &self,
        file: &StoredFile,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ContentError>;

    /// Removes the file with this sha256, and those of its chunks that no other stored file
    /// uses; `None` when it is not stored.
    fn remove(&self, sha256: &Sha256) -> Result<Option<RemovedContent>, ContentError>;

    /// The sha256 of every stored file, sorted.
    fn list(&self) -> Result<Vec<Sha256>, ContentError>;

    /// Whether a chunk with this sha256 is stored.
    fn has_chunk(&self, sha256: &Sha256) -> Result<bool, ContentError>;

    /// `length` bytes of the file `sha256` from `offset`, in a new buffer (for big ranges,
    /// stream with a [`ContentReader`] instead).
    fn read_range(
        &self,
        sha256: &Sha256,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>, ContentError> {
        let file = self
            .stat(sha256)?
            .ok_or(ContentError::NotFound { sha256: *sha256 })?;
        file.check_range(offset, length)?;
        let mut buf = vec![0; length as usize];
        self.read_exact_at(&file, offset, &mut buf)?;
        Ok(buf)
    }

    /// Reads `file` back whole and checks its sha256, and each chunk's;
    /// [`ContentError::Corrupt`] when one differs.
    fn verify(&self, file: &StoredFile) -> Result<(), ContentError> {
        const STEP: u64 = 1 << 20;
        let mut whole = sha2::Sha256::new();
        let mut buf = vec![0; STEP.min(file.size()) as usize];
        let spans: Vec<(u64, u64)> = match file.chunk_size() {
            None => vec![(0, file.size())],
            Some(_) => (0..file.chunks().len())
                .map(|index| file.chunk_span(index))
                .collect(),
        };
        for (index, (start, length)) in spans.into_iter().enumerate() {
            let mut part = sha2::Sha256::new();
            let mut at = start;
            while at < start + length {
                let take = (start + length - at).min(STEP) as usize;
                self.read_exact_at(file, at, &mut buf[..take])?;
                whole.update(&buf[..take]);
                part.update(&buf[..take]);
                at += take as u64;
            }
            if let Some(expected) = file.chunks().get(index) {
                if Sha256(part.finalize().into()) != *expected {
                    return Err(ContentError::corrupt(
                        format!("chunk {index} of {}", file.sha256()),
                        "bytes do not match the chunk's sha256",
                    ));
                }
            }
        }
        if Sha256(whole.finalize().into()) != *file.sha256() {
            return Err(ContentError::corrupt(
                file.sha256(),
                "bytes do not match the file's sha256",
            ));
        }
        Ok(())
    }
}
