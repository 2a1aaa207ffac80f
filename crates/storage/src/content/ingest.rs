//! Streaming an upload into `data/tmp` while hashing it (SHA-256 addresses, BEP 3 SHA-1 pieces),
//! as a pipeline of threads.
//!
//! Three hash passes cover every byte: the SHA-256 of the whole file (its address), the SHA-256
//! of each 2 MiB chunk (their addresses, for a chunked file) and the SHA-1 of each 2 MiB piece
//! (the v1 torrent, so the gateway needs no second read); and the bytes are copied into the page
//! cache, which costs about as much as a hash pass. Each runs on its own thread, so an upload
//! goes as fast as the slowest of them when there are cores enough:
//!
//! - the calling thread reads the upload into 1 MiB buffers and checks the limits;
//! - the whole-file thread hashes everything (the file's address);
//! - the chunk thread hashes each 2 MiB span (not started when the announced size makes the
//!   file a blob);
//! - the piece thread hashes the SHA-1 pieces (only when asked for);
//! - the writer thread writes the temporary file(s);
//! - a mostly idle thread `fdatasync`s finished chunk files (and a growing blob every 16 MiB),
//!   so the disk writes back while the rest goes on and the final sync is short.
//!
//! Buffers are shared (`Arc<Vec<u8>>`, no copy) and recycled: each consumer hands its reference
//! back, and the reader reuses a buffer once all have (`Arc::try_unwrap`); at most 8 are in
//! flight, so memory stays at 8 MiB whatever the upload size. A consumer that fails raises a
//! flag and keeps draining, so nobody blocks; the reader stops at the flag.
//!
//! The layout needs the size, which a stream tells only at its end. Without an announced size
//! the writer starts a single blob file; when the bytes reach the threshold it copies what it
//! wrote into chunk files (read back from the page cache) and goes on in chunks, while the chunk
//! thread has hashed every span from the start (wasted on a file that stays a blob: one pass, on
//! a core of its own). With an announced size the layout is chosen up front.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use sha1::Sha1;
use sha2::Digest;

use crate::content::sink::Sink;
use crate::content::stages::{Filled, aborted, span_loop, sync_loop, write_loop};
use crate::content::{CHUNK_SIZE, ContentError, IngestOptions, PIECE_LENGTH};
use crate::meta::Sha256;

/// The read size; it divides [`CHUNK_SIZE`], so chunk boundaries fall between buffers.
const BUFFER: usize = 1 << 20;
const _: () = assert!(CHUNK_SIZE as usize % BUFFER == 0);
/// The most buffers in flight.
const IN_FLIGHT: usize = 8;

/// An upload written to temporary files, synced, hashed, not yet visible.
#[derive(Debug)]
pub(crate) struct Staged {
    pub(crate) sha256: Sha256,
    pub(crate) size: u64,
    pub(crate) piece_sha1: Vec<[u8; 20]>,
    pub(crate) body: StagedBody,
}

/// The temporary files of a staged upload.
#[derive(Debug)]
pub(crate) enum StagedBody {
    /// One file holding the whole upload.
    Blob(PathBuf),
    /// One file per chunk, in order.
    Chunked(Vec<StagedChunk>),
}

/// One chunk written to a temporary file.
#[derive(Debug)]
pub(crate) struct StagedChunk {
    pub(crate) sha256: Sha256,
    pub(crate) size: u32,
    pub(crate) path: PathBuf,
}

/// What the writer wrote: one blob, or chunk files (path, length) in order.
#[derive(Debug)]
pub(crate) enum Written {
    Blob(PathBuf),
    Chunks(Vec<(PathBuf, u32)>),
}

impl Staged {
    /// Removes the temporary files (best effort: whatever remains is cleaned at next open).
    pub(crate) fn discard(&self) {
        match &self.body {
            StagedBody::Blob(path) => {
                let _ = std::fs::remove_file(path);
            }
            StagedBody::Chunked(chunks) => {
                for chunk in chunks {
                    let _ = std::fs::remove_file(&chunk.path);
                }
            }
        }
    }
}

