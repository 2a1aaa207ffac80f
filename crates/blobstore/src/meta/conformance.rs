//! The conformance suite of [`MetadataStore`] backends (BEP 3 / BEP 52 torrent records, Blossom
//! owners): every backend runs the same cases, so callers can swap one for another.
//!
//! It is public behind the `conformance` cargo feature rather than always compiled: it is test
//! code (it panics on the first broken promise, spawns threads, and would be a semver surface in
//! every build), yet a backend in another crate must be able to run it, which `#[cfg(test)]`
//! code cannot offer. A backend's tests enable the feature in its `[dev-dependencies]` and call
//! [`run`] with a closure that makes a fresh, empty store:
//!
//! ```
//! # #[cfg(feature = "conformance")] {
//! use swarmgate_blobstore::{MemoryStore, conformance};
//!
//! conformance::run(MemoryStore::new);
//! # }
//! ```
//!
//! Each [`Case`] gets its own store, and the store must pass its
//! [`integrity_check`](MetadataStore::integrity_check) after the case. [`run`] runs them all and
//! panics naming every case that failed.

mod fixtures;

use std::panic::{AssertUnwindSafe, catch_unwind};

use swarmgate_core::{InfoHash, InfoHashV1, InfoHashV2};

pub use fixtures::{SAMPLE_CHUNK_SIZE, digest, normalized, sample_key, sample_upload};

use crate::meta::{COUNTER_MAX, ChunkRecord, Layout, MetaError, MetadataStore};
use swarmgate_core::Sha256;

/// One behaviour every backend must show.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// What it checks, in a few words.
    pub name: &'static str,
    /// The check, on a fresh empty store; it panics on failure.
    pub run: fn(&dyn MetadataStore),
}

/// Every case, in the order [`run`] runs them.
pub const CASES: &[Case] = &[
    Case {
        name: "round trips of every record",
        run: round_trips,
    },
    Case {
        name: "lookups by v1, v2, truncated v2 and hybrid hashes",
        run: info_hash_lookups,
    },
    Case {
        name: "Conflict on a stored sha256 or info-hash",
        run: conflicts,
    },
    Case {
        name: "a put that fails midway leaves nothing",
        run: failed_put_leaves_nothing,
    },
    Case {
        name: "delete returns what it removed",
        run: delete_reports_what_it_removed,
    },
    Case {
        name: "paging is newest first",
        run: paging_newest_first,
    },
    Case {
        name: "Blossom owners",
        run: owners,
    },
    Case {
        name: "counters",
        run: counters,
    },
    Case {
        name: "concurrent counters and puts",
        run: concurrency,
    },
];

/// Runs every case on a fresh store from `make`, then checks the store's integrity; panics
/// listing the cases that failed (each failure's own message is printed as it happens).
pub fn run<S: MetadataStore>(make: impl Fn() -> S) {
    let mut failed = Vec::new();
    for case in CASES {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let store = make();
            (case.run)(&store);
            if let Err(error) = store.integrity_check() {
                panic!("integrity check after the case: {error}");
            }
        }));
        if outcome.is_err() {
            failed.push(case.name);
        }
    }
    assert!(failed.is_empty(), "conformance cases failed: {failed:?}");
}

fn put_all(store: &dyn MetadataStore, uploads: &[crate::meta::Upload]) {
    for upload in uploads {
        store.put(upload).expect("put");
    }
}

fn assert_absent(store: &dyn MetadataStore, upload: &crate::meta::Upload) {
    let sha256 = &upload.file.sha256;
    assert_eq!(store.file(sha256).unwrap(), None);
    assert_eq!(store.upload(sha256).unwrap(), None);
    assert_eq!(store.torrent(sha256).unwrap(), None);
    assert_eq!(store.chunks(sha256).unwrap(), None);
    let hash = upload.torrent.info_hash;
    assert_eq!(store.file_by_info_hash(&hash).unwrap(), None);
    assert!(matches!(
        store.owners(sha256),
        Err(MetaError::NotFound { .. })
    ));
    assert!(
        store
            .list(0, 1000)
            .unwrap()
            .iter()
            .all(|f| f.sha256 != *sha256)
    );
}

