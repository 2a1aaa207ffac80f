//! The stored files as a BEP 19 web seed source: each read is cut from whole pieces held in the
//! piece cache, each piece checked against its SHA-1 when it is loaded, so a byte that was not
//! verified is never sent (a damaged chunk answers 500, not wrong data).
//!
//! The web seed (`/webseed/<sha256>`) and the download API (`/api/download/<sha256>`) both serve
//! through this source, keyed by the file's sha256, with the web seed crate's Range, HEAD and
//! ETag handling.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use swarmgate_blobstore::{ContentError, PIECE_LENGTH, PieceSource};
use swarmgate_core::PieceIndex;
use swarmgate_metainfo::Torrent;
use swarmgate_storage::PieceCache;
use swarmgate_webseed::{WebSeedFile, WebSeedSource};

use crate::api::parse_sha256;
use crate::catalog::Catalog;

/// The catalog as a web seed source.
#[derive(Debug)]
pub(crate) struct StoredFiles {
    /// The stored files.
    pub catalog: Arc<Catalog>,
}

impl WebSeedSource for StoredFiles {
    type File = StoredFile;

    fn torrent(&self, key: &str) -> Option<Arc<Torrent>> {
        let sha256 = parse_sha256(key).ok()?;
        self.catalog
            .get(&sha256)
            .map(|entry| Arc::clone(&entry.torrent))
    }

    fn open(&self, torrent: &Torrent, index: usize) -> io::Result<Option<StoredFile>> {
        let Some(info_hash) = torrent.info_hash().v1() else {
            return Ok(None);
        };
        let Some(entry) = self.catalog.by_info_hash(&info_hash) else {
            return Ok(None);
        };
        if index != 0 {
            return Ok(None);
        }
        Ok(Some(StoredFile {
            pieces: entry.pieces.clone(),
            cache: Arc::clone(self.catalog.cache()),
            length: entry.file.size,
        }))
    }
}

/// One stored file, read piece by verified piece.
pub(crate) struct StoredFile {
    pieces: PieceSource,
    cache: Arc<PieceCache>,
    length: u64,
}

impl std::fmt::Debug for StoredFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredFile")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl WebSeedFile for StoredFile {
    fn len(&self) -> u64 {
        self.length
    }

    fn read(&self, offset: u64, length: usize) -> io::Result<Bytes> {
        read_verified(&self.pieces, &self.cache, offset, length)
    }
}

/// `length` bytes from `offset`, cut from verified, cached pieces: a slice of one piece when
/// the range lies in it (no copy), else the pieces' parts joined.
pub(crate) fn read_verified(
    pieces: &PieceSource,
    cache: &PieceCache,
    offset: u64,
    length: usize,
) -> io::Result<Bytes> {
    let piece_length = u64::from(PIECE_LENGTH);
    let end = offset
        .checked_add(length as u64)
        .filter(|end| *end <= pieces.file().size())
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
    if length == 0 {
        return Ok(Bytes::new());
    }
    let first = offset / piece_length;
    let last = (end - 1) / piece_length;
    let piece = |index: u64| -> io::Result<Bytes> {
        let index = PieceIndex(u32::try_from(index).map_err(io::Error::other)?);
        pieces
            .read_piece_cached(cache, index, true)
            .map_err(content_to_io)
    };
    let start_in_first = (offset - first * piece_length) as usize;
    if first == last {
        return Ok(piece(first)?.slice(start_in_first..start_in_first + length));
    }
    let mut out = BytesMut::with_capacity(length);
    for index in first..=last {
        let data = piece(index)?;
        let from = if index == first { start_in_first } else { 0 };
        let to = if index == last {
            (end - last * piece_length) as usize
        } else {
            data.len()
        };
        out.extend_from_slice(&data[from..to]);
    }
    Ok(out.freeze())
}

fn content_to_io(error: ContentError) -> io::Error {
    match error {
        ContentError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            io::Error::new(io::ErrorKind::NotFound, source)
        }
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmgate_blobstore::{ContentOptions, ContentStore, IngestOptions, MemoryContentStore};

    #[test]
    fn reads_within_and_across_pieces_match_the_file_and_corruption_is_refused() {
        let store = Arc::new(MemoryContentStore::new(ContentOptions::default()));
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        let options = IngestOptions {
            piece_hashes: true,
            ..IngestOptions::default()
        };
        let ingested = store.ingest(&mut &data[..], &options).unwrap();
        let dyn_store: Arc<dyn ContentStore> = store.clone();
        let pieces = PieceSource::open(dyn_store, &ingested.sha256, PIECE_LENGTH)
            .unwrap()
            .with_piece_hashes(ingested.piece_sha1.clone())
            .unwrap();
        let cache = PieceCache::new(64 << 20);
        let piece = PIECE_LENGTH as u64;
        for (offset, length) in [
            (0, 1),
            (5, 1000),
            (piece - 3, 7),
            (piece - 1, (piece + 2) as usize),
            (4_999_999, 1),
            (0, 5_000_000),
            (17, 0),
        ] {
            let got = read_verified(&pieces, &cache, offset, length).unwrap();
            assert_eq!(&got[..], &data[offset as usize..offset as usize + length]);
        }
        assert!(read_verified(&pieces, &cache, 4_999_999, 2).is_err());

        // The same file with a wrong hash for its second piece: that piece is never served.
        let mut hashes = ingested.piece_sha1.clone();
        hashes[1] = [0; 20];
        let dyn_store: Arc<dyn ContentStore> = store;
        let lying = PieceSource::open(dyn_store, &ingested.sha256, PIECE_LENGTH)
            .unwrap()
            .with_piece_hashes(hashes)
            .unwrap();
        let fresh = PieceCache::new(64 << 20);
        assert!(read_verified(&lying, &fresh, 0, 100).is_ok());
        assert!(read_verified(&lying, &fresh, piece + 5, 10).is_err());
        assert!(read_verified(&lying, &fresh, piece - 5, 10).is_err());
    }
}
