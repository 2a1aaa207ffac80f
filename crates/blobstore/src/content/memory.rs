//! A content store in memory (sha256-addressed blobs and BEP 3 piece-sized chunks), for tests
//! of the crates above and to keep [`ContentStore`] honest: it passes the same conformance
//! suite as the file-system store.
//!
//! It keeps the same layout rules (threshold, 2 MiB chunks, identical chunks stored once,
//! chunk reference counts) so that callers see the same [`Ingested`] and [`StoredFile`] values,
//! and it hashes on the calling thread (simple, and an independent check of the pipelined
//! ingest).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha1::Sha1;
use sha2::Digest;

use crate::content::{
    CHUNK_SIZE, ContentError, ContentOptions, ContentStore, IngestOptions, Ingested, PIECE_LENGTH,
    RemovedContent, StoredFile,
};
use crate::meta::{ChunkRecord, Layout};
use swarmgate_core::Sha256;

#[derive(Default)]
struct State {
    blobs: HashMap<Sha256, Arc<[u8]>>,
    chunked: HashMap<Sha256, StoredFile>,
    /// Each stored chunk with the number of chunk occurrences in stored files that use it.
    chunks: HashMap<Sha256, (Arc<[u8]>, u32)>,
}

/// Files addressed by sha256, in memory.
#[derive(Default)]
pub struct MemoryContentStore {
    options: ContentOptions,
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryContentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryContentStore")
            .field("options", &self.options)
            .field("blobs", &state.blobs.len())
            .field("chunked", &state.chunked.len())
            .field("chunks", &state.chunks.len())
            .finish()
    }
}

impl MemoryContentStore {
    /// An empty store with `options`.
    pub fn new(options: ContentOptions) -> Self {
        Self {
            options,
            state: Mutex::new(State::default()),
        }
    }

    /// The number of distinct chunks stored.
    pub fn chunk_count(&self) -> usize {
        self.lock().chunks.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change is made whole under the lock before anything can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads all of `reader`, enforcing `options`' limits.
fn read_all(reader: &mut dyn Read, options: &IngestOptions) -> Result<Vec<u8>, ContentError> {
    options.check()?;
    let limit = match options.expected_size {
        Some(expected) => expected.min(options.max_size),
        None => options.max_size,
    };
    let mut data = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|source| ContentError::Read { source })?;
    let size = data.len() as u64;
    if size > options.max_size {
        return Err(ContentError::TooLarge {
            limit: options.max_size,
        });
    }
    match options.expected_size {
        Some(expected) if expected != size => Err(ContentError::SizeMismatch {
            expected,
            actual: size,
        }),
        _ => Ok(data),
    }
}

impl ContentStore for MemoryContentStore {
    fn ingest(
        &self,
        reader: &mut dyn Read,
        options: &IngestOptions,
    ) -> Result<Ingested, ContentError> {
        let data = read_all(reader, options)?;
        let sha256 = Sha256(sha2::Sha256::digest(&data).into());
        let piece_sha1: Vec<[u8; 20]> = if options.piece_hashes {
            data.chunks(PIECE_LENGTH as usize)
                .map(|piece| Sha1::digest(piece).into())
                .collect()
        } else {
            Vec::new()
        };
        let size = data.len() as u64;
        let layout = self.options.layout_for(size);
        let mut state = self.lock();
        let mut ingested = Ingested {
            sha256,
            size,
            layout,
            chunks: Vec::new(),
            piece_sha1,
            already_present: false,
        };
        if layout == Layout::Blob {
            ingested.already_present = state.blobs.contains_key(&sha256);
            state.blobs.entry(sha256).or_insert_with(|| Arc::from(data));
            return Ok(ingested);
        }
        let parts: Vec<(Sha256, &[u8])> = data
            .chunks(CHUNK_SIZE as usize)
            .map(|chunk| (Sha256(sha2::Sha256::digest(chunk).into()), chunk))
            .collect();
        ingested.chunks = parts
            .iter()
            .enumerate()
            .map(|(index, (hash, bytes))| ChunkRecord {
                index: index as u32,
                sha256: *hash,
                size: bytes.len() as u64,
            })
            .collect();
        if state.chunked.contains_key(&sha256) {
            ingested.already_present = true;
            return Ok(ingested);
        }
        let file = StoredFile::chunked(
            sha256,
            size,
            CHUNK_SIZE,
            parts.iter().map(|(hash, _)| *hash).collect(),
            (!ingested.piece_sha1.is_empty()).then(|| ingested.piece_sha1.clone()),
        )?;
        for (hash, bytes) in parts {
            state
                .chunks
                .entry(hash)
                .or_insert_with(|| (Arc::from(bytes), 0))
                .1 += 1;
        }
        state.chunked.insert(sha256, file);
        Ok(ingested)
    }