/// Every record comes back as it went in: blobs and chunked files, v1, v2 and hybrid torrents,
/// with and without an uploader, non-ASCII names, owners given unsorted and twice.
pub fn round_trips(store: &dyn MetadataStore) {
    let mut uploads: Vec<_> = (0..6).map(|n| sample_upload(n, n % 3 * 3)).collect();
    uploads[1].chunks.reverse();
    uploads[2].owners = vec![sample_key(3), sample_key(1), sample_key(3)];
    uploads[3].file.size = 0;
    uploads[3].file.mime = String::new();
    uploads[4].torrent.torrent = Vec::new();
    for upload in &uploads {
        assert_absent(store, upload);
    }
    put_all(store, &uploads);
    assert_eq!(store.count().unwrap(), 6);
    for upload in &uploads {
        let sha256 = &upload.file.sha256;
        let expected = normalized(upload);
        assert_eq!(store.upload(sha256).unwrap().as_ref(), Some(&expected));
        assert_eq!(store.file(sha256).unwrap().as_ref(), Some(&expected.file));
        assert_eq!(
            store.torrent(sha256).unwrap().as_ref(),
            Some(&expected.torrent)
        );
        assert_eq!(
            store.chunks(sha256).unwrap().as_ref(),
            Some(&expected.chunks)
        );
        assert_eq!(store.owners(sha256).unwrap(), expected.owners);
    }
    assert_eq!(uploads[0].file.layout, Layout::Blob);
    assert_eq!(
        store.chunks(&uploads[0].file.sha256).unwrap(),
        Some(Vec::new())
    );
    assert_eq!(
        store.owners(&uploads[2].file.sha256).unwrap(),
        [sample_key(1), sample_key(3)]
    );
}

/// Lookups by every form of info-hash; a v1 lookup also finds a v2 torrent by its truncated
/// hash (what peers, trackers and the DHT use for v2-only torrents).
pub fn info_hash_lookups(store: &dyn MetadataStore) {
    let (v1_only, v2_only, hybrid) = (
        sample_upload(3, 0),
        sample_upload(4, 2),
        sample_upload(5, 0),
    );
    put_all(store, &[v1_only.clone(), v2_only.clone(), hybrid.clone()]);
    let found = |hash: InfoHash| store.file_by_info_hash(&hash).unwrap().map(|f| f.sha256);
    let (InfoHash::V1(a), InfoHash::V2(b), InfoHash::Hybrid(c1, c2)) = (
        v1_only.torrent.info_hash,
        v2_only.torrent.info_hash,
        hybrid.torrent.info_hash,
    ) else {
        panic!("sample uploads 3, 4, 5 are v1, v2 and hybrid");
    };
    assert_eq!(found(InfoHash::V1(a)), Some(v1_only.file.sha256));
    assert_eq!(found(InfoHash::V2(b)), Some(v2_only.file.sha256));
    assert_eq!(
        found(InfoHash::V1(b.truncated())),
        Some(v2_only.file.sha256)
    );
    for hash in [
        InfoHash::V1(c1),
        InfoHash::V2(c2),
        InfoHash::V1(c2.truncated()),
    ] {
        assert_eq!(found(hash), Some(hybrid.file.sha256), "{hash}");
    }
    let unknown_v1 = InfoHashV1([0xee; 20]);
    let unknown_v2 = InfoHashV2([0xee; 32]);
    assert_eq!(
        found(InfoHash::Hybrid(c1, unknown_v2)),
        Some(hybrid.file.sha256)
    );
    assert_eq!(
        found(InfoHash::Hybrid(unknown_v1, c2)),
        Some(hybrid.file.sha256)
    );
    assert_eq!(found(InfoHash::V1(unknown_v1)), None);
    assert_eq!(found(InfoHash::V2(unknown_v2)), None);
    assert_eq!(found(InfoHash::Hybrid(unknown_v1, unknown_v2)), None);
    // A v2 hash never matches a v1 column: the same bytes padded are another hash.
    let mut padded = [0u8; 32];
    padded[..20].copy_from_slice(&a.0);
    assert_eq!(found(InfoHash::V2(InfoHashV2(padded))), None);
}

