//! The content-store conformance suite (sha256-addressed files, BEP 3 pieces): what every
//! [`ContentStore`] must do, as generic functions that panic on the first difference.
//!
//! Public behind the `conformance` feature, as the metadata store's suite is (and shaped like it),
//! so a backend in another crate (an S3-compatible store, say) runs the same checks: call [`run`]
//! with a closure that makes an empty store with the given options (each [`Case`] makes its own,
//! with the threshold it needs). Files are a few MiB (chunks are 2 MiB), made by [`pattern`].
//!
//! ```
//! # #[cfg(feature = "conformance")] {
//! use swarmgate_blobstore::{MemoryContentStore, content_conformance};
//!
//! content_conformance::run(MemoryContentStore::new);
//! # }
//! ```

use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use sha1::Sha1;
use sha2::Digest;
use swarmgate_core::SplitMix64;

use crate::content::{
    CHUNK_SIZE, ContentError, ContentOptions, ContentStore, IngestOptions, Ingested, PIECE_LENGTH,
};
use crate::meta::Layout;
use swarmgate_core::Sha256;

pub(crate) const CHUNK: usize = CHUNK_SIZE as usize;

mod serving;

pub use serving::{concurrent_ingests, piece_source, streaming_reader};

/// Makes a fresh, empty store with the given options.
pub type MakeStore<'a> = &'a dyn Fn(ContentOptions) -> Box<dyn ContentStore>;

/// One behaviour every store must show.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// What it checks, in a few words.
    pub name: &'static str,
    /// The check; it makes its store(s) and panics on failure.
    pub run: fn(MakeStore<'_>),
}

/// Every case, in the order [`run`] runs them.
pub const CASES: &[Case] = &[
    Case {
        name: "an empty store has nothing",
        run: empty_store,
    },
    Case {
        name: "ingest of 0, 1, 2 MiB - 1, 2 MiB, 2 MiB + 1 bytes and more",
        run: ingest_sizes,
    },
    Case {
        name: "the threshold, announced or crossed while streaming",
        run: threshold_switch,
    },
    Case {
        name: "byte ranges: first, last, across chunks, empty, past the end",
        run: byte_ranges,
    },
    Case {
        name: "identical chunks stored once, shared chunks kept on removal",
        run: dedupe_and_shared_chunks,
    },
    Case {
        name: "a reader failing midway leaves nothing",
        run: failed_reader_leaves_nothing,
    },
    Case {
        name: "size limit and announced size",
        run: size_limits,
    },
    Case {
        name: "streaming reader and seeks",
        run: streaming_reader,
    },
    Case {
        name: "piece source and piece cache",
        run: piece_source,
    },
    Case {
        name: "concurrent ingests",
        run: concurrent_ingests,
    },
];

/// Runs every case with stores from `make`; panics listing the cases that failed (each
/// failure's own message is printed as it happens).
pub fn run<S: ContentStore + 'static>(make: impl Fn(ContentOptions) -> S) {
    let boxed = |options| Box::new(make(options)) as Box<dyn ContentStore>;
    let mut failed = Vec::new();
    for case in CASES {
        if catch_unwind(AssertUnwindSafe(|| (case.run)(&boxed))).is_err() {
            failed.push(case.name);
        }
    }
    assert!(
        failed.is_empty(),
        "content conformance cases failed: {failed:?}"
    );
}

/// `len` deterministic bytes from `seed` (different seeds give different chunks).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Sha256 {
    Sha256(sha2::Sha256::digest(bytes).into())
}

/// A reader that hands out `data` at most `step` bytes at a time, then fails with
/// `ConnectionReset` after `fail_after` bytes if set (a client that went away).
pub struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    fail_after: Option<usize>,
    given: usize,
}

impl<'a> Trickle<'a> {
    /// Reads of at most `step` bytes, to the end.
    pub fn new(data: &'a [u8], step: usize) -> Self {
        Self {
            data,
            step: step.max(1),
            fail_after: None,
            given: 0,
        }
    }

    /// Fails once `after` bytes were given.
    pub fn failing(data: &'a [u8], step: usize, after: usize) -> Self {
        Self {
            fail_after: Some(after),
            ..Self::new(data, step)
        }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut take = self.step.min(buf.len()).min(self.data.len() - self.given);
        if let Some(limit) = self.fail_after {
            if self.given >= limit {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "client went away",
                ));
            }
            take = take.min(limit - self.given);
        }
        buf[..take].copy_from_slice(&self.data[self.given..self.given + take]);
        self.given += take;
        Ok(take)
    }
}

