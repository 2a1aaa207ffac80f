//! Rows of the SQLite metadata tables (BEP 3 / BEP 52 torrents, Blossom owners) and their
//! decoding into records.
//!
//! Rows are first read as SQLite's own types (so a row callback cannot fail on our rules), then
//! decoded here; a value that breaks the record's rules (a 31-byte hash, a negative size, an
//! unknown layout) is [`MetaError::Corrupt`] naming the table and the value, never a panic.

use rusqlite::Row;
use swarmgate_core::{InfoHash, InfoHashV1, InfoHashV2};

use crate::meta::{ChunkRecord, FileRecord, Layout, MetaError, TorrentRecord};
use swarmgate_core::{Pubkey, Sha256};

/// The columns of `files`, in the order [`FileRow::read`] expects.
pub(crate) const FILE_COLUMNS: &str = "files.id, files.sha256, files.name, files.size, files.mime, files.layout, \
     files.chunk_size, files.created, files.owner";

/// The columns of `torrents`, in the order [`TorrentRow::read`] expects.
pub(crate) const TORRENT_COLUMNS: &str = "torrents.info_hash_v1, torrents.info_hash_v2, \
     torrents.piece_length, torrents.piece_count, torrents.magnet, torrents.torrent";

/// A `files` row as SQLite holds it.
pub(crate) struct FileRow {
    pub(crate) id: i64,
    sha256: Vec<u8>,
    name: String,
    size: i64,
    mime: String,
    layout: String,
    chunk_size: Option<i64>,
    created: i64,
    owner: Option<String>,
}

impl FileRow {
    /// Reads the [`FILE_COLUMNS`] of `row`.
    pub(crate) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            sha256: row.get(1)?,
            name: row.get(2)?,
            size: row.get(3)?,
            mime: row.get(4)?,
            layout: row.get(5)?,
            chunk_size: row.get(6)?,
            created: row.get(7)?,
            owner: row.get(8)?,
        })
    }

    /// The record, or why the row is not one.
    pub(crate) fn decode(self) -> Result<FileRecord, MetaError> {
        let id = self.id;
        let sha256 = hash32(&self.sha256, "files", id, "sha256").map(Sha256)?;
        let layout = match (self.layout.as_str(), self.chunk_size) {
            ("blob", None) => Layout::Blob,
            ("chunked", Some(size)) if size > 0 => Layout::Chunked {
                chunk_size: unsigned(size, "files", id, "chunk_size")?,
            },
            (layout, size) => {
                return Err(MetaError::corrupt(format!(
                    "files row {id}: layout {layout:?} with chunk size {size:?}"
                )));
            }
        };
        Ok(FileRecord {
            sha256,
            name: self.name,
            size: unsigned(self.size, "files", id, "size")?,
            mime: self.mime,
            layout,
            created: unsigned(self.created, "files", id, "created")?,
            owner: self.owner,
        })
    }
}

/// A `torrents` row as SQLite holds it.
pub(crate) struct TorrentRow {
    v1: Option<Vec<u8>>,
    v2: Option<Vec<u8>>,
    piece_length: i64,
    piece_count: i64,
    magnet: String,
    torrent: Vec<u8>,
}

impl TorrentRow {
    /// Reads the [`TORRENT_COLUMNS`] of `row`.
    pub(crate) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            v1: row.get(0)?,
            v2: row.get(1)?,
            piece_length: row.get(2)?,
            piece_count: row.get(3)?,
            magnet: row.get(4)?,
            torrent: row.get(5)?,
        })
    }

    /// The record of the torrent of file `id`, or why the row is not one.
    pub(crate) fn decode(self, id: i64) -> Result<TorrentRecord, MetaError> {
        let v1 = self
            .v1
            .map(|bytes| {
                InfoHashV1::from_slice(&bytes)
                    .map_err(|e| MetaError::corrupt(format!("torrents row {id}: {e}")))
            })
            .transpose()?;
        let v2 = self
            .v2
            .map(|bytes| hash32(&bytes, "torrents", id, "info_hash_v2").map(InfoHashV2))
            .transpose()?;
        let info_hash = InfoHash::from_parts(v1, v2)
            .ok_or_else(|| MetaError::corrupt(format!("torrents row {id}: no info-hash")))?;
        let piece_count = u32::try_from(self.piece_count).map_err(|_| {
            MetaError::corrupt(format!(
                "torrents row {id}: piece count {}",
                self.piece_count
            ))
        })?;
        Ok(TorrentRecord {
            info_hash,
            piece_length: unsigned(self.piece_length, "torrents", id, "piece_length")?,
            piece_count,
            magnet: self.magnet,
            torrent: self.torrent,
        })
    }
}

