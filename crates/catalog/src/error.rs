//! Why publishing, loading or deleting a file failed, shaped by what the caller does next.
//!
//! Every way in (the HTTP upload, Blossom's `PUT /upload`, a mirror) answers its client from
//! these variants, so they say what the client did wrong, when to come back, or that the fault
//! is ours; the stores' own errors ride along as sources for the log. On every error nothing of
//! the upload is kept and nothing is served.

use std::io;
use std::time::Duration;

use swarmgate_blobstore::{ContentError, MetaError};
use swarmgate_core::Sha256;

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The upload is larger than the limit it was given. HTTP: 413.
    #[error("uploads are limited to {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The upload ended before its announced length, or its body broke off before its end.
    /// HTTP: 400; the client may send it again.
    #[error("the upload ended early: {detail}")]
    Truncated {
        /// How far it got.
        detail: String,
    },
    /// The upload sent nothing for the idle limit. HTTP: 408; the client may send it again.
    #[error("the upload sent nothing for {} s", idle.as_secs())]
    Idle {
        /// The idle limit.
        idle: Duration,
    },
    /// Reading the upload failed otherwise (the client went away). HTTP: 400.
    #[error("the upload broke off: {source}")]
    Interrupted {
        /// What the reader said.
        source: io::Error,
    },
    /// An empty upload: a torrent cannot describe it. HTTP: 400.
    #[error("the upload is empty: an empty file cannot be shared over BitTorrent")]
    Empty,
    /// The metadata store is busy (its connections are all in use, the database is locked), or
    /// the same bytes were being removed while they were uploaded. HTTP: 503 with
    /// `Retry-After`; nothing was kept.
    #[error("the store is busy: retry shortly")]
    Busy,
    /// The upload hashed to none of [`PublishRequest::expected_sha256`](crate::PublishRequest).
    /// HTTP: 409 (Blossom); nothing was kept.
    #[error("the upload hashes to {actual}, not to the hash it was announced with")]
    HashMismatch {
        /// The sha256 of the bytes received.
        actual: Sha256,
    },
    /// No stored file has this sha256. HTTP: 404.
    #[error("no stored file has the sha256 {sha256}")]
    NotFound {
        /// The address asked for.
        sha256: Sha256,
    },
    /// The disk is full (the content store's or the metadata database's, or the file size
    /// limit was reached). HTTP: 507; nothing was kept; the next upload after space is freed
    /// succeeds.
    #[error("no space left to store the upload")]
    DiskFull,
    /// The catalog serves as many files as it may ([`Catalog::with_max_files`](crate::Catalog::with_max_files)).
    /// HTTP: 507; nothing was kept; an upload succeeds again once a file is deleted.
    #[error("this server stores its most files ({max}): none can be added until one is deleted")]
    TooManyFiles {
        /// The limit.
        max: usize,
    },
    /// The content store failed otherwise (I/O, damage). HTTP: 500; log and alarm.
    #[error(transparent)]
    Content(ContentError),
    /// The metadata store failed otherwise. HTTP: 500; log and alarm.
    #[error(transparent)]
    Meta(MetaError),
    /// A stored file's torrent does not load (a damaged database). The file is not served.
    #[error("the stored torrent of {sha256} is unusable: {reason}")]
    BadTorrent {
        /// The file.
        sha256: Sha256,
        /// What is wrong.
        reason: String,
    },
}

impl From<ContentError> for CatalogError {
    fn from(error: ContentError) -> Self {
        match error {
            ContentError::TooLarge { limit } => Self::TooLarge { limit },
            ContentError::SizeMismatch { expected, actual } => Self::Truncated {
                detail: format!("it carried {actual} of the {expected} bytes it announced"),
            },
            ContentError::Read { source } => match source.kind() {
                io::ErrorKind::UnexpectedEof => Self::Truncated {
                    detail: format!("its body broke off before its end: {source}"),
                },
                _ => Self::Interrupted { source },
            },
            ContentError::DiskFull { path } => {
                // The client hears 507; the operator reads here which store ran out.
                tracing::warn!(path = %path.display(), "disk full: storing the upload's bytes");
                Self::DiskFull
            }
            other => Self::Content(other),
        }
    }
}

impl From<MetaError> for CatalogError {
    fn from(error: MetaError) -> Self {
        match error {
            MetaError::Pool(_) => Self::Busy,
            MetaError::DiskFull(source) => {
                tracing::warn!(%source, "disk full: committing the upload's metadata");
                Self::DiskFull
            }
            other => Self::Meta(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_become_what_the_client_can_act_on() {
        let cut = ContentError::Read {
            source: io::Error::new(io::ErrorKind::UnexpectedEof, "cut"),
        };
        assert!(matches!(
            CatalogError::from(cut),
            CatalogError::Truncated { .. }
        ));
        let gone = ContentError::Read {
            source: io::Error::new(io::ErrorKind::ConnectionReset, "reset"),
        };
        assert!(matches!(
            CatalogError::from(gone),
            CatalogError::Interrupted { .. }
        ));
        let short = ContentError::SizeMismatch {
            expected: 10,
            actual: 4,
        };
        assert_eq!(
            CatalogError::from(short).to_string(),
            "the upload ended early: it carried 4 of the 10 bytes it announced"
        );
        assert!(matches!(
            CatalogError::from(ContentError::TooLarge { limit: 5 }),
            CatalogError::TooLarge { limit: 5 }
        ));
        assert!(matches!(
            CatalogError::from(MetaError::Pool("timed out".into())),
            CatalogError::Busy
        ));
        assert!(matches!(
            CatalogError::from(MetaError::DiskFull("SQLITE_FULL".into())),
            CatalogError::DiskFull
        ));
    }
}