pub(crate) fn ingest(store: &dyn ContentStore, data: &[u8], options: &IngestOptions) -> Ingested {
    store
        .ingest(&mut &data[..], options)
        .unwrap_or_else(|e| panic!("ingest of {} bytes: {e}", data.len()))
}

/// Checks everything an ingest returns and stores about `data`.
pub fn check_stored(store: &dyn ContentStore, data: &[u8], ingested: &Ingested, sha1: bool) {
    let size = data.len();
    assert_eq!(ingested.sha256, sha256(data), "sha256 of {size} bytes");
    assert_eq!(ingested.size, size as u64);
    let expected_pieces: Vec<[u8; 20]> = if sha1 {
        data.chunks(PIECE_LENGTH as usize)
            .map(|piece| Sha1::digest(piece).into())
            .collect()
    } else {
        Vec::new()
    };
    assert_eq!(
        ingested.piece_sha1, expected_pieces,
        "piece SHA-1s of {size} bytes"
    );
    let file = store.stat(&ingested.sha256).unwrap().expect("stored");
    assert_eq!(file.size(), size as u64);
    assert_eq!(file.layout(), ingested.layout);
    match ingested.layout {
        Layout::Blob => assert!(ingested.chunks.is_empty() && file.chunks().is_empty()),
        Layout::Chunked { chunk_size } => {
            assert_eq!(chunk_size, CHUNK as u64);
            let parts: Vec<&[u8]> = data.chunks(CHUNK).collect();
            assert_eq!(ingested.chunks.len(), parts.len());
            for (i, (record, part)) in ingested.chunks.iter().zip(&parts).enumerate() {
                assert_eq!(record.index, i as u32);
                assert_eq!(record.sha256, sha256(part), "chunk {i}");
                assert_eq!(record.size, part.len() as u64);
                assert!(store.has_chunk(&record.sha256).unwrap());
            }
            assert_eq!(file.chunk_records(), ingested.chunks);
            let recorded = file.piece_sha1().map(<[_]>::to_vec);
            assert_eq!(recorded, sha1.then_some(expected_pieces));
        }
    }
    let whole = store.read_range(&ingested.sha256, 0, size as u64).unwrap();
    assert!(whole == data, "read back {size} bytes");
    store.verify(&file).unwrap();
    assert!(store.list().unwrap().contains(&ingested.sha256));
}

/// An empty store lists nothing, finds nothing, removes nothing.
pub fn empty_store(make: MakeStore<'_>) {
    let store = make(ContentOptions::default());
    let absent = sha256(b"absent");
    assert!(store.list().unwrap().is_empty());
    assert!(store.stat(&absent).unwrap().is_none());
    assert!(store.remove(&absent).unwrap().is_none());
    assert!(!store.has_chunk(&absent).unwrap());
    assert!(matches!(
        store.read_range(&absent, 0, 0),
        Err(ContentError::NotFound { sha256 }) if sha256 == absent
    ));
}

/// 0, 1, 2 MiB - 1, exactly 2 MiB, 2 MiB + 1 and 2 chunks + 5 bytes, around a 1 MiB
/// threshold, with and without piece hashes and an announced size.
pub fn ingest_sizes(make: MakeStore<'_>) {
    let store = make(ContentOptions {
        blob_threshold: 1 << 20,
    });
    let sizes = [0, 1, 5000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5];
    for (seed, size) in sizes.into_iter().enumerate() {
        let data = pattern(seed as u64, size);
        let announced = seed % 2 == 0;
        let sha1 = seed != 3;
        let options = IngestOptions {
            expected_size: announced.then_some(size as u64),
            piece_hashes: sha1,
            ..IngestOptions::default()
        };
        let ingested = ingest(&*store, &data, &options);
        let expected_layout = if size < 1 << 20 {
            Layout::Blob
        } else {
            Layout::Chunked {
                chunk_size: CHUNK as u64,
            }
        };
        assert_eq!(ingested.layout, expected_layout, "{size} bytes");
        assert!(!ingested.already_present);
        check_stored(&*store, &data, &ingested, sha1);
        let chunk_count = match size {
            s if s < 1 << 20 => 0,
            s => s.div_ceil(CHUNK),
        };
        assert_eq!(ingested.chunks.len(), chunk_count, "{size} bytes");
    }
    assert_eq!(store.list().unwrap().len(), sizes.len());
}