/// A second file with a stored sha256, v1 or v2 hash is refused whole; the first is untouched.
pub fn conflicts(store: &dyn MetadataStore) {
    let first = sample_upload(2, 2);
    store.put(&first).unwrap();
    let mut same_sha = sample_upload(8, 0);
    same_sha.file.sha256 = first.file.sha256;
    let mut same_v1 = sample_upload(11, 0);
    same_v1.torrent.info_hash = InfoHash::V1(first.torrent.info_hash.v1().unwrap());
    let mut same_v2 = sample_upload(13, 0);
    same_v2.torrent.info_hash = InfoHash::V2(first.torrent.info_hash.v2().unwrap());
    for upload in [&same_sha, &first, &same_v1, &same_v2] {
        let error = store.put(upload).unwrap_err();
        assert!(matches!(error, MetaError::Conflict { .. }), "{error:?}");
    }
    assert_eq!(store.count().unwrap(), 1);
    assert_eq!(
        store.upload(&first.file.sha256).unwrap(),
        Some(normalized(&first))
    );
    for upload in [&same_v1, &same_v2] {
        assert_eq!(store.file(&upload.file.sha256).unwrap(), None);
    }
}

/// A put that fails after its first rows (a chunk index twice, at the end of the list) leaves
/// no trace, and the same upload put right afterwards goes in; records no backend can hold are
/// refused as invalid.
pub fn failed_put_leaves_nothing(store: &dyn MetadataStore) {
    let mut upload = sample_upload(7, 6);
    upload.owners = vec![sample_key(1)];
    let good = upload.clone();
    upload.chunks.push(ChunkRecord {
        index: 3,
        sha256: Sha256(digest(0x99, 7)),
        size: 1,
    });
    let error = store.put(&upload).unwrap_err();
    assert!(matches!(error, MetaError::Conflict { .. }), "{error:?}");
    assert_absent(store, &upload);
    assert_eq!(store.count().unwrap(), 0);
    assert!(store.files_of_owner(&sample_key(1)).unwrap().is_empty());
    store.integrity_check().unwrap();
    store.put(&good).unwrap();
    assert_eq!(
        store.upload(&good.file.sha256).unwrap(),
        Some(normalized(&good))
    );

    let mut invalid = [
        sample_upload(20, 2),
        sample_upload(21, 0),
        sample_upload(22, 0),
    ];
    invalid[0].file.layout = Layout::Chunked { chunk_size: 0 };
    invalid[1].file.size = u64::MAX;
    invalid[2].torrent.piece_length = 0;
    for upload in &invalid {
        let error = store.put(upload).unwrap_err();
        assert!(matches!(error, MetaError::Invalid { .. }), "{error:?}");
        assert_absent(store, upload);
    }
    assert_eq!(store.count().unwrap(), 1);
}

/// Delete gives back the upload and the chunk hashes no other file refers to (a chunk shared
/// with another file, or repeated within the file, is listed once, and only when free).
pub fn delete_reports_what_it_removed(store: &dyn MetadataStore) {
    let shared = Sha256(digest(0x77, 1));
    let mut a = sample_upload(30, 4);
    a.chunks[1].sha256 = shared;
    a.chunks[3].sha256 = a.chunks[2].sha256;
    a.owners = vec![sample_key(2)];
    let mut b = sample_upload(31, 2);
    b.chunks[0].sha256 = shared;
    b.owners = vec![sample_key(2)];
    put_all(store, &[a.clone(), b.clone()]);
    store.add_to_counter("uploads", 2).unwrap();

    let removed = store.delete(&a.file.sha256).unwrap();
    assert_eq!(removed.upload, normalized(&a));
    let mut orphans = vec![a.chunks[0].sha256, a.chunks[2].sha256];
    orphans.sort();
    assert_eq!(removed.orphan_chunks, orphans);
    assert_absent(store, &a);
    assert_eq!(store.upload(&b.file.sha256).unwrap(), Some(normalized(&b)));
    assert_eq!(
        store.files_of_owner(&sample_key(2)).unwrap(),
        [b.file.clone()]
    );
    assert!(
        matches!(store.delete(&a.file.sha256), Err(MetaError::NotFound { sha256 }) if sha256 == a.file.sha256)
    );

    let removed = store.delete(&b.file.sha256).unwrap();
    let mut orphans = vec![shared, b.chunks[1].sha256];
    orphans.sort();
    assert_eq!(removed.orphan_chunks, orphans);
    assert_eq!(store.count().unwrap(), 0);
    assert!(store.files_of_owner(&sample_key(2)).unwrap().is_empty());
    assert_eq!(
        store.counter("uploads").unwrap(),
        2,
        "delete leaves counters alone"
    );
    let blob = sample_upload(32, 0);
    store.put(&blob).unwrap();
    assert!(
        store
            .delete(&blob.file.sha256)
            .unwrap()
            .orphan_chunks
            .is_empty()
    );
    store.put(&a).unwrap();
    assert_eq!(store.upload(&a.file.sha256).unwrap(), Some(normalized(&a)));
}