/// Reads a `chunks` row (`idx, sha256, size`) of file `id` into a record.
pub(crate) fn chunk(
    id: i64,
    index: i64,
    sha256: &[u8],
    size: i64,
) -> Result<ChunkRecord, MetaError> {
    let index = u32::try_from(index)
        .map_err(|_| MetaError::corrupt(format!("chunks of file {id}: index {index}")))?;
    Ok(ChunkRecord {
        index,
        sha256: hash32(sha256, "chunks", id, "sha256").map(Sha256)?,
        size: unsigned(size, "chunks", id, "size")?,
    })
}

/// A `blob_owners.pubkey` of file `id`.
pub(crate) fn pubkey(id: i64, bytes: &[u8]) -> Result<Pubkey, MetaError> {
    hash32(bytes, "blob_owners", id, "pubkey").map(Pubkey)
}

/// A 32-byte hash column.
pub(crate) fn hash32(
    bytes: &[u8],
    table: &str,
    id: i64,
    column: &str,
) -> Result<[u8; 32], MetaError> {
    bytes.try_into().map_err(|_| {
        MetaError::corrupt(format!(
            "{table} row {id}: {column} has {} bytes, not 32",
            bytes.len()
        ))
    })
}

/// A non-negative integer column.
pub(crate) fn unsigned(value: i64, table: &str, id: i64, column: &str) -> Result<u64, MetaError> {
    u64::try_from(value)
        .map_err(|_| MetaError::corrupt(format!("{table} row {id}: {column} is {value}")))
}

/// An unsigned value as SQLite's signed integer (callers checked it with `Upload::check`).
pub(crate) fn signed(value: u64) -> Result<i64, MetaError> {
    i64::try_from(value).map_err(|_| MetaError::Invalid {
        what: format!("{value} is above 2^63 - 1"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> FileRow {
        FileRow {
            id: 7,
            sha256: vec![1; 32],
            name: "a".into(),
            size: 10,
            mime: "text/plain".into(),
            layout: "blob".into(),
            chunk_size: None,
            created: 5,
            owner: None,
        }
    }

    #[test]
    fn good_rows_decode_and_bad_rows_are_corrupt_not_panics() {
        assert_eq!(row().decode().unwrap().layout, Layout::Blob);
        let bad: [fn(&mut FileRow); 5] = [
            |r| r.sha256.pop().map(drop).unwrap_or(()),
            |r| r.size = -1,
            |r| r.layout = "tape".into(),
            |r| r.chunk_size = Some(4),
            |r| {
                r.layout = "chunked".into();
                r.chunk_size = Some(0);
            },
        ];
        for (case, spoil) in bad.iter().enumerate() {
            let mut r = row();
            spoil(&mut r);
            let error = r.decode().unwrap_err();
            assert!(
                matches!(&error, MetaError::Corrupt { what } if what.starts_with("files row 7")),
                "case {case}: {error:?}"
            );
        }
        let torrent = TorrentRow {
            v1: None,
            v2: None,
            piece_length: 16_384,
            piece_count: 1,
            magnet: String::new(),
            torrent: Vec::new(),
        };
        assert!(matches!(torrent.decode(3), Err(MetaError::Corrupt { .. })));
        assert!(matches!(
            chunk(3, -1, &[0; 32], 1),
            Err(MetaError::Corrupt { .. })
        ));
        assert!(matches!(
            chunk(3, 0, &[0; 20], 1),
            Err(MetaError::Corrupt { .. })
        ));
        assert!(matches!(
            pubkey(3, &[0; 33]),
            Err(MetaError::Corrupt { .. })
        ));
        assert!(matches!(signed(u64::MAX), Err(MetaError::Invalid { .. })));
    }
}
