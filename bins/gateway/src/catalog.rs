//! The stored files as the gateway serves them (BEP 3 torrents over the content store): the
//! upload path (content, then metadata, then tracker and seeder), start-up loading, deletion.
//!
//! Order is what makes "acknowledged means kept" true: an upload's bytes are durable and
//! renamed into place by the content store before its metadata is committed, and the answer
//! goes out only after that commit. A crash in between leaves content with no record, which
//! [`Catalog::open`] sweeps at the next start (it was never acknowledged). A file is served
//! (tracker, seeder, web seed, download) only once it is in the in-memory index, after its
//! commit.
//!
//! Every method here blocks (SQLite, files): async callers use `spawn_blocking`.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use swarmgate_blobstore::{
    ContentError, ContentStore, FileRecord, FsContentStore, IngestOptions, MetaError,
    MetadataStore, PIECE_LENGTH, PieceSource, SqliteStore, TorrentRecord, Upload,
};
use swarmgate_core::Sha256;
use swarmgate_core::{InfoHashV1, PieceIndex};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::{CacheId, PieceCache};

use crate::links::{Links, info_dictionary, sanitize_name};

/// One served file.
pub(crate) struct Entry {
    /// Its metadata.
    pub file: FileRecord,
    /// Its torrent's v1 info-hash.
    pub info_hash: InfoHashV1,
    /// Its torrent, as stored.
    pub torrent: Arc<Torrent>,
    /// Its pieces in the content store, with their SHA-1s to verify reads against.
    pub pieces: PieceSource,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("file", &self.file)
            .field("info_hash", &self.info_hash)
            .finish_non_exhaustive()
    }
}

/// Why an upload or lookup failed, shaped by the status the API answers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CatalogError {
    /// The content store refused or failed (size limits, short uploads, I/O).
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// An empty upload: a torrent cannot describe it.
    #[error("the upload is empty: an empty file cannot be shared over BitTorrent")]
    Empty,
    /// The stored torrent of a file does not parse (database damage).
    #[error("stored torrent of {sha256} is unreadable: {reason}")]
    BadTorrent {
        /// The file.
        sha256: String,
        /// What is wrong.
        reason: String,
    },
}

/// What an upload produced.
#[derive(Debug)]
pub(crate) struct Published {
    /// The file, now served.
    pub entry: Arc<Entry>,
    /// It was already stored: nothing new was kept.
    pub existing: bool,
}

/// The stored files: metadata, content, the cache in front of it, and the in-memory index the
/// servers read.
#[derive(Debug)]
pub(crate) struct Catalog {
    meta: SqliteStore,
    content: Arc<FsContentStore>,
    cache: Arc<PieceCache>,
    entries: RwLock<Index>,
}

/// The served files by sha256 and by info-hash.
#[derive(Debug, Default)]
struct Index {
    by_sha256: HashMap<Sha256, Arc<Entry>>,
    by_info_hash: HashMap<InfoHashV1, Sha256>,
}

/// What start-up found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Loaded {
    /// Files served.
    pub files: usize,
    /// Records whose content is missing or whose torrent is unreadable: not served.
    pub broken: usize,
    /// Content with no record (an upload never acknowledged), removed.
    pub swept: usize,
}

