//! The content store: the conformance suite on both stores (on disk and in memory), then what
//! only the file-system store has: its layout on disk, `tmp/` left empty by every ingest, good or
//! failed, and the recovery at open after a crash mid-ingest, mid-commit or mid-removal.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Instant;

use swarmgate_blobstore::content_conformance::{self, Trickle, pattern, sha256};
use swarmgate_blobstore::{
    CHUNK_SIZE, ContentError, ContentOptions, ContentStore, FsContentStore, IngestOptions, Layout,
    MemoryContentStore,
};
use swarmgate_core::Sha256;

const CHUNK: usize = CHUNK_SIZE as usize;

#[test]
fn conformance_file_system_store() {
    let dir = tempfile::tempdir().unwrap();
    let next = Cell::new(0);
    let started = Instant::now();
    content_conformance::run(|options| {
        next.set(next.get() + 1);
        FsContentStore::open_with(dir.path().join(format!("data-{}", next.get())), options).unwrap()
    });
    eprintln!("content conformance on disk: {:?}", started.elapsed());
}

#[test]
fn conformance_memory_store() {
    content_conformance::run(MemoryContentStore::new);
}

/// Every file under `root`, relative, sorted.
pub(crate) fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn fanout(dir: &str, hash: &Sha256) -> PathBuf {
    let hex = hash.to_hex();
    Path::new(dir).join(&hex[..2]).join(&hex[2..4]).join(&hex)
}

fn small_threshold(root: &Path) -> FsContentStore {
    FsContentStore::open_with(
        root,
        ContentOptions {
            blob_threshold: 1 << 20,
        },
    )
    .unwrap()
}

#[test]
fn files_lie_where_the_layout_says() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_threshold(dir.path());
    let blob = pattern(1, 1000);
    let repeated = pattern(2, CHUNK);
    let chunked = [&repeated[..], &repeated, b"tail"].concat();
    let blob_hash = store
        .ingest(&mut &blob[..], &IngestOptions::default())
        .unwrap()
        .sha256;
    let ingested = store
        .ingest(&mut &chunked[..], &IngestOptions::default())
        .unwrap();
    let mut expected = vec![
        fanout("blobs", &blob_hash),
        fanout("chunks", &sha256(&repeated)),
        fanout("chunks", &sha256(b"tail")),
        fanout("manifests", &ingested.sha256),
    ];
    expected.sort();
    assert_eq!(files_under(dir.path()), expected);
    assert_eq!(
        std::fs::read(dir.path().join(fanout("blobs", &blob_hash))).unwrap(),
        blob
    );
    assert_eq!(
        std::fs::read(dir.path().join(fanout("chunks", &sha256(&repeated)))).unwrap(),
        repeated
    );
    assert_eq!(store.chunk_count(), 2);
    // Reopening counts the same chunk references from the manifests.
    drop(store);
    let store = small_threshold(dir.path());
    assert_eq!(store.chunk_count(), 2);
    assert_eq!(store.recovery(), &Default::default());
    assert_eq!(
        store.stat(&ingested.sha256).unwrap().unwrap().layout(),
        Layout::Chunked {
            chunk_size: CHUNK as u64
        }
    );
}

#[test]
fn failed_ingests_leave_tmp_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_threshold(dir.path());
    let data = pattern(3, 3 * CHUNK + 5);
    let failing = [
        (
            IngestOptions {
                max_size: 2 * CHUNK as u64 + 1,
                ..IngestOptions::default()
            },
            usize::MAX,
        ),
        (IngestOptions::default(), CHUNK + 3),
        (
            IngestOptions {
                expected_size: Some(data.len() as u64),
                ..IngestOptions::default()
            },
            2 * CHUNK,
        ),
        (
            IngestOptions {
                expected_size: Some(data.len() as u64 + 1),
                ..IngestOptions::default()
            },
            usize::MAX,
        ),
    ];
    for (options, fail_after) in failing {
        let mut reader = Trickle::failing(&data, 1 << 20, fail_after.min(data.len() + 1));
        assert!(store.ingest(&mut reader, &options).is_err());
        assert_eq!(
            files_under(dir.path()),
            Vec::<PathBuf>::new(),
            "{options:?}"
        );
    }
    store
        .ingest(&mut Trickle::new(&data, 1 << 20), &IngestOptions::default())
        .unwrap();
    assert!(files_under(&dir.path().join("tmp")).is_empty());
}

