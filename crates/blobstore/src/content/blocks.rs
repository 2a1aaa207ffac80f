//! A stored file's pieces as a seeder's block source (BEP 3 `piece` messages): each piece
//! verified against its SHA-1 when it is loaded into the piece cache, so that a byte that was
//! not verified is never sent to a peer.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use swarmgate_core::{BlockRef, Geometry};
use swarmgate_storage::{BlockSource, PieceCache};

use crate::content::PieceSource;

/// A stored file's pieces through a piece cache, each piece SHA-1-verified when loaded into the
/// cache (data that was not verified is never served): wraps
/// [`PieceSource::read_block_cached`]`(cache, block, true)`, as a
/// seeder's [`BlockSource`].
///
/// A chunked file's piece hashes come from its ingest; give a blob's with
/// [`PieceSource::with_piece_hashes`] (the torrent's `pieces`), or every read fails with "no
/// SHA-1 is known" and nothing is served.
#[derive(Clone)]
pub struct ContentBlocks {
    source: PieceSource,
    cache: Arc<PieceCache>,
}

impl ContentBlocks {
    /// Serves `source`'s pieces through `cache` (one cache may serve every torrent).
    pub fn new(source: PieceSource, cache: Arc<PieceCache>) -> Self {
        Self { source, cache }
    }
}

impl std::fmt::Debug for ContentBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentBlocks")
            .field("sha256", self.source.file().sha256())
            .field("geometry", &self.source.geometry())
            .field("cache", &self.cache)
            .finish()
    }
}

impl BlockSource for ContentBlocks {
    fn read_block(&self, block: BlockRef) -> io::Result<Bytes> {
        self.source
            .read_block_cached(&self.cache, block, true)
            .map_err(io::Error::from)
    }

    /// A slice of the piece if the cache holds it. Every piece this type loads into the cache
    /// was verified; a cache shared with a loader that does not verify (a
    /// `read_piece_cached(.., false)` under the same keys) would void that.
    fn read_cached(&self, block: BlockRef) -> Option<Bytes> {
        let piece = self.cache.get(&self.source.key(block.piece))?;
        let start = block.offset as usize;
        let end = start.checked_add(block.length as usize)?;
        (end <= piece.len()).then(|| piece.slice(start..end))
    }

    fn geometry(&self) -> Option<Geometry> {
        Some(self.source.geometry())
    }
}

#[cfg(test)]
mod tests {
    use sha1::{Digest, Sha1};
    use swarmgate_core::PieceIndex;

    use crate::{ContentOptions, ContentStore, IngestOptions, MemoryContentStore};

    use super::*;

    const PIECE: u32 = 32 * 1024;

    fn blocks(data: &[u8], hashes: Option<Vec<[u8; 20]>>) -> ContentBlocks {
        let store: Arc<dyn ContentStore> =
            Arc::new(MemoryContentStore::new(ContentOptions::default()));
        let ingested = store
            .ingest(&mut &data[..], &IngestOptions::default())
            .unwrap();
        let mut source = PieceSource::open(store, &ingested.sha256, PIECE).unwrap();
        if let Some(hashes) = hashes {
            source = source.with_piece_hashes(hashes).unwrap();
        }
        ContentBlocks::new(source, Arc::new(PieceCache::new(1 << 20)))
    }

    fn hashes(data: &[u8]) -> Vec<[u8; 20]> {
        data.chunks(PIECE as usize)
            .map(|piece| Sha1::digest(piece).into())
            .collect()
    }

    fn block(piece: u32, offset: u32, length: u32) -> BlockRef {
        BlockRef {
            piece: PieceIndex(piece),
            offset,
            length,
        }
    }

    #[test]
    fn serves_verified_blocks_and_knows_its_geometry() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let source = blocks(&data, Some(hashes(&data)));
        assert_eq!(
            source.read_cached(block(1, 16_384, 16_384)),
            None,
            "not loaded yet"
        );
        let got = source.read_block(block(1, 16_384, 16_384)).unwrap();
        assert_eq!(got, &data[PIECE as usize + 16_384..2 * PIECE as usize]);
        let cached = source.read_cached(block(1, 0, 16_384)).unwrap();
        assert_eq!(cached, &data[PIECE as usize..PIECE as usize + 16_384]);
        assert_eq!(
            source.read_cached(block(1, 30_000, 16_384)),
            None,
            "past the piece"
        );
        let last = source.read_block(block(3, 0, 100_000 - 3 * PIECE)).unwrap();
        assert_eq!(last, &data[3 * PIECE as usize..]);
        let geometry = source.geometry().unwrap();
        assert_eq!(geometry.piece_count(), 4);
        assert_eq!(geometry.total_length(), 100_000);
        let past = source.read_block(block(3, 0, 16_384)).unwrap_err();
        assert_eq!(past.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_piece_that_does_not_match_its_hash_or_has_none_is_not_served() {
        let data = vec![5u8; 70_000];
        let mut wrong = hashes(&data);
        wrong[1] = [0; 20];
        let source = blocks(&data, Some(wrong));
        assert!(source.read_block(block(0, 0, 16_384)).is_ok());
        let error = source.read_block(block(1, 0, 16_384)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("SHA-1"), "{error}");
        // Asked again, it is read and checked again, not served from the cache.
        assert!(source.read_block(block(1, 0, 16_384)).is_err());

        let unverifiable = blocks(&data, None);
        let error = unverifiable.read_block(block(0, 0, 16_384)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
