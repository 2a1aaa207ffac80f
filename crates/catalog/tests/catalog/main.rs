//! Integration tests of swarmgate-catalog over the in-memory stores (and, for owners and the
//! sweep, over SQLite and the file system): the one way in, the observers, what a failure
//! leaves, deletion of shared chunks, the streamed upload.

mod stores;
mod streamed;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sha1::{Digest, Sha1};
use swarmgate_blobstore::{ContentStore, Layout, MetadataStore};
use swarmgate_catalog::{CatalogError, PublishRequest, Published};
use swarmgate_core::{PieceIndex, Pubkey};
use swarmgate_storage::BlockSource;

use stores::{CHUNKED_FROM, Harness, Recorder, Told};

/// `length` deterministic bytes that differ by `seed`.
pub(crate) fn pattern(seed: u8, length: usize) -> Vec<u8> {
    (0..length)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(u32::from(seed)) as u8
        })
        .collect()
}

pub(crate) fn request(name: &str) -> PublishRequest {
    PublishRequest {
        name: name.to_owned(),
        max_size: 64 << 20,
        ..PublishRequest::default()
    }
}

fn publish(harness: &Harness, data: &[u8], request: &PublishRequest) -> Published {
    harness
        .catalog
        .publish(&mut &data[..], request)
        .expect("publish")
}

#[test]
fn publishing_twice_stores_once_and_answers_the_stored_record() {
    let harness = Harness::new();
    let recorder = Arc::new(Recorder::default());
    harness.catalog.observe(Arc::clone(&recorder) as _);
    let data = pattern(1, 5_000_000);
    let first = publish(&harness, &data, &request("video.mp4"));
    assert!(!first.existing);
    let second = publish(&harness, &data, &request("another name.bin"));
    assert!(second.existing, "the same bytes are not stored twice");
    assert_eq!(second.entry.file, first.entry.file, "the stored record");
    assert_eq!(second.entry.file.name, "video.mp4");
    assert_eq!(harness.meta.count().unwrap(), 1);
    assert_eq!(harness.content.list().unwrap().len(), 1);
    assert_eq!(
        recorder.take(),
        [Told::Published(*first.entry.sha256())],
        "observers hear of a file once"
    );

    // The torrent is v1, single-file, 2 MiB pieces of the file's SHA-1s, and reads verify.
    let entry = &first.entry;
    assert_eq!(entry.torrent.piece_length(), 2 << 20);
    assert_eq!(entry.torrent.total_length(), 5_000_000);
    for (i, piece) in data.chunks(2 << 20).enumerate() {
        let hash: [u8; 20] = Sha1::digest(piece).into();
        assert_eq!(entry.torrent.piece_hash(PieceIndex(i as u32)), Some(hash));
    }
    assert_eq!(
        &entry.read(2_097_150, 10).unwrap()[..],
        &data[2_097_150..2_097_160]
    );
    assert_eq!(
        harness.catalog.by_info_hash(&entry.info_hash).unwrap().file,
        entry.file
    );
}

#[test]
fn a_failed_content_commit_leaves_nothing() {
    let harness = Harness::new();
    let recorder = Arc::new(Recorder::default());
    harness.catalog.observe(Arc::clone(&recorder) as _);
    harness.content.fail_commit.store(true, Ordering::SeqCst);
    let error = harness
        .catalog
        .publish(&mut &pattern(2, 4 << 20)[..], &request("a.bin"))
        .unwrap_err();
    assert!(matches!(error, CatalogError::Content(_)), "{error:?}");
    harness.content.disk_full.store(true, Ordering::SeqCst);
    let error = harness
        .catalog
        .publish(&mut &pattern(2, 1000)[..], &request("a.bin"))
        .unwrap_err();
    assert!(matches!(error, CatalogError::DiskFull), "{error:?}");
    harness.assert_empty();
    assert_eq!(recorder.take(), []);
}