/// Streams `reader` into temporary files named `<id>.*` under `tmp`, choosing blob or chunks by
/// `threshold` (files of at least `threshold` bytes are chunked). On error nothing is left.
pub(crate) fn stage(
    tmp: &Path,
    id: &str,
    threshold: u64,
    reader: &mut dyn Read,
    options: &IngestOptions,
) -> Result<Staged, ContentError> {
    options.check()?;
    let abort = AtomicBool::new(false);
    let announced_chunked = options.expected_size.is_some_and(|size| size >= threshold);
    let announced_blob = options.expected_size.is_some_and(|size| size < threshold);
    std::thread::scope(|scope| {
        let (returns, returned) = mpsc::channel::<Arc<Vec<u8>>>();
        let mut consumers = Vec::new();
        let mut spawn_hasher = |span: usize| {
            let (sender, input) = mpsc::sync_channel::<Filled>(IN_FLIGHT);
            consumers.push(sender);
            let returns = returns.clone();
            let abort = &abort;
            (input, returns, abort, span)
        };
        let whole_input = spawn_hasher(usize::MAX);
        let chunk_input = (!announced_blob).then(|| spawn_hasher(CHUNK_SIZE as usize));
        let piece_input = options
            .piece_hashes
            .then(|| spawn_hasher(PIECE_LENGTH as usize));
        let whole = {
            let (input, to_reader, flag, span) = whole_input;
            scope.spawn(move || span_loop::<sha2::Sha256, 32>(input, to_reader, flag, span))
        };
        let chunker = chunk_input.map(|(input, returns, abort, span)| {
            scope.spawn(move || span_loop::<sha2::Sha256, 32>(input, returns, abort, span))
        });
        let hasher = piece_input.map(|(input, returns, abort, span)| {
            scope.spawn(move || span_loop::<Sha1, 20>(input, returns, abort, span))
        });
        let (to_syncer, syncer_input) = mpsc::channel::<(File, PathBuf)>();
        let syncer = scope.spawn(|| sync_loop(syncer_input, &abort));
        let sink = Sink::new(tmp, id, threshold, announced_chunked, to_syncer);
        let (to_writer, writer_input) = mpsc::sync_channel::<Filled>(IN_FLIGHT);
        consumers.push(to_writer);
        let writer_returns = returns.clone();
        let writer = scope.spawn(|| write_loop(writer_input, writer_returns, sink, &abort));
        drop(returns);
        let read = read_loop(reader, options, &returned, &consumers, &abort);
        if read.is_err() {
            abort.store(true, Ordering::SeqCst);
        }
        drop(consumers);
        let written = join(writer);
        let whole = join(whole);
        let chunks = chunker.map(join).transpose();
        let pieces = hasher.map(join).transpose();
        let synced = join(syncer);
        let staged = (|| {
            // A thread's own error first: the others only stopped because of it (the reader
            // with the "aborted" marker, the consumers with `None`).
            let (written, whole, chunks, pieces) = (written?, whole?, chunks?, pieces?);
            synced?;
            let size = read?;
            // One span of "unbounded" length: one digest, or none for an empty upload.
            let sha256 = match whole.ok_or_else(aborted)?.first() {
                Some(digest) => Sha256(*digest),
                None => Sha256(sha2::Sha256::digest(b"").into()),
            };
            let written = written.ok_or_else(aborted)?;
            let body = match (written, chunks) {
                (Written::Blob(path), _) => StagedBody::Blob(path),
                (Written::Chunks(files), Some(Some(hashes))) if hashes.len() == files.len() => {
                    let staged = files.into_iter().zip(hashes);
                    StagedBody::Chunked(
                        staged
                            .map(|((path, size), hash)| StagedChunk {
                                sha256: Sha256(hash),
                                size,
                                path,
                            })
                            .collect(),
                    )
                }
                (Written::Chunks(_), _) => return Err(aborted()),
            };
            let piece_sha1 = match pieces {
                None => Vec::new(),
                Some(Some(pieces)) => pieces,
                Some(None) => return Err(aborted()),
            };
            Ok(Staged {
                sha256,
                size,
                piece_sha1,
                body,
            })
        })();
        if staged.is_err() {
            // The writer removed what it wrote when it saw the failure; this also catches the
            // finished files of a failed sync. Nothing of a failed ingest is kept.
            clean_prefix(tmp, id);
        }
        staged
    })
}

