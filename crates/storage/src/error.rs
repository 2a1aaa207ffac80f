//! The errors of torrent storage (BEP 3 data on disk), shaped by what the caller does next.
//!
//! A full disk is told apart from other I/O failures so the user can be told to free space
//! (`ENOSPC`, `EDQUOT` and `EFBIG` all map to [`StorageError::DiskFull`]); data that is not on disk is told
//! apart from a broken disk so the engine can re-download the piece rather than stop.

use std::io;
use std::path::{Path, PathBuf};

use swarmgate_core::PieceIndex;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// An I/O operation on `path` failed (permissions, a directory in the way, a broken disk).
    /// The torrent cannot go on with this file until the user fixes it.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The disk (or the user's quota) is full while writing `path` (`ENOSPC` / `EDQUOT`).
    /// Pause the download and tell the user to free space; nothing else is wrong.
    #[error("{path}: no space left on the device (or disk quota exceeded)")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// Bytes a read needs are not on disk: the file is missing or shorter than the torrent says.
    /// The piece is not had after all: drop it from the bitfield and download it again.
    #[error("{path}: piece {piece} is not on disk (file missing or short)")]
    Missing {
        /// The file that is missing or short.
        path: PathBuf,
        /// The piece being read.
        piece: PieceIndex,
    },
    /// A block (or piece) that lies outside the torrent's piece geometry: a caller bug, or a
    /// peer's bad request that should have been refused earlier.
    #[error("block at piece {piece}, offset {offset}, length {length} is outside the torrent")]
    OutOfRange {
        /// The piece asked for.
        piece: PieceIndex,
        /// The offset within the piece.
        offset: u32,
        /// The length asked for.
        length: u64,
    },
    /// The torrent carries no v1 piece hash for `piece` (a v2-only torrent): verifying needs
    /// the BEP 52 merkle tree, which this storage does not check.
    #[error("piece {piece} has no v1 (SHA-1) hash to verify against")]
    NoPieceHash {
        /// The piece asked for.
        piece: PieceIndex,
    },
}

impl StorageError {
    /// Wraps an I/O error on `path`, mapping a full disk, a quota or the file size limit
    /// (`EFBIG`: `RLIMIT_FSIZE` with `SIGXFSZ` survived, or past the file system's largest file)
    /// to [`StorageError::DiskFull`]: each is lifted by freeing or granting space.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_and_quota_map_to_disk_full() {
        let path = Path::new("/data/file");
        for kind in [io::ErrorKind::StorageFull, io::ErrorKind::QuotaExceeded] {
            let error = StorageError::io(path, io::Error::from(kind));
            assert!(
                matches!(&error, StorageError::DiskFull { path: p } if p == path),
                "{kind:?} gave {error:?}"
            );
        }
        // ENOSPC as the kernel reports it (28 on Linux) takes the same path.
        #[cfg(target_os = "linux")]
        assert!(matches!(
            StorageError::io(path, io::Error::from_raw_os_error(28)),
            StorageError::DiskFull { .. }
        ));
        // EFBIG (27): a write past RLIMIT_FSIZE.
        #[cfg(target_os = "linux")]
        assert!(matches!(
            StorageError::io(path, io::Error::from_raw_os_error(27)),
            StorageError::DiskFull { .. }
        ));
        let other = StorageError::io(path, io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(matches!(other, StorageError::Io { .. }));
        assert!(other.to_string().starts_with("/data/file: "));
    }
}
