//! The errors of the content store (sha256-addressed files, BEP 3 pieces), shaped by what the
//! caller does next.
//!
//! The gateway maps them to answers: `NotFound` 404, `RangeNotSatisfiable` 416, `TooLarge` 413,
//! `SizeMismatch` and `Read` 400 (the upload was bad or cut short; nothing was stored),
//! `DiskFull` 507, `Io` and `Corrupt` 500 (log and alarm). The piece variants are for the
//! seeding side: a piece that fails its hash is not sent.

use std::io;
use std::path::{Path, PathBuf};

use swarmgate_core::Sha256;

/// Why a content-store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// No file with this sha256 is stored (or it was removed meanwhile). Answer 404.
    #[error("no content {sha256} is stored")]
    NotFound {
        /// The file asked for.
        sha256: Sha256,
    },
    /// A read of `length` bytes at `offset` reaches past the end of a file of `size` bytes.
    /// Answer 416 with `Content-Range: bytes */size`.
    #[error("range of {length} bytes at {offset} is outside a file of {size} bytes")]
    RangeNotSatisfiable {
        /// The first byte asked for.
        offset: u64,
        /// The number of bytes asked for.
        length: u64,
        /// The file's length.
        size: u64,
    },
    /// The upload is longer than the `limit` the ingest was given. Nothing was stored; answer
    /// 413.
    #[error("upload exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The upload's length differs from the one it announced (a cut-short or overlong body).
    /// Nothing was stored; answer 400.
    #[error("upload announced {expected} bytes but carried {actual}")]
    SizeMismatch {
        /// The announced length.
        expected: u64,
        /// The bytes received (at least this many when longer).
        actual: u64,
    },
    /// Reading the upload failed (the client went away, a truncated body). Nothing was
    /// stored; the client may retry.
    #[error("reading the upload failed: {source}")]
    Read {
        /// The reader's error.
        source: io::Error,
    },
    /// The disk (or quota, or the process's file size limit) is full while writing `path`.
    /// Nothing was stored; free space.
    #[error("{path}: no space left on the device (or disk quota or file size limit exceeded)")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// An I/O operation on `path` failed (permissions, a broken disk). Log and alarm.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Stored content does not match what the store recorded: a chunk missing or short, a
    /// manifest that does not decode, bytes whose hash differs from their address. The store
    /// was changed behind its back or the disk is failing: log, alarm, restore the file.
    #[error("corrupt content: {what}: {reason}")]
    Corrupt {
        /// What is corrupt (a path or a hash).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A piece index at or past the piece count. A caller bug or a peer's bad request.
    #[error("piece {index} is outside the {count} pieces")]
    NoSuchPiece {
        /// The index asked for.
        index: u32,
        /// The number of pieces.
        count: u32,
    },
    /// A chunked file can only be seeded in pieces of its chunk size.
    #[error("a chunked file has pieces of {expected} bytes, not {actual}")]
    PieceLength {
        /// The chunk size.
        expected: u32,
        /// The piece length asked for.
        actual: u32,
    },
    /// Verification was asked for but no SHA-1 is known for this piece: pass the torrent's
    /// piece hashes.
    #[error("no SHA-1 is known for piece {index}")]
    NoPieceHash {
        /// The piece.
        index: u32,
    },
    /// A piece read back does not match its SHA-1: do not send it; the stored file is corrupt.
    #[error("piece {index} does not match its SHA-1")]
    PieceHashMismatch {
        /// The piece.
        index: u32,
    },
}

impl ContentError {
    /// Wraps an I/O error on `path`, mapping a full disk, a quota or the file size limit
    /// (`EFBIG` under `RLIMIT_FSIZE` with `SIGXFSZ` ignored, or past the file system's largest
    /// file) to [`ContentError::DiskFull`]: each is a space limit that freeing or granting
    /// space lifts.
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::StorageFull
            | io::ErrorKind::QuotaExceeded
            | io::ErrorKind::FileTooLarge => Self::DiskFull {
                path: path.to_path_buf(),
            },
            _ => Self::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// The closure form of [`ContentError::io`].
    pub(crate) fn at(path: &Path) -> impl FnOnce(io::Error) -> Self + '_ {
        move |source| Self::io(path, source)
    }

    /// [`ContentError::Corrupt`] about `what`.
    pub(crate) fn corrupt(what: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<ContentError> for io::Error {
    /// The I/O error of the nearest kind, the content error kept as its source: what a reader
    /// that speaks `io` (a seeder's block source, a web seed file) reports. `NotFound` for a
    /// removed file, `InvalidData` for bytes that failed or cannot get their hash check,
    /// `InvalidInput` for a range or piece outside the file, `StorageFull` for a full disk.
    fn from(error: ContentError) -> Self {
        let kind = match &error {
            ContentError::NotFound { .. } => io::ErrorKind::NotFound,
            ContentError::Io { source, .. } => source.kind(),
            ContentError::DiskFull { .. } => io::ErrorKind::StorageFull,
            ContentError::PieceHashMismatch { .. }
            | ContentError::Corrupt { .. }
            | ContentError::NoPieceHash { .. } => io::ErrorKind::InvalidData,
            ContentError::RangeNotSatisfiable { .. }
            | ContentError::NoSuchPiece { .. }
            | ContentError::PieceLength { .. } => io::ErrorKind::InvalidInput,
            ContentError::TooLarge { .. }
            | ContentError::SizeMismatch { .. }
            | ContentError::Read { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_maps_to_disk_full_and_messages_name_the_numbers() {
        let path = Path::new("/data/tmp/x");
        assert!(matches!(
            ContentError::io(path, io::Error::from(io::ErrorKind::StorageFull)),
            ContentError::DiskFull { .. }
        ));
        #[cfg(target_os = "linux")]
        for (errno, full) in [
            (libc::EFBIG, true),
            (libc::ENOSPC, true),
            (libc::EIO, false),
        ] {
            let error = ContentError::io(path, io::Error::from_raw_os_error(errno));
            assert_eq!(
                matches!(error, ContentError::DiskFull { .. }),
                full,
                "{error}"
            );
        }
        assert!(matches!(
            ContentError::at(path)(io::Error::from(io::ErrorKind::PermissionDenied)),
            ContentError::Io { .. }
        ));
        let range = ContentError::RangeNotSatisfiable {
            offset: 10,
            length: 5,
            size: 12,
        };
        assert_eq!(
            range.to_string(),
            "range of 5 bytes at 10 is outside a file of 12 bytes"
        );
        assert_eq!(io::Error::from(range).kind(), io::ErrorKind::InvalidInput);
        let gone = ContentError::NotFound {
            sha256: Sha256([1; 32]),
        };
        assert_eq!(io::Error::from(gone).kind(), io::ErrorKind::NotFound);
        let bad = ContentError::PieceHashMismatch { index: 3 };
        assert_eq!(io::Error::from(bad).kind(), io::ErrorKind::InvalidData);
        assert!(
            ContentError::corrupt("chunk ab", "short")
                .to_string()
                .contains("chunk ab: short")
        );
    }
}
