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

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::content::direct::{AlignedBuf, TempFile};
use crate::content::ingest::Written;
use crate::content::{CHUNK_SIZE, ContentError};

/// A growing buffered blob is handed to the sync thread after this many bytes.
const SYNC_EVERY: u64 = 16 << 20;

/// The writer's files: one blob, or chunk after chunk.
pub(crate) struct Sink<'a> {
    tmp: &'a Path,
    id: &'a str,
    threshold: u64,
    sync: mpsc::Sender<(File, PathBuf)>,
    written: u64,
    /// Whether new files are opened with `O_DIRECT` (off once the file system refused it).
    direct: bool,
    /// Files finished with buffered writes (refused, or not asked for).
    buffered_files: u32,
    state: State,
}

enum State {
    Blob {
        file: TempFile,
        unsynced: u64,
    },
    Chunked {
        current: Option<OpenChunk>,
        done: Vec<(PathBuf, u32)>,
    },
    /// Creating the first file failed (reported at the first write).
    Failed(Option<ContentError>),
}

struct OpenChunk {
    file: TempFile,
    len: u32,
}

impl<'a> Sink<'a> {
    /// A sink writing `<id>.blob` or `<id>.<n>.chunk` files under `tmp`, with `O_DIRECT` when
    /// `direct` and the file system takes it.
    pub(crate) fn new(
        tmp: &'a Path,
        id: &'a str,
        threshold: u64,
        chunked: bool,
        direct: bool,
        sync: mpsc::Sender<(File, PathBuf)>,
    ) -> Self {
        let mut sink = Self {
            tmp,
            id,
            threshold,
            sync,
            written: 0,
            direct,
            buffered_files: 0,
            state: State::Failed(None),
        };
        sink.state = if chunked {
            State::Chunked {
                current: None,
                done: Vec::new(),
            }
        } else {
            match sink.create(tmp.join(format!("{id}.blob"))) {
                Ok(file) => State::Blob { file, unsynced: 0 },
                Err(error) => State::Failed(Some(error)),
            }
        };
        sink
    }