/// Files list newest first by `created`, the later stored first among equals, in pages.
pub fn paging_newest_first(store: &dyn MetadataStore) {
    let created = [
        5u64, 5, 5, 3, 9, 1, 9, 5, 0, 7, 7, 2, 8, 5, 6, 4, 9, 3, 1, 5, 6, 0, 8,
    ];
    let mut stored = Vec::new();
    for (n, created) in created.iter().enumerate() {
        let mut upload = sample_upload(100 + n as u32, (n % 2) as u32);
        upload.file.created = *created;
        store.put(&upload).unwrap();
        stored.push((*created, n, upload.file));
    }
    stored.sort_by_key(|(created, n, _)| std::cmp::Reverse((*created, *n)));
    let expected: Vec<_> = stored.into_iter().map(|(_, _, file)| file).collect();
    let mut pages = Vec::new();
    for page in 0..6u64 {
        let files = store.list(page * 5, 5).unwrap();
        assert!(files.len() <= 5);
        pages.extend(files);
    }
    assert_eq!(pages, expected);
    assert_eq!(store.list(0, 100).unwrap(), expected);
    assert!(store.list(23, 5).unwrap().is_empty());
    assert!(store.list(u64::MAX, 5).unwrap().is_empty());
    assert!(store.list(0, 0).unwrap().is_empty());
    assert_eq!(store.list(21, 5).unwrap(), expected[21..]);
    assert_eq!(store.count().unwrap(), 23);
}

/// Owners are a set per file; a missing file is NotFound; the list by owner is newest first;
/// the last owner leaving does not delete the file.
pub fn owners(store: &dyn MetadataStore) {
    let (k1, k2, k3) = (sample_key(1), sample_key(2), sample_key(3));
    let mut old = sample_upload(40, 0);
    old.owners = vec![k2, k1];
    let new = sample_upload(41, 3);
    put_all(store, &[old.clone(), new.clone()]);
    let (old_sha, new_sha) = (old.file.sha256, new.file.sha256);
    assert_eq!(store.owners(&old_sha).unwrap(), [k1, k2]);
    assert!(store.owners(&new_sha).unwrap().is_empty());
    assert!(store.add_owner(&new_sha, &k3).unwrap());
    assert!(!store.add_owner(&new_sha, &k3).unwrap());
    assert!(store.add_owner(&old_sha, &k3).unwrap());
    assert_eq!(
        store.files_of_owner(&k3).unwrap(),
        [new.file.clone(), old.file.clone()]
    );
    assert_eq!(store.files_of_owner(&k1).unwrap(), [old.file.clone()]);
    assert!(store.remove_owner(&old_sha, &k1).unwrap());
    assert!(!store.remove_owner(&old_sha, &k1).unwrap());
    assert!(!store.remove_owner(&new_sha, &k2).unwrap());
    assert_eq!(store.owners(&old_sha).unwrap(), [k2, k3]);
    assert!(store.files_of_owner(&k1).unwrap().is_empty());
    assert_eq!(store.upload(&old_sha).unwrap().unwrap().owners, [k2, k3]);
    assert!(store.remove_owner(&new_sha, &k3).unwrap());
    assert_eq!(store.file(&new_sha).unwrap(), Some(new.file.clone()));
    let missing = sample_upload(49, 0).file.sha256;
    for result in [
        store.add_owner(&missing, &k1),
        store.remove_owner(&missing, &k1),
    ] {
        assert!(matches!(result, Err(MetaError::NotFound { sha256 }) if sha256 == missing));
    }
    assert!(matches!(
        store.owners(&missing),
        Err(MetaError::NotFound { .. })
    ));
    assert!(store.files_of_owner(&sample_key(9)).unwrap().is_empty());
}

