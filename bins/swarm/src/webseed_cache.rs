//! `swarm webseed`'s reads through a piece cache: whole torrent pieces kept in
//! swarmgate-storage's `PieceCache`.
//!
//! BEP 19 clients ask a web seed for whole pieces (a piece-aligned range of each file it spans),
//! and a popular piece is asked for by every client that joins, so the cache holds pieces, not
//! file blocks. A request that covers a whole piece goes through the cache (loaded from disk on a
//! miss; concurrent misses of one piece read the disk once). A request for part of a piece is a
//! slice of the cached piece when it is there, and otherwise read from the file directly: loading
//! a 4 MiB piece to answer 16 KiB of it would multiply the disk reads of random-range traffic.
//! The cutting into pieces is swarmgate-storage's `read_by_pieces` (a range inside one piece is a
//! zero-copy slice; a range across pieces is copied together). A piece that spans files is
//! loaded from each, with pad files as zeros.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use swarmgate_core::{InfoHash, InfoHashV1, PieceIndex};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::{CacheId, PieceCache, PieceKey, read_by_pieces};
use swarmgate_webseed::{DirectorySource, DiskFile, WebSeedFile, WebSeedSource};

/// A [`DirectorySource`] of one torrent read through a [`PieceCache`].
#[derive(Debug)]
pub(crate) struct CachedSource {
    inner: Arc<DirectorySource>,
    torrent: Arc<Torrent>,
    cache: Arc<PieceCache>,
}

impl CachedSource {
    pub(crate) fn new(
        inner: DirectorySource,
        torrent: Arc<Torrent>,
        cache: Arc<PieceCache>,
    ) -> Self {
        Self {
            inner: Arc::new(inner),
            torrent,
            cache,
        }
    }
}

/// One file of a torrent, read piece by piece through the cache.
pub(crate) struct CachedFile {
    /// The file itself, for reads of parts of pieces that are not cached.
    file: DiskFile,
    inner: Arc<DirectorySource>,
    cache: Arc<PieceCache>,
    torrent: Arc<Torrent>,
    id: CacheId,
    /// Where the file starts in the torrent's byte space.
    start: u64,
    length: u64,
}

fn wire_hash(torrent: &Torrent) -> InfoHashV1 {
    match torrent.info_hash() {
        InfoHash::V1(hash) | InfoHash::Hybrid(hash, _) => hash,
        InfoHash::V2(hash) => hash.truncated(),
    }
}

impl WebSeedSource for CachedSource {
    type File = CachedFile;

    fn torrent(&self, key: &str) -> Option<Arc<Torrent>> {
        self.inner.torrent(key)
    }

    fn open(&self, torrent: &Torrent, index: usize) -> io::Result<Option<CachedFile>> {
        // Opening the file on disk checks it exists and has the torrent's length.
        let Some(file) = self.inner.open(torrent, index)? else {
            return Ok(None);
        };
        let Some(entry) = torrent.files().get(index) else {
            return Ok(None);
        };
        if torrent.info_hash() != self.torrent.info_hash() {
            return Ok(None);
        }
        let length = file.len();
        Ok(Some(CachedFile {
            file,
            inner: Arc::clone(&self.inner),
            cache: Arc::clone(&self.cache),
            id: CacheId::Torrent(wire_hash(torrent)),
            start: entry.offset(),
            length,
            torrent: Arc::clone(&self.torrent),
        }))
    }
}

impl CachedFile {
    /// Piece `piece` of the torrent, from the cache or from the files on disk.
    fn piece(&self, piece: PieceIndex) -> io::Result<Bytes> {
        let key = PieceKey {
            id: self.id,
            index: piece,
        };
        self.cache.get_or_load(key, || {
            let layout = self.torrent.layout();
            let size = layout.geometry().piece_size(piece).unwrap_or(0) as usize;
            let mut data = BytesMut::zeroed(size);
            let base = layout.geometry().piece_offset(piece);
            for span in layout.piece_spans(piece) {
                let entry = &layout.files()[span.file];
                if entry.is_pad() {
                    continue;
                }
                let file: DiskFile = self
                    .inner
                    .open(&self.torrent, span.file)?
                    .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
                let bytes = file.read(span.file_offset, span.length as usize)?;
                let at = (span.torrent_offset - base) as usize;
                data[at..at + bytes.len()].copy_from_slice(&bytes);
            }
            Ok(data.freeze())
        })
    }
}

