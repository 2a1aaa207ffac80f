//! The resume check (BEP 3 piece hashes): which pieces of a torrent are already on disk.
//!
//! First every file is looked at once (`stat`): a piece that needs bytes past the end of a file
//! on disk (missing, or truncated) is absent and never read. The remaining pieces are hashed on
//! `threads` workers that take batches of consecutive pieces (about 16 MiB each) from a shared
//! counter, as the torrent builder's hasher does, so every core stays busy to the end and reads
//! stay close to sequential. Each worker streams through its own 256 KiB buffer and keeps its
//! current file open itself (plain positioned reads, no memory maps), so the check neither
//! contends for nor evicts the storage's shared handles. Workers report bytes done over a
//! channel and the calling thread turns that into `progress` calls.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use sha1::{Digest, Sha1};
use swarmgate_core::{Bitfield, PieceIndex};

use crate::error::StorageError;
use crate::torrent_files::{CHUNK, TorrentStorage, is_absent};

impl TorrentStorage {
    /// The resume check: hashes what is on disk on `threads` threads and returns the pieces that
    /// verify. Pieces whose files are missing or too short are absent, without error and
    /// without being read. Cached file handles are closed first, so reads after the check see
    /// files deleted or replaced since they were opened. `progress(done, total)` is called on this thread as bytes are
    /// checked (skipped pieces count as done). A v2-only torrent has no v1 hashes to check
    /// against: [`StorageError::NoPieceHash`].
    pub fn check_existing(
        &self,
        threads: usize,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Bitfield, StorageError> {
        let geometry = self.layout.geometry();
        let piece_count = geometry.piece_count();
        let total = geometry.total_length();
        let Some(hashes) = self.hashes.as_deref() else {
            return Err(StorageError::NoPieceHash {
                piece: PieceIndex(0),
            });
        };
        // Handles opened before a file was deleted or replaced still reach the old file: drop
        // them, so this check and everything after it see the disk as it stands.
        self.handles.clear();
        let on_disk = self.on_disk_lengths()?;
        let candidates: Vec<PieceIndex> = (0..piece_count)
            .map(PieceIndex)
            .filter(|&piece| {
                self.layout.piece_spans(piece).all(|span| {
                    self.layout.files()[span.file].is_pad()
                        || on_disk[span.file]
                            .is_some_and(|len| span.file_offset + span.length <= len)
                })
            })
            .collect();
        let candidate_bytes: u64 = candidates
            .iter()
            .filter_map(|&p| geometry.piece_size(p))
            .map(u64::from)
            .sum();
        let mut done = total - candidate_bytes;
        progress(done, total);

        let batch = (16 * 1024 * 1024 / u64::from(geometry.piece_length())).max(1) as usize;
        let threads = threads.clamp(1, candidates.len().max(1));
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let (sender, receiver) = mpsc::channel::<u64>();
        let worker = Worker {
            storage: self,
            hashes,
            candidates: &candidates,
            next: &next,
            failed: &failed,
            batch,
        };
        let outcomes: Vec<Result<Vec<PieceIndex>, StorageError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let sender = sender.clone();
                    scope.spawn(|| {
                        let result = worker.run(sender);
                        if result.is_err() {
                            worker.failed.store(true, Ordering::Relaxed);
                        }
                        result
                    })
                })
                .collect();
            drop(sender);
            // Ends when every worker has dropped its sender.
            for bytes in receiver {
                done += bytes;
                progress(done, total);
            }
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut have = Bitfield::new(piece_count);
        for outcome in outcomes {
            for piece in outcome? {
                have.set(piece);
            }
        }
        Ok(have)
    }

    /// The length on disk of each non-pad file with bytes (`None`: missing or not a file).
    fn on_disk_lengths(&self) -> Result<Vec<Option<u64>>, StorageError> {
        self.layout
            .files()
            .iter()
            .zip(&self.paths)
            .map(|(entry, path)| {
                if entry.is_pad() || entry.length() == 0 {
                    return Ok(None);
                }
                match std::fs::metadata(path) {
                    Ok(meta) => Ok(meta.is_file().then_some(meta.len())),
                    Err(e) if is_absent(&e) => Ok(None),
                    Err(e) => Err(StorageError::io(path, e)),
                }
            })
            .collect()
    }
}

/// What every checking thread shares.
#[derive(Clone, Copy)]
struct Worker<'a> {
    storage: &'a TorrentStorage,
    hashes: &'a [[u8; 20]],
    candidates: &'a [PieceIndex],
    next: &'a AtomicUsize,
    failed: &'a AtomicBool,
    batch: usize,
}

