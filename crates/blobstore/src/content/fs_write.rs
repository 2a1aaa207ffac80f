//! Making staged uploads visible and removing files (sha256-addressed blobs, BEP 3 piece-sized
//! chunks), each under the store's one lock.
//!
//! A blob commit is one rename. A chunked commit writes the manifest to `tmp/` and syncs it,
//! renames each new chunk into `chunks/` (a chunk already stored is not written again), syncs the
//! chunk folders, then renames the manifest into `manifests/`: the file exists from that rename
//! on. A removal renames the manifest back into `tmp/` (the file is gone from that moment),
//! deletes the chunks no other file uses, then the manifest. The folders touched (and those
//! created) are synced after all renames of a step, four at a time, so the file system can
//! commit them together and the device's flushes overlap.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::content::fs::{FsContentStore, read_manifest, sync_dir};
use crate::content::ingest::{self, Staged, StagedBody};
use crate::content::manifest::Manifest;
use crate::content::{CHUNK_SIZE, ContentError, IngestOptions, Ingested, RemovedContent};
use crate::meta::{ChunkRecord, Layout};
use swarmgate_core::Sha256;

/// Creates `dir` (an `ab/cd` folder) and its parent when missing, syncing the folders that
/// gained an entry.
fn ensure_dir(dir: &Path) -> Result<(), ContentError> {
    let mut gained = BTreeSet::new();
    create_dirs(dir, &mut gained)?;
    sync_dirs(&gained)
}

