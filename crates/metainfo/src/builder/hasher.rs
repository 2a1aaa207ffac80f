//! Parallel piece hashing: every core reads and hashes its own pieces.
//!
//! Workers take batches of consecutive pieces from a shared counter, so the cores stay busy to
//! the end and reads stay close to sequential. Each worker streams its pieces through one small
//! buffer ([`CHUNK`], sized to stay in L2 cache) and keeps its current file open, so memory is
//! `cores x 256 KiB` whatever the piece length or the torrent's size, and the bytes the kernel
//! copies in are still in cache when the hash reads them (reading whole 4 MiB pieces cost a
//! quarter more CPU, measured). A v1 piece gets a SHA-1; for hybrid torrents the same bytes also
//! give the SHA-256 of each 16 KiB block of file data (the BEP 52 leaves), so the data is read
//! once for both views.
//!
//! When mapping is on (the default), a worker hashes straight from a read-only memory map of the
//! file instead: that saves the kernel's copy into the buffer, a fifth of the CPU time on a file
//! in the page cache (docs/decisions/0002-mmap-for-hashing.md has the figures and the risk: a file
//! truncated by another process while it is hashed ends the process with SIGBUS, as in ripgrep).
//! A file that cannot be mapped (a pipe, a special file) falls back to reads.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use filebuffer::FileBuffer;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::BuildError;
use crate::merkle::{Hash32, LEAF_SIZE};

/// The read size: a multiple of the 16 KiB leaf, small enough to stay in L2 cache.
const CHUNK: usize = 256 * 1024;

/// One entry of the padded layout: a real file on disk, or zeros.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// The file to read, or `None` for a pad.
    pub(crate) path: Option<PathBuf>,
    pub(crate) length: u64,
}

/// How workers get at file bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Hash straight from a read-only memory map, falling back to reads when a file won't map.
    Map,
    /// `read()` into a small buffer.
    Read,
}

/// The file a worker has open: mapped, or read through a buffer.
enum OpenFile {
    Mapped(FileBuffer),
    Read(File),
}

/// What hashing produced: one SHA-1 per piece and, when asked, the 16 KiB SHA-256 leaves of each
/// piece's file data, piece by piece.
pub(crate) struct Hashes {
    pub(crate) sha1: Vec<[u8; 20]>,
    pub(crate) leaves: Vec<Vec<Hash32>>,
}

/// Hashes `sources` laid end to end in `piece_length` pieces on `threads` threads, calling
/// `progress(done, total)` from the calling thread as bytes are hashed.
pub(crate) fn hash_pieces(
    sources: &[Source],
    piece_length: u64,
    want_leaves: bool,
    threads: usize,
    access: Access,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Hashes, BuildError> {
    let total: u64 = sources.iter().map(|s| s.length).sum();
    let piece_count = total.div_ceil(piece_length) as u32;
    let mut starts = Vec::with_capacity(sources.len());
    let mut offset = 0;
    for s in sources {
        starts.push(offset);
        offset += s.length;
    }
    // Batches of about 16 MiB keep the counter cold and reads sequential.
    let batch = (16 * 1024 * 1024 / piece_length).max(1) as u32;
    let next = AtomicU32::new(0);
    let done = AtomicU64::new(0);
    let finished = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results = Mutex::new(Vec::with_capacity(piece_count as usize));
    let threads = threads.clamp(1, piece_count.max(1) as usize);
    let job = Job {
        sources,
        starts: &starts,
        piece_length,
        total,
        want_leaves,
        access,
    };

    let outcome: Result<(), BuildError> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let result = job.run(&next, batch, piece_count, &done, &failed, &results);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    finished.fetch_add(1, Ordering::Release);
                    result
                })
            })
            .collect();
        while finished.load(Ordering::Acquire) < threads {
            progress(done.load(Ordering::Relaxed), total);
            std::thread::sleep(Duration::from_millis(50));
        }
        progress(done.load(Ordering::Relaxed), total);
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("hashing worker panicked"))
    });
    outcome?;

    let mut results = results
        .into_inner()
        .expect("no worker panicked holding the lock");
    results.sort_unstable_by_key(|r| r.0);
    let (sha1, leaves) = results
        .into_iter()
        .map(|(_, sha1, leaves)| (sha1, leaves))
        .unzip();
    Ok(Hashes { sha1, leaves })
}

struct Job<'a> {
    sources: &'a [Source],
    starts: &'a [u64],
    piece_length: u64,
    total: u64,
    want_leaves: bool,
    access: Access,
}

type PieceResult = (u32, [u8; 20], Vec<Hash32>);

