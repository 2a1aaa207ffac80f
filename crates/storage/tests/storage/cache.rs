//! The piece cache: against a plain model of a byte-bounded LRU (one shard, random operations),
//! and under concurrent use (many threads, Zipf-like keys): values always right, the byte bound
//! kept, the counters adding up.

use std::collections::VecDeque;

use bytes::Bytes;
use proptest::prelude::*;
use swarmgate_core::{InfoHashV1, PieceIndex, SplitMix64};
use swarmgate_storage::{CacheId, PieceCache, PieceKey};

fn key(n: u32) -> PieceKey {
    PieceKey {
        id: CacheId::Torrent(InfoHashV1([7; 20])),
        index: PieceIndex(n),
    }
}

/// The value of key `n`: its length depends on the key, its bytes name it.
fn value(n: u32, len: usize) -> Bytes {
    Bytes::from(vec![n as u8; len])
}

/// The model: keys from least to most recently used, with their sizes.
struct Model {
    order: VecDeque<(u32, usize)>,
    capacity: usize,
}

impl Model {
    fn bytes(&self) -> usize {
        self.order.iter().map(|(_, size)| size).sum()
    }

    fn get(&mut self, k: u32) -> Option<usize> {
        let at = self.order.iter().position(|(key, _)| *key == k)?;
        let entry = self.order.remove(at)?;
        self.order.push_back(entry);
        Some(entry.1)
    }

    fn insert(&mut self, k: u32, size: usize) -> bool {
        if size > self.capacity {
            return false;
        }
        self.order.retain(|(key, _)| *key != k);
        while self.bytes() + size > self.capacity {
            self.order.pop_front();
        }
        self.order.push_back((k, size));
        true
    }
}

#[derive(Clone, Debug)]
enum Op {
    Get(u32),
    Insert(u32, usize),
    Remove(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u32..12).prop_map(Op::Get),
        (0u32..12, 0usize..300).prop_map(|(k, size)| Op::Insert(k, size)),
        (0u32..12).prop_map(Op::Remove),
    ]
}

proptest! {
    #[test]
    fn one_shard_behaves_as_a_byte_bounded_lru(ops in proptest::collection::vec(op(), 0..200)) {
        let cache = PieceCache::with_shards(1000, 1);
        let mut model = Model { order: VecDeque::new(), capacity: 1000 };
        let (mut hits, mut misses) = (0, 0);
        for op in ops {
            match op {
                Op::Get(k) => {
                    let got = cache.get(&key(k)).map(|v| v.len());
                    let expected = model.get(k);
                    prop_assert_eq!(got, expected);
                    if expected.is_some() { hits += 1 } else { misses += 1 }
                }
                Op::Insert(k, size) => {
                    prop_assert_eq!(cache.insert(key(k), value(k, size)), model.insert(k, size));
                }
                Op::Remove(k) => {
                    let expected = model.order.iter().position(|(key, _)| *key == k);
                    if let Some(at) = expected {
                        model.order.remove(at);
                    }
                    prop_assert_eq!(cache.remove(&key(k)).is_some(), expected.is_some());
                }
            }
            let stats = cache.stats();
            prop_assert_eq!(stats.bytes as usize, model.bytes());
            prop_assert_eq!(stats.entries as usize, model.order.len());
            prop_assert!(stats.bytes <= 1000);
        }
        let stats = cache.stats();
        prop_assert_eq!((stats.hits, stats.misses), (hits, misses));
    }
}

/// A Zipf-like pick among `n` keys: key `k` with weight 1 / (k + 1).
fn zipf(rng: &mut SplitMix64, cumulative: &[f64]) -> u32 {
    let total = cumulative.last().copied().unwrap_or(1.0);
    let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    cumulative.partition_point(|&c| c < x) as u32
}

#[test]
fn concurrent_use_keeps_values_bound_and_counters() {
    const THREADS: u64 = 8;
    const OPS: u64 = 3_000;
    const KEYS: u32 = 300;
    let size_of = |k: u32| 1024 + (k as usize * 797) % (48 * 1024);
    let cumulative: Vec<f64> = (0..KEYS)
        .scan(0.0, |sum, k| {
            *sum += 1.0 / f64::from(k + 1);
            Some(*sum)
        })
        .collect();
    let cache = PieceCache::with_shards(2 << 20, 4);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (cache, cumulative) = (&cache, &cumulative);
            scope.spawn(move || {
                let mut rng = SplitMix64::new(t + 1);
                for i in 0..OPS {
                    let k = zipf(&mut rng, cumulative);
                    let got = cache
                        .get_or_load(key(k), || Ok::<_, ()>(value(k, size_of(k))))
                        .unwrap();
                    assert_eq!(got.len(), size_of(k));
                    assert!(got.iter().all(|&b| b == k as u8));
                    if i % 500 == 0 {
                        assert!(cache.stats().bytes <= 2 << 20);
                    }
                }
            });
        }
    });
    let stats = cache.stats();
    assert_eq!(stats.hits + stats.misses, THREADS * OPS);
    assert_eq!(
        stats.inserts, stats.misses,
        "every miss inserted (none too large)"
    );
    assert!(stats.bytes <= stats.capacity);
    assert!(stats.evictions > 0 && stats.evictions <= stats.inserts - stats.entries);
    // The hot keys stay: with a Zipf load and room for about a tenth of the keys, most lookups
    // hit.
    assert!(stats.hit_ratio() > 0.5, "{stats:?}");
    eprintln!(
        "cache under 8 threads: {stats:?}, hit ratio {:.3}",
        stats.hit_ratio()
    );
}