impl Worker<'_> {
    /// Hashes batches of candidate pieces until none is left; returns those that verify.
    fn run(&self, progress: mpsc::Sender<u64>) -> Result<Vec<PieceIndex>, StorageError> {
        let mut buffer = vec![0u8; CHUNK];
        let mut open: Option<(usize, File)> = None;
        let mut verified = Vec::new();
        loop {
            let first = self.next.fetch_add(self.batch, Ordering::Relaxed);
            if first >= self.candidates.len() || self.failed.load(Ordering::Relaxed) {
                return Ok(verified);
            }
            let last = first.saturating_add(self.batch).min(self.candidates.len());
            for &piece in &self.candidates[first..last] {
                let hash = self.hash(piece, &mut buffer, &mut open)?;
                if hash.is_some_and(|h| Some(&h) == self.hashes.get(piece.as_usize())) {
                    verified.push(piece);
                }
                let size = self
                    .storage
                    .layout
                    .geometry()
                    .piece_size(piece)
                    .unwrap_or(0);
                // The receiver lives until every worker is done: a send cannot fail here.
                let _ = progress.send(u64::from(size));
            }
        }
    }

    /// The SHA-1 of `piece` (`None` if a file turned out missing or short).
    fn hash(
        &self,
        piece: PieceIndex,
        buffer: &mut [u8],
        open: &mut Option<(usize, File)>,
    ) -> Result<Option<[u8; 20]>, StorageError> {
        let layout = &self.storage.layout;
        let mut sha1 = Sha1::new();
        for span in layout.piece_spans(piece) {
            let is_pad = layout.files()[span.file].is_pad();
            let path = &self.storage.paths[span.file];
            let mut offset = 0;
            while offset < span.length {
                let length = (span.length - offset).min(buffer.len() as u64) as usize;
                let chunk = &mut buffer[..length];
                if is_pad {
                    chunk.fill(0);
                } else {
                    if !matches!(open, Some((index, _)) if *index == span.file) {
                        *open = None;
                        match File::open(path) {
                            Ok(file) => *open = Some((span.file, file)),
                            Err(e) if is_absent(&e) => return Ok(None),
                            Err(e) => return Err(StorageError::io(path, e)),
                        }
                    }
                    let Some((_, file)) = open.as_ref() else {
                        return Ok(None);
                    };
                    match file.read_exact_at(chunk, span.file_offset + offset) {
                        Ok(()) => {}
                        // Truncated while we check it: absent, like a file short from the start.
                        Err(e) if is_absent(&e) => return Ok(None),
                        Err(e) => return Err(StorageError::io(path, e)),
                    }
                }
                sha1.update(&*chunk);
                offset += length as u64;
            }
        }
        Ok(Some(sha1.finalize().into()))
    }
}

#[cfg(test)]
mod tests {
    use swarmgate_core::PieceIndex;
    use swarmgate_metainfo::TorrentBuilder;

    use crate::TorrentStorage;

    #[test]
    fn any_thread_count_checks_every_piece_and_reports_all_bytes() {
        let source = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8 + 1).collect();
        std::fs::write(source.path().join("f.bin"), &data).unwrap();
        let torrent = TorrentBuilder::new(source.path().join("f.bin"))
            .piece_length(16 * 1024)
            .build()
            .unwrap()
            .torrent;
        // Checking the source folder itself: every piece is there.
        let storage = TorrentStorage::open(source.path(), &torrent).unwrap();
        for threads in [0, 1, 3, 64] {
            let mut calls = 0u32;
            let mut last = (0, 0);
            let have = storage
                .check_existing(threads, &mut |done, total| {
                    calls += 1;
                    last = (done, total);
                })
                .unwrap();
            assert!(have.is_full(), "{threads} threads");
            assert_eq!(last, (100_000, 100_000));
            // One call up front, then one per piece.
            assert_eq!(calls, 1 + torrent.piece_count());
        }
        // A byte changed in the last (short) piece fails it alone.
        let mut changed = data.clone();
        changed[99_999] ^= 0x80;
        std::fs::write(source.path().join("f.bin"), &changed).unwrap();
        let have = storage.check_existing(2, &mut |_, _| {}).unwrap();
        let last = PieceIndex(torrent.piece_count() - 1);
        assert_eq!(have.zeros().collect::<Vec<_>>(), [last]);
    }
}
