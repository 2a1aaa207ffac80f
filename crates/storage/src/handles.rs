//! A least-recently-used set of open file handles for a torrent's files (BEP 3 multi-file data).
//!
//! A torrent may hold tens of thousands of files, and a process has a descriptor limit (often
//! 1,024), so at most `max_open` handles are kept; opening one more closes the least recently
//! used. Handles are shared as `Arc<File>`: positioned reads and writes (`FileExt::read_at`,
//! `write_at`) need only `&File`, so several threads use one handle at once and the lock is held
//! only to look a handle up (and to open one on a miss, so a file is never opened twice). An
//! evicted handle closes when its last in-flight user drops it, so the descriptor count may exceed
//! `max_open` by the number of operations in flight, never more.
//!
//! The set is small (64 by default), so the LRU is a map with a use counter and eviction scans
//! for the oldest entry: O(N) on a miss, which costs far less than the `open` it goes with.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What a handle is wanted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reading only: a read-only handle will do, and a missing file is not created.
    Read,
    /// Writing: the handle must be writable (a cached read-only one is replaced).
    Write,
}

struct Slot {
    file: Arc<File>,
    writable: bool,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<usize, Slot>,
    clock: u64,
    opened: u64,
}

/// The open handles of one torrent's files, keyed by file index.
pub(crate) struct Handles {
    max_open: usize,
    inner: Mutex<Inner>,
}

impl Handles {
    /// A set that keeps at most `max_open` handles (at least one).
    pub(crate) fn new(max_open: usize) -> Self {
        Self {
            max_open: max_open.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map stays consistent whatever panicked while holding the lock.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handle of file `index` good for `access`, opening it with `open` on a miss (or when
    /// only a read-only handle is cached and `access` is [`Access::Write`]).
    pub(crate) fn get(
        &self,
        index: usize,
        access: Access,
        open: impl FnOnce(Access) -> io::Result<File>,
    ) -> io::Result<Arc<File>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        if let Some(slot) = inner.slots.get_mut(&index) {
            if slot.writable || access == Access::Read {
                slot.last_used = now;
                return Ok(Arc::clone(&slot.file));
            }
        }
        let file = Arc::new(open(access)?);
        inner.opened += 1;
        if !inner.slots.contains_key(&index) && inner.slots.len() >= self.max_open {
            let oldest = inner
                .slots
                .iter()
                .min_by_key(|(_, slot)| slot.last_used)
                .map(|(&key, _)| key);
            if let Some(key) = oldest {
                inner.slots.remove(&key);
            }
        }
        inner.slots.insert(
            index,
            Slot {
                file: Arc::clone(&file),
                writable: access == Access::Write,
                last_used: now,
            },
        );
        Ok(file)
    }

    /// Closes every cached handle (in-flight users keep theirs), so the next operations open
    /// the files as they stand on disk now.
    pub(crate) fn clear(&self) {
        self.lock().slots.clear();
    }

    /// The number of handles held now.
    pub(crate) fn open_count(&self) -> usize {
        self.lock().slots.len()
    }

    /// The number of files opened since the set was made (misses and upgrades).
    #[cfg(test)]
    fn opened(&self) -> u64 {
        self.lock().opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_in(dir: &tempfile::TempDir, index: usize) -> impl FnOnce(Access) -> io::Result<File> {
        let path = dir.path().join(index.to_string());
        move |access| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(access == Access::Write)
                .create(access == Access::Write)
                .truncate(false)
                .open(path)
        }
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let handles = Handles::new(2);
        handles.get(0, Access::Write, open_in(&dir, 0)).unwrap();
        handles.get(1, Access::Write, open_in(&dir, 1)).unwrap();
        // Touch 0, so 1 is the oldest when 2 comes in.
        handles.get(0, Access::Read, open_in(&dir, 0)).unwrap();
        handles.get(2, Access::Write, open_in(&dir, 2)).unwrap();
        assert_eq!(handles.open_count(), 2);
        assert_eq!(handles.opened(), 3);
        // 0 is still cached (no new open), 1 was evicted (opened again).
        handles.get(0, Access::Write, open_in(&dir, 0)).unwrap();
        assert_eq!(handles.opened(), 3);
        handles.get(1, Access::Read, open_in(&dir, 1)).unwrap();
        assert_eq!(handles.opened(), 4);
        assert_eq!(handles.open_count(), 2);
    }

    #[test]
    fn a_read_only_handle_is_upgraded_for_writing_and_errors_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let handles = Handles::new(4);
        assert_eq!(
            handles
                .get(7, Access::Read, open_in(&dir, 7))
                .err()
                .map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        assert_eq!(handles.open_count(), 0);
        std::fs::write(dir.path().join("7"), b"").unwrap();
        handles.get(7, Access::Read, open_in(&dir, 7)).unwrap();
        let writable = handles.get(7, Access::Write, open_in(&dir, 7)).unwrap();
        assert_eq!(handles.opened(), 2);
        assert_eq!(handles.open_count(), 1);
        std::os::unix::fs::FileExt::write_all_at(&*writable, b"ok", 0).unwrap();
        assert_eq!(std::fs::read(dir.path().join("7")).unwrap(), b"ok");
    }
}