impl WebSeedFile for CachedFile {
    fn len(&self) -> u64 {
        self.length
    }

    fn read(&self, offset: u64, length: usize) -> io::Result<Bytes> {
        let geometry = self.torrent.layout().geometry();
        read_by_pieces(&geometry, self.start + offset, length, |span| {
            if span.is_whole() {
                return self.piece(span.piece);
            }
            let key = PieceKey {
                id: self.id,
                index: span.piece,
            };
            match self.cache.get(&key) {
                Some(cached) => Ok(cached.slice(span.range())),
                None => self.file.read(span.offset() - self.start, span.len()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmgate_metainfo::TorrentBuilder;

    /// Two files (40,000 and 30,001 bytes) in 16 KiB pieces: piece 2 spans both.
    fn served() -> (tempfile::TempDir, CachedSource, Arc<Torrent>, Vec<Vec<u8>>) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        std::fs::create_dir_all(&root).unwrap();
        let data: Vec<Vec<u8>> = [40_000usize, 30_001]
            .iter()
            .enumerate()
            .map(|(f, &n)| (0..n).map(|i| (i * 7 + f * 13) as u8).collect())
            .collect();
        std::fs::write(root.join("a.bin"), &data[0]).unwrap();
        std::fs::write(root.join("b.bin"), &data[1]).unwrap();
        let created = TorrentBuilder::new(&root)
            .piece_length(16 * 1024)
            .build()
            .unwrap();
        let torrent = Arc::new(created.torrent);
        let inner = DirectorySource::new().with("t", Arc::clone(&torrent), dir.path());
        let cache = Arc::new(PieceCache::new(1 << 20));
        let source = CachedSource::new(inner, Arc::clone(&torrent), cache);
        (dir, source, torrent, data)
    }

    #[test]
    fn whole_pieces_are_cached_and_parts_read_right_whichever_path() {
        let (_dir, source, torrent, data) = served();
        let a = source.open(&torrent, 0).unwrap().unwrap();
        let b = source.open(&torrent, 1).unwrap().unwrap();
        // A part of an uncached piece is read from the file, and caches nothing.
        assert_eq!(a.read(100, 50).unwrap(), &data[0][100..150]);
        assert_eq!(source.cache.stats().entries, 0);
        // Whole piece 0, then parts of it come from the cache.
        assert_eq!(a.read(0, 16_384).unwrap(), &data[0][..16_384]);
        let hits = source.cache.stats().hits;
        assert_eq!(a.read(1_000, 9).unwrap(), &data[0][1_000..1_009]);
        assert_eq!(source.cache.stats().hits, hits + 1);
        // Across pieces 0 and 1 (cached and not).
        assert_eq!(a.read(16_000, 1_000).unwrap(), &data[0][16_000..17_000]);
        // The tail of a.bin and the head of b.bin are piece 2: each file's part of it.
        assert_eq!(a.read(32_768, 7_232).unwrap(), &data[0][32_768..]);
        assert_eq!(b.read(0, 100).unwrap(), &data[1][..100]);
        // Pieces 3 and 4 (the short last one) whole, then again from the cache.
        let last_start = 3 * 16_384 - 40_000;
        let tail = &data[1][last_start..];
        assert_eq!(b.read(last_start as u64, tail.len()).unwrap(), tail);
        assert_eq!(b.read(last_start as u64, tail.len()).unwrap(), tail);
        assert!(source.cache.stats().entries >= 2);
    }
}
