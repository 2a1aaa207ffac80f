//! The catalog: the in-memory index of served files over the two stores, loaded at open, and
//! the observers that serve them.
//!
//! Reads (`get`, `all`, `by_info_hash`) take a read lock on the index and never touch a store.
//! Changes (publish, delete, a new owner, registering an observer) are serialised by one commit
//! lock around the short part that writes the metadata and the index (never around an ingest,
//! which streams for as long as the upload takes): so an observer sees every change exactly
//! once and in order, and a publish cannot record content that a concurrent delete or failed
//! publish is removing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use swarmgate_blobstore::{
    ContentStore, FileRecord, MetadataStore, PIECE_LENGTH, PieceSource, Upload,
};
use swarmgate_core::{InfoHashV1, PieceIndex, Sha256};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::PieceCache;

use crate::Entry;
use crate::error::CatalogError;
use crate::links::Links;
use crate::observer::CatalogObserver;

/// What opening the catalog found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Files served.
    pub files: usize,
    /// Records whose content is missing or whose torrent is unreadable: not served.
    pub broken: usize,
    /// Content with no record (an upload that was never acknowledged), removed.
    pub swept: usize,
}

/// The stored files; see the crate docs.
pub struct Catalog {
    pub(crate) meta: Arc<dyn MetadataStore>,
    pub(crate) content: Arc<dyn ContentStore>,
    pub(crate) cache: Arc<PieceCache>,
    pub(crate) links: Links,
    index: RwLock<Index>,
    /// Serialises changes and holds the observers they are announced to.
    commit: Mutex<Vec<Arc<dyn CatalogObserver>>>,
    /// Files served at most; a new file past it is refused ([`CatalogError::TooManyFiles`]).
    pub(crate) max_files: usize,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("links", &self.links)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// The served files by sha256 and by info-hash.
#[derive(Debug, Default)]
struct Index {
    by_sha256: HashMap<Sha256, Arc<Entry>>,
    by_info_hash: HashMap<InfoHashV1, Sha256>,
}

/// The changes the commit lock covers, and the observers to tell of them.
pub(crate) struct Commit<'a> {
    catalog: &'a Catalog,
    observers: MutexGuard<'a, Vec<Arc<dyn CatalogObserver>>>,
}

impl Catalog {
    /// Loads every stored file into the index (a record whose content or torrent is unusable is
    /// counted and logged, not served) and removes content that has no record. Blocks (it reads
    /// the whole metadata store).
    pub fn open(
        meta: Arc<dyn MetadataStore>,
        content: Arc<dyn ContentStore>,
        cache: Arc<PieceCache>,
        links: Links,
    ) -> Result<(Catalog, Loaded), CatalogError> {
        let catalog = Catalog {
            meta,
            content,
            cache,
            links,
            index: RwLock::new(Index::default()),
            commit: Mutex::new(Vec::new()),
            max_files: usize::MAX,
        };
        let mut loaded = Loaded::default();
        let mut offset = 0;
        loop {
            let page = catalog.meta.list(offset, 500)?;
            if page.is_empty() {
                break;
            }
            offset += page.len() as u64;
            for file in page {
                let sha256 = file.sha256;
                match catalog.load(file) {
                    Ok(entry) => {
                        catalog.insert(Arc::new(entry));
                        loaded.files += 1;
                    }
                    Err(error) => {
                        tracing::error!(%error, %sha256, "a stored file is not served");
                        loaded.broken += 1;
                    }
                }
            }
        }
        for sha256 in catalog.content.list()? {
            if catalog.meta.file(&sha256)?.is_none() {
                catalog.content.remove(&sha256)?;
                loaded.swept += 1;
            }
        }
        Ok((catalog, loaded))
    }

    /// Registers `observer`: it is told of every file stored now, then of every later change.
    pub fn observe(&self, observer: Arc<dyn CatalogObserver>) {
        let mut commit = self.begin();
        for entry in self.all() {
            observer.published(&entry);
        }
        commit.observers.push(observer);
    }

    /// The file with this sha256, if served.
    pub fn get(&self, sha256: &Sha256) -> Option<Arc<Entry>> {
        self.read_index().by_sha256.get(sha256).cloned()
    }

    /// The file whose torrent has this v1 info-hash, if served.
    pub fn by_info_hash(&self, info_hash: &InfoHashV1) -> Option<Arc<Entry>> {
        let index = self.read_index();
        let sha256 = index.by_info_hash.get(info_hash)?;
        index.by_sha256.get(sha256).cloned()
    }

    /// Every served file, in no order.
    pub fn all(&self) -> Vec<Arc<Entry>> {
        self.read_index().by_sha256.values().cloned().collect()
    }

    /// Serves at most `max` files from now on: a publish of new bytes past it is refused with
    /// [`CatalogError::TooManyFiles`] and leaves nothing; the same bytes uploaded again still
    /// answer the stored file. Every stored file costs memory in each service that serves it
    /// (the index, the seeder, the tracker's allow-list, the DHT's announces), so this is what
    /// bounds them. Files stored beyond it at open are all served.
    #[must_use]
    pub fn with_max_files(mut self, max: usize) -> Self {
        self.max_files = max;
        self
    }

