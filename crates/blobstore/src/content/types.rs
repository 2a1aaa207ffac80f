//! The values of the content store (BEP 3 pieces over sha256-addressed files): options, what an
//! ingest returns, and a resolved stored file that reads address by byte offset.

use std::sync::Arc;

use crate::content::ContentError;
use crate::meta::{ChunkRecord, Layout};
use swarmgate_core::Sha256;

/// The size of a chunk of a chunked file: 2 MiB, which is also the piece length of its torrent,
/// so a chunk is exactly one piece.
pub const CHUNK_SIZE: u32 = 2 * 1024 * 1024;

/// The piece length the ingest hashes SHA-1 pieces with (the v1 torrent of every stored file):
/// the chunk size, so the pieces of a chunked file are its chunks.
pub const PIECE_LENGTH: u32 = CHUNK_SIZE;

/// The default size from which a file is stored as chunks: 100 MiB (a multiple of the chunk
/// size, so a file that grows past it during an ingest splits into whole chunks).
pub const DEFAULT_BLOB_THRESHOLD: u64 = 100 * 1024 * 1024;

/// How a content store lays files out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentOptions {
    /// Files shorter than this are stored as one blob; files of this size or more as chunks of
    /// [`CHUNK_SIZE`]. Taken as at least 1, so an empty file is always a blob.
    pub blob_threshold: u64,
}

impl Default for ContentOptions {
    /// [`DEFAULT_BLOB_THRESHOLD`].
    fn default() -> Self {
        Self {
            blob_threshold: DEFAULT_BLOB_THRESHOLD,
        }
    }
}

impl ContentOptions {
    /// The threshold as used: at least 1.
    pub fn threshold(&self) -> u64 {
        self.blob_threshold.max(1)
    }

    /// The layout a file of `size` bytes gets.
    pub fn layout_for(&self, size: u64) -> Layout {
        if size < self.threshold() {
            Layout::Blob
        } else {
            Layout::Chunked {
                chunk_size: u64::from(CHUNK_SIZE),
            }
        }
    }
}

/// Limits and wishes for one ingest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestOptions {
    /// The most bytes accepted: one more fails the ingest with
    /// [`ContentError::TooLarge`] and leaves nothing behind.
    pub max_size: u64,
    /// The length the upload announced (an HTTP `Content-Length`), when known. The layout is
    /// then chosen up front (no switch from blob to chunks midway), and an upload of any other
    /// length fails with [`ContentError::SizeMismatch`].
    pub expected_size: Option<u64>,
    /// Whether to compute the SHA-1 of every [`PIECE_LENGTH`] piece (the `pieces` of the v1
    /// torrent) while the bytes stream by, so that building the torrent needs no second read.
    /// Off by default: a content store needs only its SHA-256s, and this third hash pass on
    /// its own thread makes an ingest slower than one core's SHA-256 on a two-core machine.
    /// Turn it on when the v1 torrent of the file is wanted right away.
    pub piece_hashes: bool,
    /// Whether [`FsContentStore`](crate::FsContentStore) writes the upload with `O_DIRECT`
    /// (Linux), past the page cache: the copy into the page cache costs the kernel about as
    /// much CPU as a hash pass. On by default; a file system that refuses `O_DIRECT` gets
    /// buffered writes by itself, and other platforms always write buffered. Off forces
    /// buffered writes. [`MemoryContentStore`](crate::MemoryContentStore) ignores it.
    pub direct_io: bool,
}

impl Default for IngestOptions {
    /// No size limit, no announced length, no piece hashes, `O_DIRECT` where available.
    fn default() -> Self {
        Self {
            max_size: u64::MAX,
            expected_size: None,
            piece_hashes: false,
            direct_io: true,
        }
    }
}

impl IngestOptions {
    /// [`ContentError::TooLarge`] when the announced length is over the limit: refuse before
    /// reading a byte (HTTP answers 413 on the `Content-Length` alone).
    pub fn check(&self) -> Result<(), ContentError> {
        match self.expected_size {
            Some(expected) if expected > self.max_size => Err(ContentError::TooLarge {
                limit: self.max_size,
            }),
            _ => Ok(()),
        }
    }
}

