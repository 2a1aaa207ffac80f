//! Streaming an upload into `data/tmp` while hashing it (SHA-256 addresses, BEP 3 SHA-1 pieces),
//! as a pipeline of threads.
//!
//! Two hash passes cover every byte: the SHA-256 of the whole file (its address) and the SHA-256
//! of each 2 MiB chunk (their addresses, for a chunked file); a third, the SHA-1 of each 2 MiB
//! piece (the v1 torrent, so the gateway needs no second read), only when asked for
//! ([`IngestOptions::piece_hashes`]: three passes cannot run at one core's SHA-256 rate on two
//! cores). The bytes go to disk with `O_DIRECT` where the file system takes it (see the
//! `direct` module): a copy into the page cache costs about as much as a hash pass. Each pass
//! runs on its own thread, so an upload goes as fast as the slowest of them when there are
//! cores enough:
//!
//! - the calling thread reads the upload into 1 MiB buffers and checks the limits;
//! - the whole-file thread hashes everything (the file's address);
//! - the chunk thread hashes each 2 MiB span (not started when the announced size makes the
//!   file a blob);
//! - the piece thread hashes the SHA-1 pieces (only when asked for);
//! - the writer thread writes the temporary file(s);
//! - a mostly idle thread `fdatasync`s finished chunk files (and a growing buffered blob every
//!   16 MiB), so the disk works while the rest goes on and the final sync is short.
//!
//! Buffers are shared (`Arc<AlignedBuf>`, 4096-aligned for `O_DIRECT`, no copy) and recycled:
//! each consumer hands its reference back, and the reader reuses a buffer once all have
//! (`Arc::try_unwrap`); at most 8 are in flight, so memory stays at 8 MiB whatever the upload
//! size. A consumer that fails raises a flag and keeps draining, so nobody blocks; the reader
//! stops at the flag.
//!
//! The layout needs the size, which a stream tells only at its end. Without an announced size
//! the writer starts a single blob file; when the bytes reach the threshold it copies what it
//! wrote into chunk files (read back through a normal descriptor) and goes on in chunks, while
//! the chunk thread has hashed every span from the start (wasted on a file that stays a blob:
//! one pass, on a core of its own). With an announced size the layout is chosen up front.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use sha1::Sha1;
use sha2::Digest;

use crate::content::direct::AlignedBuf;
use crate::content::sink::Sink;
use crate::content::stages::{Filled, aborted, span_loop, sync_loop, write_loop};
use crate::content::{CHUNK_SIZE, ContentError, IngestOptions, PIECE_LENGTH};
use crate::meta::Sha256;

/// The read size; it divides [`CHUNK_SIZE`], so chunk boundaries fall between buffers, and it is
/// a multiple of the `O_DIRECT` alignment, so every full buffer is written without a copy.
const BUFFER: usize = 1 << 20;
const _: () = assert!(CHUNK_SIZE as usize % BUFFER == 0);
const _: () = assert!(BUFFER % crate::content::direct::ALIGN == 0);
/// The most buffers in flight.
const IN_FLIGHT: usize = 8;

/// An upload written to temporary files, synced, hashed, not yet visible.
#[derive(Debug)]
pub(crate) struct Staged {
    pub(crate) sha256: Sha256,
    pub(crate) size: u64,
    pub(crate) piece_sha1: Vec<[u8; 20]>,
    pub(crate) body: StagedBody,
    /// Every temporary file was written with `O_DIRECT`.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "read by the tests: proof the pipeline wrote with O_DIRECT"
        )
    )]
    pub(crate) direct: bool,
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
        let (returns, returned) = mpsc::channel::<Arc<AlignedBuf>>();
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
            spawn(scope, "ingest-sha256", move || {
                span_loop::<sha2::Sha256, 32>(input, to_reader, flag, span)
            })
        };
        let chunker = chunk_input.map(|(input, returns, abort, span)| {
            spawn(scope, "ingest-chunks", move || {
                span_loop::<sha2::Sha256, 32>(input, returns, abort, span)
            })
        });
        let hasher = piece_input.map(|(input, returns, abort, span)| {
            spawn(scope, "ingest-sha1", move || {
                span_loop::<Sha1, 20>(input, returns, abort, span)
            })
        });
        let (to_syncer, syncer_input) = mpsc::channel::<(File, PathBuf)>();
        let syncer = spawn(scope, "ingest-sync", || sync_loop(syncer_input, &abort));
        let sink = Sink::new(
            tmp,
            id,
            threshold,
            announced_chunked,
            options.direct_io,
            to_syncer,
        );
        let (to_writer, writer_input) = mpsc::sync_channel::<Filled>(IN_FLIGHT);
        consumers.push(to_writer);
        let writer_returns = returns.clone();
        let writer = spawn(scope, "ingest-write", || {
            write_loop(writer_input, writer_returns, sink, &abort)
        });
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
            let (written, direct) = written.ok_or_else(aborted)?;
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
                direct,
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

