//! The two metadata backends against each other: random sequences of operations (puts that
//! collide, share chunks or list a chunk twice, deletes, owners, counters, lists, lookups) give
//! the same answers from `SqliteStore` and from `MemoryStore`, and both stay consistent.

use std::fmt::Debug;

use proptest::prelude::*;
use swarmgate_blobstore::conformance::{digest, sample_key, sample_upload};
use swarmgate_blobstore::{
    ChunkRecord, MemoryStore, MetaError, MetadataStore, SqliteStore, Upload,
};
use swarmgate_core::InfoHash;
use swarmgate_core::Sha256;

#[derive(Clone, Debug)]
enum Op {
    Put {
        n: u32,
        chunks: u32,
        twice: bool,
        owners: Vec<u8>,
    },
    Delete(u32),
    AddOwner(u32, u8),
    RemoveOwner(u32, u8),
    Add(u8, u64),
    AddMany(Vec<(u8, u64)>),
    List(u64, u32),
    Lookup(u32, u8),
    FilesOf(u8),
    Get(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0..10u32;
    prop_oneof![
        4 => (n.clone(), 0..5u32, proptest::bool::weighted(0.15), proptest::collection::vec(0..4u8, 0..3))
            .prop_map(|(n, chunks, twice, owners)| Op::Put { n, chunks, twice, owners }),
        2 => n.clone().prop_map(Op::Delete),
        1 => (n.clone(), 0..4u8).prop_map(|(n, k)| Op::AddOwner(n, k)),
        1 => (n.clone(), 0..4u8).prop_map(|(n, k)| Op::RemoveOwner(n, k)),
        1 => (0..3u8, prop_oneof![0..100u64, Just(u64::MAX)]).prop_map(|(c, d)| Op::Add(c, d)),
        1 => proptest::collection::vec((0..3u8, 0..100u64), 0..4).prop_map(Op::AddMany),
        1 => (0..12u64, 0..6u32).prop_map(|(o, l)| Op::List(o, l)),
        1 => (n.clone(), 0..3u8).prop_map(|(n, form)| Op::Lookup(n, form)),
        1 => (0..4u8).prop_map(Op::FilesOf),
        1 => n.prop_map(Op::Get),
    ]
}

/// Upload `n`: few distinct `created` values (ties), chunks shared between uploads of the same
/// `n % 3`, and a chunk index listed twice when `twice`.
fn upload(n: u32, chunks: u32, twice: bool, owners: &[u8]) -> Upload {
    let mut upload = sample_upload(n, chunks);
    upload.file.created = u64::from(n % 4);
    for chunk in &mut upload.chunks {
        chunk.sha256 = Sha256(digest(0x77, (n % 3) * 8 + chunk.index));
    }
    if twice && chunks > 0 {
        upload.chunks.push(ChunkRecord {
            index: 0,
            sha256: Sha256(digest(0x78, n)),
            size: 1,
        });
    }
    upload.owners = owners.iter().map(|k| sample_key(*k)).collect();
    upload
}

fn sha(n: u32) -> Sha256 {
    sample_upload(n, 0).file.sha256
}

/// An answer as text: the value, or which error it was.
fn answer<T: Debug>(result: Result<T, MetaError>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(MetaError::NotFound { sha256 }) => format!("NotFound {sha256}"),
        Err(MetaError::Conflict { .. }) => "Conflict".into(),
        Err(MetaError::Invalid { .. }) => "Invalid".into(),
        Err(error) => format!("unexpected {error}"),
    }
}

fn apply(store: &dyn MetadataStore, op: &Op) -> String {
    match op {
        Op::Put {
            n,
            chunks,
            twice,
            owners,
        } => answer(store.put(&upload(*n, *chunks, *twice, owners))),
        Op::Delete(n) => answer(store.delete(&sha(*n))),
        Op::AddOwner(n, k) => answer(store.add_owner(&sha(*n), &sample_key(*k))),
        Op::RemoveOwner(n, k) => answer(store.remove_owner(&sha(*n), &sample_key(*k))),
        Op::Add(c, delta) => answer(store.add_to_counter(&format!("c{c}"), *delta)),
        Op::AddMany(deltas) => {
            let names: Vec<_> = deltas.iter().map(|(c, d)| (format!("c{c}"), *d)).collect();
            let deltas: Vec<_> = names.iter().map(|(n, d)| (n.as_str(), *d)).collect();
            answer(store.add_to_counters(&deltas))
        }
        Op::List(offset, limit) => answer(store.list(*offset, *limit)),
        Op::Lookup(n, form) => {
            let hash = sample_upload(*n, 0).torrent.info_hash;
            let hash = match form {
                0 => InfoHash::V1(hash.wire()),
                1 => hash.v2().map_or(hash, InfoHash::V2),
                _ => hash,
            };
            answer(store.file_by_info_hash(&hash))
        }
        Op::FilesOf(k) => answer(store.files_of_owner(&sample_key(*k))),
        Op::Get(n) => answer(store.upload(&sha(*n))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sqlite_answers_as_the_memory_store_does(ops in proptest::collection::vec(op(), 1..40)) {
        let sqlite = SqliteStore::open_in_memory().unwrap();
        let memory = MemoryStore::new();
        for (step, op) in ops.iter().enumerate() {
            let (a, b) = (apply(&sqlite, op), apply(&memory, op));
            prop_assert!(!a.starts_with("unexpected"), "step {}: {:?}: {}", step, op, a);
            prop_assert_eq!(a, b, "step {}: {:?}", step, op);
        }
        prop_assert_eq!(answer(sqlite.list(0, 100)), answer(memory.list(0, 100)));
        prop_assert_eq!(answer(sqlite.counters()), answer(memory.counters()));
        prop_assert_eq!(sqlite.count().unwrap(), memory.count().unwrap());
        sqlite.integrity_check().unwrap();
        memory.integrity_check().unwrap();
    }
}
