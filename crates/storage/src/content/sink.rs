//! The writer side of an ingest (sha256-addressed blobs, BEP 3 piece-sized chunks): the
//! temporary files an upload is written to, one blob or chunk after chunk.
//!
//! A sink starts as a blob unless the upload announced a size at or over the threshold. When the
//! bytes written reach the threshold, the blob so far is read back (from the page cache) and cut
//! into chunk files, and writing goes on in chunks. It does not hash: the chunk thread hashes the
//! same 2 MiB spans of the stream. Finished chunk files (and a growing blob every 16 MiB) go to
//! the sync thread.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::content::ingest::Written;
use crate::content::{CHUNK_SIZE, ContentError};

/// A growing blob is handed to the sync thread after this many bytes.
const SYNC_EVERY: u64 = 16 << 20;

/// The writer's files: one blob, or chunk after chunk.
pub(crate) struct Sink<'a> {
    tmp: &'a Path,
    id: &'a str,
    threshold: u64,
    sync: mpsc::Sender<(File, PathBuf)>,
    written: u64,
    state: State,
}

enum State {
    Blob {
        file: File,
        path: PathBuf,
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
    file: File,
    path: PathBuf,
    len: u32,
}

fn create(path: &Path) -> Result<File, ContentError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(ContentError::at(path))
}

impl<'a> Sink<'a> {
    pub(crate) fn new(
        tmp: &'a Path,
        id: &'a str,
        threshold: u64,
        chunked: bool,
        sync: mpsc::Sender<(File, PathBuf)>,
    ) -> Self {
        let state = if chunked {
            State::Chunked {
                current: None,
                done: Vec::new(),
            }
        } else {
            let path = tmp.join(format!("{id}.blob"));
            match create(&path) {
                Ok(file) => State::Blob {
                    file,
                    path,
                    unsynced: 0,
                },
                Err(error) => State::Failed(Some(error)),
            }
        };
        Self {
            tmp,
            id,
            threshold,
            sync,
            written: 0,
            state,
        }
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), ContentError> {
        if matches!(self.state, State::Blob { .. })
            && self.written + data.len() as u64 >= self.threshold
        {
            self.split_blob()?;
        }
        match &mut self.state {
            State::Blob {
                file,
                path,
                unsynced,
            } => {
                file.write_all(data).map_err(ContentError::at(path))?;
                *unsynced += data.len() as u64;
                if *unsynced >= SYNC_EVERY {
                    *unsynced = 0;
                    let handle = file.try_clone().map_err(ContentError::at(path))?;
                    let _ = self.sync.send((handle, path.clone()));
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

    /// The blob so far becomes chunks: read back (from the page cache), hashed, rewritten.
    fn split_blob(&mut self) -> Result<(), ContentError> {
        let previous = std::mem::replace(
            &mut self.state,
            State::Chunked {
                current: None,
                done: Vec::new(),
            },
        );
        let State::Blob { file, path, .. } = previous else {
            return Ok(());
        };
        let mut buf = vec![0u8; CHUNK_SIZE as usize];
        let mut at = 0u64;
        let result = (|| {
            while at < self.written {
                let take = (self.written - at).min(u64::from(CHUNK_SIZE)) as usize;
                file.read_exact_at(&mut buf[..take], at)
                    .map_err(ContentError::at(&path))?;
                self.write_chunks(&buf[..take])?;
                at += take as u64;
            }
            Ok(())
        })();
        drop(file);
        let _ = std::fs::remove_file(&path);
        result
    }

    fn write_chunks(&mut self, mut data: &[u8]) -> Result<(), ContentError> {
        let State::Chunked { current, done } = &mut self.state else {
            return Ok(());
        };
        while !data.is_empty() {
            let chunk = match current {
                Some(chunk) => chunk,
                None => {
                    let path = self.tmp.join(format!("{}.{}.chunk", self.id, done.len()));
                    let file = create(&path)?;
                    current.insert(OpenChunk { file, path, len: 0 })
                }
            };
            let take = ((CHUNK_SIZE - chunk.len) as usize).min(data.len());
            chunk
                .file
                .write_all(&data[..take])
                .map_err(ContentError::at(&chunk.path))?;
            chunk.len += take as u32;
            data = &data[take..];
            if chunk.len == CHUNK_SIZE {
                if let Some(full) = current.take() {
                    done.push(close_chunk(full, &self.sync));
                }
            }
        }
        Ok(())
    }

    /// Everything written: the last chunk closed, the blob synced.
    pub(crate) fn finish(mut self) -> Result<Written, ContentError> {
        match std::mem::replace(&mut self.state, State::Failed(None)) {
            State::Blob { file, path, .. } => {
                file.sync_data().map_err(ContentError::at(&path))?;
                Ok(Written::Blob(path))
            }
            State::Chunked { current, mut done } => {
                if let Some(last) = current {
                    done.push(close_chunk(last, &self.sync));
                }
                Ok(Written::Chunks(done))
            }
            State::Failed(error) => {
                Err(error.unwrap_or_else(|| ContentError::corrupt("ingest", "aborted")))
            }
        }
    }

    /// Removes every file written so far.
    pub(crate) fn discard(&mut self) {
        match std::mem::replace(&mut self.state, State::Failed(None)) {
            State::Blob { path, .. } => {
                let _ = std::fs::remove_file(path);
            }
            State::Chunked { current, done } => {
                for path in current
                    .map(|c| c.path)
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

/// A full (or last) chunk, handed to the sync thread.
fn close_chunk(chunk: OpenChunk, sync: &mpsc::Sender<(File, PathBuf)>) -> (PathBuf, u32) {
    let _ = sync.send((chunk.file, chunk.path.clone()));
    (chunk.path, chunk.len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_that_reaches_the_threshold_becomes_whole_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let (sync, synced) = mpsc::channel();
        let threshold = 3 * (1 << 20) + 5;
        let mut sink = Sink::new(tmp.path(), "s", threshold, false, sync);
        let data: Vec<u8> = (0..5u32 << 20).map(|i| (i % 253) as u8).collect();
        for piece in data.chunks(1 << 20) {
            sink.write(piece).unwrap();
        }
        let Written::Chunks(chunks) = sink.finish().unwrap() else {
            panic!("5 MiB over a 3 MiB threshold is chunked");
        };
        let sizes: Vec<u32> = chunks.iter().map(|(_, size)| *size).collect();
        assert_eq!(sizes, vec![CHUNK_SIZE, CHUNK_SIZE, 1 << 20]);
        for ((path, _), part) in chunks.iter().zip(data.chunks(CHUNK_SIZE as usize)) {
            assert_eq!(std::fs::read(path).unwrap(), part);
        }
        assert!(!tmp.path().join("s.blob").exists(), "the blob is gone");
        assert_eq!(synced.try_iter().count(), 3, "every chunk synced");
    }

    #[test]
    fn a_small_upload_stays_one_blob_and_discard_removes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (sync, _synced) = mpsc::channel();
        let mut sink = Sink::new(tmp.path(), "b", 100, false, sync);
        sink.write(b"hello").unwrap();
        let Written::Blob(path) = sink.finish().unwrap() else {
            panic!("5 bytes under 100 is a blob");
        };
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");

        let (sync, _synced) = mpsc::channel();
        let mut sink = Sink::new(tmp.path(), "c", 1, true, sync);
        sink.write(b"chunked").unwrap();
        sink.discard();
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the finished blob");
    }
}
