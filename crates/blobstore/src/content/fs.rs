//! The content store on a local file system (sha256-addressed blobs and BEP 3 piece-sized
//! chunks): opening a data folder, recovery after a crash, reads.
//!
//! Opening reads every manifest to count chunk references (only files over the threshold have
//! one, so a terabyte of them is some thousands of small files), then recovers `tmp/`: a
//! manifest left there by a crash mid-commit or mid-removal has its unused chunks deleted, and
//! everything in `tmp/` is removed. Writing (commit, removal) is in the `fs_write` module.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::content::manifest::{MAX_CHUNKS, Manifest};
use crate::content::{
    ContentError, ContentOptions, ContentStore, IngestOptions, Ingested, RemovedContent, StoredFile,
};
use swarmgate_core::Sha256;

/// What [`FsContentStore::open`] cleaned up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Entries removed from `tmp/` (ingests and removals cut short).
    pub temp_entries_removed: u64,
    /// Chunks deleted because a manifest left in `tmp/` listed them and no stored file uses them.
    pub orphan_chunks_removed: u64,
    /// Manifests that do not decode (or do not match their name): those files cannot be read
    /// ([`ContentError::Corrupt`]) and their chunks are not counted. Restore them from a backup.
    pub corrupt_manifests: Vec<PathBuf>,
}

/// The chunk reference counts (one per chunk occurrence in a stored manifest); its mutex also
/// serialises commits and removals.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) chunk_refs: HashMap<Sha256, u32>,
}

/// Files addressed by sha256 under a data folder (`blobs/`, `chunks/`, `manifests/`, `tmp/`).
///
/// `Send + Sync`, `&self` methods: one instance per data folder and process.
#[derive(Debug)]
pub struct FsContentStore {
    pub(crate) root: PathBuf,
    pub(crate) options: ContentOptions,
    pub(crate) index: Mutex<Index>,
    recovery: Recovery,
    instance: u64,
    next_temp: AtomicU64,
}

/// `dir/ab/cd/<hex>`.
pub(crate) fn fanout(dir: &Path, hash: &Sha256) -> PathBuf {
    let hex = hash.to_hex();
    dir.join(&hex[..2]).join(&hex[2..4]).join(hex)
}

/// Reads a manifest file; `None` when absent.
pub(crate) fn read_manifest(path: &Path) -> Result<Option<Manifest>, ContentError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(ContentError::io(path, error)),
    };
    match Manifest::decode(&bytes, MAX_CHUNKS) {
        Ok(Some((manifest, used))) if used == bytes.len() => Ok(Some(manifest)),
        Ok(Some(_)) => Err(ContentError::corrupt(path.display(), "trailing bytes")),
        Ok(None) => Err(ContentError::corrupt(path.display(), "truncated manifest")),
        Err(error) => Err(ContentError::corrupt(path.display(), error.to_string())),
    }
}

/// `fsync` of a folder, so the entries created or removed in it are durable.
pub(crate) fn sync_dir(path: &Path) -> Result<(), ContentError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(ContentError::at(path))
}

/// Every `ab/cd/<64 hex>` file under `dir`, as (hash, path).
fn walk_fanout(dir: &Path) -> Result<Vec<(Sha256, PathBuf)>, ContentError> {
    let mut out = Vec::new();
    let read = |path: &Path| -> Result<Vec<(String, PathBuf)>, ContentError> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path).map_err(ContentError::at(path))? {
            let entry = entry.map_err(ContentError::at(path))?;
            if let Ok(name) = entry.file_name().into_string() {
                entries.push((name, entry.path()));
            }
        }
        Ok(entries)
    };
    for (first, first_path) in read(dir)? {
        if first.len() != 2 || !first_path.is_dir() {
            continue;
        }
        for (second, second_path) in read(&first_path)? {
            if second.len() != 2 || !second_path.is_dir() {
                continue;
            }
            for (name, path) in read(&second_path)? {
                let Ok(hash) = name.parse::<Sha256>() else {
                    continue;
                };
                if name == hash.to_hex() && name[..2] == first && name[2..4] == second {
                    out.push((hash, path));
                }
            }
        }
    }
    Ok(out)
}

impl FsContentStore {
    /// Opens (creating if needed) the store under `root` with the default [`ContentOptions`].
    pub fn open(root: impl AsRef<Path>) -> Result<Self, ContentError> {
        Self::open_with(root, ContentOptions::default())
    }

