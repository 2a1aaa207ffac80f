//! The writer side of an ingest (sha256-addressed blobs, BEP 3 piece-sized chunks): the
//! temporary files an upload is written to, one blob or chunk after chunk.
//!
//! A sink starts as a blob unless the upload announced a size at or over the threshold. When the
//! bytes written reach the threshold, the blob so far is read back (through its normal
//! descriptor, whether it was written with `O_DIRECT` or not) and cut into chunk files, and
//! writing goes on in chunks. It does not hash: the chunk thread hashes the same 2 MiB spans of
//! the stream. Files are written with `O_DIRECT` where asked for and taken (see the `direct`
//! module); finished chunk files go to the sync thread, and so does a growing buffered blob
//! every 16 MiB, so that the page cache is written back while the rest goes on (a blob written
//! with `O_DIRECT` has nothing waiting in the page cache: it is synced once, at the end).
//!
//! An `O_DIRECT` write returns once the device has the bytes, so one writer keeps one request
//! in flight, and a disk that needs two to go faster than one core's SHA-256 slows the whole
//! ingest. So the chunks are shared among a few sinks (`parts`), one per writer thread, each
//! fed the whole stream: part `k` writes chunk `i` when `i % parts == k`. The blob, and every
//! chunk that holds bytes from before a streamed upload reached the threshold (the split reads
//! them back from the blob), are part 0's. Every part sees the same buffers in the same order,
//! so each tells which chunks are its own without asking the others.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::content::direct::{AlignedBuf, TempFile};
use crate::content::ingest::Written;
use crate::content::{CHUNK_SIZE, ContentError};

/// A growing buffered blob is handed to the sync thread after this many bytes.
const SYNC_EVERY: u64 = 16 << 20;

/// One writer's files: the blob, or its share of the chunks.
pub(crate) struct Sink<'a> {
    tmp: &'a Path,
    id: &'a str,
    threshold: u64,
    sync: mpsc::Sender<(File, PathBuf)>,
    /// Bytes of the stream seen so far (written by this part or not).
    written: u64,
    /// This sink's share of the chunks: those with `index % parts == part`.
    part: u32,
    parts: u32,
    /// Chunks that began while the upload was a blob: all part 0's (the split writes them).
    split_chunks: u64,
    /// Whether new files are opened with `O_DIRECT` (off once the file system refused it).
    direct: bool,
    /// Files finished with buffered writes (refused, or not asked for).
    buffered_files: u32,
    state: State,
}

enum State {
    /// The upload is a blob so far; `None` in the parts other than 0.
    Blob {
        file: Option<TempFile>,
        unsynced: u64,
    },
    Chunked {
        current: Option<OpenChunk>,
        /// Finished chunks: (index in the file, path, length).
        done: Vec<(u32, PathBuf, u32)>,
    },
    /// Creating the first file failed (reported at the first write).
    Failed(Option<ContentError>),
}

struct OpenChunk {
    file: TempFile,
    index: u32,
    len: u32,
}

impl<'a> Sink<'a> {
    /// Part `part` of `parts` sinks writing `<id>.blob` or `<id>.<n>.chunk` files under `tmp`,
    /// with `O_DIRECT` when `direct` and the file system takes it.
    pub(crate) fn new(
        tmp: &'a Path,
        id: &'a str,
        threshold: u64,
        chunked: bool,
        (part, parts): (u32, u32),
        direct: bool,
        sync: mpsc::Sender<(File, PathBuf)>,
    ) -> Self {
        let mut sink = Self {
            tmp,
            id,
            threshold,
            sync,
            written: 0,
            part,
            parts: parts.max(1),
            split_chunks: 0,
            direct,
            buffered_files: 0,
            state: State::Failed(None),
        };
        sink.state = if chunked {
            State::Chunked {
                current: None,
                done: Vec::new(),
            }
        } else if part != 0 {
            State::Blob {
                file: None,
                unsynced: 0,
            }
        } else {
            match TempFile::create(tmp.join(format!("{id}.blob")), direct) {
                Ok(file) => {
                    if file.refused() {
                        sink.direct = false;
                    }
                    State::Blob {
                        file: Some(file),
                        unsynced: 0,
                    }
                }
                Err(error) => State::Failed(Some(error)),
            }
        };
        sink
    }