/// A threshold that is not a multiple of the chunk size: a file one byte under it is a blob,
/// one at it or over it is chunked, whether announced or streamed (the blob-to-chunks switch),
/// read in small and odd steps.
pub fn threshold_switch(make: MakeStore<'_>) {
    let threshold = CHUNK + 1000;
    let store = make(ContentOptions {
        blob_threshold: threshold as u64,
    });
    let cases = [
        (threshold - 1, false, 1 << 20),
        (threshold - 1, true, 4093),
        (threshold, false, 1 << 20),
        (threshold, true, 1 << 20),
        (threshold + CHUNK + 3, false, 77_777),
        (3 * CHUNK, false, 1 << 20),
    ];
    for (seed, (size, announced, step)) in cases.into_iter().enumerate() {
        let data = pattern(100 + seed as u64, size);
        let sha1 = seed % 2 == 0;
        let options = IngestOptions {
            expected_size: announced.then_some(size as u64),
            piece_hashes: sha1,
            ..IngestOptions::default()
        };
        let ingested = store
            .ingest(&mut Trickle::new(&data, step), &options)
            .unwrap();
        assert_eq!(
            ingested.layout == Layout::Blob,
            size < threshold,
            "{size} bytes (threshold {threshold})"
        );
        check_stored(&*store, &data, &ingested, sha1);
    }
}

fn check_range(store: &dyn ContentStore, data: &[u8], hash: &Sha256, offset: u64, len: u64) {
    let end = offset.checked_add(len);
    match end {
        Some(end) if end <= data.len() as u64 => {
            let got = store.read_range(hash, offset, len).unwrap();
            assert!(got == data[offset as usize..end as usize], "{offset}+{len}");
        }
        _ => match store.read_range(hash, offset, len) {
            Err(ContentError::RangeNotSatisfiable {
                offset: o,
                length: l,
                size,
            }) => assert_eq!((o, l, size), (offset, len, data.len() as u64)),
            other => panic!("{offset}+{len} past the end of {}: {other:?}", data.len()),
        },
    }
}

/// First byte, last byte, across a chunk boundary, whole file, zero-length reads, ranges past
/// the end, on a blob, a chunked file and an empty file.
pub fn byte_ranges(make: MakeStore<'_>) {
    let store = make(ContentOptions {
        blob_threshold: 1 << 20,
    });
    for (seed, size) in [(1u64, 5000usize), (2, 2 * CHUNK + 100), (3, 0)] {
        let data = pattern(seed, size);
        let hash = ingest(&*store, &data, &IngestOptions::default()).sha256;
        let n = size as u64;
        let mut ranges = vec![
            (0, n),
            (0, 0),
            (n, 0),
            (n + 1, 0),
            (0, n + 1),
            (u64::MAX, 1),
            (1, u64::MAX),
        ];
        if n > 0 {
            ranges.extend([(0, 1), (n - 1, 1), (n - 1, 2), (n / 2, n / 3)]);
        }
        if size > CHUNK {
            let boundary = CHUNK as u64;
            ranges.extend([
                (boundary - 3, 6),
                (boundary - 1, 1),
                (boundary, 1),
                (boundary - 1, 2),
                (1, 2 * boundary),
                (boundary, n - boundary),
            ]);
        }
        for (offset, len) in ranges {
            check_range(&*store, &data, &hash, offset, len);
        }
    }
}

