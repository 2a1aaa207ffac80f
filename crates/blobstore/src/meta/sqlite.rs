//! The metadata store on SQLite (BEP 3 / BEP 52 torrents, BEP 9 magnets, Blossom owners):
//! [`SqliteStore`].
//!
//! One database file in WAL mode, shared by the request threads through an r2d2 pool. WAL lets
//! readers go on while one writer commits, which is the gateway's load: many lookups, few
//! uploads. Every connection runs with:
//!
//! - `synchronous = FULL`: in WAL mode this fsyncs the log at every commit, so a `put` that has
//!   returned (and so an upload the gateway has acknowledged) survives a crash of the process
//!   *and* of the machine. `NORMAL` would be faster but may lose the last commits on power loss,
//!   and an acknowledged upload must never be lost. Counters pay the same fsync: callers that
//!   count per request should add up in memory and flush now and then.
//! - `foreign_keys = ON`, so that deleting a file row cascades to its torrent, chunks and owners;
//! - a busy timeout, so that a writer waits for another rather than failing at once.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions: the write lock is taken at the start, where
//! the busy timeout applies, instead of at the first write, where a reader turning writer would
//! fail with `SQLITE_BUSY` at once. Multi-statement reads run in one (deferred) transaction, so
//! they see one snapshot.
//!
//! The schema is migrated at open, before the pool hands out connections (see the schema
//! module). An in-memory database lives in one connection, so its pool has exactly one, which is
//! never retired (every new connection to `:memory:` would be a new, empty database).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use swarmgate_core::InfoHash;

use crate::meta::schema;
use crate::meta::sqlite_read::{
    chunks_of, file_by_column, file_id, file_row, files_where, owners_of, torrent_of, upload_of,
};
use crate::meta::sqlite_rows::{FILE_COLUMNS, FileRow, signed, unsigned};
use crate::meta::{
    ChunkRecord, FileRecord, Layout, MetaError, MetadataStore, Removed, TorrentRecord, Upload,
};
use swarmgate_core::{Pubkey, Sha256};

/// How a [`SqliteStore`] opens its database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The most connections open at once (readers in parallel; writers take turns). Default 8.
    pub pool_size: u32,
    /// How long a connection waits for another's write lock before [`MetaError::Pool`].
    /// Default 5 s.
    pub busy_timeout: Duration,
    /// How long a call waits for a free connection before [`MetaError::Pool`]. Default 5 s.
    pub connection_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            busy_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(5),
        }
    }
}

/// The [`MetadataStore`] on an SQLite database (the gateway's `./data/gateway.db`).
///
/// ```
/// use swarmgate_blobstore::{MetadataStore, SqliteStore};
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("gateway.db"))?;
/// assert_eq!(store.migrated(), [1]);
/// store.add_to_counter("uploads", 1)?;
/// drop(store);
///
/// // Reopened: nothing to migrate, the counter is still there.
/// let store = SqliteStore::open(dir.path().join("gateway.db"))?;
/// assert!(store.migrated().is_empty());
/// assert_eq!(store.counter("uploads")?, 1);
/// store.integrity_check()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore {
    pool: Pool<SqliteConnectionManager>,
    migrated: Vec<u32>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("pool", &self.pool.state())
            .field("migrated", &self.migrated)
            .finish()
    }
}

/// The settings every connection gets (`journal_mode` is per database, set once at open).
fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "FULL")
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with the default options, and
    /// migrates it. [`MetaError::TooNew`] for a database of a newer build.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MetaError> {
        Self::open_with(path, &SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with `options`.
    pub fn open_with(path: impl AsRef<Path>, options: &SqliteOptions) -> Result<Self, MetaError> {
        let path = path.as_ref();
        let mut conn = Connection::open(path)?;
        configure(&conn, options.busy_timeout)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(MetaError::Backend(
                format!("{}: journal mode is {mode}, WAL refused", path.display()).into(),
            ));
        }
        let migrated = schema::migrate(&mut conn)?;
        drop(conn);
        let busy_timeout = options.busy_timeout;
        let manager =
            SqliteConnectionManager::file(path).with_init(move |c| configure(c, busy_timeout));
        let pool = Pool::builder()
            .max_size(options.pool_size.max(1))
            .connection_timeout(options.connection_timeout)
            .build(manager)?;
        Ok(Self { pool, migrated })
    }

    /// A fresh database in memory (one connection; gone when the store is dropped).
    pub fn open_in_memory() -> Result<Self, MetaError> {
        let busy_timeout = SqliteOptions::default().busy_timeout;
        let manager =
            SqliteConnectionManager::memory().with_init(move |c| configure(c, busy_timeout));
        let pool = Pool::builder()
            .max_size(1)
            .min_idle(Some(1))
            .idle_timeout(None)
            .max_lifetime(None)
            .connection_timeout(SqliteOptions::default().connection_timeout)
            .build(manager)?;
        let migrated = schema::migrate(&mut *pool.get()?)?;
        Ok(Self { pool, migrated })
    }

    /// The schema versions this open migrated the database to, oldest first; empty when it was
    /// already current.
    pub fn migrated(&self) -> &[u32] {
        &self.migrated
    }

    /// The database's schema version.
    pub fn schema_version(&self) -> Result<u32, MetaError> {
        schema::version(&*self.conn()?)
    }

    fn conn(&self) -> Result<PooledConnection<SqliteConnectionManager>, MetaError> {
        Ok(self.pool.get()?)
    }
}