    /// Files served now.
    pub fn file_count(&self) -> usize {
        self.read_index().by_sha256.len()
    }

    /// The number of served files and their total size.
    pub fn totals(&self) -> (usize, u64) {
        let index = self.read_index();
        let size = index.by_sha256.values().map(|e| e.file.size).sum();
        (index.by_sha256.len(), size)
    }

    /// A page of served files, newest first, and how many files are stored in all. Blocks.
    pub fn list(&self, offset: u64, limit: u32) -> Result<(Vec<Arc<Entry>>, u64), CatalogError> {
        let records = self.meta.list(offset, limit)?;
        let total = self.meta.count()?;
        let entries = records
            .iter()
            .filter_map(|record| self.get(&record.sha256))
            .collect();
        Ok((entries, total))
    }

    /// Checks the metadata store's own integrity (SQLite's `integrity_check`). Blocks.
    pub fn integrity_check(&self) -> Result<(), CatalogError> {
        Ok(self.meta.integrity_check()?)
    }

    /// The URLs handed out for stored files.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// The piece cache every read of a stored file goes through.
    pub fn cache(&self) -> &Arc<PieceCache> {
        &self.cache
    }

    /// Takes the commit lock (see the module docs).
    pub(crate) fn begin(&self) -> Commit<'_> {
        Commit {
            catalog: self,
            observers: self.commit.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// The entry for a stored record, from its stored torrent.
    pub(crate) fn load(&self, file: FileRecord) -> Result<Entry, CatalogError> {
        let upload = self
            .meta
            .upload(&file.sha256)?
            .ok_or_else(|| bad(&file.sha256, "its record vanished"))?;
        let torrent = Torrent::from_bytes(&upload.torrent.torrent)
            .map_err(|e| bad(&file.sha256, &e.to_string()))?;
        self.entry(upload, torrent)
    }

    /// The entry for `upload` with its parsed `torrent`: checks that the torrent describes the
    /// file and opens its pieces.
    pub(crate) fn entry(&self, upload: Upload, torrent: Torrent) -> Result<Entry, CatalogError> {
        let file = upload.file;
        let sha256 = file.sha256;
        let info_hash = torrent
            .info_hash()
            .v1()
            .ok_or_else(|| bad(&sha256, "it has no v1 info-hash"))?;
        if torrent.total_length() != file.size || torrent.piece_length() != PIECE_LENGTH {
            return Err(bad(
                &sha256,
                "its length or piece length does not match the file",
            ));
        }
        let hashes = (0..torrent.piece_count())
            .map(|i| torrent.piece_hash(PieceIndex(i)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(&sha256, "a piece hash is missing"))?;
        let pieces = PieceSource::open(Arc::clone(&self.content), &sha256, PIECE_LENGTH)?
            .with_piece_hashes(hashes)?;
        let mut owners = upload.owners;
        owners.sort();
        Ok(Entry {
            file,
            owners,
            info_hash,
            torrent: Arc::new(torrent),
            pieces,
            cache: Arc::clone(&self.cache),
        })
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `entry` in the index (replacing an older entry of the same file).
    fn insert(&self, entry: Arc<Entry>) {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        index
            .by_info_hash
            .insert(entry.info_hash, entry.file.sha256);
        index.by_sha256.insert(entry.file.sha256, entry);
    }

    /// Takes the file out of the index.
    fn take(&self, sha256: &Sha256) -> Option<Arc<Entry>> {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        let entry = index.by_sha256.remove(sha256)?;
        index.by_info_hash.remove(&entry.info_hash);
        Some(entry)
    }
}

impl Commit<'_> {
    /// Serves `entry` (new): indexes it, then tells the observers.
    pub(crate) fn publish(&self, entry: Arc<Entry>) {
        self.catalog.insert(Arc::clone(&entry));
        for observer in self.observers.iter() {
            observer.published(&entry);
        }
    }

    /// Replaces a served entry by a changed one (a new owner); observers are not told, since
    /// what they serve did not change.
    pub(crate) fn replace(&self, entry: Arc<Entry>) {
        self.catalog.insert(entry);
    }

    /// Stops serving `sha256`: out of the index, then the observers told. `None` when it was
    /// not served.
    pub(crate) fn unpublish(&self, sha256: &Sha256) -> Option<Arc<Entry>> {
        let entry = self.catalog.take(sha256)?;
        for observer in self.observers.iter() {
            observer.removed(&entry);
        }
        Some(entry)
    }
}

/// [`CatalogError::BadTorrent`] for `sha256`.
pub(crate) fn bad(sha256: &Sha256, reason: &str) -> CatalogError {
    CatalogError::BadTorrent {
        sha256: *sha256,
        reason: reason.to_owned(),
    }
}