#[test]
fn a_failed_database_commit_leaves_nothing_and_the_next_try_succeeds() {
    let harness = Harness::new();
    let recorder = Arc::new(Recorder::default());
    harness.catalog.observe(Arc::clone(&recorder) as _);
    for data in [pattern(3, 1000), pattern(4, CHUNKED_FROM as usize + 5)] {
        harness.meta.fail_put.store(true, Ordering::SeqCst);
        let error = harness
            .catalog
            .publish(&mut &data[..], &request("b.bin"))
            .unwrap_err();
        assert!(matches!(error, CatalogError::Meta(_)), "{error:?}");
        harness.assert_empty();
        assert_eq!(recorder.take(), []);

        harness.meta.fail_put.store(false, Ordering::SeqCst);
        let published = publish(&harness, &data, &request("b.bin"));
        assert!(!published.existing);
        assert_eq!(
            recorder.take(),
            [Told::Published(*published.entry.sha256())]
        );
        assert!(harness.catalog.delete(published.entry.sha256()).unwrap());
        assert_eq!(recorder.take(), [Told::Removed(*published.entry.sha256())]);
        harness.assert_empty();
    }
}

#[test]
fn empty_and_truncated_uploads_leave_nothing() {
    let harness = Harness::new();
    let error = harness
        .catalog
        .publish(&mut &[][..], &request("empty"))
        .unwrap_err();
    assert!(matches!(error, CatalogError::Empty), "{error:?}");
    let short = PublishRequest {
        expected_size: Some(10_000),
        ..request("short")
    };
    let error = harness
        .catalog
        .publish(&mut &pattern(5, 4_000)[..], &short)
        .unwrap_err();
    assert!(matches!(error, CatalogError::Truncated { .. }), "{error:?}");
    let small = PublishRequest {
        max_size: 100,
        ..request("big")
    };
    let error = harness
        .catalog
        .publish(&mut &pattern(5, 4_000)[..], &small)
        .unwrap_err();
    assert!(
        matches!(error, CatalogError::TooLarge { limit: 100 }),
        "{error:?}"
    );
    harness.assert_empty();
}

#[test]
fn deleting_a_file_keeps_the_chunks_another_file_shares() {
    let harness = Harness::new();
    let chunk = 2 << 20;
    let shared = pattern(6, chunk);
    let first: Vec<u8> = [&shared[..], &pattern(7, chunk), b"first"].concat();
    let second: Vec<u8> = [&shared[..], &pattern(8, chunk + 17)].concat();
    let a = publish(&harness, &first, &request("first.bin")).entry;
    let b = publish(&harness, &second, &request("second.bin")).entry;
    assert!(matches!(a.file.layout, Layout::Chunked { .. }));
    assert!(matches!(b.file.layout, Layout::Chunked { .. }));

    assert!(harness.catalog.delete(a.sha256()).unwrap());
    assert!(!harness.catalog.delete(a.sha256()).unwrap(), "already gone");
    assert!(harness.catalog.get(a.sha256()).is_none());
    assert!(harness.meta.file(a.sha256()).unwrap().is_none());
    assert!(harness.content.stat(a.sha256()).unwrap().is_none());
    // The other file reads whole, every piece verified, the shared chunk included; and a
    // catalog opened again over the same stores agrees.
    let b = harness.catalog.get(b.sha256()).unwrap();
    assert_eq!(&b.read(0, second.len()).unwrap()[..], &second[..]);
    let blocks = b.blocks();
    let block = swarmgate_core::BlockRef {
        piece: PieceIndex(0),
        offset: 16_384,
        length: 16_384,
    };
    assert_eq!(
        &blocks.read_block(block).unwrap()[..],
        &shared[16_384..32_768]
    );
    let reopened = Harness::over(Arc::clone(&harness.meta), Arc::clone(&harness.content));
    assert_eq!((reopened.loaded.files, reopened.loaded.swept), (1, 0));
    assert_eq!(
        &reopened
            .catalog
            .get(b.sha256())
            .unwrap()
            .read(0, second.len())
            .unwrap()[..],
        &second[..]
    );
}

