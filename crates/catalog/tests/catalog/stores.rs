//! Stores that fail on demand around the in-memory ones, and an observer that records what it
//! was told: what the catalog's tests drive it with.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use swarmgate_blobstore::{
    ChunkRecord, ContentError, ContentOptions, ContentStore, FileRecord, IngestOptions, Ingested,
    MemoryContentStore, MemoryStore, MetaError, MetadataStore, Removed, RemovedContent, StoredFile,
    TorrentRecord, Upload,
};
use swarmgate_catalog::{Catalog, CatalogObserver, Entry, Links, Loaded};
use swarmgate_core::{InfoHash, Pubkey, Sha256};
use swarmgate_storage::PieceCache;

/// The metadata store in memory, whose `put` fails while `fail_put` is set (a database commit
/// that fails: a full disk under SQLite, a lost connection to PostgreSQL).
#[derive(Debug, Default)]
pub(crate) struct FlakyMeta {
    pub(crate) inner: MemoryStore,
    pub(crate) fail_put: AtomicBool,
    pub(crate) fail_delete: AtomicBool,
}

fn refused() -> MetaError {
    MetaError::Backend("the database refused the commit (test)".into())
}

impl MetadataStore for FlakyMeta {
    fn put(&self, upload: &Upload) -> Result<(), MetaError> {
        if self.fail_put.load(Ordering::SeqCst) {
            return Err(refused());
        }
        self.inner.put(upload)
    }
    fn file(&self, sha256: &Sha256) -> Result<Option<FileRecord>, MetaError> {
        self.inner.file(sha256)
    }
    fn upload(&self, sha256: &Sha256) -> Result<Option<Upload>, MetaError> {
        self.inner.upload(sha256)
    }
    fn torrent(&self, sha256: &Sha256) -> Result<Option<TorrentRecord>, MetaError> {
        self.inner.torrent(sha256)
    }
    fn chunks(&self, sha256: &Sha256) -> Result<Option<Vec<ChunkRecord>>, MetaError> {
        self.inner.chunks(sha256)
    }
    fn file_by_info_hash(&self, info_hash: &InfoHash) -> Result<Option<FileRecord>, MetaError> {
        self.inner.file_by_info_hash(info_hash)
    }
    fn list(&self, offset: u64, limit: u32) -> Result<Vec<FileRecord>, MetaError> {
        self.inner.list(offset, limit)
    }
    fn count(&self) -> Result<u64, MetaError> {
        self.inner.count()
    }
    fn delete(&self, sha256: &Sha256) -> Result<Removed, MetaError> {
        if self.fail_delete.load(Ordering::SeqCst) {
            return Err(refused());
        }
        self.inner.delete(sha256)
    }
    fn add_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<bool, MetaError> {
        self.inner.add_owner(sha256, owner)
    }
    fn remove_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<bool, MetaError> {
        self.inner.remove_owner(sha256, owner)
    }
    fn owners(&self, sha256: &Sha256) -> Result<Vec<Pubkey>, MetaError> {
        self.inner.owners(sha256)
    }
    fn files_of_owner(&self, owner: &Pubkey) -> Result<Vec<FileRecord>, MetaError> {
        self.inner.files_of_owner(owner)
    }
    fn add_to_counter(&self, name: &str, delta: u64) -> Result<u64, MetaError> {
        self.inner.add_to_counter(name, delta)
    }
    fn add_to_counters(&self, deltas: &[(&str, u64)]) -> Result<(), MetaError> {
        self.inner.add_to_counters(deltas)
    }
    fn counter(&self, name: &str) -> Result<u64, MetaError> {
        self.inner.counter(name)
    }
    fn counters(&self) -> Result<Vec<(String, u64)>, MetaError> {
        self.inner.counters()
    }
    fn integrity_check(&self) -> Result<(), MetaError> {
        self.inner.integrity_check()
    }
}

/// The content store in memory, whose ingest fails at its commit while `fail_commit` is set:
/// it reads the whole upload, then reports the rename that makes it visible as failed, and
/// keeps nothing (the content store's promise on any error).
#[derive(Debug)]
pub(crate) struct FlakyContent {
    pub(crate) inner: MemoryContentStore,
    pub(crate) fail_commit: AtomicBool,
    pub(crate) disk_full: AtomicBool,
    /// Reads come back with their first byte flipped (a failing disk, a file changed behind
    /// the store's back).
    pub(crate) corrupt_reads: AtomicBool,
}