    fn create(&mut self, path: PathBuf) -> Result<TempFile, ContentError> {
        let file = TempFile::create(path, self.direct)?;
        if file.refused() {
            self.direct = false;
        }
        Ok(file)
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

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), ContentError> {
        if matches!(self.state, State::Blob { .. })
            && self.written + data.len() as u64 >= self.threshold
        {
            self.split_blob()?;
        }
        match &mut self.state {
            State::Blob { file, unsynced } => {
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
            State::Chunked { .. } => self.write_chunks(data)?,
            State::Failed(error) => {
                return Err(error
                    .take()
                    .unwrap_or_else(|| ContentError::corrupt("ingest", "aborted")));
            }
        }
        self.written += data.len() as u64;
        Ok(())
    }

    /// The blob so far becomes chunks: read back through its normal descriptor, rewritten.
    fn split_blob(&mut self) -> Result<(), ContentError> {
        let previous = std::mem::replace(
            &mut self.state,
            State::Chunked {
                current: None,
                done: Vec::new(),
            },
        );
        let State::Blob { file, .. } = previous else {
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
                self.write_chunks(&buf[..take])?;
                at += take as u64;
            }
            Ok(())
        })();
        let _ = std::fs::remove_file(&path);
        result
    }

    fn write_chunks(&mut self, mut data: &[u8]) -> Result<(), ContentError> {
        while !data.is_empty() {
            let State::Chunked { current, done } = &mut self.state else {
                return Ok(());
            };
            let chunk = match current {
                Some(chunk) => chunk,
                None => {
                    let path = self.tmp.join(format!("{}.{}.chunk", self.id, done.len()));
                    let file = TempFile::create(path, self.direct)?;
                    if file.refused() {
                        self.direct = false;
                    }
                    current.insert(OpenChunk { file, len: 0 })
                }
            };
            let take = ((CHUNK_SIZE - chunk.len) as usize).min(data.len());
            chunk.file.write(&data[..take])?;
            chunk.len += take as u32;
            data = &data[take..];
            if chunk.len == CHUNK_SIZE {
                if let Some(full) = current.take() {
                    self.close_chunk(full)?;
                }
            }
        }
        Ok(())
    }

    /// A full (or last) chunk: closed, handed to the sync thread, listed.
    fn close_chunk(&mut self, chunk: OpenChunk) -> Result<(), ContentError> {
        let (file, path) = self.close(chunk.file)?;
        let _ = self.sync.send((file, path.clone()));
        if let State::Chunked { done, .. } = &mut self.state {
            done.push((path, chunk.len));
        }
        Ok(())
    }

    /// Everything written: the last chunk closed, the blob synced; and whether every file was
    /// written with `O_DIRECT`.
    pub(crate) fn finish(mut self) -> Result<(Written, bool), ContentError> {
        let written = match std::mem::replace(&mut self.state, State::Failed(None)) {
            State::Blob { file, .. } => {
                let (file, path) = self.close(file)?;
                file.sync_data().map_err(ContentError::at(&path))?;
                Written::Blob(path)
            }
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
                let _ = std::fs::remove_file(file.path());
            }
            State::Chunked { current, done } => {
                for path in current
                    .map(|c| c.file.path().to_path_buf())
                    .into_iter()
                    .chain(done.into_iter().map(|(path, _)| path))
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

    /// A blob that reaches the threshold is read back and cut into chunks, with `O_DIRECT`
    /// (where the temp folder's file system takes it: ext4 and tmpfs on Linux 6.6+ do; the
    /// write then reports buffered files and the test checks the bytes alone) and buffered.
    #[test]
    fn a_blob_that_reaches_the_threshold_becomes_whole_chunks() {
        for direct in [true, false] {
            let tmp = tempfile::tempdir().unwrap();
            let (sync, synced) = mpsc::channel();
            let threshold = 3 * (1 << 20) + 5;
            let mut sink = Sink::new(tmp.path(), "s", threshold, false, direct, sync);
            let data: Vec<u8> = (0..(5u32 << 20) + 99).map(|i| (i % 253) as u8).collect();
            let mut aligned = AlignedBuf::zeroed(data.len());
            aligned.copy_from_slice(&data);
            for piece in aligned.chunks(1 << 20) {
                sink.write(piece).unwrap();
            }
            let (Written::Chunks(chunks), all_direct) = sink.finish().unwrap() else {
                panic!("5 MiB over a 3 MiB threshold is chunked");
            };
            assert!(!all_direct || direct);
            if direct && cfg!(target_os = "linux") && direct_supported(tmp.path()) {
                assert!(all_direct, "every file written with O_DIRECT");
            }
            let sizes: Vec<u32> = chunks.iter().map(|(_, size)| *size).collect();
            assert_eq!(sizes, vec![CHUNK_SIZE, CHUNK_SIZE, (1 << 20) + 99]);
            for ((path, _), part) in chunks.iter().zip(data.chunks(CHUNK_SIZE as usize)) {
                assert!(std::fs::read(path).unwrap() == part, "direct {direct}");
            }
            assert!(!tmp.path().join("s.blob").exists(), "the blob is gone");
            assert_eq!(synced.try_iter().count(), 3, "every chunk synced");
        }
    }

    /// Whether a file under `dir` opens with `O_DIRECT`.
    fn direct_supported(dir: &Path) -> bool {
        let probe = TempFile::create(dir.join("probe"), true).unwrap();
        let supported = probe.is_direct();
        let _ = std::fs::remove_file(dir.join("probe"));
        supported
    }

    #[test]
    fn a_small_upload_stays_one_blob_and_discard_removes_it() {
        for direct in [true, false] {
            let tmp = tempfile::tempdir().unwrap();
            let (sync, _synced) = mpsc::channel();
            let mut sink = Sink::new(tmp.path(), "b", 100, false, direct, sync);
            sink.write(b"hello").unwrap();
            let (Written::Blob(path), _) = sink.finish().unwrap() else {
                panic!("5 bytes under 100 is a blob");
            };
            assert_eq!(std::fs::read(&path).unwrap(), b"hello");

            let (sync, _synced) = mpsc::channel();
            let mut sink = Sink::new(tmp.path(), "c", 1, true, direct, sync);
            sink.write(b"chunked").unwrap();
            sink.discard();
            let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "only the finished blob");
        }
    }
}