impl Catalog {
    /// Opens the stores and loads every stored file into the index; content without a record
    /// is removed.
    pub(crate) fn open(
        meta: SqliteStore,
        content: Arc<FsContentStore>,
        cache: Arc<PieceCache>,
    ) -> Result<(Catalog, Loaded), CatalogError> {
        let catalog = Catalog {
            meta,
            content,
            cache,
            entries: RwLock::new(Index::default()),
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
                match catalog.load(file) {
                    Ok(entry) => {
                        catalog.insert(entry);
                        loaded.files += 1;
                    }
                    Err(error) => {
                        tracing::error!(%error, "a stored file is not served");
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

    fn load(&self, file: FileRecord) -> Result<Entry, CatalogError> {
        let record = self
            .meta
            .torrent(&file.sha256)?
            .ok_or_else(|| CatalogError::BadTorrent {
                sha256: file.sha256.to_hex(),
                reason: "no torrent record".into(),
            })?;
        let torrent = parse_torrent(&file.sha256, &record)?;
        self.entry(file, torrent)
    }

    fn entry(&self, file: FileRecord, torrent: Torrent) -> Result<Entry, CatalogError> {
        let bad = |reason: &str| CatalogError::BadTorrent {
            sha256: file.sha256.to_hex(),
            reason: reason.to_owned(),
        };
        let info_hash = torrent
            .info_hash()
            .v1()
            .ok_or_else(|| bad("no v1 info-hash"))?;
        if torrent.total_length() != file.size || torrent.piece_length() != PIECE_LENGTH {
            return Err(bad("its length or piece length does not match the file"));
        }
        let hashes = (0..torrent.piece_count())
            .map(|i| {
                torrent
                    .piece_hash(PieceIndex(i))
                    .ok_or_else(|| bad("a piece hash is missing"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let store: Arc<dyn ContentStore> = Arc::clone(&self.content) as Arc<dyn ContentStore>;
        let pieces =
            PieceSource::open(store, &file.sha256, PIECE_LENGTH)?.with_piece_hashes(hashes)?;
        Ok(Entry {
            file,
            info_hash,
            torrent: Arc::new(torrent),
            pieces,
        })
    }

    fn insert(&self, entry: Entry) -> Arc<Entry> {
        self.insert_arc(Arc::new(entry))
    }

    fn insert_arc(&self, entry: Arc<Entry>) -> Arc<Entry> {
        let mut index = self.entries.write().unwrap_or_else(|p| p.into_inner());
        index
            .by_info_hash
            .insert(entry.info_hash, entry.file.sha256);
        index
            .by_sha256
            .insert(entry.file.sha256, Arc::clone(&entry));
        entry
    }

    /// Stores an upload from `reader` named `name` (sanitised) and indexes it. An upload of
    /// content already stored answers the stored file.
    pub(crate) fn publish(
        &self,
        reader: &mut dyn Read,
        name: &str,
        mime: &str,
        options: &IngestOptions,
        links: &Links,
    ) -> Result<Published, CatalogError> {
        let options = IngestOptions {
            piece_hashes: true,
            ..*options
        };
        let ingested = self.content.ingest(reader, &options)?;
        if ingested.size == 0 {
            return Err(CatalogError::Empty);
        }
        if let Some(entry) = self.get(&ingested.sha256) {
            return Ok(Published {
                entry,
                existing: true,
            });
        }
        let name = sanitize_name(name, &ingested.sha256.to_hex());
        let info = info_dictionary(&name, ingested.size, PIECE_LENGTH, &ingested.piece_sha1);
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let bytes = links.torrent_file(&ingested.sha256, &info, created);
        let torrent = Torrent::from_bytes(&bytes).map_err(|e| CatalogError::BadTorrent {
            sha256: ingested.sha256.to_hex(),
            reason: e.to_string(),
        })?;
        let info_hash = torrent.info_hash();
        let v1 = info_hash.v1().unwrap_or(InfoHashV1([0; 20]));
        let file = FileRecord {
            sha256: ingested.sha256,
            name: name.clone(),
            size: ingested.size,
            mime: mime.to_owned(),
            layout: ingested.layout,
            created,
            owner: None,
        };
        let upload = Upload {
            file: file.clone(),
            torrent: TorrentRecord {
                info_hash,
                piece_length: u64::from(PIECE_LENGTH),
                piece_count: torrent.piece_count(),
                magnet: links.magnet(&ingested.sha256, v1, &name),
                torrent: bytes,
            },
            chunks: ingested.chunks,
            owners: Vec::new(),
        };
        match self.meta.put(&upload) {
            Ok(()) => {}
            // The same bytes, uploaded twice at once: the other one won.
            Err(MetaError::Conflict { .. }) => {
                if let Some(file) = self.meta.file(&ingested.sha256)? {
                    let entry = self.load(file)?;
                    return Ok(Published {
                        entry: self.insert(entry),
                        existing: true,
                    });
                }
                return Err(MetaError::Conflict {
                    what: "info-hash".into(),
                }
                .into());
            }
            Err(error) => return Err(error.into()),
        }
        let entry = self.entry(file, torrent)?;
        Ok(Published {
            entry: self.insert(entry),
            existing: false,
        })
    }

    /// The file with this sha256, if served.
    pub(crate) fn get(&self, sha256: &Sha256) -> Option<Arc<Entry>> {
        let index = self.entries.read().unwrap_or_else(|p| p.into_inner());
        index.by_sha256.get(sha256).cloned()
    }

    /// The file whose torrent has this v1 info-hash, if served.
    pub(crate) fn by_info_hash(&self, info_hash: &InfoHashV1) -> Option<Arc<Entry>> {
        let index = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let sha256 = index.by_info_hash.get(info_hash)?;
        index.by_sha256.get(sha256).cloned()
    }

    /// Every served file.
    pub(crate) fn all(&self) -> Vec<Arc<Entry>> {
        let index = self.entries.read().unwrap_or_else(|p| p.into_inner());
        index.by_sha256.values().cloned().collect()
    }

    /// The number of served files and their total size.
    pub(crate) fn totals(&self) -> (usize, u64) {
        let index = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let size = index.by_sha256.values().map(|e| e.file.size).sum();
        (index.by_sha256.len(), size)
    }

    /// A page of files, newest first, from the database.
    pub(crate) fn list(
        &self,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<FileRecord>, u64), CatalogError> {
        Ok((self.meta.list(offset, limit)?, self.meta.count()?))
    }

    /// Deletes a file: out of the index first (no new reads), then its metadata, then its
    /// content and cached pieces. `false` when it was not stored.
    pub(crate) fn delete(&self, sha256: &Sha256) -> Result<bool, CatalogError> {
        let removed = {
            let mut index = self.entries.write().unwrap_or_else(|p| p.into_inner());
            let removed = index.by_sha256.remove(sha256);
            if let Some(entry) = &removed {
                index.by_info_hash.remove(&entry.info_hash);
            }
            removed
        };
        let recorded = match self.meta.delete(sha256) {
            Ok(_) => true,
            Err(MetaError::NotFound { .. }) => false,
            Err(error) => {
                if let Some(entry) = removed {
                    self.insert_arc(entry);
                }
                return Err(error.into());
            }
        };
        self.content.remove(sha256)?;
        self.cache.remove_all(&CacheId::File {
            sha256: *sha256,
            piece_length: PIECE_LENGTH,
        });
        Ok(recorded || removed.is_some())
    }

    /// The metadata store (counters, integrity checks).
    pub(crate) fn meta(&self) -> &SqliteStore {
        &self.meta
    }

    /// The piece cache.
    pub(crate) fn cache(&self) -> &Arc<PieceCache> {
        &self.cache
    }
}

fn parse_torrent(sha256: &Sha256, record: &TorrentRecord) -> Result<Torrent, CatalogError> {
    Torrent::from_bytes(&record.torrent).map_err(|e| CatalogError::BadTorrent {
        sha256: sha256.to_hex(),
        reason: e.to_string(),
    })
}