    /// Whether chunk `index` is this part's to write.
    fn owns(&self, index: u64) -> bool {
        if index < self.split_chunks {
            self.part == 0
        } else {
            index % u64::from(self.parts) == u64::from(self.part)
        }
    }

    /// Closes a finished file: its staged tail written, its `O_DIRECT` descriptor closed.
    fn close(&mut self, mut file: TempFile) -> Result<(File, PathBuf), ContentError> {
        let finished = file.finish();
        if file.refused() {
            self.direct = false;
        }
        if !file.is_direct() {
            self.buffered_files += 1;
        }
        let (handle, path) = file.into_file();
        if finished.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        finished?;
        Ok((handle, path))
    }

    /// The next bytes of the stream.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), ContentError> {
        if matches!(self.state, State::Blob { .. })
            && self.written + data.len() as u64 >= self.threshold
        {
            self.split_blob()?;
        }
        match &mut self.state {
            State::Blob {
                file: Some(file),
                unsynced,
            } => {
                file.write(data)?;
                // Bytes written with O_DIRECT do not wait in the page cache: nothing to sync early.
                if !file.is_direct() {
                    *unsynced += data.len() as u64;
                    if *unsynced >= SYNC_EVERY {
                        *unsynced = 0;
                        let handle = file
                            .file()
                            .try_clone()
                            .map_err(ContentError::at(file.path()))?;
                        let _ = self.sync.send((handle, file.path().to_path_buf()));
                    }
                }
            }
            State::Blob { file: None, .. } => {}
            State::Chunked { .. } => self.write_chunks(self.written, data)?,
            State::Failed(error) => {
                return Err(error
                    .take()
                    .unwrap_or_else(|| ContentError::corrupt("ingest", "aborted")));
            }
        }
        self.written += data.len() as u64;
        Ok(())
    }

    /// The blob so far becomes chunks: read back through its normal descriptor, rewritten (by
    /// part 0; the others only note which chunks are part 0's).
    fn split_blob(&mut self) -> Result<(), ContentError> {
        let previous = std::mem::replace(
            &mut self.state,
            State::Chunked {
                current: None,
                done: Vec::new(),
            },
        );
        self.split_chunks = self.written.div_ceil(u64::from(CHUNK_SIZE));
        let State::Blob {
            file: Some(file), ..
        } = previous
        else {
            return Ok(());
        };
        let path = file.path().to_path_buf();
        let result = (|| {
            let (file, path) = self.close(file)?;
            // Aligned, so the chunks are written from it with O_DIRECT without a copy.
            let mut buf = AlignedBuf::zeroed(CHUNK_SIZE as usize);
            let mut at = 0u64;
            while at < self.written {
                let take = (self.written - at).min(u64::from(CHUNK_SIZE)) as usize;
                file.read_exact_at(&mut buf[..take], at)
                    .map_err(ContentError::at(&path))?;
                self.write_chunks(at, &buf[..take])?;
                at += take as u64;
            }
            Ok(())
        })();
        let _ = std::fs::remove_file(&path);
        result
    }

    /// `data`, the bytes of the stream from `at`, into this part's chunks.
    fn write_chunks(&mut self, mut at: u64, mut data: &[u8]) -> Result<(), ContentError> {
        while !data.is_empty() {
            let index = at / u64::from(CHUNK_SIZE);
            let within = (at % u64::from(CHUNK_SIZE)) as u32;
            let take = ((CHUNK_SIZE - within) as usize).min(data.len());
            if self.owns(index) {
                let index = u32::try_from(index)
                    .map_err(|_| ContentError::corrupt("ingest", "too many chunks"))?;
                let direct = self.direct;
                let State::Chunked { current, .. } = &mut self.state else {
                    return Ok(());
                };
                let chunk = match current {
                    Some(chunk) => chunk,
                    None => {
                        let path = self.tmp.join(format!("{}.{index}.chunk", self.id));
                        let file = TempFile::create(path, direct)?;
                        current.insert(OpenChunk {
                            file,
                            index,
                            len: 0,
                        })
                    }
                };
                if chunk.index != index || chunk.len != within {
                    return Err(ContentError::corrupt(
                        "ingest",
                        "chunk written out of order",
                    ));
                }
                chunk.file.write(&data[..take])?;
                chunk.len += take as u32;
                if chunk.len == CHUNK_SIZE {
                    if let Some(full) = current.take() {
                        self.close_chunk(full)?;
                    }
                }
            }
            at += take as u64;
            data = &data[take..];
        }
        Ok(())
    }

    /// A full (or last) chunk: closed, handed to the sync thread, listed.
    fn close_chunk(&mut self, chunk: OpenChunk) -> Result<(), ContentError> {
        let (file, path) = self.close(chunk.file)?;
        let _ = self.sync.send((file, path.clone()));
        if let State::Chunked { done, .. } = &mut self.state {
            done.push((chunk.index, path, chunk.len));
        }
        Ok(())
    }

    /// Everything written: the last chunk closed, the blob synced; and whether every file was
    /// written with `O_DIRECT`. A part other than 0 of a blob has written nothing: an empty
    /// chunk list.
    pub(crate) fn finish(mut self) -> Result<(Written, bool), ContentError> {
        let written = match std::mem::replace(&mut self.state, State::Failed(None)) {
            State::Blob {
                file: Some(file), ..
            } => {
                let (file, path) = self.close(file)?;
                file.sync_data().map_err(ContentError::at(&path))?;
                Written::Blob(path)
            }
            State::Blob { file: None, .. } => Written::Chunks(Vec::new()),
            State::Chunked { current, done } => {
                self.state = State::Chunked {
                    current: None,
                    done,
                };
                if let Some(last) = current {
                    self.close_chunk(last)?;
                }
                let State::Chunked { done, .. } =
                    std::mem::replace(&mut self.state, State::Failed(None))
                else {
                    return Err(ContentError::corrupt("ingest", "aborted"));
                };
                Written::Chunks(done)
            }
            State::Failed(error) => {
                return Err(error.unwrap_or_else(|| ContentError::corrupt("ingest", "aborted")));
            }
        };
        Ok((written, self.buffered_files == 0))
    }

    /// Removes every file written so far.
    pub(crate) fn discard(&mut self) {
        match std::mem::replace(&mut self.state, State::Failed(None)) {
            State::Blob { file, .. } => {
                if let Some(file) = file {
                    let _ = std::fs::remove_file(file.path());
                }
            }
            State::Chunked { current, done } => {
                for path in current
                    .map(|c| c.file.path().to_path_buf())
                    .into_iter()
                    .chain(done.into_iter().map(|(_, path, _)| path))
                {
                    let _ = std::fs::remove_file(path);
                }
            }
            State::Failed(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a file under `dir` opens with `O_DIRECT`.
    fn direct_supported(dir: &Path) -> bool {
        let probe = TempFile::create(dir.join("probe"), true).unwrap();
        let supported = probe.is_direct();
        let _ = std::fs::remove_file(dir.join("probe"));
        supported
    }

    /// Feeds `data` in 1 MiB aligned buffers to `parts` sinks, as the writer threads get it.
    fn write_parts(
        tmp: &Path,
        threshold: u64,
        chunked: bool,
        parts: u32,
        direct: bool,
        data: &[u8],
    ) -> (Vec<(Written, bool)>, usize) {
        let (sync, synced) = mpsc::channel();
        let mut sinks: Vec<Sink<'_>> = (0..parts)
            .map(|part| {
                Sink::new(
                    tmp,
                    "s",
                    threshold,
                    chunked,
                    (part, parts),
                    direct,
                    sync.clone(),
                )
            })
            .collect();
        let mut aligned = AlignedBuf::zeroed(data.len());
        aligned.copy_from_slice(data);
        for piece in aligned.chunks(1 << 20) {
            for sink in &mut sinks {
                sink.write(piece).unwrap();
            }
        }
        let written = sinks
            .into_iter()
            .map(|sink| sink.finish().unwrap())
            .collect();
        drop(sync);
        (written, synced.iter().count())
    }

    /// A blob that reaches the threshold is read back and cut into chunks, and two parts share
    /// the chunks (part 0 those from before the split), streamed or announced; with `O_DIRECT`
    /// (where the temp folder's file system takes it: ext4 and tmpfs on Linux 6.6+ do; the
    /// sinks then report buffered files and the test checks the bytes alone) and buffered.
    #[test]
    fn chunks_are_shared_between_parts_and_a_blob_that_reaches_the_threshold_splits() {
        let data: Vec<u8> = (0..(9u32 << 20) + 99).map(|i| (i % 253) as u8).collect();
        // (threshold, announced chunked, parts, each part's chunk indices)
        let cases: [(u64, bool, u32, &[&[u32]]); 4] = [
            ((3 << 20) + 5, false, 1, &[&[0, 1, 2, 3, 4]]),
            ((3 << 20) + 5, false, 2, &[&[0, 1, 2, 4], &[3]]),
            (1 << 30, true, 2, &[&[0, 2, 4], &[1, 3]]),
            (1 << 20, false, 3, &[&[0, 3], &[1, 4], &[2]]),
        ];
        for (threshold, chunked, parts, expected) in cases {
            for direct in [true, false] {
                let tmp = tempfile::tempdir().unwrap();
                let (written, synced) =
                    write_parts(tmp.path(), threshold, chunked, parts, direct, &data);
                assert_eq!(synced, 5, "every chunk synced");
                let mut all = Vec::new();
                for ((written, all_direct), expected) in written.into_iter().zip(expected) {
                    let Written::Chunks(chunks) = written else {
                        panic!("9 MiB over the threshold is chunked");
                    };
                    assert!(!all_direct || direct);
                    if direct && cfg!(target_os = "linux") && direct_supported(tmp.path()) {
                        assert!(all_direct, "every file written with O_DIRECT");
                    }
                    let indices: Vec<u32> = chunks.iter().map(|(index, _, _)| *index).collect();
                    assert_eq!(indices, *expected, "threshold {threshold}, {parts} parts");
                    all.extend(chunks);
                }
                all.sort_unstable_by_key(|(index, _, _)| *index);
                let parts_of_data: Vec<&[u8]> = data.chunks(CHUNK_SIZE as usize).collect();
                assert_eq!(all.len(), parts_of_data.len());
                for ((_, path, size), part) in all.iter().zip(parts_of_data) {
                    assert_eq!(*size as usize, part.len());
                    assert!(std::fs::read(path).unwrap() == part, "direct {direct}");
                }
                assert!(!tmp.path().join("s.blob").exists(), "the blob is gone");
            }
        }
    }

    #[test]
    fn a_small_upload_stays_one_blob_in_part_0_and_discard_removes_it() {
        for direct in [true, false] {
            let tmp = tempfile::tempdir().unwrap();
            let (written, _) = write_parts(tmp.path(), 100, false, 2, direct, b"hello");
            let mut written = written.into_iter();
            let Some((Written::Blob(path), _)) = written.next() else {
                panic!("5 bytes under 100 is a blob");
            };
            assert!(matches!(written.next(), Some((Written::Chunks(c), _)) if c.is_empty()));
            assert_eq!(std::fs::read(&path).unwrap(), b"hello");

            let (sync, _synced) = mpsc::channel();
            let mut sink = Sink::new(tmp.path(), "c", 1, true, (0, 1), direct, sync);
            sink.write(b"chunked").unwrap();
            sink.discard();
            let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "only the finished blob");
        }
    }
}
