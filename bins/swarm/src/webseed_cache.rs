//! `swarm webseed`'s reads through a piece cache: the web seed answers from whole torrent
//! pieces kept in swarmgate-storage's `PieceCache`, loaded from disk on a miss.
//!
//! Clients ask a web seed for pieces (BEP 19 requests are piece-aligned ranges of one file), and
//! a popular piece is asked for by every client that joins, so the cache holds pieces, not file
//! blocks: a range inside one piece is a zero-copy slice of the cached piece; a range across
//! pieces is copied together from them. A piece that spans files is loaded from each, with pad
//! files read as zeros. Concurrent misses of one piece read the disk once (the cache makes the
//! others wait for that load).

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use swarmgate_core::{InfoHash, InfoHashV1, PieceIndex};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::{CacheId, PieceCache, PieceKey};
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
        Ok(Some(CachedFile {
            inner: Arc::clone(&self.inner),
            cache: Arc::clone(&self.cache),
            id: CacheId::Torrent(wire_hash(torrent)),
            start: entry.offset(),
            length: file.len(),
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
        let piece_length = u64::from(geometry.piece_length());
        let start = self.start + offset;
        let end = start + length as u64;
        let first = PieceIndex((start / piece_length) as u32);
        let last = PieceIndex(((end.max(start + 1) - 1) / piece_length) as u32);
        if first == last {
            let piece = self.piece(first)?;
            let at = (start - geometry.piece_offset(first)) as usize;
            return Ok(piece.slice(at..at + length));
        }
        let mut out = BytesMut::with_capacity(length);
        for index in first.0..=last.0 {
            let piece = self.piece(PieceIndex(index))?;
            let piece_start = geometry.piece_offset(PieceIndex(index));
            let from = start.max(piece_start) - piece_start;
            let to = end.min(piece_start + piece.len() as u64) - piece_start;
            out.extend_from_slice(&piece[from as usize..to as usize]);
        }
        Ok(out.freeze())
    }
}