impl FlakyContent {
    pub(crate) fn new(options: ContentOptions) -> Self {
        Self {
            inner: MemoryContentStore::new(options),
            fail_commit: AtomicBool::new(false),
            disk_full: AtomicBool::new(false),
            corrupt_reads: AtomicBool::new(false),
        }
    }
}

impl ContentStore for FlakyContent {
    fn ingest(
        &self,
        reader: &mut dyn Read,
        options: &IngestOptions,
    ) -> Result<Ingested, ContentError> {
        if self.disk_full.load(Ordering::SeqCst) {
            return Err(ContentError::DiskFull {
                path: "tmp/upload".into(),
            });
        }
        if self.fail_commit.load(Ordering::SeqCst) {
            std::io::copy(reader, &mut std::io::sink())
                .map_err(|source| ContentError::Read { source })?;
            return Err(ContentError::Io {
                path: "blobs/ab/cd".into(),
                source: std::io::Error::other("rename failed (test)"),
            });
        }
        self.inner.ingest(reader, options)
    }
    fn stat(&self, sha256: &Sha256) -> Result<Option<StoredFile>, ContentError> {
        self.inner.stat(sha256)
    }
    fn read_exact_at(
        &self,
        file: &StoredFile,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ContentError> {
        self.inner.read_exact_at(file, offset, buf)?;
        if self.corrupt_reads.load(Ordering::SeqCst) {
            if let Some(first) = buf.first_mut() {
                *first ^= 0xff;
            }
        }
        Ok(())
    }
    fn remove(&self, sha256: &Sha256) -> Result<Option<RemovedContent>, ContentError> {
        self.inner.remove(sha256)
    }
    fn list(&self) -> Result<Vec<Sha256>, ContentError> {
        self.inner.list()
    }
    fn has_chunk(&self, sha256: &Sha256) -> Result<bool, ContentError> {
        self.inner.has_chunk(sha256)
    }
}

/// What an observer was told, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Told {
    Published(Sha256),
    Removed(Sha256),
}

/// An observer that records every call.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) told: Mutex<Vec<Told>>,
}

impl Recorder {
    pub(crate) fn take(&self) -> Vec<Told> {
        std::mem::take(&mut *self.told.lock().unwrap())
    }
}

impl CatalogObserver for Recorder {
    fn published(&self, entry: &Arc<Entry>) {
        self.told
            .lock()
            .unwrap()
            .push(Told::Published(*entry.sha256()));
    }
    fn removed(&self, entry: &Arc<Entry>) {
        self.told
            .lock()
            .unwrap()
            .push(Told::Removed(*entry.sha256()));
    }
}

/// A catalog over the flaky stores; files of 3 MiB and more are chunked.
pub(crate) struct Harness {
    pub(crate) meta: Arc<FlakyMeta>,
    pub(crate) content: Arc<FlakyContent>,
    pub(crate) catalog: Catalog,
    pub(crate) loaded: Loaded,
}

pub(crate) const CHUNKED_FROM: u64 = 3 << 20;

impl Harness {
    pub(crate) fn new() -> Harness {
        let options = ContentOptions {
            blob_threshold: CHUNKED_FROM,
        };
        Harness::over(
            Arc::new(FlakyMeta::default()),
            Arc::new(FlakyContent::new(options)),
        )
    }

    /// A catalog opened over these stores (as a restart would).
    pub(crate) fn over(meta: Arc<FlakyMeta>, content: Arc<FlakyContent>) -> Harness {
        let (catalog, loaded) = Catalog::open(
            Arc::clone(&meta) as Arc<dyn MetadataStore>,
            Arc::clone(&content) as Arc<dyn ContentStore>,
            Arc::new(PieceCache::new(64 << 20)),
            Links::new("http://127.0.0.1:9877", None),
        )
        .expect("open the catalog");
        Harness {
            meta,
            content,
            catalog,
            loaded,
        }
    }

    /// Nothing stored anywhere: no record, no content, nothing served.
    pub(crate) fn assert_empty(&self) {
        assert_eq!(self.meta.count().unwrap(), 0, "records left");
        assert_eq!(self.content.list().unwrap(), [], "content left");
        assert!(self.catalog.all().is_empty(), "files still served");
    }
}