/// Creates `dir` and its missing parents; the folders that gained an entry join `gained`, to be
/// synced.
fn create_dirs(dir: &Path, gained: &mut BTreeSet<PathBuf>) -> Result<(), ContentError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.is_dir() {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    for path in missing.iter().rev() {
        match std::fs::create_dir(path) {
            Ok(()) => {
                if let Some(parent) = path.parent() {
                    gained.insert(parent.to_path_buf());
                }
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(ContentError::io(path, error)),
        }
    }
    Ok(())
}

/// `fsync`s every folder of `folders`, a few at a time: each waits for the device (a journal
/// commit or a cache flush) and concurrent ones share the wait. A chunked file of 1 GiB puts its
/// 512 chunks in some 500 different `ab/cd` folders.
fn sync_dirs(folders: &BTreeSet<PathBuf>) -> Result<(), ContentError> {
    const AT_ONCE: usize = 4;
    let folders: Vec<&PathBuf> = folders.iter().collect();
    if folders.len() < 2 * AT_ONCE {
        return folders.into_iter().try_for_each(|folder| sync_dir(folder));
    }
    let share = folders.len().div_ceil(AT_ONCE);
    std::thread::scope(|scope| {
        let syncers: Vec<_> = folders
            .chunks(share)
            .map(|mine| {
                std::thread::Builder::new()
                    .name("content-fsync".to_owned())
                    .spawn_scoped(scope, move || {
                        mine.iter().try_for_each(|folder| sync_dir(folder))
                    })
                    .unwrap_or_else(|error| panic!("starting a folder sync thread: {error}"))
            })
            .collect();
        let results: Vec<Result<(), ContentError>> = syncers
            .into_iter()
            .map(|syncer| {
                syncer
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        results.into_iter().collect()
    })
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(path)
}

fn rename(from: &Path, to: &Path) -> Result<(), ContentError> {
    std::fs::rename(from, to).map_err(ContentError::at(to))
}

impl FsContentStore {
    pub(crate) fn ingest_stream(
        &self,
        reader: &mut dyn Read,
        options: &IngestOptions,
    ) -> Result<Ingested, ContentError> {
        let tmp = self.tmp();
        let id = self.temp_id();
        let staged = ingest::stage(&tmp, &id, self.options.threshold(), reader, options)?;
        let committed = self.commit(&staged, &tmp.join(format!("{id}.manifest")));
        if committed.is_err() {
            staged.discard();
            let _ = std::fs::remove_file(tmp.join(format!("{id}.manifest")));
        }
        committed
    }

    fn commit(&self, staged: &Staged, manifest_temp: &Path) -> Result<Ingested, ContentError> {
        let mut index = self.lock();
        let mut ingested = Ingested {
            sha256: staged.sha256,
            size: staged.size,
            layout: Layout::Blob,
            chunks: Vec::new(),
            piece_sha1: staged.piece_sha1.clone(),
            already_present: false,
        };
        let chunks = match &staged.body {
            StagedBody::Blob(temp) => {
                let target = self.blob_path(&staged.sha256);
                if target.is_file() {
                    staged.discard();
                    ingested.already_present = true;
                } else {
                    ensure_dir(parent(&target))?;
                    rename(temp, &target)?;
                    sync_dir(parent(&target))?;
                }
                return Ok(ingested);
            }
            StagedBody::Chunked(chunks) => chunks,
        };
        ingested.layout = Layout::Chunked {
            chunk_size: u64::from(CHUNK_SIZE),
        };
        ingested.chunks = chunks
            .iter()
            .enumerate()
            .map(|(index, chunk)| ChunkRecord {
                index: index as u32,
                sha256: chunk.sha256,
                size: u64::from(chunk.size),
            })
            .collect();
        let target = self.manifest_path(&staged.sha256);
        if target.is_file() {
            staged.discard();
            ingested.already_present = true;
            return Ok(ingested);
        }
        let manifest = Manifest {
            sha256: staged.sha256,
            size: staged.size,
            chunk_size: CHUNK_SIZE,
            chunks: chunks.iter().map(|chunk| chunk.sha256).collect(),
            piece_sha1: (!staged.piece_sha1.is_empty()).then(|| staged.piece_sha1.clone()),
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(manifest_temp)
            .map_err(ContentError::at(manifest_temp))?;
        file.write_all(&manifest.encode())
            .and_then(|()| file.sync_data())
            .map_err(ContentError::at(manifest_temp))?;
        drop(file);
        sync_dir(parent(manifest_temp))?;
        // Chunks this commit put in place: taken back if the commit fails after all, since no
        // manifest (committed or in `tmp/`) would account for them.
        let mut placed = BTreeSet::new();
        let result = (|| {
            let mut folders = BTreeSet::new();
            for chunk in chunks {
                let chunk_target = self.chunk_path(&chunk.sha256);
                if placed.contains(&chunk.sha256)
                    || index.chunk_refs.contains_key(&chunk.sha256)
                    || chunk_target.is_file()
                {
                    std::fs::remove_file(&chunk.path).map_err(ContentError::at(&chunk.path))?;
                    continue;
                }
                create_dirs(parent(&chunk_target), &mut folders)?;
                rename(&chunk.path, &chunk_target)?;
                placed.insert(chunk.sha256);
                folders.insert(parent(&chunk_target).to_path_buf());
            }
            // Every new folder and renamed chunk is durable before the manifest's rename.
            sync_dirs(&folders)?;
            ensure_dir(parent(&target))?;
            rename(manifest_temp, &target)
        })();
        if let Err(error) = result {
            for chunk in &placed {
                let _ = std::fs::remove_file(self.chunk_path(chunk));
            }
            return Err(error);
        }
        // The file exists from the rename on: count its chunks whatever the syncs say.
        for chunk in &manifest.chunks {
            *index.chunk_refs.entry(*chunk).or_default() += 1;
        }
        drop(index);
        sync_dir(parent(&target))?;
        sync_dir(parent(manifest_temp))?;
        Ok(ingested)
    }

    pub(crate) fn remove_file(
        &self,
        sha256: &Sha256,
    ) -> Result<Option<RemovedContent>, ContentError> {
        let mut index = self.lock();
        let blob = self.blob_path(sha256);
        match std::fs::metadata(&blob) {
            Ok(meta) if meta.is_file() => {
                std::fs::remove_file(&blob).map_err(ContentError::at(&blob))?;
                sync_dir(parent(&blob))?;
                return Ok(Some(RemovedContent {
                    layout: Layout::Blob,
                    size: meta.len(),
                    chunks_deleted: 0,
                    chunks_kept: 0,
                }));
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(ContentError::io(&blob, error)),
        }
        let path = self.manifest_path(sha256);
        let Some(manifest) = read_manifest(&path)? else {
            return Ok(None);
        };
        let removing: PathBuf = self.tmp().join(format!("{}.removing", self.temp_id()));
        rename(&path, &removing)?;
        sync_dir(parent(&path))?;
        sync_dir(parent(&removing))?;
        let mut uses: BTreeMap<Sha256, u32> = BTreeMap::new();
        for chunk in &manifest.chunks {
            *uses.entry(*chunk).or_default() += 1;
        }
        let mut removed = RemovedContent {
            layout: Layout::Chunked {
                chunk_size: u64::from(manifest.chunk_size),
            },
            size: manifest.size,
            chunks_deleted: 0,
            chunks_kept: 0,
        };
        let mut folders = BTreeSet::new();
        for (chunk, count) in uses {
            let left = index
                .chunk_refs
                .get(&chunk)
                .map_or(0, |refs| refs.saturating_sub(count));
            if left > 0 {
                index.chunk_refs.insert(chunk, left);
                removed.chunks_kept += 1;
                continue;
            }
            let chunk_path = self.chunk_path(&chunk);
            match std::fs::remove_file(&chunk_path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(ContentError::io(&chunk_path, error)),
            }
            index.chunk_refs.remove(&chunk);
            removed.chunks_deleted += 1;
            folders.insert(parent(&chunk_path).to_path_buf());
        }
        sync_dirs(&folders)?;
        std::fs::remove_file(&removing).map_err(ContentError::at(&removing))?;
        Ok(Some(removed))
    }
}