/// Counters start at 0, add up (one by one or several at once), saturate at [`COUNTER_MAX`]
/// and list by name.
pub fn counters(store: &dyn MetadataStore) {
    assert_eq!(store.counter("bytes_served").unwrap(), 0);
    assert!(store.counters().unwrap().is_empty());
    assert_eq!(store.add_to_counter("bytes_served", 5).unwrap(), 5);
    assert_eq!(store.add_to_counter("bytes_served", 0).unwrap(), 5);
    assert_eq!(store.add_to_counter("bytes_served", 37).unwrap(), 42);
    assert_eq!(store.add_to_counter("Zähler", 1).unwrap(), 1);
    assert_eq!(
        store.add_to_counter("big", COUNTER_MAX - 1).unwrap(),
        COUNTER_MAX - 1
    );
    assert_eq!(store.add_to_counter("big", 10).unwrap(), COUNTER_MAX);
    assert_eq!(store.add_to_counter("big", 1).unwrap(), COUNTER_MAX);
    assert_eq!(store.add_to_counter("huge", u64::MAX).unwrap(), COUNTER_MAX);
    assert_eq!(store.counter("bytes_served").unwrap(), 42);
    store.add_to_counters(&[]).unwrap();
    let deltas = [
        ("bytes_served", 8),
        ("big", 1),
        ("bytes_served", 50),
        ("new", 3),
    ];
    store.add_to_counters(&deltas).unwrap();
    assert_eq!(store.counter("bytes_served").unwrap(), 100);
    assert_eq!(store.counter("new").unwrap(), 3);
    // By name, byte for byte: upper case before lower case.
    let expected = [
        ("Zähler", 1),
        ("big", COUNTER_MAX),
        ("bytes_served", 100),
        ("huge", COUNTER_MAX),
        ("new", 3),
    ];
    let expected: Vec<_> = expected.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    assert_eq!(store.counters().unwrap(), expected);
}

/// Several threads add to shared and own counters and put uploads (distinct ones, and one
/// they all race for): totals are exact and exactly one racer wins.
pub fn concurrency(store: &dyn MetadataStore) {
    const THREADS: u32 = 6;
    const ADDS: u32 = 40;
    let contested = sample_upload(60, 2);
    let winners = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let contested = &contested;
                scope.spawn(move || {
                    let mut won = 0;
                    for i in 0..ADDS {
                        let own = format!("thread-{t}");
                        if i % 2 == 0 {
                            store.add_to_counter("hits", u64::from(t) + 1).unwrap();
                            store.add_to_counter(&own, 1).unwrap();
                        } else {
                            let deltas = [("hits", u64::from(t) + 1), (own.as_str(), 1)];
                            store.add_to_counters(&deltas).unwrap();
                        }
                        if i % 10 == 0 {
                            store
                                .put(&sample_upload(1000 + t * ADDS + i, i % 3))
                                .unwrap();
                        }
                        if i == ADDS / 2 {
                            match store.put(contested) {
                                Ok(()) => won += 1,
                                Err(MetaError::Conflict { .. }) => {}
                                Err(error) => panic!("racing put: {error}"),
                            }
                        }
                    }
                    won
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .sum::<u32>()
    });
    assert_eq!(winners, 1);
    let per_round: u64 = (1..=u64::from(THREADS)).sum();
    assert_eq!(store.counter("hits").unwrap(), per_round * u64::from(ADDS));
    for t in 0..THREADS {
        assert_eq!(
            store.counter(&format!("thread-{t}")).unwrap(),
            u64::from(ADDS)
        );
    }
    assert_eq!(store.count().unwrap(), u64::from(THREADS * ADDS / 10) + 1);
    assert_eq!(
        store.upload(&contested.file.sha256).unwrap(),
        Some(normalized(&contested))
    );
}