#[test]
fn bytes_that_fail_their_piece_hash_are_never_handed_out() {
    let harness = Harness::new();
    let data = pattern(16, 5_000_000);
    let entry = publish(&harness, &data, &request("damaged.bin")).entry;
    harness.content.corrupt_reads.store(true, Ordering::SeqCst);
    for (offset, length) in [(0, 100), (2_097_150, 10), (4_999_999, 1)] {
        let error = entry.read(offset, length).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    }
    let block = swarmgate_core::BlockRef {
        piece: PieceIndex(1),
        offset: 0,
        length: 16_384,
    };
    let error = entry.blocks().read_block(block).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    assert!(
        entry.blocks().read_cached(block).is_none(),
        "nothing cached"
    );
    // Once the disk reads right again, the same pieces are served (and were never cached).
    harness.content.corrupt_reads.store(false, Ordering::SeqCst);
    assert_eq!(
        &entry.read(2_097_150, 10).unwrap()[..],
        &data[2_097_150..2_097_160]
    );
    let error = entry.read(4_999_999, 2).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[test]
fn a_failed_metadata_delete_leaves_the_file_served() {
    let harness = Harness::new();
    let recorder = Arc::new(Recorder::default());
    let entry = publish(&harness, &pattern(9, 5000), &request("keep.bin")).entry;
    harness.catalog.observe(Arc::clone(&recorder) as _);
    assert_eq!(recorder.take(), [Told::Published(*entry.sha256())]);
    harness.meta.fail_delete.store(true, Ordering::SeqCst);
    assert!(harness.catalog.delete(entry.sha256()).is_err());
    assert_eq!(
        recorder.take(),
        [
            Told::Removed(*entry.sha256()),
            Told::Published(*entry.sha256())
        ]
    );
    assert_eq!(
        &harness
            .catalog
            .get(entry.sha256())
            .unwrap()
            .read(0, 5)
            .unwrap()[..],
        &pattern(9, 5)[..]
    );
}

#[test]
fn observers_hear_every_stored_file_at_start_then_each_change_once() {
    let harness = Harness::new();
    let a = publish(&harness, &pattern(10, 3000), &request("a")).entry;
    let b = publish(&harness, &pattern(11, 3000), &request("b")).entry;
    let reopened = Harness::over(Arc::clone(&harness.meta), Arc::clone(&harness.content));
    assert_eq!(reopened.loaded.files, 2);
    let (first, second) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    reopened.catalog.observe(Arc::clone(&first) as _);
    reopened.catalog.observe(Arc::clone(&second) as _);
    for recorder in [&first, &second] {
        let mut told = recorder.take();
        told.sort_by_key(|t| format!("{t:?}"));
        let mut expected = vec![Told::Published(*a.sha256()), Told::Published(*b.sha256())];
        expected.sort_by_key(|t| format!("{t:?}"));
        assert_eq!(told, expected);
    }
    let c = publish(&reopened, &pattern(12, 3000), &request("c")).entry;
    publish(&reopened, &pattern(12, 3000), &request("c again"));
    reopened.catalog.delete(a.sha256()).unwrap();
    reopened.catalog.delete(a.sha256()).unwrap();
    for recorder in [&first, &second] {
        assert_eq!(
            recorder.take(),
            [Told::Published(*c.sha256()), Told::Removed(*a.sha256())]
        );
    }
}

#[test]
fn the_same_bytes_published_from_many_threads_at_once_are_stored_and_announced_once() {
    let harness = Arc::new(Harness::new());
    let recorder = Arc::new(Recorder::default());
    harness.catalog.observe(Arc::clone(&recorder) as _);
    let data = Arc::new(pattern(13, 4 << 20));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (harness, data) = (Arc::clone(&harness), Arc::clone(&data));
            std::thread::spawn(move || {
                let owner = Pubkey([i; 32]);
                let request = PublishRequest {
                    owner: Some(owner),
                    ..request("same.bin")
                };
                harness.catalog.publish(&mut &data[..], &request).unwrap()
            })
        })
        .collect();
    let results: Vec<Published> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|p| !p.existing).count(), 1);
    assert_eq!(recorder.take().len(), 1);
    assert_eq!(harness.meta.count().unwrap(), 1);
    let entry = harness.catalog.get(results[0].entry.sha256()).unwrap();
    assert_eq!(
        entry.owners,
        (0..6).map(|i| Pubkey([i; 32])).collect::<Vec<_>>()
    );
}

