//! The metadata store: the conformance suite on every backend (SQLite on a file, SQLite in
//! memory, the in-memory maps), migrations at open, a newer database refused, corrupt rows and
//! a damaged file reported, a held write lock answered as busy.

use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use swarmgate_blobstore::conformance::{normalized, sample_upload};
use swarmgate_blobstore::{
    MemoryStore, MetaError, MetadataStore, SCHEMA_VERSION, SqliteOptions, SqliteStore, conformance,
};

#[test]
fn conformance_sqlite_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let next = Cell::new(0);
    let started = Instant::now();
    conformance::run(|| {
        next.set(next.get() + 1);
        SqliteStore::open(dir.path().join(format!("meta-{}.db", next.get()))).unwrap()
    });
    eprintln!("conformance on an SQLite file: {:?}", started.elapsed());
}

#[test]
fn conformance_sqlite_in_memory() {
    conformance::run(|| SqliteStore::open_in_memory().unwrap());
}

#[test]
fn conformance_memory_store() {
    conformance::run(MemoryStore::new);
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn an_empty_file_is_migrated_once_and_reopens_without_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    std::fs::write(&path, b"").unwrap();
    let upload = sample_upload(1, 3);
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.migrated(), (1..=SCHEMA_VERSION).collect::<Vec<_>>());
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        store.put(&upload).unwrap();
        // WAL mode is on the file itself, for every later connection.
        let mode: String = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.migrated().is_empty(), "{:?}", store.migrated());
        assert_eq!(
            store.upload(&upload.file.sha256).unwrap(),
            Some(normalized(&upload))
        );
        store.integrity_check().unwrap();
    }
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));
}

#[test]
fn a_database_of_a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE from_the_future (x INTEGER)")
            .unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(error, MetaError::TooNew { found, known } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{error:?}"
    );
    assert!(error.to_string().contains("newer"), "{error}");
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION + 1));
    let tables: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1, "nothing was created in the newer database");
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(error, MetaError::Corrupt { .. }), "{error:?}");
}

/// Rows changed behind the store's back (check constraints switched off) are `Corrupt`, and
/// the integrity check finds a file without a torrent.
#[test]
fn rows_that_do_not_decode_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    let store = SqliteStore::open(&path).unwrap();
    let (a, b) = (sample_upload(1, 2), sample_upload(2, 0));
    store.put(&a).unwrap();
    store.put(&b).unwrap();
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch(
        "PRAGMA ignore_check_constraints = ON;
         UPDATE files SET size = -5 WHERE name = 'file-2.bin';
         UPDATE chunks SET sha256 = x'0102' WHERE idx = 1;",
    )
    .unwrap();
    assert!(matches!(
        store.file(&b.file.sha256),
        Err(MetaError::Corrupt { .. })
    ));
    assert!(matches!(store.list(0, 10), Err(MetaError::Corrupt { .. })));
    assert!(matches!(
        store.chunks(&a.file.sha256),
        Err(MetaError::Corrupt { .. })
    ));
    assert!(matches!(
        store.upload(&a.file.sha256),
        Err(MetaError::Corrupt { .. })
    ));
    // SQLite's integrity check also re-checks the CHECK constraints.
    let error = store.integrity_check().unwrap_err();
    assert!(
        matches!(&error, MetaError::Corrupt { what } if what.contains("CHECK constraint failed in files")),
        "{error:?}"
    );
    raw.execute_batch(
        "UPDATE files SET size = 5 WHERE name = 'file-2.bin';
         UPDATE chunks SET sha256 = zeroblob(32) WHERE idx = 1;",
    )
    .unwrap();
    store.integrity_check().unwrap();

    raw.execute_batch(
        "PRAGMA foreign_keys = OFF;
         DELETE FROM torrents WHERE file_id = (SELECT id FROM files WHERE name = 'file-2.bin');",
    )
    .unwrap();
    let error = store.integrity_check().unwrap_err();
    assert!(
        matches!(&error, MetaError::Corrupt { what } if what.contains("without a torrent")),
        "{error:?}"
    );
    assert!(matches!(
        store.torrent(&b.file.sha256),
        Err(MetaError::Corrupt { .. })
    ));
}

/// Garbage written over the middle of the database file: the store refuses to open it or its
/// integrity check fails; either way the answer is `Corrupt`, never a panic.
#[test]
fn a_damaged_database_file_fails_the_integrity_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        for n in 0..40 {
            store.put(&sample_upload(n, 8)).unwrap();
        }
    }
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 16 * 4096, "{} bytes", bytes.len());
    for (i, byte) in bytes[5 * 4096..9 * 4096].iter_mut().enumerate() {
        *byte = (i * 7 % 256) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();
    let outcome = SqliteStore::open(&path).and_then(|store| store.integrity_check());
    assert!(
        matches!(outcome, Err(MetaError::Corrupt { .. })),
        "{outcome:?}"
    );
}

/// Another process holding the write lock past the busy timeout is `Pool` (retry later).
#[test]
fn a_held_write_lock_is_busy_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(100),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, &options).unwrap();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let error = store.add_to_counter("uploads", 1).unwrap_err();
    assert!(matches!(error, MetaError::Pool(_)), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(90));
    // Readers are not blocked by a writer in WAL mode.
    assert_eq!(store.counter("uploads").unwrap(), 0);
    other.execute_batch("COMMIT").unwrap();
    assert_eq!(store.add_to_counter("uploads", 1).unwrap(), 1);
}

/// What a commit costs with `synchronous = FULL` on this disk (printed, not asserted).
#[test]
fn commit_costs_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("gateway.db")).unwrap();
    let started = Instant::now();
    for _ in 0..100 {
        store.add_to_counter("hits", 1).unwrap();
    }
    let counter = started.elapsed() / 100;
    let names: Vec<String> = (0..10).map(|i| format!("stat-{i}")).collect();
    let deltas: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 1)).collect();
    let started = Instant::now();
    for _ in 0..10 {
        store.add_to_counters(&deltas).unwrap();
    }
    let batch = started.elapsed() / 10;
    let started = Instant::now();
    for n in 0..20 {
        store.put(&sample_upload(n, 512)).unwrap();
    }
    let put = started.elapsed() / 20;
    assert_eq!(store.counter("hits").unwrap(), 100);
    assert_eq!(store.counter("stat-9").unwrap(), 10);
    eprintln!(
        "one counter add: {counter:?}; ten counters in one call: {batch:?}; \
         one put of a 512-chunk (1 GiB) file: {put:?}"
    );
}
