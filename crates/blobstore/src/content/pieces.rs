//! A stored file seen as the pieces of its torrent (BEP 3), so the gateway can seed any stored
//! file to peers and web-seed clients.
//!
//! For a chunked file a piece is a chunk (the piece length must be the chunk size), and the
//! SHA-1s recorded at ingest are there to verify against. For a blob, pieces of any length are
//! cut from the blob; give the torrent's piece hashes to verify. Pieces come back as
//! [`Bytes`], and [`PieceSource::read_block_cached`] serves peer blocks as zero-copy slices of
//! a piece held in a [`PieceCache`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use sha1::{Digest, Sha1};
use swarmgate_core::{BlockRef, Geometry, PieceIndex};

use crate::content::{ContentError, ContentStore, PIECE_LENGTH, StoredFile};
use swarmgate_core::Sha256;
use swarmgate_storage::{CacheId, PieceCache, PieceKey};

/// The pieces of one stored file.
///
/// ```
/// use std::sync::Arc;
/// use swarmgate_core::PieceIndex;
/// use swarmgate_blobstore::{ContentOptions, ContentStore, IngestOptions, MemoryContentStore, PieceSource};
///
/// let store = Arc::new(MemoryContentStore::new(ContentOptions::default()));
/// let data = vec![7u8; 40_000];
/// let ingested = store.ingest(&mut &data[..], &IngestOptions::default())?;
/// let pieces = PieceSource::open(store, &ingested.sha256, 16 * 1024)?;
/// assert_eq!(pieces.piece_count(), 3);
/// assert_eq!(pieces.read_piece(PieceIndex(2))?.len(), 40_000 - 2 * 16 * 1024);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PieceSource<S: ContentStore + ?Sized = dyn ContentStore> {
    store: Arc<S>,
    file: StoredFile,
    geometry: Geometry,
    hashes: Option<Arc<[[u8; 20]]>>,
    /// Pieces that passed their hash once, shared by every clone.
    verified: Arc<Verified>,
}

/// A bit per piece, set when the piece has passed its hash check.
#[derive(Debug)]
struct Verified(Box<[AtomicU64]>);

impl Verified {
    fn new(pieces: u32) -> Arc<Verified> {
        Arc::new(Verified(
            (0..pieces.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
        ))
    }

    fn contains(&self, index: PieceIndex) -> bool {
        let word = self.0.get(index.as_usize() / 64);
        word.is_some_and(|w| w.load(Ordering::Acquire) & (1 << (index.0 % 64)) != 0)
    }

    fn insert(&self, index: PieceIndex) {
        if let Some(word) = self.0.get(index.as_usize() / 64) {
            word.fetch_or(1 << (index.0 % 64), Ordering::AcqRel);
        }
    }
}

impl<S: ContentStore + ?Sized> PieceSource<S> {
    /// The pieces of the stored file `sha256` at `piece_length`: any length for a blob, the
    /// chunk size for a chunked file ([`ContentError::PieceLength`] otherwise).
    /// [`ContentError::NotFound`] when it is not stored.
    pub fn open(store: Arc<S>, sha256: &Sha256, piece_length: u32) -> Result<Self, ContentError> {
        let file = store
            .stat(sha256)?
            .ok_or(ContentError::NotFound { sha256: *sha256 })?;
        Self::for_file(store, file, piece_length)
    }

    /// The pieces of the stored file at the default [`PIECE_LENGTH`] (that of every torrent the
    /// ingest hashed), verified against the ingest's SHA-1s for a chunked file.
    pub fn open_default(store: Arc<S>, sha256: &Sha256) -> Result<Self, ContentError> {
        Self::open(store, sha256, PIECE_LENGTH)
    }

    /// The pieces of an already resolved `file`.
    pub fn for_file(
        store: Arc<S>,
        file: StoredFile,
        piece_length: u32,
    ) -> Result<Self, ContentError> {
        if let Some(chunk_size) = file.chunk_size() {
            if chunk_size != piece_length {
                return Err(ContentError::PieceLength {
                    expected: chunk_size,
                    actual: piece_length,
                });
            }
        }
        let geometry = Geometry::new(file.size(), u64::from(piece_length)).map_err(|_| {
            ContentError::PieceLength {
                expected: PIECE_LENGTH,
                actual: piece_length,
            }
        })?;
        let hashes = file.piece_sha1().map(Arc::from);
        Ok(Self {
            store,
            file,
            verified: Verified::new(geometry.piece_count()),
            geometry,
            hashes,
        })
    }

