//! The content conformance cases about serving (BEP 3 pieces, BEP 19 ranges): the streaming
//! reader, the piece source and cache, and concurrent ingests.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use sha1::Sha1;
use sha2::Digest;
use swarmgate_core::{BlockRef, PieceIndex};

use crate::content::conformance::{CHUNK, MakeStore, check_stored, ingest, pattern};
use crate::content::{
    ContentError, ContentOptions, ContentReader, ContentStore, IngestOptions, Ingested, PieceSource,
};
use swarmgate_storage::PieceCache;

/// [`ContentReader`]: sequential reads in odd steps across chunks, seeks, ranges.
pub fn streaming_reader(make: MakeStore<'_>) {
    let store = make(ContentOptions {
        blob_threshold: 1 << 20,
    });
    let data = pattern(40, 2 * CHUNK + 999);
    let file = store
        .stat(&ingest(&*store, &data, &IngestOptions::default()).sha256)
        .unwrap()
        .expect("stored");
    let mut reader = ContentReader::new(&*store, file.clone());
    let mut out = Vec::new();
    let mut step = vec![0; 7777];
    loop {
        let n = reader.read(&mut step).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&step[..n]);
    }
    assert!(out == data);
    reader.seek(SeekFrom::Start(CHUNK as u64 - 10)).unwrap();
    let mut across = [0; 20];
    reader.read_exact(&mut across).unwrap();
    assert_eq!(across[..], data[CHUNK - 10..CHUNK + 10]);
    let mut range = ContentReader::range(&*store, file.clone(), 5, CHUNK as u64).unwrap();
    out.clear();
    range.read_to_end(&mut out).unwrap();
    assert!(out[..] == data[5..5 + CHUNK]);
    assert!(ContentReader::range(&*store, file, data.len() as u64, 1).is_err());
}

/// [`PieceSource`]: a chunked file's pieces are its chunks, verified against the ingest's
/// SHA-1s; a blob's pieces are cut at any length and verified against given hashes; blocks
/// come through the cache.
pub fn piece_source(make: MakeStore<'_>) {
    let store: Arc<dyn ContentStore> = Arc::from(make(ContentOptions {
        blob_threshold: 1 << 20,
    }));
    let data = pattern(50, 2 * CHUNK + 4321);
    let with_sha1 = IngestOptions {
        piece_hashes: true,
        ..IngestOptions::default()
    };
    let chunked = ingest(&*store, &data, &with_sha1);
    let pieces = PieceSource::open_default(Arc::clone(&store), &chunked.sha256).unwrap();
    assert_eq!(pieces.piece_count(), 3);
    for (i, part) in data.chunks(CHUNK).enumerate() {
        let piece = pieces.read_piece_verified(PieceIndex(i as u32)).unwrap();
        assert!(piece[..] == *part, "piece {i}");
    }
    assert!(matches!(
        pieces.read_piece(PieceIndex(3)),
        Err(ContentError::NoSuchPiece { index: 3, count: 3 })
    ));
    assert!(matches!(
        PieceSource::open(Arc::clone(&store), &chunked.sha256, 16_384),
        Err(ContentError::PieceLength { .. })
    ));

    let blob = pattern(51, 40_000);
    let stored = ingest(&*store, &blob, &IngestOptions::default());
    let pieces = PieceSource::open(Arc::clone(&store), &stored.sha256, 16_384).unwrap();
    assert_eq!(pieces.piece_count(), 3);
    assert!(matches!(
        pieces.read_piece_verified(PieceIndex(0)),
        Err(ContentError::NoPieceHash { index: 0 })
    ));
    let hashes: Vec<[u8; 20]> = blob
        .chunks(16_384)
        .map(|p| Sha1::digest(p).into())
        .collect();
    assert!(
        pieces
            .clone()
            .with_piece_hashes(hashes[..2].to_vec())
            .is_err()
    );
    let mut wrong = hashes.clone();
    wrong[1][0] ^= 1;
    let bad = pieces.clone().with_piece_hashes(wrong).unwrap();
    for _ in 0..2 {
        // A piece that failed is checked again at every read, never taken as verified.
        assert!(matches!(
            bad.read_piece_verified(PieceIndex(1)),
            Err(ContentError::PieceHashMismatch { index: 1 })
        ));
        assert!(!bad.is_verified(PieceIndex(1)));
    }
    let good = pieces.with_piece_hashes(hashes).unwrap();
    let twin = good.clone();
    assert!(!good.is_verified(PieceIndex(2)));
    assert_eq!(
        good.read_piece_verified(PieceIndex(2)).unwrap()[..],
        blob[32_768..]
    );
    assert!(
        good.is_verified(PieceIndex(2)) && twin.is_verified(PieceIndex(2)),
        "clones share"
    );
    assert!(!good.is_verified(PieceIndex(0)) && !good.is_verified(PieceIndex(99)));
    assert_eq!(
        twin.read_piece_verified(PieceIndex(2)).unwrap()[..],
        blob[32_768..]
    );

    let cache = PieceCache::new(1 << 20);
    let block = BlockRef {
        piece: PieceIndex(1),
        offset: 100,
        length: 1000,
    };
    let first = good.read_block_cached(&cache, block, true).unwrap();
    let second = good.read_block_cached(&cache, block, true).unwrap();
    assert_eq!(first[..], blob[16_384 + 100..16_384 + 1100]);
    assert_eq!(first.as_ptr(), second.as_ptr(), "a hit is the same bytes");
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (1, 1, 1));
    let past = BlockRef {
        offset: 16_000,
        ..block
    };
    assert!(good.read_block_cached(&cache, past, true).is_err());
}

/// Several threads ingest at once, some the same file: every file reads back, and of the
/// threads that stored the same file exactly one did the storing.
pub fn concurrent_ingests(make: MakeStore<'_>) {
    let store = make(ContentOptions {
        blob_threshold: 1 << 20,
    });
    let shared_blob = pattern(60, 50_000);
    let shared_chunked = pattern(61, CHUNK + 10);
    // With piece SHA-1s: every ingest runs its widest pipeline.
    let with_sha1 = IngestOptions {
        piece_hashes: true,
        ..IngestOptions::default()
    };
    let results: Vec<Vec<Ingested>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let store = &*store;
                let (shared_blob, shared_chunked) = (&shared_blob, &shared_chunked);
                scope.spawn(move || {
                    let own = pattern(70 + t, 30_000 + t as usize * CHUNK / 2);
                    [shared_blob, shared_chunked, &own]
                        .iter()
                        .map(|data| ingest(store, data, &with_sha1))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("ingest thread"))
            .collect()
    });
    for which in [0, 1] {
        let stored = results.iter().filter(|r| !r[which].already_present).count();
        assert_eq!(stored, 1, "file {which} stored by exactly one thread");
    }
    check_stored(&*store, &shared_blob, &results[0][0], true);
    check_stored(&*store, &shared_chunked, &results[0][1], true);
    for (t, result) in results.iter().enumerate() {
        let own = pattern(70 + t as u64, 30_000 + t * CHUNK / 2);
        check_stored(&*store, &own, &result[2], true);
    }
    assert_eq!(store.list().unwrap().len(), 6);
}
