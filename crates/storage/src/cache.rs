//! A piece cache (BEP 3 pieces, BEP 19 web-seed reads) in front of the content store: least
//! recently used, bounded in bytes, shared by every request thread.
//!
//! Values are [`Bytes`], so a hit hands out the same buffer again (a reference-count increment)
//! and a peer's 16 KiB block is a zero-copy slice of the cached piece. The bound counts the
//! bytes of the values as inserted; insert whole pieces (a small slice of a large buffer keeps
//! the whole buffer alive while counting only its own length).
//!
//! Concurrency: the cache is split into shards by key hash, each an [`lru::LruCache`] behind its
//! own mutex, with an equal share of the byte bound. Locks are held for a map operation only; a
//! miss loads outside the lock. Lookups of a piece that another thread is loading wait for that
//! load rather than read the disk again (many range requests of one hot piece cost one read); if
//! that load fails or panics, each waiter loads for itself. Sharding makes the eviction order
//! approximate: each shard evicts its own least recently used entry, and a value larger than a
//! shard's share is not kept. By default a shard holds at least 16 MiB (eight 2 MiB pieces), up
//! to 16 shards. A load in progress when its file is dropped ([`PieceCache::remove_all`]) may
//! still put its piece in afterwards: drop the file from the store first.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use lru::LruCache;
use swarmgate_core::{InfoHashV1, PieceIndex};

use swarmgate_core::Sha256;

/// Whose pieces: a stored file cut at a piece length, or a torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheId {
    /// A stored file's pieces of `piece_length` bytes (one file may be seeded at several).
    File {
        /// The file's sha256.
        sha256: Sha256,
        /// The piece length.
        piece_length: u32,
    },
    /// A torrent's pieces, by the info-hash of the wire (the v1 hash, or the truncated v2).
    Torrent(InfoHashV1),
}

/// One cached piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PieceKey {
    /// Whose piece.
    pub id: CacheId,
    /// Which piece.
    pub index: PieceIndex,
}

/// Counters since the cache was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found the piece (or got it from another thread's load, see `waits`).
    pub hits: u64,
    /// Lookups that did not, and loaded (or would have loaded) the piece.
    pub misses: u64,
    /// Lookups that waited for another thread's load of the same piece (counted in `hits`).
    pub waits: u64,
    /// Values stored.
    pub inserts: u64,
    /// Values dropped to make room.
    pub evictions: u64,
    /// Values not stored because they are larger than a shard's share of the bound.
    pub rejected: u64,
    /// Values held now.
    pub entries: u64,
    /// Bytes held now.
    pub bytes: u64,
    /// The bound in bytes.
    pub capacity: u64,
}

impl CacheStats {
    /// Hits over lookups, from 0 to 1 (0 before any lookup).
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

struct Shard {
    lru: LruCache<PieceKey, Bytes>,
    bytes: u64,
    loading: HashMap<PieceKey, Arc<Pending>>,
}

/// A load in progress: `None` while loading, then the value (`None` when the load failed).
#[derive(Default)]
struct Pending {
    outcome: Mutex<Option<Option<Bytes>>>,
    ready: Condvar,
}

impl Pending {
    fn wait(&self) -> Option<Bytes> {
        let mut outcome = self.outcome.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(value) = outcome.as_ref() {
                return value.clone();
            }
            outcome = self
                .ready
                .wait(outcome)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The thread that loads a piece others wait for: it ends the wait when dropped, also when the
/// loader panicked.
struct Leader<'a> {
    cache: &'a PieceCache,
    key: PieceKey,
    pending: Arc<Pending>,
    value: Option<Bytes>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        {
            let mut shard = self.cache.shard(&self.key);
            if shard
                .loading
                .get(&self.key)
                .is_some_and(|p| Arc::ptr_eq(p, &self.pending))
            {
                shard.loading.remove(&self.key);
            }
        }
        let mut outcome = self
            .pending
            .outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *outcome = Some(self.value.take());
        self.pending.ready.notify_all();
    }
}

/// A concurrent LRU cache of pieces, bounded in bytes.
///
/// ```
/// use bytes::Bytes;
/// use swarmgate_core::{InfoHashV1, PieceIndex};
/// use swarmgate_storage::{CacheId, PieceCache, PieceKey};
///
/// let cache = PieceCache::new(64 << 20);
/// let key = PieceKey { id: CacheId::Torrent(InfoHashV1([1; 20])), index: PieceIndex(0) };
/// let loaded = cache.get_or_load(key, || Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 1024])))?;
/// let again = cache.get_or_load(key, || -> std::io::Result<Bytes> { unreachable!("a hit") })?;
/// assert_eq!(loaded.as_ptr(), again.as_ptr()); // the same buffer
/// assert_eq!(cache.stats().hits, 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct PieceCache {
    shards: Box<[Mutex<Shard>]>,
    shard_capacity: u64,
    capacity: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    waits: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    rejected: AtomicU64,
}

