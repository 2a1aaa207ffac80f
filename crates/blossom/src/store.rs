//! The blob-store trait the router runs over: what a Blossom server needs from its storage, and
//! nothing of HTTP.
//!
//! The methods block (files, databases): the router calls them on tokio's blocking threads and
//! streams a request body into [`BlobStore::put`] through a bounded channel seen as a
//! [`std::io::Read`], so an upload is never held in memory whole. A store owns three rules the
//! router cannot check from outside:
//!
//! - **Nothing unverified is kept.** `put` hashes exactly the bytes it reads; when
//!   [`PutBlob::expected_sha256`] is not empty and the hash is not among them, it answers
//!   [`StoreError::HashMismatch`] and keeps nothing (no bytes, no new owner), even if those bytes
//!   were stored before under another owner.
//! - **Only verified bytes are served.** `read` hands out bytes that hash to the address.
//! - **Bytes go with their last owner.** `disown` removes one pubkey's claim; the bytes are
//!   deleted only when no owner is left (and, for a store that is also something else, such as
//!   the gateway's catalog, only when nothing else holds them).
//!
//! [`MemoryBlobStore`](crate::MemoryBlobStore) implements it in memory for tests and examples.

use std::io;

use bytes::Bytes;
use serde_json::{Map, Value};
use swarmgate_core::{Pubkey, Sha256};

use crate::report::Report;

/// A stored blob, as the store knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Blob {
    /// Its address: the sha256 of its bytes.
    pub sha256: Sha256,
    /// Its length in bytes.
    pub size: u64,
    /// Its media type (`application/octet-stream` when unknown): the `Content-Type` of every GET.
    pub mime: String,
    /// When it was first stored, in unix seconds.
    pub uploaded: u64,
    /// The pubkeys that uploaded (or mirrored) it and have not deleted it. An empty list is a
    /// blob nobody claims through Blossom (an upload without authorization, a file the gateway
    /// got another way).
    pub owners: Vec<Pubkey>,
    /// Extra fields of its blob descriptor beside the BUD-02 ones, e.g. `magnet`, `infohash`,
    /// `torrent` for a blob that is also a torrent.
    pub extra: Map<String, Value>,
    /// Extra BUD-08 / NIP-94 tags beside those built from the descriptor (`url`, `m`, `x`,
    /// `size`, `magnet`, `i`), e.g. `["fallback", "<web seed url>"]`.
    pub nip94: Vec<Vec<String>>,
}

/// What is known of an upload besides its bytes: the request side of [`BlobStore::put`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutBlob {
    /// The media type the client declared (`Content-Type` of `PUT /upload`, of the mirrored
    /// origin), if any. The store may sniff the bytes instead.
    pub declared_type: Option<String>,
    /// The length the request announced (`Content-Length`): fewer or more bytes are
    /// [`StoreError::LengthMismatch`].
    pub expected_size: Option<u64>,
    /// The largest blob accepted, in bytes (the upload limit, or what is left of the uploader's
    /// quota): a longer one is [`StoreError::TooLarge`], and reading stops there.
    pub max_size: u64,
    /// When not empty, the body's sha256 must be one of these (the `X-SHA-256` header, or the
    /// `x` tags of the authorization); otherwise [`StoreError::HashMismatch`] and nothing is
    /// kept.
    pub expected_sha256: Vec<Sha256>,
    /// Who uploads it (the signer of the authorization): made an owner once it is verified.
    pub owner: Option<Pubkey>,
    /// A file name, if the request gave one (a mirror's URL path): a hint for naming and media
    /// type detection only.
    pub name_hint: Option<String>,
}

/// The answer of a successful [`BlobStore::put`].
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The blob now stored.
    pub blob: Blob,
    /// The same bytes were stored before (HTTP 200, not 201); the owner was added if new.
    pub existed: bool,
}

/// What [`BlobStore::disown`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disowned {
    /// The pubkey does not own the blob: nothing changed (HTTP 403).
    NotOwner,
    /// The pubkey's ownership is gone; other owners (or other uses) keep the bytes.
    Removed,
    /// The pubkey was the last owner: the bytes are deleted.
    Deleted,
}

/// Why a store operation failed, shaped by what the router answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No blob has this address. HTTP 404.
    #[error("blob not found")]
    NotFound,
    /// The upload is longer than [`PutBlob::max_size`]. HTTP 413; nothing kept.
    #[error("the blob is larger than {max} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// The upload carried a different number of bytes than it announced. HTTP 400; nothing kept.
    #[error("the upload announced {expected} bytes and carried {actual}")]
    LengthMismatch {
        /// The announced length.
        expected: u64,
        /// The bytes received (possibly cut short at one past the announced length).
        actual: u64,
    },
    /// The upload hashed to none of [`PutBlob::expected_sha256`]. HTTP 409 (or 403 when the
    /// expected hashes came from the authorization); nothing kept.
    #[error("the body hashes to {actual}, not to the expected hash")]
    HashMismatch {
        /// The hash of the bytes received.
        actual: Sha256,
    },
    /// An empty upload, which this store does not keep. HTTP 400.
    #[error("the upload is empty")]
    Empty,
    /// Reading the upload failed: the client went away, or its body broke off. HTTP 400;
    /// nothing kept.
    #[error("the upload broke off: {0}")]
    BodyRead(io::Error),
    /// The store is busy (connections in use, a lock held); retry shortly. HTTP 503 with
    /// `Retry-After`; nothing kept.
    #[error("the store is busy: retry shortly")]
    Busy,
    /// No space left. HTTP 507 Insufficient Storage; nothing kept.
    #[error("no space left to store the blob")]
    Full,
    /// Any other failure of the store (I/O, a damaged database). HTTP 500.
    #[error("storage failure: {0}")]
    Io(String),
}

/// The storage a Blossom [`router`](crate::router()) serves: blobs by sha256, their owners, and
/// reports. Every method blocks; see the module docs for the rules an implementation keeps.
pub trait BlobStore: Send + Sync + 'static {
    /// The blob at this address, or `None` when it is not stored.
    fn stat(&self, sha256: &Sha256) -> Result<Option<Blob>, StoreError>;

    /// Up to `len` bytes of the blob from `offset` (fewer only at its end), verified.
    /// [`StoreError::NotFound`] when it is not stored (any more).
    fn read(&self, sha256: &Sha256, offset: u64, len: usize) -> Result<Bytes, StoreError>;

    /// Stores the bytes read from `body` (to its end), hashing exactly them, under the rules of
    /// [`PutBlob`]. The same bytes stored again answer the stored blob with `existed: true` and
    /// the owner added.
    fn put(&self, body: &mut dyn io::Read, put: &PutBlob) -> Result<Stored, StoreError>;

    /// Makes `owner` an owner of a stored blob (a `PUT /mirror` of a blob already here) and
    /// answers it; [`StoreError::NotFound`] when it is not stored.
    fn add_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Blob, StoreError>;

    /// Removes `owner`'s ownership of a blob (`DELETE /<sha256>`); the bytes go when no owner
    /// is left. [`StoreError::NotFound`] when it is not stored.
    fn disown(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Disowned, StoreError>;

    /// The blobs `owner` owns, newest (`uploaded`) first; ties in a stable order (the router
    /// pages with a cursor over this order).
    fn list(&self, owner: &Pubkey) -> Result<Vec<Blob>, StoreError>;

    /// Keeps a verified BUD-09 report (`PUT /report`).
    fn report(&self, report: &Report) -> Result<(), StoreError>;

    /// The reports kept, oldest first (for an administrator).
    fn reports(&self) -> Result<Vec<Report>, StoreError>;
}