/// What an ingest stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    /// The SHA-256 of the whole file: its address.
    pub sha256: Sha256,
    /// Its length in bytes.
    pub size: u64,
    /// How it is stored.
    pub layout: Layout,
    /// Its chunks in order, each with its own sha256 (empty for a blob).
    pub chunks: Vec<ChunkRecord>,
    /// The SHA-1 of each [`PIECE_LENGTH`] piece, in order (empty when
    /// [`IngestOptions::piece_hashes`] was off, and for an empty file): the `pieces` of the v1
    /// torrent.
    pub piece_sha1: Vec<[u8; 20]>,
    /// The file was already stored (same sha256): nothing new was written.
    pub already_present: bool,
}

/// What [`ContentStore::remove`](crate::ContentStore::remove) removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedContent {
    /// How the file was stored.
    pub layout: Layout,
    /// Its length in bytes.
    pub size: u64,
    /// Chunks deleted from disk (no other file used them).
    pub chunks_deleted: u32,
    /// Chunks kept because another stored file uses them too.
    pub chunks_kept: u32,
}

/// A stored file resolved for reading: its size, its layout and, when chunked, its chunk
/// addresses (and the piece SHA-1s recorded at ingest). Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    sha256: Sha256,
    size: u64,
    chunk_size: u32,
    chunks: Arc<[Sha256]>,
    piece_sha1: Option<Arc<[[u8; 20]]>>,
}

impl StoredFile {
    /// A file stored as one blob.
    pub fn blob(sha256: Sha256, size: u64) -> Self {
        Self {
            sha256,
            size,
            chunk_size: 0,
            chunks: Arc::from(Vec::new()),
            piece_sha1: None,
        }
    }

    /// A file stored as `chunks` of `chunk_size` bytes (the last one shorter), with the SHA-1
    /// of each chunk when known. [`ContentError::Corrupt`] when the numbers disagree.
    pub fn chunked(
        sha256: Sha256,
        size: u64,
        chunk_size: u32,
        chunks: Vec<Sha256>,
        piece_sha1: Option<Vec<[u8; 20]>>,
    ) -> Result<Self, ContentError> {
        let corrupt = |reason: String| ContentError::Corrupt {
            what: format!("chunk list of {sha256}"),
            reason,
        };
        if chunk_size == 0 {
            return Err(corrupt("chunk size 0".into()));
        }
        let expected = size.div_ceil(u64::from(chunk_size));
        if chunks.len() as u64 != expected {
            return Err(corrupt(format!(
                "{} chunks for {size} bytes in chunks of {chunk_size} (expected {expected})",
                chunks.len()
            )));
        }
        if let Some(hashes) = &piece_sha1 {
            if hashes.len() != chunks.len() {
                return Err(corrupt(format!(
                    "{} piece hashes for {} chunks",
                    hashes.len(),
                    chunks.len()
                )));
            }
        }
        Ok(Self {
            sha256,
            size,
            chunk_size,
            chunks: Arc::from(chunks),
            piece_sha1: piece_sha1.map(Arc::from),
        })
    }

    /// The SHA-256 of the whole file.
    pub fn sha256(&self) -> &Sha256 {
        &self.sha256
    }

    /// Its length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How it is stored.
    pub fn layout(&self) -> Layout {
        match self.chunk_size {
            0 => Layout::Blob,
            size => Layout::Chunked {
                chunk_size: u64::from(size),
            },
        }
    }

    /// The chunk size of a chunked file; `None` for a blob.
    pub fn chunk_size(&self) -> Option<u32> {
        (self.chunk_size > 0).then_some(self.chunk_size)
    }

    /// The chunk addresses, in order (empty for a blob).
    pub fn chunks(&self) -> &[Sha256] {
        &self.chunks
    }

    /// The SHA-1 of each chunk (= piece), when recorded at ingest.
    pub fn piece_sha1(&self) -> Option<&[[u8; 20]]> {
        self.piece_sha1.as_deref()
    }