/// Removes every `<id>.*` file under `tmp`.
fn clean_prefix(tmp: &Path, id: &str) {
    let prefix = format!("{id}.");
    if let Ok(entries) = std::fs::read_dir(tmp) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Joins a pipeline thread, passing a panic on.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The calling thread's part: read, check the limits, hand each buffer to every consumer;
/// the number of bytes read.
fn read_loop(
    reader: &mut dyn Read,
    options: &IngestOptions,
    returned: &mpsc::Receiver<Arc<Vec<u8>>>,
    consumers: &[mpsc::SyncSender<Filled>],
    abort: &AtomicBool,
) -> Result<u64, ContentError> {
    let mut total: u64 = 0;
    let mut allocated = 0usize;
    loop {
        if abort.load(Ordering::SeqCst) {
            // A consumer failed (its error is the one reported): stop reading the upload.
            return Err(aborted());
        }
        let mut buf = next_buffer(returned, &mut allocated);
        let len = fill(reader, &mut buf).map_err(|source| ContentError::Read { source })?;
        total += len as u64;
        // The announced length is at most the limit (checked up front), so an overlong upload
        // that announced its length is a mismatch, as in every store.
        if let Some(expected) = options.expected_size {
            if total > expected {
                return Err(ContentError::SizeMismatch {
                    expected,
                    actual: total,
                });
            }
        }
        if total > options.max_size {
            return Err(ContentError::TooLarge {
                limit: options.max_size,
            });
        }
        if len == 0 {
            break;
        }
        let buf = Arc::new(buf);
        for consumer in consumers {
            let filled = Filled {
                buf: Arc::clone(&buf),
                len,
            };
            consumer.send(filled).map_err(|_| aborted())?;
        }
        drop(buf);
        if len < BUFFER {
            break;
        }
    }
    if let Some(expected) = options.expected_size {
        if total != expected {
            return Err(ContentError::SizeMismatch {
                expected,
                actual: total,
            });
        }
    }
    Ok(total)
}

/// A buffer of [`BUFFER`] bytes: a returned one when both consumers are done with it, a new one
/// while fewer than [`IN_FLIGHT`] exist, else waits for one.
fn next_buffer(returned: &mpsc::Receiver<Arc<Vec<u8>>>, allocated: &mut usize) -> Vec<u8> {
    while let Ok(buf) = returned.try_recv() {
        if let Ok(buf) = Arc::try_unwrap(buf) {
            return buf;
        }
    }
    if *allocated < IN_FLIGHT {
        *allocated += 1;
        return vec![0; BUFFER];
    }
    while let Ok(buf) = returned.recv() {
        if let Ok(buf) = Arc::try_unwrap(buf) {
            return buf;
        }
    }
    // Every consumer is gone (they failed); the next send reports it.
    vec![0; BUFFER]
}

/// Reads until `buf` is full or the reader ends; the number of bytes read.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) if n <= buf.len() - filled => filled += n,
            Ok(_) => {
                return Err(io::Error::other(
                    "the reader claimed more bytes than asked for",
                ));
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_once_every_consumer_returned_them_and_never_exceed_the_bound() {
        let (returns, returned) = mpsc::channel();
        let mut allocated = 0;
        let buffers: Vec<Vec<u8>> = (0..IN_FLIGHT)
            .map(|_| next_buffer(&returned, &mut allocated))
            .collect();
        assert_eq!(allocated, IN_FLIGHT);
        // Two consumers hold the first buffer; the first one back cannot be reused yet.
        let shared = Arc::new(buffers.into_iter().next().unwrap());
        let mark = shared.as_ptr() as usize;
        returns.send(Arc::clone(&shared)).unwrap();
        let consumer = shared;
        let waiter = std::thread::spawn(move || {
            let buf = next_buffer(&returned, &mut allocated);
            (buf.as_ptr() as usize, allocated)
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !waiter.is_finished(),
            "waits while a consumer holds the buffer"
        );
        returns.send(consumer).unwrap();
        let (reused, allocated) = waiter.join().unwrap();
        assert_eq!(reused, mark);
        assert_eq!(allocated, IN_FLIGHT);
    }

    struct Stutter(Vec<u8>, usize);

    impl Read for Stutter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 += 1;
            if self.1 % 2 == 1 {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let take = buf.len().min(self.0.len()).min(3);
            buf[..take].copy_from_slice(&self.0[..take]);
            self.0.drain(..take);
            Ok(take)
        }
    }

    #[test]
    fn fill_retries_interrupted_reads_until_full_or_the_end() {
        let mut reader = Stutter((0..10).collect(), 0);
        let mut buf = [0u8; 8];
        assert_eq!(fill(&mut reader, &mut buf).unwrap(), 8);
        assert_eq!(buf, [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(fill(&mut reader, &mut buf).unwrap(), 2);
        assert_eq!(fill(&mut reader, &mut buf).unwrap(), 0);
    }

    struct Counting<R>(R, u64);

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1 += n as u64;
            Ok(n)
        }
    }

    #[test]
    fn a_failing_writer_stops_the_reader_and_its_error_is_the_one_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");
        // An endless upload: only the abort flag can end this ingest.
        let mut reader = Counting(io::repeat(7).take(u64::MAX), 0);
        let result = stage(
            &missing,
            "w",
            1 << 20,
            &mut reader,
            &IngestOptions::default(),
        );
        assert!(
            matches!(&result, Err(ContentError::Io { path, .. }) if path.starts_with(&missing)),
            "{result:?}"
        );
        assert!(
            reader.1 < 64 << 20,
            "read {} bytes after the failure",
            reader.1
        );
    }

    #[test]
    fn a_failed_ingest_removes_its_files_and_no_other() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("other.blob"), b"someone else's").unwrap();
        let data = vec![5u8; 5 << 20];
        let mut reader = (&data[..]).chain(io::repeat(1).take(1));
        let options = IngestOptions {
            expected_size: Some(data.len() as u64),
            ..IngestOptions::default()
        };
        let result = stage(tmp.path(), "x", 1 << 20, &mut reader, &options);
        assert!(matches!(result, Err(ContentError::SizeMismatch { .. })));
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec!["other.blob"]);
    }
}