impl Job<'_> {
    fn run(
        &self,
        next: &AtomicU32,
        batch: u32,
        piece_count: u32,
        done: &AtomicU64,
        failed: &AtomicBool,
        results: &Mutex<Vec<PieceResult>>,
    ) -> Result<(), BuildError> {
        let mut buffer = vec![0u8; CHUNK];
        let mut open: Option<(usize, OpenFile)> = None;
        let mut local = Vec::new();
        loop {
            let first = next.fetch_add(batch, Ordering::Relaxed);
            if first >= piece_count || failed.load(Ordering::Relaxed) {
                break;
            }
            for piece in first..(first + batch).min(piece_count) {
                let start = u64::from(piece) * self.piece_length;
                let size = (self.total - start).min(self.piece_length);
                let mut sha1 = Sha1::new();
                let leaves =
                    self.hash_piece(start..start + size, &mut buffer, &mut open, &mut sha1)?;
                local.push((piece, sha1.finalize().into(), leaves));
                done.fetch_add(size, Ordering::Relaxed);
            }
            results
                .lock()
                .expect("no worker panicked holding the lock")
                .append(&mut local);
        }
        Ok(())
    }

    /// Feeds torrent bytes `range` to `sha1` in [`CHUNK`]-sized reads; returns the v2 leaves of
    /// the file data in it (empty unless asked for). Chunks start at multiples of [`CHUNK`]
    /// within a file, so in a hybrid torrent (files start on piece boundaries) they split into
    /// whole 16 KiB leaves.
    fn hash_piece(
        &self,
        range: Range<u64>,
        buffer: &mut [u8],
        open: &mut Option<(usize, OpenFile)>,
        sha1: &mut Sha1,
    ) -> Result<Vec<Hash32>, BuildError> {
        let mut index = self
            .starts
            .partition_point(|&s| s <= range.start)
            .saturating_sub(1);
        let mut leaves = Vec::new();
        let mut position = range.start;
        while position < range.end {
            let source = &self.sources[index];
            let source_end = self.starts[index] + source.length;
            if source_end <= position {
                index += 1;
                continue;
            }
            let span_end = source_end.min(range.end);
            while position < span_end {
                let length = (span_end - position).min(CHUNK as u64) as usize;
                let chunk: &[u8] = match &source.path {
                    None => {
                        buffer[..length].fill(0);
                        &buffer[..length]
                    }
                    Some(path) => {
                        let offset = position - self.starts[index];
                        let chunk =
                            self.read_at(index, path, offset, &mut buffer[..length], open)?;
                        if self.want_leaves {
                            leaves.extend(
                                chunk
                                    .chunks(LEAF_SIZE as usize)
                                    .map(|block| -> Hash32 { Sha256::digest(block).into() }),
                            );
                        }
                        chunk
                    }
                };
                sha1.update(chunk);
                position += length as u64;
            }
            index += 1;
        }
        Ok(leaves)
    }

    /// The `into.len()` bytes at `offset` of source `index`: a slice of its map, or read into
    /// `into`. Reuses the worker's open file.
    fn read_at<'b>(
        &self,
        index: usize,
        path: &PathBuf,
        offset: u64,
        into: &'b mut [u8],
        open: &'b mut Option<(usize, OpenFile)>,
    ) -> Result<&'b [u8], BuildError> {
        if !matches!(open, Some((i, _)) if *i == index) {
            *open = Some((index, self.open(path)?));
        }
        let (_, file) = open.as_mut().expect("opened just above");
        match file {
            OpenFile::Mapped(map) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                map.get(start..start.saturating_add(into.len()))
                    .ok_or_else(|| BuildError::Changed { path: path.clone() })
            }
            OpenFile::Read(file) => {
                // Sequential within a worker's batch: seek only when the position moved.
                let current = file
                    .stream_position()
                    .map_err(|e| BuildError::io(path, e))?;
                if current != offset {
                    file.seek(SeekFrom::Start(offset))
                        .map_err(|e| BuildError::io(path, e))?;
                }
                file.read_exact(into).map_err(|e| match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => BuildError::Changed { path: path.clone() },
                    _ => BuildError::io(path, e),
                })?;
                Ok(into)
            }
        }
    }

    /// Opens a source file the configured way; a file that will not map is read instead.
    fn open(&self, path: &PathBuf) -> Result<OpenFile, BuildError> {
        if self.access == Access::Map {
            if let Ok(map) = FileBuffer::open(path) {
                return Ok(OpenFile::Mapped(map));
            }
        }
        File::open(path)
            .map(OpenFile::Read)
            .map_err(|e| BuildError::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn hash(sources: &[Source], access: Access) -> Result<Hashes, BuildError> {
        hash_pieces(sources, 32 * 1024, true, 2, access, &mut |_, _| {})
    }

    #[test]
    fn mapped_and_read_hashes_agree_across_files_and_pads() {
        let dir = tempfile::tempdir().unwrap();
        let a: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let b: Vec<u8> = (0..50_001u32).map(|i| (i * 13) as u8).collect();
        let sources = [
            Source {
                path: Some(write(&dir, "a", &a)),
                length: a.len() as u64,
            },
            Source {
                path: None,
                length: 1000,
            },
            Source {
                path: Some(write(&dir, "b", &b)),
                length: b.len() as u64,
            },
        ];
        let mapped = hash(&sources, Access::Map).unwrap();
        let read = hash(&sources, Access::Read).unwrap();
        assert_eq!(mapped.sha1, read.sha1);
        assert_eq!(mapped.leaves, read.leaves);
        let mut all = a.clone();
        all.extend(std::iter::repeat_n(0, 1000));
        all.extend(&b);
        let expected: Vec<[u8; 20]> = all
            .chunks(32 * 1024)
            .map(|piece| Sha1::digest(piece).into())
            .collect();
        assert_eq!(mapped.sha1, expected);
    }

    #[test]
    fn a_file_shorter_than_scanned_is_reported_as_changed_either_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "short", &[1u8; 40_000]);
        let sources = [Source {
            path: Some(path.clone()),
            length: 100_000,
        }];
        for access in [Access::Map, Access::Read] {
            match hash(&sources, access) {
                Err(BuildError::Changed { path: changed }) => assert_eq!(changed, path),
                Err(other) => panic!("{access:?}: expected Changed, got {other}"),
                Ok(_) => panic!("{access:?}: a short file hashed without error"),
            }
        }
    }
}