/// Identical chunks are stored once, within a file and across files; removing a file keeps
/// the chunks another file uses and deletes the rest; a second upload is `already_present`.
pub fn dedupe_and_shared_chunks(make: MakeStore<'_>) {
    let store = make(ContentOptions {
        blob_threshold: 1 << 20,
    });
    let x = pattern(10, CHUNK);
    let tail = pattern(11, 12_345);
    let z = pattern(12, CHUNK);
    let a = [&x[..], &x, &x, &tail].concat();
    let b = [&x[..], &z].concat();
    let (hx, htail, hz) = (sha256(&x), sha256(&tail), sha256(&z));

    let first = ingest(&*store, &a, &IngestOptions::default());
    assert_eq!(
        first.chunks.iter().map(|c| c.sha256).collect::<Vec<_>>(),
        vec![hx, hx, hx, htail]
    );
    check_stored(&*store, &a, &first, false);
    let again = ingest(&*store, &a, &IngestOptions::default());
    assert!(again.already_present);
    assert_eq!(again.chunks, first.chunks);
    let second = ingest(&*store, &b, &IngestOptions::default());
    check_stored(&*store, &b, &second, false);

    let removed = store.remove(&first.sha256).unwrap().expect("stored");
    assert_eq!((removed.chunks_deleted, removed.chunks_kept), (1, 1));
    assert_eq!(removed.size, a.len() as u64);
    assert!(store.stat(&first.sha256).unwrap().is_none());
    assert!(store.has_chunk(&hx).unwrap() && !store.has_chunk(&htail).unwrap());
    check_stored(&*store, &b, &second, false);
    let removed = store.remove(&second.sha256).unwrap().expect("stored");
    assert_eq!((removed.chunks_deleted, removed.chunks_kept), (2, 0));
    assert!(!store.has_chunk(&hx).unwrap() && !store.has_chunk(&hz).unwrap());
    assert!(store.remove(&second.sha256).unwrap().is_none());

    let blob = pattern(13, 777);
    let stored = ingest(&*store, &blob, &IngestOptions::default());
    assert!(!stored.already_present);
    assert!(ingest(&*store, &blob, &IngestOptions::default()).already_present);
    let removed = store.remove(&stored.sha256).unwrap().expect("stored");
    assert_eq!(removed.layout, Layout::Blob);
    assert!(store.list().unwrap().is_empty());
}

/// A reader that fails midway (a truncated upload) stores nothing: not the file, not a chunk.
pub fn failed_reader_leaves_nothing(make: MakeStore<'_>) {
    let store = make(ContentOptions {
        blob_threshold: 1 << 20,
    });
    let data = pattern(20, 4 * CHUNK);
    for (fail_after, announced) in [(1000, false), (3 * CHUNK + 17, false), (3 * CHUNK, true)] {
        let options = IngestOptions {
            expected_size: announced.then_some(data.len() as u64),
            ..IngestOptions::default()
        };
        let mut reader = Trickle::failing(&data, 300_000, fail_after);
        match store.ingest(&mut reader, &options) {
            Err(ContentError::Read { source }) => {
                assert_eq!(source.kind(), io::ErrorKind::ConnectionReset);
            }
            other => panic!("a failing reader gave {other:?}"),
        }
        assert!(store.list().unwrap().is_empty());
        assert!(!store.has_chunk(&sha256(&data[..CHUNK])).unwrap());
    }
}

/// The size limit and the announced size: exceeding either stores nothing.
pub fn size_limits(make: MakeStore<'_>) {
    let store = make(ContentOptions {
        blob_threshold: 1 << 20,
    });
    let limited = |max_size, expected_size| IngestOptions {
        max_size,
        expected_size,
        ..IngestOptions::default()
    };
    let data = pattern(30, 1000);
    let at_limit = store.ingest(&mut &data[..], &limited(1000, None)).unwrap();
    store.remove(&at_limit.sha256).unwrap();
    let cases: [(&[u8], IngestOptions); 5] = [
        (&data, limited(999, None)),
        (&data, limited(999, Some(1000))),
        (&data, limited(2000, Some(1001))),
        (&data, limited(2000, Some(999))),
        (&data[..0], limited(2000, Some(1))),
    ];
    for (bytes, options) in cases {
        let result = store.ingest(&mut &bytes[..], &options);
        match (options.expected_size, result) {
            (Some(expected), Err(ContentError::SizeMismatch { expected: e, .. }))
                if expected <= options.max_size =>
            {
                assert_eq!(e, expected)
            }
            (_, Err(ContentError::TooLarge { limit })) => assert_eq!(limit, options.max_size),
            (_, other) => panic!("{options:?}: {other:?}"),
        }
    }
    let big = pattern(31, 2 * CHUNK + 10);
    let result = store.ingest(&mut &big[..], &limited(2 * CHUNK as u64, None));
    assert!(matches!(result, Err(ContentError::TooLarge { .. })));
    assert!(store.list().unwrap().is_empty());
    assert!(!store.has_chunk(&sha256(&big[..CHUNK])).unwrap());
}