/// Starts a pipeline thread named `name` (profilers and `top -H` show which stage is busy). A
/// thread that cannot be created panics, as `std::thread::scope`'s own `spawn` does.
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    run: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, run)
        .unwrap_or_else(|error| panic!("starting the {name} thread: {error}"))
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
    returned: &mpsc::Receiver<Arc<AlignedBuf>>,
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
fn next_buffer(returned: &mpsc::Receiver<Arc<AlignedBuf>>, allocated: &mut usize) -> AlignedBuf {
    while let Ok(buf) = returned.try_recv() {
        if let Ok(buf) = Arc::try_unwrap(buf) {
            return buf;
        }
    }
    if *allocated < IN_FLIGHT {
        *allocated += 1;
        return AlignedBuf::zeroed(BUFFER);
    }
    while let Ok(buf) = returned.recv() {
        if let Ok(buf) = Arc::try_unwrap(buf) {
            return buf;
        }
    }
    // Every consumer is gone (they failed); the next send reports it.
    AlignedBuf::zeroed(BUFFER)
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
        let buffers: Vec<AlignedBuf> = (0..IN_FLIGHT)
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

    /// The pipeline writes with `O_DIRECT` where the file system takes it and buffered when
    /// asked, and the staged files are the upload byte for byte either way: chunks (announced
    /// and streamed, so the blob-to-chunks read-back too) and a blob, each with a short tail.
    /// The direct path runs wherever the temp folder accepts `O_DIRECT` (ext4, and tmpfs from
    /// Linux 6.6, do; elsewhere it says so and checks the bytes alone).
    #[test]
    fn staged_files_hold_the_upload_with_and_without_o_direct() {
        use crate::content::direct::TempFile;
        let tmp = tempfile::tempdir().unwrap();
        let probe = TempFile::create(tmp.path().join("probe"), true).unwrap();
        let accepted = probe.is_direct();
        std::fs::remove_file(tmp.path().join("probe")).unwrap();
        if !accepted {
            eprintln!(
                "{}: O_DIRECT refused, only the buffered path runs",
                tmp.path().display()
            );
        }
        let data: Vec<u8> = (0..(5u32 << 20) + 4097).map(|i| (i % 251) as u8).collect();
        let cases = [
            (5 << 20, None),
            (3 << 20, None),
            (3 << 20, Some(data.len() as u64)),
        ];
        for (n, (threshold, expected_size)) in cases.into_iter().enumerate() {
            for direct_io in [true, false] {
                let options = IngestOptions {
                    expected_size,
                    direct_io,
                    ..IngestOptions::default()
                };
                let id = format!("d{n}-{direct_io}");
                let staged = stage(tmp.path(), &id, threshold, &mut &data[..], &options).unwrap();
                let back: Vec<u8> = match &staged.body {
                    StagedBody::Blob(path) => std::fs::read(path).unwrap(),
                    StagedBody::Chunked(chunks) => chunks
                        .iter()
                        .flat_map(|chunk| std::fs::read(&chunk.path).unwrap())
                        .collect(),
                };
                assert!(back == data, "{id}");
                assert_eq!(
                    matches!(staged.body, StagedBody::Blob(_)),
                    threshold > data.len() as u64
                );
                assert_eq!(staged.direct, direct_io && accepted, "{id}");
                staged.discard();
            }
        }
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