impl std::fmt::Debug for PieceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PieceCache")
            .field("shards", &self.shards.len())
            .field("stats", &self.stats())
            .finish()
    }
}

impl PieceCache {
    /// A cache of at most `capacity` bytes, with one shard per 16 MiB (1 to 16 shards).
    pub fn new(capacity: u64) -> Self {
        let shards = (capacity / (16 << 20)).clamp(1, 16) as usize;
        Self::with_shards(capacity, shards)
    }

    /// A cache of at most `capacity` bytes in `shards` shards (at least 1), each holding up to
    /// `capacity / shards` bytes.
    pub fn with_shards(capacity: u64, shards: usize) -> Self {
        let shards = shards.max(1);
        Self {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        lru: LruCache::unbounded(),
                        bytes: 0,
                        loading: HashMap::new(),
                    })
                })
                .collect(),
            shard_capacity: capacity / shards as u64,
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &PieceKey) -> MutexGuard<'_, Shard> {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        let index = (hash % self.shards.len() as u64) as usize;
        // A shard's map and byte count change together under the lock, before anything that
        // can panic, so a poisoned shard is still consistent.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The piece under `key`, marked most recently used; counts a hit or a miss.
    pub fn get(&self, key: &PieceKey) -> Option<Bytes> {
        let found = self.shard(key).lru.get(key).cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Whether `key` is held, without counting or touching its recency.
    pub fn contains(&self, key: &PieceKey) -> bool {
        self.shard(key).lru.contains(key)
    }

    /// Keeps `value` under `key` (replacing what was there), evicting least recently used
    /// values of its shard until it fits; `false` when it is larger than a shard's share and
    /// was not kept.
    pub fn insert(&self, key: PieceKey, value: Bytes) -> bool {
        let size = value.len() as u64;
        if size > self.shard_capacity {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let mut shard = self.shard(&key);
        if let Some(old) = shard.lru.pop(&key) {
            shard.bytes -= old.len() as u64;
        }
        let mut evicted = 0;
        while shard.bytes + size > self.shard_capacity {
            match shard.lru.pop_lru() {
                Some((_, old)) => {
                    shard.bytes -= old.len() as u64;
                    evicted += 1;
                }
                None => break,
            }
        }
        shard.bytes += size;
        shard.lru.push(key, value);
        drop(shard);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The piece under `key`, or `load`'s result, kept for next time. While one thread loads
    /// a piece, other lookups of it wait for that load. An error is passed through and nothing
    /// is kept (threads that were waiting then load for themselves).
    pub fn get_or_load<E>(
        &self,
        key: PieceKey,
        load: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let pending = {
            let mut shard = self.shard(&key);
            if let Some(hit) = shard.lru.get(&key).cloned() {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(hit);
            }
            match shard.loading.get(&key) {
                Some(pending) => Err(Arc::clone(pending)),
                None => {
                    let pending = Arc::new(Pending::default());
                    shard.loading.insert(key, Arc::clone(&pending));
                    Ok(pending)
                }
            }
        };
        let pending = match pending {
            Ok(pending) => pending,
            Err(other) => {
                if let Some(value) = other.wait() {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    self.waits.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                // The other load failed: load without waiting for anyone.
                self.misses.fetch_add(1, Ordering::Relaxed);
                let value = load()?;
                self.insert(key, value.clone());
                return Ok(value);
            }
        };
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut leader = Leader {
            cache: self,
            key,
            pending,
            value: None,
        };
        let value = load()?;
        self.insert(key, value.clone());
        leader.value = Some(value.clone());
        drop(leader);
        Ok(value)
    }

    /// Drops the piece under `key`, returning it.
    pub fn remove(&self, key: &PieceKey) -> Option<Bytes> {
        let mut shard = self.shard(key);
        let old = shard.lru.pop(key)?;
        shard.bytes -= old.len() as u64;
        Some(old)
    }

    /// Drops every piece of `id` (a file removed from the store); the number dropped.
    pub fn remove_all(&self, id: &CacheId) -> usize {
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let mut freed = 0;
            shard.lru.retain(|key, value| {
                let keep = key.id != *id;
                if !keep {
                    freed += value.len() as u64;
                    dropped += 1;
                }
                keep
            });
            shard.bytes -= freed;
        }
        dropped
    }

    /// Drops everything (the counters stay).
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            shard.lru.clear();
            shard.bytes = 0;
        }
    }

    /// The bound in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The counters, and what is held now.
    pub fn stats(&self) -> CacheStats {
        let (mut entries, mut bytes) = (0, 0);
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            entries += shard.lru.len() as u64;
            bytes += shard.bytes;
        }
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            inserts: self.inserts.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            entries,
            bytes,
            capacity: self.capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> PieceKey {
        PieceKey {
            id: CacheId::Torrent(InfoHashV1([1; 20])),
            index: PieceIndex(n),
        }
    }

    #[test]
    fn evicts_the_least_recently_used_by_bytes() {
        let cache = PieceCache::with_shards(100, 1);
        assert!(cache.insert(key(0), Bytes::from(vec![0; 40])));
        assert!(cache.insert(key(1), Bytes::from(vec![1; 40])));
        assert!(cache.get(&key(0)).is_some()); // 1 is now the oldest
        assert!(cache.insert(key(2), Bytes::from(vec![2; 40])));
        assert!(cache.contains(&key(0)) && cache.contains(&key(2)));
        assert!(!cache.contains(&key(1)));
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.bytes, stats.evictions), (2, 80, 1));
        // Replacing a key frees its old bytes first.
        cache.insert(key(2), Bytes::from(vec![2; 60]));
        assert_eq!(cache.stats().bytes, 100);
        assert!(!cache.insert(key(3), Bytes::from(vec![3; 101])));
        assert_eq!(cache.stats().rejected, 1);
    }

    #[test]
    fn concurrent_misses_of_one_piece_load_it_once() {
        use std::sync::Barrier;
        use std::sync::atomic::AtomicUsize;
        let cache = PieceCache::with_shards(1 << 20, 2);
        let loads = AtomicUsize::new(0);
        let barrier = Barrier::new(8);
        let pointers: Vec<usize> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        let value = cache
                            .get_or_load(key(9), || {
                                loads.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(50));
                                Ok::<_, ()>(Bytes::from(vec![9; 1000]))
                            })
                            .unwrap();
                        value.as_ptr() as usize
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert!(
            pointers.iter().all(|&p| p == pointers[0]),
            "one buffer for all"
        );
        let stats = cache.stats();
        assert_eq!((stats.misses, stats.hits, stats.waits), (1, 7, 7));
    }

    #[test]
    fn waiters_load_for_themselves_when_the_load_fails_or_panics() {
        for panics in [false, true] {
            let cache = PieceCache::with_shards(1 << 20, 1);
            let started = std::sync::Barrier::new(2);
            std::thread::scope(|scope| {
                let leader = scope.spawn(|| {
                    cache.get_or_load(key(1), || {
                        started.wait();
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        if panics {
                            panic!("a loader bug");
                        }
                        Err("disk error")
                    })
                });
                started.wait();
                let waiter = cache.get_or_load(key(1), || Ok::<_, &str>(Bytes::from_static(b"ok")));
                assert_eq!(waiter.unwrap(), Bytes::from_static(b"ok"));
                assert_eq!(leader.join().is_err(), panics);
            });
            assert!(cache.contains(&key(1)));
            assert_eq!(cache.stats().misses, 2);
        }
    }

    #[test]
    fn counters_and_removal() {
        let cache = PieceCache::with_shards(1000, 4);
        assert_eq!(cache.stats().hit_ratio(), 0.0);
        let loaded: Result<Bytes, ()> = cache.get_or_load(key(5), || Ok(Bytes::from_static(b"x")));
        assert_eq!(loaded.unwrap(), Bytes::from_static(b"x"));
        assert!(cache.get_or_load(key(5), || Err(())).is_ok());
        assert!(cache.get_or_load(key(6), || Err(())).is_err());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.inserts), (1, 2, 1));
        assert_eq!(stats.hit_ratio(), 1.0 / 3.0);
        let other = PieceKey {
            id: CacheId::File {
                sha256: Sha256([2; 32]),
                piece_length: 16,
            },
            index: PieceIndex(0),
        };
        cache.insert(other, Bytes::from_static(b"yy"));
        assert_eq!(cache.remove_all(&key(0).id), 1);
        assert_eq!(cache.stats().bytes, 2);
        assert_eq!(cache.remove(&other).unwrap().len(), 2);
        assert_eq!(cache.stats().entries, 0);
        cache.insert(key(1), Bytes::from_static(b"z"));
        cache.clear();
        assert_eq!(cache.stats().bytes, 0);
    }
}