    /// Opens (creating if needed) the store under `root`: counts chunk references from the
    /// manifests and recovers `tmp/` (see [`FsContentStore::recovery`]).
    pub fn open_with(
        root: impl AsRef<Path>,
        options: ContentOptions,
    ) -> Result<Self, ContentError> {
        let root = root.as_ref().to_path_buf();
        for dir in ["blobs", "chunks", "manifests", "tmp"] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path).map_err(ContentError::at(&path))?;
        }
        let mut index = Index::default();
        let mut recovery = Recovery::default();
        for (hash, path) in walk_fanout(&root.join("manifests"))? {
            match read_manifest(&path) {
                Ok(Some(manifest)) if manifest.sha256 == hash => {
                    for chunk in manifest.chunks {
                        *index.chunk_refs.entry(chunk).or_default() += 1;
                    }
                }
                Ok(None) => {}
                Ok(Some(_)) | Err(_) => recovery.corrupt_manifests.push(path),
            }
        }
        recover_tmp(&root, &index, &mut recovery)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Ok(Self {
            root,
            options,
            index: Mutex::new(index),
            recovery,
            instance: u64::from(std::process::id()) << 32 | u64::from(nanos),
            next_temp: AtomicU64::new(0),
        })
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The layout options.
    pub fn options(&self) -> &ContentOptions {
        &self.options
    }

    /// What opening cleaned up.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The number of distinct chunks stored files use.
    pub fn chunk_count(&self) -> usize {
        self.lock().chunk_refs.len()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Index> {
        // The counts are only changed after the disk operation they describe succeeded.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A name no other temporary file of this process has, nor (with the start time) of
    /// another one.
    pub(crate) fn temp_id(&self) -> String {
        let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n}", self.instance)
    }

    pub(crate) fn blob_path(&self, hash: &Sha256) -> PathBuf {
        fanout(&self.root.join("blobs"), hash)
    }

    pub(crate) fn chunk_path(&self, hash: &Sha256) -> PathBuf {
        fanout(&self.root.join("chunks"), hash)
    }

    pub(crate) fn manifest_path(&self, hash: &Sha256) -> PathBuf {
        fanout(&self.root.join("manifests"), hash)
    }

    fn read_chunked(
        &self,
        file: &StoredFile,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ContentError> {
        file.chunk_pieces(offset, buf.len(), |index, within, at, len| {
            let path = self.chunk_path(&file.chunks()[index]);
            let chunk = match File::open(&path) {
                Ok(chunk) => chunk,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(if self.manifest_path(file.sha256()).exists() {
                        ContentError::corrupt(path.display(), "chunk missing")
                    } else {
                        ContentError::NotFound {
                            sha256: *file.sha256(),
                        }
                    });
                }
                Err(error) => return Err(ContentError::io(&path, error)),
            };
            chunk
                .read_exact_at(&mut buf[at..at + len], within)
                .map_err(|error| short_or_io(&path, error))
        })
    }
}

fn short_or_io(path: &Path, error: io::Error) -> ContentError {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        ContentError::corrupt(path.display(), "shorter than recorded")
    } else {
        ContentError::io(path, error)
    }
}

/// Deletes the unused chunks of manifests left in `tmp/`, then empties `tmp/`.
fn recover_tmp(root: &Path, index: &Index, recovery: &mut Recovery) -> Result<(), ContentError> {
    let tmp = root.join("tmp");
    let chunks = root.join("chunks");
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(&tmp).map_err(ContentError::at(&tmp))? {
        entries.push(entry.map_err(ContentError::at(&tmp))?.path());
    }
    for path in &entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let is_manifest = name
            .as_deref()
            .is_some_and(|n| n.ends_with(".manifest") || n.ends_with(".removing"));
        if !is_manifest {
            continue;
        }
        // A manifest cut short was never committed: its chunks were never renamed.
        let Ok(Some(manifest)) = read_manifest(path) else {
            continue;
        };
        for chunk in &manifest.chunks {
            if index.chunk_refs.contains_key(chunk) {
                continue;
            }
            let chunk_path = fanout(&chunks, chunk);
            match std::fs::remove_file(&chunk_path) {
                Ok(()) => {
                    recovery.orphan_chunks_removed += 1;
                    if let Some(parent) = chunk_path.parent() {
                        sync_dir(parent)?;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(ContentError::io(&chunk_path, error)),
            }
        }
    }
    for path in entries {
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(ContentError::at(&path))?;
        recovery.temp_entries_removed += 1;
    }
    sync_dir(&tmp)
}

impl ContentStore for FsContentStore {
    fn ingest(
        &self,
        reader: &mut dyn io::Read,
        options: &IngestOptions,
    ) -> Result<Ingested, ContentError> {
        self.ingest_stream(reader, options)
    }

    fn stat(&self, sha256: &Sha256) -> Result<Option<StoredFile>, ContentError> {
        let blob = self.blob_path(sha256);
        match std::fs::metadata(&blob) {
            Ok(meta) if meta.is_file() => return Ok(Some(StoredFile::blob(*sha256, meta.len()))),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(ContentError::io(&blob, error)),
        }
        let path = self.manifest_path(sha256);
        let Some(manifest) = read_manifest(&path)? else {
            return Ok(None);
        };
        if manifest.sha256 != *sha256 {
            return Err(ContentError::corrupt(path.display(), "names another file"));
        }
        StoredFile::chunked(
            manifest.sha256,
            manifest.size,
            manifest.chunk_size,
            manifest.chunks,
            manifest.piece_sha1,
        )
        .map(Some)
    }

    fn read_exact_at(
        &self,
        file: &StoredFile,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ContentError> {
        file.check_range(offset, buf.len() as u64)?;
        if buf.is_empty() {
            return Ok(());
        }
        if file.chunk_size().is_some() {
            return self.read_chunked(file, offset, buf);
        }
        let path = self.blob_path(file.sha256());
        let blob = File::open(&path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => ContentError::NotFound {
                sha256: *file.sha256(),
            },
            _ => ContentError::io(&path, error),
        })?;
        blob.read_exact_at(buf, offset)
            .map_err(|error| short_or_io(&path, error))
    }

    fn remove(&self, sha256: &Sha256) -> Result<Option<RemovedContent>, ContentError> {
        self.remove_file(sha256)
    }

    fn list(&self) -> Result<Vec<Sha256>, ContentError> {
        let mut all: Vec<Sha256> = walk_fanout(&self.root.join("blobs"))?
            .into_iter()
            .chain(walk_fanout(&self.root.join("manifests"))?)
            .map(|(hash, _)| hash)
            .collect();
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }

    fn has_chunk(&self, sha256: &Sha256) -> Result<bool, ContentError> {
        Ok(self.chunk_path(sha256).is_file())
    }
}