    /// The chunks as the metadata store records them.
    pub fn chunk_records(&self) -> Vec<ChunkRecord> {
        (0..self.chunks.len())
            .map(|index| {
                let (_, size) = self.chunk_span(index);
                ChunkRecord {
                    index: index as u32,
                    sha256: self.chunks[index],
                    size,
                }
            })
            .collect()
    }

    /// Checks that `length` bytes from `offset` lie within the file;
    /// [`ContentError::RangeNotSatisfiable`] otherwise. A zero-length range at the very end is
    /// within.
    pub fn check_range(&self, offset: u64, length: u64) -> Result<(), ContentError> {
        match offset.checked_add(length) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(ContentError::RangeNotSatisfiable {
                offset,
                length,
                size: self.size,
            }),
        }
    }

    /// The byte offset and length of chunk `index` (a chunked file; `index` < chunk count).
    pub(crate) fn chunk_span(&self, index: usize) -> (u64, u64) {
        let chunk_size = u64::from(self.chunk_size);
        let start = index as u64 * chunk_size;
        (start, chunk_size.min(self.size.saturating_sub(start)))
    }

    /// Calls `each(chunk index, offset within the chunk, offset within `buf`, length)` for the
    /// pieces of the range `offset..offset + len` of a chunked file, in order. The range must
    /// have been checked.
    pub(crate) fn chunk_pieces(
        &self,
        offset: u64,
        len: usize,
        mut each: impl FnMut(usize, u64, usize, usize) -> Result<(), ContentError>,
    ) -> Result<(), ContentError> {
        let chunk_size = u64::from(self.chunk_size);
        let mut done = 0usize;
        while done < len {
            let at = offset + done as u64;
            let index = (at / chunk_size) as usize;
            let within = at % chunk_size;
            let take = ((chunk_size - within) as usize).min(len - done);
            each(index, within, done, take)?;
            done += take;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> Sha256 {
        Sha256([n; 32])
    }

    #[test]
    fn threshold_decides_the_layout_and_an_empty_file_is_a_blob() {
        let options = ContentOptions { blob_threshold: 10 };
        assert_eq!(options.layout_for(9), Layout::Blob);
        assert_eq!(
            options.layout_for(10),
            Layout::Chunked {
                chunk_size: u64::from(CHUNK_SIZE)
            }
        );
        let zero = ContentOptions { blob_threshold: 0 };
        assert_eq!(zero.layout_for(0), Layout::Blob);
        assert!(matches!(zero.layout_for(1), Layout::Chunked { .. }));
        assert_eq!(DEFAULT_BLOB_THRESHOLD % u64::from(CHUNK_SIZE), 0);
    }

    #[test]
    fn chunked_files_check_their_numbers() {
        let file =
            StoredFile::chunked(hash(0), 25, 10, vec![hash(1), hash(2), hash(3)], None).unwrap();
        assert_eq!(file.chunk_span(2), (20, 5));
        let records = file.chunk_records();
        assert_eq!(records[1].size, 10);
        assert_eq!(records[2].size, 5);
        assert!(StoredFile::chunked(hash(0), 25, 10, vec![hash(1)], None).is_err());
        assert!(StoredFile::chunked(hash(0), 25, 0, vec![], None).is_err());
        assert!(
            StoredFile::chunked(hash(0), 20, 10, vec![hash(1), hash(2)], Some(vec![[0; 20]]))
                .is_err()
        );
        assert_eq!(StoredFile::blob(hash(0), 5).layout(), Layout::Blob);
    }

    #[test]
    fn ranges_and_chunk_pieces() {
        let file =
            StoredFile::chunked(hash(0), 25, 10, vec![hash(1), hash(2), hash(3)], None).unwrap();
        assert!(file.check_range(0, 25).is_ok());
        assert!(file.check_range(25, 0).is_ok());
        assert!(file.check_range(24, 2).is_err());
        assert!(file.check_range(26, 0).is_err());
        assert!(file.check_range(u64::MAX, 2).is_err());
        let mut seen = Vec::new();
        file.chunk_pieces(8, 14, |index, within, at, len| {
            seen.push((index, within, at, len));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(0, 8, 0, 2), (1, 0, 2, 10), (2, 0, 12, 2)]);
    }
}
