//! The records of the metadata store: a stored file, its torrent (BEP 3 / BEP 52 info-hashes and
//! BEP 9 magnet) and its chunks, and the Blossom owners (Nostr public keys) of a blob.
//!
//! These are plain typed values; the store neither computes nor checks hashes (the content store
//! does, while it streams the upload to disk). Files, chunks and owners are named by
//! swarmgate-core's checked identities ([`Sha256`], [`Pubkey`]), so a 31-byte hash cannot reach
//! the database. A torrent carries an [`InfoHash`] rather than two optional hashes, so a
//! torrent with neither hash cannot be written down.

use swarmgate_core::{InfoHash, Pubkey, Sha256};

use crate::meta::MetaError;

/// How a file's bytes lie in the content store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// One blob, addressed by the file's sha256.
    Blob,
    /// Consecutive chunks of `chunk_size` bytes (the last one shorter), each addressed by its
    /// own sha256 and listed as [`ChunkRecord`]s.
    Chunked {
        /// The size of every chunk but the last, in bytes (2 MiB by default: one torrent piece).
        chunk_size: u64,
    },
}

/// A stored file, as the file list and `GET /api/files/{sha256}` show it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileRecord {
    /// The SHA-256 of the whole file: its address.
    pub sha256: Sha256,
    /// The name it was uploaded under.
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// Its media type (`application/octet-stream` when nobody said).
    pub mime: String,
    /// How its bytes are stored.
    pub layout: Layout,
    /// When it was stored, in seconds since the Unix epoch (passed in by the caller).
    pub created: u64,
    /// Who uploaded it, as the gateway names uploaders (a hex pubkey, an API user), if known.
    pub owner: Option<String>,
}

/// The torrent made for a stored file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TorrentRecord {
    /// Its info-hash: v1 (BEP 3), v2 (BEP 52) or both (hybrid).
    pub info_hash: InfoHash,
    /// The piece length in bytes.
    pub piece_length: u64,
    /// The number of pieces.
    pub piece_count: u32,
    /// The magnet URI (BEP 9) the gateway hands out.
    pub magnet: String,
    /// The .torrent file, byte for byte.
    pub torrent: Vec<u8>,
}

/// One chunk of a chunked file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChunkRecord {
    /// Its position in the file, from 0.
    pub index: u32,
    /// The SHA-256 of its bytes: its address in the chunk store.
    pub sha256: Sha256,
    /// Its length in bytes.
    pub size: u64,
}

/// Everything stored about one file, written and read as one: the file, its torrent, its chunks
/// (by index; empty for a blob) and its Blossom owners (sorted).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Upload {
    /// The file.
    pub file: FileRecord,
    /// Its torrent.
    pub torrent: TorrentRecord,
    /// Its chunks, in index order when read back.
    pub chunks: Vec<ChunkRecord>,
    /// The Nostr keys that own it on the Blossom side, sorted when read back.
    pub owners: Vec<Pubkey>,
}

/// What [`MetadataStore::delete`](crate::MetadataStore::delete) removed, so that the caller can
/// drop the content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    /// The upload as it was stored.
    pub upload: Upload,
    /// The chunk hashes that no remaining file refers to any more (sorted, each once): their
    /// chunk files can be deleted. Chunks shared with another file are not in this list.
    pub orphan_chunks: Vec<Sha256>,
}

impl Upload {
    /// Refuses what no backend can store: numbers above `i64::MAX` (SQLite integers are
    /// signed), a chunk size or piece length of 0. Duplicate chunk indexes are left to the
    /// backend, which answers [`MetaError::Conflict`] for them.
    pub(crate) fn check(&self) -> Result<(), MetaError> {
        fn at_most_i64(what: &str, value: u64) -> Result<(), MetaError> {
            if i64::try_from(value).is_ok() {
                Ok(())
            } else {
                Err(MetaError::Invalid {
                    what: format!("{what} {value} is above 2^63 - 1"),
                })
            }
        }
        fn positive(what: &str, value: u64) -> Result<(), MetaError> {
            if value == 0 {
                return Err(MetaError::Invalid {
                    what: format!("{what} is 0"),
                });
            }
            at_most_i64(what, value)
        }
        at_most_i64("size", self.file.size)?;
        at_most_i64("created", self.file.created)?;
        if let Layout::Chunked { chunk_size } = self.file.layout {
            positive("chunk size", chunk_size)?;
        }
        positive("piece length", self.torrent.piece_length)?;
        for chunk in &self.chunks {
            at_most_i64("chunk size", chunk.size)?;
        }
        Ok(())
    }
}
