//! The metadata store in memory (BEP 3 / BEP 52 torrents, Blossom owners): [`MemoryStore`].
//!
//! Ordered maps behind one mutex: the file table and one index per lookup (newest first, v1,
//! v2, truncated v2, owner, chunk reference counts). Each method takes the lock once, checks
//! everything that can fail before it changes anything, then applies the change; that is what
//! makes a failed `put` leave nothing behind, as a rolled-back transaction does in SQLite. A
//! poisoned lock is taken over: no method panics between its checks and its last write.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use swarmgate_core::InfoHash;

use crate::meta::{
    COUNTER_MAX, ChunkRecord, FileRecord, MetaError, MetadataStore, Removed, TorrentRecord, Upload,
};
use swarmgate_core::{Pubkey, Sha256};

/// A [`MetadataStore`] that lives and dies with the process: for tests and tools.
///
/// ```
/// use swarmgate_blobstore::{MemoryStore, MetadataStore};
///
/// let store = MemoryStore::new();
/// assert_eq!(store.add_to_counter("uploads", 2)?, 2);
/// assert_eq!(store.count()?, 0);
/// # Ok::<(), swarmgate_blobstore::MetaError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

type NewestKey = (Reverse<u64>, Reverse<u64>);

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    files: BTreeMap<Sha256, Entry>,
    newest: BTreeMap<NewestKey, Sha256>,
    by_v1: BTreeMap<[u8; 20], Sha256>,
    by_v2: BTreeMap<[u8; 32], Sha256>,
    by_v2_short: BTreeMap<[u8; 20], Sha256>,
    by_owner: BTreeMap<Pubkey, BTreeSet<Sha256>>,
    chunk_refs: BTreeMap<Sha256, u64>,
    counters: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    upload: Upload,
}