#[test]
fn open_empties_tmp_and_removes_the_orphans_of_a_cut_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_threshold(dir.path());
    let shared = pattern(4, CHUNK);
    let kept = [&shared[..], b"kept"].concat();
    let kept = store
        .ingest(&mut &kept[..], &IngestOptions::default())
        .unwrap();
    // A second file, committed, then made to look cut short: its manifest moved back to tmp/
    // (as a commit that had renamed its chunks but not yet its manifest, or a removal that had
    // moved the manifest away but not yet deleted the chunks).
    let cut = [&shared[..], &pattern(5, CHUNK), b"cut"].concat();
    let cut = store
        .ingest(&mut &cut[..], &IngestOptions::default())
        .unwrap();
    drop(store);
    let manifest = dir.path().join(fanout("manifests", &cut.sha256));
    std::fs::rename(&manifest, dir.path().join("tmp/1234-0.manifest")).unwrap();
    std::fs::write(dir.path().join("tmp/1234-0.blob"), b"half an upload").unwrap();
    std::fs::write(dir.path().join("tmp/1234-1.0.chunk"), b"half a chunk").unwrap();
    std::fs::create_dir(dir.path().join("tmp/stray")).unwrap();

    let store = small_threshold(dir.path());
    let recovery = store.recovery();
    assert_eq!(recovery.temp_entries_removed, 4);
    assert_eq!(
        recovery.orphan_chunks_removed, 2,
        "the cut file's own chunks"
    );
    assert!(recovery.corrupt_manifests.is_empty());
    assert!(files_under(&dir.path().join("tmp")).is_empty());
    assert!(store.stat(&cut.sha256).unwrap().is_none());
    assert!(
        store.has_chunk(&sha256(&shared)).unwrap(),
        "used by the kept file"
    );
    assert!(!store.has_chunk(&cut.chunks[1].sha256).unwrap());
    assert!(!store.has_chunk(&cut.chunks[2].sha256).unwrap());
    store
        .verify(&store.stat(&kept.sha256).unwrap().unwrap())
        .unwrap();
    assert_eq!(store.list().unwrap(), vec![kept.sha256]);
}

#[test]
fn damage_on_disk_is_reported_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_threshold(dir.path());
    let data = pattern(6, CHUNK + 100);
    let ingested = store
        .ingest(&mut &data[..], &IngestOptions::default())
        .unwrap();
    let file = store.stat(&ingested.sha256).unwrap().unwrap();
    let chunk = dir
        .path()
        .join(fanout("chunks", &ingested.chunks[1].sha256));

    std::fs::write(&chunk, b"short").unwrap();
    assert!(matches!(
        store.read_range(&ingested.sha256, CHUNK as u64, 100),
        Err(ContentError::Corrupt { .. })
    ));
    std::fs::write(&chunk, vec![0; 100]).unwrap();
    assert!(matches!(
        store.verify(&file),
        Err(ContentError::Corrupt { .. })
    ));
    std::fs::remove_file(&chunk).unwrap();
    assert!(matches!(
        store.read_range(&ingested.sha256, CHUNK as u64 - 1, 2),
        Err(ContentError::Corrupt { .. })
    ));

    let manifest = dir.path().join(fanout("manifests", &ingested.sha256));
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes[70] ^= 1;
    std::fs::write(&manifest, bytes).unwrap();
    assert!(matches!(
        store.stat(&ingested.sha256),
        Err(ContentError::Corrupt { .. })
    ));
    drop(store);
    let store = small_threshold(dir.path());
    assert_eq!(store.recovery().corrupt_manifests, vec![manifest]);
}

#[test]
fn a_read_racing_a_removal_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_threshold(dir.path());
    for data in [pattern(7, 500), pattern(8, CHUNK + 1)] {
        let ingested = store
            .ingest(&mut &data[..], &IngestOptions::default())
            .unwrap();
        let file = store.stat(&ingested.sha256).unwrap().unwrap();
        store.remove(&ingested.sha256).unwrap().unwrap();
        let mut buf = [0; 1];
        assert!(matches!(
            store.read_exact_at(&file, 0, &mut buf),
            Err(ContentError::NotFound { .. })
        ));
    }
    assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
}

/// Written with `O_DIRECT` (the default, where the file system takes it: this test's tempdir
/// is on ext4 here, and tmpfs takes it from Linux 6.6; the unit tests of the `direct`, `sink`
/// and `ingest` modules check that the descriptors really are `O_DIRECT`) and forced buffered
/// (`direct_io: false`), announced and streamed, blobs and chunks with tails of every
/// alignment: each reads back byte-exact, verifies, and leaves `tmp/` empty. The default
/// computes no piece SHA-1s.
#[test]
fn direct_and_buffered_writes_store_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_threshold(dir.path());
    let sizes = [
        4096,
        4097,
        (1 << 20) - 1,
        1 << 20,
        CHUNK + 4096,
        2 * CHUNK + 1,
        3 * CHUNK - 4095,
    ];
    for (seed, size) in sizes.into_iter().enumerate() {
        for direct_io in [true, false] {
            for announced in [true, false] {
                let data = pattern(200 + seed as u64 * 4 + u64::from(direct_io) * 2, size);
                let options = IngestOptions {
                    expected_size: announced.then_some(size as u64),
                    direct_io,
                    ..IngestOptions::default()
                };
                let ingested = store
                    .ingest(&mut Trickle::new(&data, 300_007), &options)
                    .unwrap();
                assert!(ingested.piece_sha1.is_empty(), "no piece SHA-1s by default");
                assert_eq!(
                    ingested.layout == Layout::Blob,
                    size < 1 << 20,
                    "{size} bytes"
                );
                let file = store.stat(&ingested.sha256).unwrap().unwrap();
                assert_eq!(file.piece_sha1(), None);
                let back = store.read_range(&ingested.sha256, 0, size as u64).unwrap();
                assert!(back == data, "{size} bytes, direct {direct_io}");
                store.verify(&file).unwrap();
                assert!(files_under(&dir.path().join("tmp")).is_empty());
                store.remove(&ingested.sha256).unwrap().unwrap();
            }
        }
    }
    assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
}
