//! The SQLite schema of the metadata store (BEP 3 / BEP 52 torrents, Blossom owners) and its
//! versioned migrations.
//!
//! The schema version is SQLite's `PRAGMA user_version` (a header field, written in the same
//! transaction as the schema change, so a crash leaves either the old version with the old
//! tables or the new version with the new ones). Migration `n` (from 1) takes version `n - 1`
//! to `n`; each runs in its own `BEGIN IMMEDIATE` transaction that first re-reads the version,
//! so two processes opening the same file at once migrate it once. A database whose version is
//! higher than [`SCHEMA_VERSION`] was written by newer code and is refused untouched
//! ([`MetaError::TooNew`]): older code cannot know what the newer tables mean.
//!
//! Migrations are append-only: a released one is never edited; a change is a new entry.
//!
//! The tables are `STRICT` (a value of the wrong type is refused on write, not discovered on
//! read), hashes are `BLOB`s with `CHECK`ed lengths, and every table hangs off `files.id` with
//! `ON DELETE CASCADE`, so deleting the file row deletes its torrent, chunks and owners in the
//! same statement.

use rusqlite::{Connection, TransactionBehavior};

use crate::meta::MetaError;

/// The migrations, in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: files, torrents, chunks, blob owners, counters.
    "
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        sha256 BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),
        name TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        mime TEXT NOT NULL,
        layout TEXT NOT NULL CHECK (layout IN ('blob', 'chunked')),
        chunk_size INTEGER CHECK ((layout = 'blob') = (chunk_size IS NULL) AND
                                  (chunk_size IS NULL OR chunk_size > 0)),
        created INTEGER NOT NULL CHECK (created >= 0),
        owner TEXT
    ) STRICT;
    CREATE INDEX files_newest ON files (created DESC, id DESC);

    CREATE TABLE torrents (
        file_id INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
        info_hash_v1 BLOB UNIQUE CHECK (info_hash_v1 IS NULL OR length(info_hash_v1) = 20),
        info_hash_v2 BLOB UNIQUE CHECK (info_hash_v2 IS NULL OR length(info_hash_v2) = 32),
        info_hash_v2_short BLOB GENERATED ALWAYS AS (substr(info_hash_v2, 1, 20)) VIRTUAL,
        piece_length INTEGER NOT NULL CHECK (piece_length > 0),
        piece_count INTEGER NOT NULL CHECK (piece_count BETWEEN 0 AND 4294967295),
        magnet TEXT NOT NULL,
        torrent BLOB NOT NULL,
        CHECK (info_hash_v1 IS NOT NULL OR info_hash_v2 IS NOT NULL)
    ) STRICT;
    CREATE INDEX torrents_v2_short ON torrents (info_hash_v2_short);

    CREATE TABLE chunks (
        file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 4294967295),
        sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
        size INTEGER NOT NULL CHECK (size >= 0),
        PRIMARY KEY (file_id, idx)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX chunks_by_hash ON chunks (sha256);

    CREATE TABLE blob_owners (
        file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
        pubkey BLOB NOT NULL CHECK (length(pubkey) = 32),
        PRIMARY KEY (file_id, pubkey)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX blob_owners_by_pubkey ON blob_owners (pubkey, file_id);

    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL CHECK (value >= 0)
    ) STRICT, WITHOUT ROWID;
    ",
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The database's schema version (`PRAGMA user_version`).
pub(crate) fn version(conn: &Connection) -> Result<u32, MetaError> {
    let raw: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    u32::try_from(raw).map_err(|_| MetaError::corrupt(format!("schema version {raw}")))
}

/// Brings the database to [`SCHEMA_VERSION`], one transaction per migration; returns the
/// versions it migrated to (empty when the database was current).
pub(crate) fn migrate(conn: &mut Connection) -> Result<Vec<u32>, MetaError> {
    let mut applied = Vec::new();
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = version(&tx)?;
        if found > SCHEMA_VERSION {
            return Err(MetaError::TooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        let Some(migration) = MIGRATIONS.get(found as usize) else {
            return Ok(applied);
        };
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
        applied.push(found + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_then_is_current_and_refuses_newer() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(
            migrate(&mut conn).unwrap(),
            (1..=SCHEMA_VERSION).collect::<Vec<_>>()
        );
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&mut conn).unwrap(), Vec::<u32>::new());
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(MetaError::TooNew { found, known }) if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION
        ));
    }

    #[test]
    fn a_failing_migration_leaves_the_version_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        // A table in the way makes migration 1 fail half-way through its batch.
        conn.execute_batch("CREATE TABLE chunks (x INTEGER)")
            .unwrap();
        assert!(migrate(&mut conn).is_err());
        assert_eq!(version(&conn).unwrap(), 0);
        let files: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'files'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(
            files, 0,
            "the tables created before the failure were rolled back"
        );
    }
}