impl Entry {
    fn newest_key(&self) -> NewestKey {
        (Reverse(self.upload.file.created), Reverse(self.seq))
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn entry(&self, sha256: &Sha256) -> Result<&Entry, MetaError> {
        self.files
            .get(sha256)
            .ok_or(MetaError::NotFound { sha256: *sha256 })
    }

    fn find(&self, info_hash: &InfoHash) -> Option<Sha256> {
        let by_v1 = |v1: &[u8; 20]| {
            self.by_v1
                .get(v1)
                .or_else(|| self.by_v2_short.get(v1))
                .copied()
        };
        let by_v2 = |v2: &[u8; 32]| self.by_v2.get(v2).copied();
        match info_hash {
            InfoHash::V1(v1) => by_v1(&v1.0),
            InfoHash::V2(v2) => by_v2(&v2.0),
            InfoHash::Hybrid(v1, v2) => by_v1(&v1.0).or_else(|| by_v2(&v2.0)),
        }
    }

    fn check_new(&self, upload: &Upload) -> Result<(), MetaError> {
        let sha256 = upload.file.sha256;
        if self.files.contains_key(&sha256) {
            return Err(MetaError::conflict(format!("file {sha256}")));
        }
        let hash = upload.torrent.info_hash;
        if let Some(v1) = hash.v1().filter(|v1| self.by_v1.contains_key(&v1.0)) {
            return Err(MetaError::conflict(format!("torrent v1 {v1}")));
        }
        if let Some(v2) = hash.v2().filter(|v2| self.by_v2.contains_key(&v2.0)) {
            return Err(MetaError::conflict(format!("torrent v2 {v2}")));
        }
        let mut indexes = BTreeSet::new();
        for chunk in &upload.chunks {
            if !indexes.insert(chunk.index) {
                return Err(MetaError::conflict(format!(
                    "chunk {} of file {sha256}",
                    chunk.index
                )));
            }
        }
        Ok(())
    }

    fn insert(&mut self, upload: &Upload) {
        let mut upload = upload.clone();
        upload.chunks.sort_by_key(|chunk| chunk.index);
        upload.owners.sort();
        upload.owners.dedup();
        let entry = Entry {
            seq: self.next_seq,
            upload,
        };
        self.next_seq += 1;
        self.index(&entry);
        self.files.insert(entry.upload.file.sha256, entry);
    }

    /// Adds `entry` to every index (not to the file table).
    fn index(&mut self, entry: &Entry) {
        let upload = &entry.upload;
        let sha256 = upload.file.sha256;
        let hash = upload.torrent.info_hash;
        if let Some(v1) = hash.v1() {
            self.by_v1.insert(v1.0, sha256);
        }
        if let Some(v2) = hash.v2() {
            self.by_v2.insert(v2.0, sha256);
            self.by_v2_short.insert(v2.truncated().0, sha256);
        }
        for owner in &upload.owners {
            self.by_owner.entry(*owner).or_default().insert(sha256);
        }
        for chunk in &upload.chunks {
            *self.chunk_refs.entry(chunk.sha256).or_default() += 1;
        }
        self.newest.insert(entry.newest_key(), sha256);
    }

    fn remove(&mut self, sha256: &Sha256) -> Result<Removed, MetaError> {
        let entry = self
            .files
            .remove(sha256)
            .ok_or(MetaError::NotFound { sha256: *sha256 })?;
        self.newest.remove(&entry.newest_key());
        let hash = entry.upload.torrent.info_hash;
        if let Some(v1) = hash.v1() {
            self.by_v1.remove(&v1.0);
        }
        if let Some(v2) = hash.v2() {
            self.by_v2.remove(&v2.0);
            if self.by_v2_short.get(&v2.truncated().0) == Some(sha256) {
                self.by_v2_short.remove(&v2.truncated().0);
            }
        }
        for owner in &entry.upload.owners {
            if let Some(files) = self.by_owner.get_mut(owner) {
                files.remove(sha256);
                if files.is_empty() {
                    self.by_owner.remove(owner);
                }
            }
        }
        let mut orphan_chunks = BTreeSet::new();
        for chunk in &entry.upload.chunks {
            if let Some(count) = self.chunk_refs.get_mut(&chunk.sha256) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.chunk_refs.remove(&chunk.sha256);
                    orphan_chunks.insert(chunk.sha256);
                }
            }
        }
        Ok(Removed {
            upload: entry.upload,
            orphan_chunks: orphan_chunks.into_iter().collect(),
        })
    }

    /// Rebuilds every index from the file table and compares.
    fn check(&self) -> Result<(), MetaError> {
        let mut expected = Inner::default();
        for (sha256, entry) in &self.files {
            let upload = &entry.upload;
            let in_order = upload.chunks.is_sorted_by_key(|chunk| chunk.index)
                && upload.owners.is_sorted()
                && upload.owners.windows(2).all(|pair| pair[0] != pair[1]);
            if upload.file.sha256 != *sha256 || entry.seq >= self.next_seq || !in_order {
                return Err(MetaError::corrupt(format!(
                    "file {sha256} is filed wrongly"
                )));
            }
            expected.index(entry);
        }
        let same = expected.newest == self.newest
            && expected.by_v1 == self.by_v1
            && expected.by_v2 == self.by_v2
            && expected.by_v2_short == self.by_v2_short
            && expected.by_owner == self.by_owner
            && expected.chunk_refs == self.chunk_refs;
        if same {
            Ok(())
        } else {
            Err(MetaError::corrupt("an index disagrees with the file table"))
        }
    }
}

impl MetadataStore for MemoryStore {
    fn put(&self, upload: &Upload) -> Result<(), MetaError> {
        upload.check()?;
        let mut inner = self.lock();
        inner.check_new(upload)?;
        inner.insert(upload);
        Ok(())
    }

    fn file(&self, sha256: &Sha256) -> Result<Option<FileRecord>, MetaError> {
        Ok(self.lock().files.get(sha256).map(|e| e.upload.file.clone()))
    }

    fn upload(&self, sha256: &Sha256) -> Result<Option<Upload>, MetaError> {
        Ok(self.lock().files.get(sha256).map(|e| e.upload.clone()))
    }