#[test]
fn owners_and_media_types_round_trip_through_sqlite_and_orphans_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let meta = swarmgate_blobstore::SqliteStore::open(dir.path().join("gateway.db")).unwrap();
        let content = swarmgate_blobstore::FsContentStore::open(dir.path()).unwrap();
        swarmgate_catalog::Catalog::open(
            Arc::new(meta),
            Arc::new(content),
            Arc::new(swarmgate_storage::PieceCache::new(16 << 20)),
            swarmgate_catalog::Links::new("http://127.0.0.1:9877", None),
        )
        .unwrap()
    };
    let (alice, bob) = (Pubkey([0xa1; 32]), Pubkey([0xb0; 32]));
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], &pattern(14, 70_000)].concat();
    let sha256 = {
        let (catalog, _) = open();
        let by_bob = PublishRequest {
            owner: Some(bob),
            ..request("picture")
        };
        let first = catalog.publish(&mut &png[..], &by_bob).unwrap();
        let by_alice = PublishRequest {
            owner: Some(alice),
            ..request("picture")
        };
        let again = catalog.publish(&mut &png[..], &by_alice).unwrap();
        assert!(again.existing);
        assert_eq!(again.entry.owners, [alice, bob]);
        assert_eq!(again.entry.file.mime, "image/png");
        // Content committed whose record never was (a crash between the two commits).
        let orphan = swarmgate_blobstore::FsContentStore::open(dir.path()).unwrap();
        drop(catalog);
        orphan
            .ingest(&mut &pattern(15, 999)[..], &Default::default())
            .unwrap();
        *first.entry.sha256()
    };
    let (catalog, loaded) = open();
    assert_eq!((loaded.files, loaded.broken, loaded.swept), (1, 0, 1));
    let entry = catalog.get(&sha256).unwrap();
    assert_eq!(entry.owners, [alice, bob]);
    assert_eq!(entry.file.mime, "image/png");
    assert_eq!(&entry.read(0, png.len()).unwrap()[..], &png[..]);
}

#[test]
fn past_max_files_new_bytes_are_refused_and_leave_nothing() {
    let mut harness = Harness::new();
    harness.catalog = harness.catalog.with_max_files(2);
    let first = pattern(1, 3_000);
    publish(&harness, &first, &request("one.bin"));
    publish(&harness, &pattern(2, 3_000), &request("two.bin"));
    let refused = harness
        .catalog
        .publish(&mut &pattern(3, 3_000)[..], &request("three.bin"))
        .expect_err("a third file");
    assert!(
        matches!(refused, CatalogError::TooManyFiles { max: 2 }),
        "{refused}"
    );
    assert_eq!(harness.meta.count().unwrap(), 2);
    assert_eq!(
        harness.content.list().unwrap().len(),
        2,
        "nothing of it kept"
    );
    // The same bytes again still answer the stored file.
    assert!(publish(&harness, &first, &request("again.bin")).existing);
    // A delete makes room.
    let sha256 = harness.catalog.all()[0].file.sha256;
    assert!(harness.catalog.delete(&sha256).unwrap());
    assert!(!publish(&harness, &pattern(3, 3_000), &request("three.bin")).existing);
}
