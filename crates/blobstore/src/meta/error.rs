//! The errors of the metadata store, shaped by what the caller does next.
//!
//! `NotFound` and `Conflict` are answers the gateway turns into 404 and 409; `Pool` is "try again
//! later" (503); `TooNew` stops the gateway at start with a message that names both versions;
//! `Corrupt` and `Backend` are faults to log and alarm on. Backend errors are boxed so that the
//! public type does not name rusqlite, and a second backend can report through the same variant.

use std::error::Error as StdError;

use swarmgate_core::Sha256;

/// Why a metadata operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// No file with this sha256 is stored. Answer 404.
    #[error("no file {sha256} is stored")]
    NotFound {
        /// The file asked for.
        sha256: Sha256,
    },
    /// The write would store something twice: a file with this sha256 or a torrent with this
    /// info-hash already exists, or the upload lists a chunk index twice. Nothing was written;
    /// an upload of an existing file should answer with the stored record.
    #[error("already stored: {what}")]
    Conflict {
        /// What is already there.
        what: String,
    },
    /// The upload cannot be stored as given: a number above 2^63 - 1 (SQLite integers are
    /// signed), a chunked layout with chunk size 0, a piece length of 0. A caller bug; nothing
    /// was written.
    #[error("cannot store: {what}")]
    Invalid {
        /// What is wrong with it.
        what: String,
    },
    /// A stored row does not decode into a record (a hash of the wrong length, an unknown
    /// layout, a negative size): the database was changed behind the store's back or damaged.
    /// Run [`integrity_check`](crate::MetadataStore::integrity_check) and restore a backup.
    #[error("corrupt metadata: {what}")]
    Corrupt {
        /// What did not decode, and where.
        what: String,
    },
    /// The database was written by a newer version of this code (its schema version is higher
    /// than any this build knows). Run the newer version; this one refuses to touch it.
    #[error(
        "the metadata database has schema version {found}, newer than the {known} this build \
         knows: run a newer Swarmgate or restore an older database"
    )]
    TooNew {
        /// The schema version found in the database.
        found: u32,
        /// The highest schema version this build knows.
        known: u32,
    },
    /// No connection (or the database's write lock) was free within the timeout: the store is
    /// overloaded. Retry later (answer 503).
    #[error("metadata store busy: {0}")]
    Pool(#[source] Box<dyn StdError + Send + Sync>),
    /// The database's disk is full (SQLite's `SQLITE_FULL`: the WAL or the database file could
    /// not grow). Nothing was written and the store stays usable; free space and retry
    /// (answer 507).
    #[error("metadata store: no space left on the device: {0}")]
    DiskFull(#[source] Box<dyn StdError + Send + Sync>),
    /// The backend failed (an I/O error, a database that cannot be opened).
    #[error("metadata backend: {0}")]
    Backend(#[source] Box<dyn StdError + Send + Sync>),
}

impl MetaError {
    /// A [`MetaError::Conflict`] about `what`.
    pub(crate) fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict { what: what.into() }
    }

    /// A [`MetaError::Corrupt`] about `what`.
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for MetaError {
    /// Busy and locked databases are [`MetaError::Pool`] (retry later), a uniqueness or key
    /// violation is [`MetaError::Conflict`], another constraint (a `CHECK`, a foreign key) is
    /// [`MetaError::Invalid`], a full disk is [`MetaError::DiskFull`], a value of the wrong type
    /// is [`MetaError::Corrupt`]; everything
    /// else is [`MetaError::Backend`].
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match &error {
            rusqlite::Error::SqliteFailure(code, _) => match code.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Self::Pool(Box::new(error)),
                ErrorCode::DiskFull => Self::DiskFull(Box::new(error)),
                ErrorCode::ConstraintViolation
                    if matches!(
                        code.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
                {
                    Self::conflict(error.to_string())
                }
                ErrorCode::ConstraintViolation => Self::Invalid {
                    what: error.to_string(),
                },
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                    Self::corrupt(error.to_string())
                }
                _ => Self::Backend(Box::new(error)),
            },
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => Self::corrupt(error.to_string()),
            _ => Self::Backend(Box::new(error)),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<r2d2::Error> for MetaError {
    /// The pool timed out waiting for a connection (or could not open one).
    fn from(error: r2d2::Error) -> Self {
        Self::Pool(Box::new(error))
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn sqlite_errors_map_to_what_the_caller_does_next() {
        assert!(matches!(
            MetaError::from(failure(rusqlite::ffi::SQLITE_BUSY)),
            MetaError::Pool(_)
        ));
        assert!(matches!(
            MetaError::from(failure(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)),
            MetaError::Conflict { .. }
        ));
        assert!(matches!(
            MetaError::from(failure(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)),
            MetaError::Conflict { .. }
        ));
        assert!(matches!(
            MetaError::from(failure(rusqlite::ffi::SQLITE_CONSTRAINT_CHECK)),
            MetaError::Invalid { .. }
        ));
        assert!(matches!(
            MetaError::from(failure(rusqlite::ffi::SQLITE_CORRUPT)),
            MetaError::Corrupt { .. }
        ));
        assert!(matches!(
            MetaError::from(failure(rusqlite::ffi::SQLITE_FULL)),
            MetaError::DiskFull(_)
        ));
        assert!(matches!(
            MetaError::from(failure(rusqlite::ffi::SQLITE_IOERR)),
            MetaError::Backend(_)
        ));
        assert!(matches!(
            MetaError::from(rusqlite::Error::IntegralValueOutOfRange(0, -1)),
            MetaError::Corrupt { .. }
        ));
        let too_new = MetaError::TooNew { found: 9, known: 1 };
        assert!(too_new.to_string().contains("schema version 9"));
    }
}