    /// Verifies against `hashes` (a torrent's `pieces`, one per piece) from now on.
    /// [`ContentError::NoSuchPiece`] when the count differs from the piece count.
    pub fn with_piece_hashes(mut self, hashes: Vec<[u8; 20]>) -> Result<Self, ContentError> {
        if hashes.len() as u64 != u64::from(self.piece_count()) {
            return Err(ContentError::NoSuchPiece {
                index: hashes.len() as u32,
                count: self.piece_count(),
            });
        }
        self.hashes = Some(Arc::from(hashes));
        self.verified = Verified::new(self.piece_count());
        Ok(self)
    }

    /// The file.
    pub fn file(&self) -> &StoredFile {
        &self.file
    }

    /// Its piece geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.geometry.piece_count()
    }

    /// The SHA-1 piece hashes verification uses, when known.
    pub fn piece_hashes(&self) -> Option<&[[u8; 20]]> {
        self.hashes.as_deref()
    }

    /// The cache key of piece `index`.
    pub fn key(&self, index: PieceIndex) -> PieceKey {
        PieceKey {
            id: CacheId::File {
                sha256: *self.file.sha256(),
                piece_length: self.geometry.piece_length(),
            },
            index,
        }
    }

    /// Piece `index`, read from the store.
    pub fn read_piece(&self, index: PieceIndex) -> Result<Bytes, ContentError> {
        let size = self
            .geometry
            .piece_size(index)
            .ok_or(ContentError::NoSuchPiece {
                index: index.0,
                count: self.piece_count(),
            })?;
        let mut buf = vec![0; size as usize];
        self.store
            .read_exact_at(&self.file, self.geometry.piece_offset(index), &mut buf)?;
        Ok(Bytes::from(buf))
    }

    /// Piece `index`, checked against its SHA-1: [`ContentError::PieceHashMismatch`] when it
    /// differs, [`ContentError::NoPieceHash`] when no hash is known.
    ///
    /// A piece is hashed the first time it is read through this source (or any clone of it);
    /// once it has passed, later reads (after a cache evicted it, say) are not hashed again,
    /// as libtorrent's seed mode verifies each piece on its first request. A piece that failed
    /// is hashed again at every read. So a seeder pays one SHA-1 pass per piece per process,
    /// not one per download, and what it sends was still checked against the torrent.
    pub fn read_piece_verified(&self, index: PieceIndex) -> Result<Bytes, ContentError> {
        let expected = self
            .hashes
            .as_deref()
            .and_then(|hashes| hashes.get(index.as_usize()))
            .copied();
        let piece = self.read_piece(index)?;
        let expected = expected.ok_or(ContentError::NoPieceHash { index: index.0 })?;
        if self.verified.contains(index) {
            return Ok(piece);
        }
        if <[u8; 20]>::from(Sha1::digest(&piece)) != expected {
            return Err(ContentError::PieceHashMismatch { index: index.0 });
        }
        self.verified.insert(index);
        Ok(piece)
    }

    /// Whether piece `index` has passed its hash through this source.
    pub fn is_verified(&self, index: PieceIndex) -> bool {
        self.verified.contains(index)
    }

    /// Piece `index` through `cache`: a hit is a reference-count increment, a miss reads the
    /// piece (verified when `verify`) and keeps it.
    pub fn read_piece_cached(
        &self,
        cache: &PieceCache,
        index: PieceIndex,
        verify: bool,
    ) -> Result<Bytes, ContentError> {
        cache.get_or_load(self.key(index), || {
            if verify {
                self.read_piece_verified(index)
            } else {
                self.read_piece(index)
            }
        })
    }

    /// A peer's block request, served as a slice of the cached piece (zero-copy on a hit).
    /// [`ContentError::RangeNotSatisfiable`] when the block passes the end of its piece.
    pub fn read_block_cached(
        &self,
        cache: &PieceCache,
        block: BlockRef,
        verify: bool,
    ) -> Result<Bytes, ContentError> {
        let piece = self.read_piece_cached(cache, block.piece, verify)?;
        let start = block.offset as usize;
        let end = start.checked_add(block.length as usize);
        match end {
            Some(end) if end <= piece.len() => Ok(piece.slice(start..end)),
            _ => Err(ContentError::RangeNotSatisfiable {
                offset: u64::from(block.offset),
                length: u64::from(block.length),
                size: piece.len() as u64,
            }),
        }
    }
}

impl<S: ContentStore + ?Sized> Clone for PieceSource<S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            file: self.file.clone(),
            geometry: self.geometry,
            hashes: self.hashes.clone(),
            verified: Arc::clone(&self.verified),
        }
    }
}