    fn stat(&self, sha256: &Sha256) -> Result<Option<StoredFile>, ContentError> {
        let state = self.lock();
        if let Some(blob) = state.blobs.get(sha256) {
            return Ok(Some(StoredFile::blob(*sha256, blob.len() as u64)));
        }
        Ok(state.chunked.get(sha256).cloned())
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
        let state = self.lock();
        let not_found = || ContentError::NotFound {
            sha256: *file.sha256(),
        };
        if file.chunk_size().is_none() {
            let blob = state.blobs.get(file.sha256()).ok_or_else(not_found)?;
            let start = offset as usize;
            let bytes = blob
                .get(start..start + buf.len())
                .ok_or_else(|| ContentError::corrupt(file.sha256(), "shorter than recorded"))?;
            buf.copy_from_slice(bytes);
            return Ok(());
        }
        if !state.chunked.contains_key(file.sha256()) {
            return Err(not_found());
        }
        file.chunk_pieces(offset, buf.len(), |index, within, at, len| {
            let hash = &file.chunks()[index];
            let (chunk, _) = state
                .chunks
                .get(hash)
                .ok_or_else(|| ContentError::corrupt(hash, "chunk missing"))?;
            let start = within as usize;
            let bytes = chunk
                .get(start..start + len)
                .ok_or_else(|| ContentError::corrupt(hash, "shorter than recorded"))?;
            buf[at..at + len].copy_from_slice(bytes);
            Ok(())
        })
    }

    fn remove(&self, sha256: &Sha256) -> Result<Option<RemovedContent>, ContentError> {
        let mut state = self.lock();
        if let Some(blob) = state.blobs.remove(sha256) {
            return Ok(Some(RemovedContent {
                layout: Layout::Blob,
                size: blob.len() as u64,
                chunks_deleted: 0,
                chunks_kept: 0,
            }));
        }
        let Some(file) = state.chunked.remove(sha256) else {
            return Ok(None);
        };
        let mut removed = RemovedContent {
            layout: file.layout(),
            size: file.size(),
            chunks_deleted: 0,
            chunks_kept: 0,
        };
        let mut uses: HashMap<Sha256, u32> = HashMap::new();
        for chunk in file.chunks() {
            *uses.entry(*chunk).or_default() += 1;
        }
        for (chunk, count) in uses {
            let left = state
                .chunks
                .get(&chunk)
                .map_or(0, |(_, refs)| refs.saturating_sub(count));
            if left > 0 {
                if let Some(entry) = state.chunks.get_mut(&chunk) {
                    entry.1 = left;
                }
                removed.chunks_kept += 1;
            } else {
                state.chunks.remove(&chunk);
                removed.chunks_deleted += 1;
            }
        }
        Ok(Some(removed))
    }

    fn list(&self) -> Result<Vec<Sha256>, ContentError> {
        let state = self.lock();
        let mut all: Vec<Sha256> = state
            .blobs
            .keys()
            .chain(state.chunked.keys())
            .copied()
            .collect();
        all.sort_unstable();
        Ok(all)
    }

    fn has_chunk(&self, sha256: &Sha256) -> Result<bool, ContentError> {
        Ok(self.lock().chunks.contains_key(sha256))
    }
}
