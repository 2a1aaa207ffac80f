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
//! - the calling thread reads the upload into 2 MiB buffers and checks the limits;
//! - the whole-file thread hashes everything (the file's address);
//! - the chunk thread hashes each 2 MiB span (not started when the announced size makes the
//!   file a blob);
//! - the piece thread hashes the SHA-1 pieces (only when asked for);
//! - two writer threads write the temporary files, every other chunk each (one when the
//!   announced size makes the file a blob), see the `sink` module;
//! - a mostly idle thread `fdatasync`s finished chunk files (and a growing buffered blob every
//!   16 MiB), so the disk works while the rest goes on and the final sync is short.
//!
//! Buffers are shared (`Arc<AlignedBuf>`, 4096-aligned for `O_DIRECT`, no copy) and recycled:
//! each consumer hands its reference back, and the reader reuses a buffer once all have
//! (`Arc::try_unwrap`); at most 8 of 2 MiB are in flight, so memory stays at 16 MiB whatever
//! the upload size. A consumer that fails raises a flag and keeps draining, so nobody blocks; the
//! reader stops at the flag.
//!
//! The layout needs the size, which a stream tells only at its end. Without an announced size
//! writer 0 starts a single blob file; when the bytes reach the threshold it copies what it
//! wrote into chunk files (read back through a normal descriptor) and goes on in chunks, while
//! the chunk thread has hashed every span from the start (wasted on a file that stays a blob:
//! one pass, on a core of its own). With an announced size the layout is chosen up front.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use sha1::Sha1;
use sha2::Digest;

use crate::content::direct::AlignedBuf;
use crate::content::sink::Sink;
use crate::content::stages::{
    Filled, IN_FLIGHT, aborted, read_loop, span_loop, sync_loop, write_loop,
};
use crate::content::{CHUNK_SIZE, ContentError, IngestOptions, PIECE_LENGTH};
use swarmgate_core::Sha256;

/// Writer threads for a file that may be chunked (each writes every other chunk: with
/// `O_DIRECT` a writer waits for the device, and two keep two requests in flight).
const WRITERS: u32 = 2;

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

/// What a writer wrote: one blob, or chunk files (index in the file, path, length).
#[derive(Debug)]
pub(crate) enum Written {
    Blob(PathBuf),
    Chunks(Vec<(u32, PathBuf, u32)>),
}

/// The writers' files together: the blob, or every chunk in order (`None` when the parts do
/// not add up, which would be a bug); and whether all went with `O_DIRECT`.
fn merge(parts: Vec<(Written, bool)>) -> Option<(Written, bool)> {
    let direct = parts.iter().all(|(_, direct)| *direct);
    let mut chunks = Vec::new();
    let mut blob = None;
    for (written, _) in parts {
        match written {
            Written::Blob(path) if blob.is_none() => blob = Some(path),
            Written::Blob(_) => return None,
            Written::Chunks(mine) => chunks.extend(mine),
        }
    }
    if let Some(path) = blob {
        return chunks.is_empty().then_some((Written::Blob(path), direct));
    }
    chunks.sort_unstable_by_key(|(index, _, _)| *index);
    let in_order = chunks
        .iter()
        .enumerate()
        .all(|(i, (index, _, _))| i == *index as usize);
    in_order.then_some((Written::Chunks(chunks), direct))
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
        let parts = if announced_blob { 1 } else { WRITERS };
        let writers: Vec<_> = (0..parts)
            .map(|part| {
                let sink = Sink::new(
                    tmp,
                    id,
                    threshold,
                    announced_chunked,
                    (part, parts),
                    options.direct_io,
                    to_syncer.clone(),
                );
                let (to_writer, writer_input) = mpsc::sync_channel::<Filled>(IN_FLIGHT);
                consumers.push(to_writer);
                let writer_returns = returns.clone();
                let abort = &abort;
                spawn(scope, "ingest-write", move || {
                    write_loop(writer_input, writer_returns, sink, abort)
                })
            })
            .collect();
        drop((returns, to_syncer));
        let read = read_loop(reader, options, &returned, &consumers, &abort);
        if read.is_err() {
            abort.store(true, Ordering::SeqCst);
        }
        drop(consumers);
        let written: Vec<_> = writers.into_iter().map(join).collect();
        let whole = join(whole);
        let chunks = chunker.map(join).transpose();
        let pieces = hasher.map(join).transpose();
        let synced = join(syncer);
        let staged = (|| {
            // A thread's own error first: the others only stopped because of it (the reader
            // with the "aborted" marker, the consumers with `None`).
            let written = written.into_iter().collect::<Result<Vec<_>, _>>()?;
            let (whole, chunks, pieces) = (whole?, chunks?, pieces?);
            synced?;
            let size = read?;
            // One span of "unbounded" length: one digest, or none for an empty upload.
            let sha256 = match whole.ok_or_else(aborted)?.first() {
                Some(digest) => Sha256(*digest),
                None => Sha256(sha2::Sha256::digest(b"").into()),
            };
            let written = written.into_iter().collect::<Option<Vec<_>>>();
            let (written, direct) = written.and_then(merge).ok_or_else(aborted)?;
            let body = match (written, chunks) {
                (Written::Blob(path), _) => StagedBody::Blob(path),
                (Written::Chunks(files), Some(Some(hashes))) if hashes.len() == files.len() => {
                    let staged = files.into_iter().zip(hashes);
                    StagedBody::Chunked(
                        staged
                            .map(|((_, path, size), hash)| StagedChunk {
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

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn the_writers_parts_merge_into_the_blob_or_every_chunk_in_order() {
        let chunk = |index: u32| (index, PathBuf::from(format!("{index}")), 1);
        let merged = merge(vec![
            (Written::Chunks(vec![chunk(0), chunk(2)]), true),
            (Written::Chunks(vec![chunk(1)]), false),
        ]);
        let Some((Written::Chunks(chunks), false)) = merged else {
            panic!("three chunks, one part buffered: {merged:?}");
        };
        assert_eq!(chunks, vec![chunk(0), chunk(1), chunk(2)]);
        let blob = || Written::Blob(PathBuf::from("b"));
        let empty = || Written::Chunks(Vec::new());
        assert!(matches!(
            merge(vec![(blob(), true), (empty(), true)]),
            Some((Written::Blob(_), true))
        ));
        // Parts that do not add up: a gap, a chunk twice, a blob beside chunks, two blobs.
        for parts in [
            vec![(Written::Chunks(vec![chunk(0), chunk(2)]), true)],
            vec![(Written::Chunks(vec![chunk(0), chunk(0)]), true)],
            vec![(blob(), true), (Written::Chunks(vec![chunk(0)]), true)],
            vec![(blob(), true), (blob(), true)],
        ] {
            assert!(merge(parts).is_none());
        }
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