/// Adds `delta` to counter `name`, saturating at `i64::MAX`; returns the new value.
fn add_counter(conn: &Connection, name: &str, delta: u64) -> Result<u64, MetaError> {
    let delta = i64::try_from(delta).unwrap_or(i64::MAX);
    let value: i64 = conn
        .prepare_cached(
            "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE \
             SET value = CASE WHEN value > 9223372036854775807 - excluded.value \
             THEN 9223372036854775807 ELSE value + excluded.value END RETURNING value",
        )?
        .query_row(params![name, delta], |row| row.get(0))?;
    unsigned(value, "counters", 0, name)
}

impl MetadataStore for SqliteStore {
    fn put(&self, upload: &Upload) -> Result<(), MetaError> {
        upload.check()?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let file = &upload.file;
        if file_row(&tx, &file.sha256)?.is_some() {
            return Err(MetaError::conflict(format!("file {}", file.sha256)));
        }
        let (layout, chunk_size) = match file.layout {
            Layout::Blob => ("blob", None),
            Layout::Chunked { chunk_size } => ("chunked", Some(signed(chunk_size)?)),
        };
        tx.prepare_cached(
            "INSERT INTO files (sha256, name, size, mime, layout, chunk_size, created, owner) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            &file.sha256.0[..],
            file.name,
            signed(file.size)?,
            file.mime,
            layout,
            chunk_size,
            signed(file.created)?,
            file.owner,
        ])?;
        let id = tx.last_insert_rowid();
        let torrent = &upload.torrent;
        tx.prepare_cached(
            "INSERT INTO torrents (file_id, info_hash_v1, info_hash_v2, piece_length, \
             piece_count, magnet, torrent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            id,
            torrent.info_hash.v1().map(|h| h.0.to_vec()),
            torrent.info_hash.v2().map(|h| h.0.to_vec()),
            signed(torrent.piece_length)?,
            torrent.piece_count,
            torrent.magnet,
            torrent.torrent,
        ])?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO chunks (file_id, idx, sha256, size) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for chunk in &upload.chunks {
                insert.execute(params![
                    id,
                    chunk.index,
                    &chunk.sha256.0[..],
                    signed(chunk.size)?
                ])?;
            }
            let mut owner = tx.prepare_cached(
                "INSERT OR IGNORE INTO blob_owners (file_id, pubkey) VALUES (?1, ?2)",
            )?;
            for key in &upload.owners {
                owner.execute(params![id, &key.0[..]])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn file(&self, sha256: &Sha256) -> Result<Option<FileRecord>, MetaError> {
        file_row(&*self.conn()?, sha256)?
            .map(FileRow::decode)
            .transpose()
    }

    fn upload(&self, sha256: &Sha256) -> Result<Option<Upload>, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        file_row(&tx, sha256)?
            .map(|row| upload_of(&tx, row))
            .transpose()
    }

    fn torrent(&self, sha256: &Sha256) -> Result<Option<TorrentRecord>, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        file_row(&tx, sha256)?
            .map(|row| torrent_of(&tx, row.id))
            .transpose()
    }

    fn chunks(&self, sha256: &Sha256) -> Result<Option<Vec<ChunkRecord>>, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        file_row(&tx, sha256)?
            .map(|row| chunks_of(&tx, row.id))
            .transpose()
    }

    fn file_by_info_hash(&self, info_hash: &InfoHash) -> Result<Option<FileRecord>, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        if let Some(v1) = info_hash.v1() {
            for column in ["info_hash_v1", "info_hash_v2_short"] {
                if let Some(file) = file_by_column(&tx, column, &v1.0)? {
                    return Ok(Some(file));
                }
            }
        }
        match info_hash.v2() {
            Some(v2) => file_by_column(&tx, "info_hash_v2", &v2.0),
            None => Ok(None),
        }
    }

    fn list(&self, offset: u64, limit: u32) -> Result<Vec<FileRecord>, MetaError> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files ORDER BY created DESC, id DESC LIMIT ?1 OFFSET ?2"
        );
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        files_where(&*self.conn()?, &sql, params![limit, offset])
    }

    fn count(&self) -> Result<u64, MetaError> {
        let count: i64 = self
            .conn()?
            .query_row("SELECT count(*) FROM files", [], |row| row.get(0))?;
        unsigned(count, "files", 0, "count(*)")
    }

    fn delete(&self, sha256: &Sha256) -> Result<Removed, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = file_row(&tx, sha256)?.ok_or(MetaError::NotFound { sha256: *sha256 })?;
        let id = row.id;
        let upload = upload_of(&tx, row)?;
        tx.execute("DELETE FROM files WHERE id = ?1", [id])?;
        let mut hashes: Vec<Sha256> = upload.chunks.iter().map(|c| c.sha256).collect();
        hashes.sort();
        hashes.dedup();
        let mut orphan_chunks = Vec::new();
        {
            let mut used =
                tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM chunks WHERE sha256 = ?1)")?;
            for hash in hashes {
                if !used.query_row([&hash.0[..]], |row| row.get::<_, bool>(0))? {
                    orphan_chunks.push(hash);
                }
            }
        }
        tx.commit()?;
        Ok(Removed {
            upload,
            orphan_chunks,
        })
    }

    fn add_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<bool, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = file_id(&tx, sha256)?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO blob_owners (file_id, pubkey) VALUES (?1, ?2)",
            params![id, &owner.0[..]],
        )?;
        tx.commit()?;
        Ok(added == 1)
    }

    fn remove_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<bool, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = file_id(&tx, sha256)?;
        let removed = tx.execute(
            "DELETE FROM blob_owners WHERE file_id = ?1 AND pubkey = ?2",
            params![id, &owner.0[..]],
        )?;
        tx.commit()?;
        Ok(removed == 1)
    }

    fn owners(&self, sha256: &Sha256) -> Result<Vec<Pubkey>, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let id = file_id(&tx, sha256)?;
        owners_of(&tx, id)
    }

    fn files_of_owner(&self, owner: &Pubkey) -> Result<Vec<FileRecord>, MetaError> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM blob_owners JOIN files ON files.id = blob_owners.file_id \
             WHERE blob_owners.pubkey = ?1 ORDER BY files.created DESC, files.id DESC"
        );
        files_where(&*self.conn()?, &sql, [&owner.0[..]])
    }

    fn add_to_counter(&self, name: &str, delta: u64) -> Result<u64, MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = add_counter(&tx, name, delta)?;
        tx.commit()?;
        Ok(value)
    }

    fn add_to_counters(&self, deltas: &[(&str, u64)]) -> Result<(), MetaError> {
        if deltas.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (name, delta) in deltas {
            add_counter(&tx, name, *delta)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn counter(&self, name: &str) -> Result<u64, MetaError> {
        let value: Option<i64> = self
            .conn()?
            .prepare_cached("SELECT value FROM counters WHERE name = ?1")?
            .query_row([name], |row| row.get(0))
            .optional()?;
        unsigned(value.unwrap_or(0), "counters", 0, name)
    }

    fn counters(&self) -> Result<Vec<(String, u64)>, MetaError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT name, value FROM counters ORDER BY name")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        rows.map(|row| {
            let (name, value) = row?;
            let value = unsigned(value, "counters", 0, &name)?;
            Ok((name, value))
        })
        .collect()
    }

    fn integrity_check(&self) -> Result<(), MetaError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let findings: Vec<String> = tx
            .prepare("PRAGMA integrity_check")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        if findings != ["ok"] {
            return Err(MetaError::corrupt(findings.join("; ")));
        }
        let broken_keys: Vec<String> = tx
            .prepare("PRAGMA foreign_key_check")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        if !broken_keys.is_empty() {
            return Err(MetaError::corrupt(format!(
                "rows pointing at no file in: {}",
                broken_keys.join(", ")
            )));
        }
        let orphan_files: i64 = tx.query_row(
            "SELECT count(*) FROM files WHERE NOT EXISTS \
             (SELECT 1 FROM torrents WHERE torrents.file_id = files.id)",
            [],
            |row| row.get(0),
        )?;
        if orphan_files != 0 {
            return Err(MetaError::corrupt(format!(
                "{orphan_files} files without a torrent"
            )));
        }
        Ok(())
    }
}