    fn torrent(&self, sha256: &Sha256) -> Result<Option<TorrentRecord>, MetaError> {
        Ok(self
            .lock()
            .files
            .get(sha256)
            .map(|e| e.upload.torrent.clone()))
    }

    fn chunks(&self, sha256: &Sha256) -> Result<Option<Vec<ChunkRecord>>, MetaError> {
        Ok(self
            .lock()
            .files
            .get(sha256)
            .map(|e| e.upload.chunks.clone()))
    }

    fn file_by_info_hash(&self, info_hash: &InfoHash) -> Result<Option<FileRecord>, MetaError> {
        let inner = self.lock();
        Ok(inner
            .find(info_hash)
            .and_then(|sha256| inner.files.get(&sha256))
            .map(|e| e.upload.file.clone()))
    }

    fn list(&self, offset: u64, limit: u32) -> Result<Vec<FileRecord>, MetaError> {
        let inner = self.lock();
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(inner
            .newest
            .values()
            .skip(skip)
            .take(take)
            .filter_map(|sha256| inner.files.get(sha256))
            .map(|e| e.upload.file.clone())
            .collect())
    }

    fn count(&self) -> Result<u64, MetaError> {
        Ok(self.lock().files.len() as u64)
    }

    fn delete(&self, sha256: &Sha256) -> Result<Removed, MetaError> {
        self.lock().remove(sha256)
    }

    fn add_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<bool, MetaError> {
        let mut inner = self.lock();
        inner.entry(sha256)?;
        if !inner.by_owner.entry(*owner).or_default().insert(*sha256) {
            return Ok(false);
        }
        if let Some(entry) = inner.files.get_mut(sha256) {
            let owners = &mut entry.upload.owners;
            let at = owners.partition_point(|o| o < owner);
            owners.insert(at, *owner);
        }
        Ok(true)
    }

    fn remove_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<bool, MetaError> {
        let mut inner = self.lock();
        inner.entry(sha256)?;
        let Some(files) = inner.by_owner.get_mut(owner) else {
            return Ok(false);
        };
        if !files.remove(sha256) {
            return Ok(false);
        }
        if files.is_empty() {
            inner.by_owner.remove(owner);
        }
        if let Some(entry) = inner.files.get_mut(sha256) {
            entry.upload.owners.retain(|o| o != owner);
        }
        Ok(true)
    }

    fn owners(&self, sha256: &Sha256) -> Result<Vec<Pubkey>, MetaError> {
        Ok(self.lock().entry(sha256)?.upload.owners.clone())
    }

    fn files_of_owner(&self, owner: &Pubkey) -> Result<Vec<FileRecord>, MetaError> {
        let inner = self.lock();
        let mut entries: Vec<&Entry> = inner
            .by_owner
            .get(owner)
            .into_iter()
            .flatten()
            .filter_map(|sha256| inner.files.get(sha256))
            .collect();
        entries.sort_by_key(|e| e.newest_key());
        Ok(entries.iter().map(|e| e.upload.file.clone()).collect())
    }

    fn add_to_counter(&self, name: &str, delta: u64) -> Result<u64, MetaError> {
        let mut inner = self.lock();
        let value = inner.counters.entry(name.to_owned()).or_default();
        *value = value.saturating_add(delta).min(COUNTER_MAX);
        Ok(*value)
    }

    fn add_to_counters(&self, deltas: &[(&str, u64)]) -> Result<(), MetaError> {
        let mut inner = self.lock();
        for (name, delta) in deltas {
            let value = inner.counters.entry((*name).to_owned()).or_default();
            *value = value.saturating_add(*delta).min(COUNTER_MAX);
        }
        Ok(())
    }

    fn counter(&self, name: &str) -> Result<u64, MetaError> {
        Ok(self.lock().counters.get(name).copied().unwrap_or(0))
    }

    fn counters(&self) -> Result<Vec<(String, u64)>, MetaError> {
        Ok(self
            .lock()
            .counters
            .iter()
            .map(|(name, value)| (name.clone(), *value))
            .collect())
    }

    fn integrity_check(&self) -> Result<(), MetaError> {
        self.lock().check()
    }
}
