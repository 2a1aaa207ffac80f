//! The consumer threads of an ingest (SHA-256 addresses, BEP 3 SHA-1 pieces): the hash threads,
//! the writer and the sync thread, each fed the reader's shared buffers.
//!
//! Every consumer hands each buffer back when done with it (the reader reuses a buffer once all
//! have). One that fails raises the shared flag and keeps draining its input, so the reader
//! never blocks on it; the others stop working at the flag and answer `None`.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use sha2::Digest;
use sha2::digest::FixedOutputReset;

use crate::content::ContentError;
use crate::content::direct::AlignedBuf;
use crate::content::ingest::Written;
use crate::content::sink::Sink;

/// A buffer in flight: `len` valid bytes.
pub(crate) struct Filled {
    pub(crate) buf: Arc<AlignedBuf>,
    pub(crate) len: usize,
}

/// A consumer thread's answer: `None` when another thread failed first.
pub(crate) type Outcome<T> = Result<Option<T>, ContentError>;

/// What a thread that stopped because another failed reports; the other's own error is the one
/// the ingest returns, so this is never seen unless a thread vanished without one.
pub(crate) fn aborted() -> ContentError {
    ContentError::corrupt("ingest", "aborted")
}

/// The writer thread: the sink gets every buffer; what it wrote and whether all of it went with
/// `O_DIRECT`, or `None` when another thread aborted.
pub(crate) fn write_loop(
    input: mpsc::Receiver<Filled>,
    returns: mpsc::Sender<Arc<AlignedBuf>>,
    mut sink: Sink<'_>,
    abort: &AtomicBool,
) -> Outcome<(Written, bool)> {
    let mut failed = None;
    for Filled { buf, len } in input {
        if failed.is_none() && !abort.load(Ordering::SeqCst) {
            if let Err(error) = sink.write(&buf[..len]) {
                abort.store(true, Ordering::SeqCst);
                failed = Some(error);
            }
        }
        let _ = returns.send(buf);
    }
    if let Some(error) = failed {
        sink.discard();
        return Err(error);
    }
    if abort.load(Ordering::SeqCst) {
        sink.discard();
        return Ok(None);
    }
    sink.finish().map(Some)
}

/// A hash thread: the digest `D` (of `N` bytes) of every `span` bytes of the stream, the last
/// span shorter; `None` when aborted.
pub(crate) fn span_loop<D: Digest + FixedOutputReset, const N: usize>(
    input: mpsc::Receiver<Filled>,
    returns: mpsc::Sender<Arc<AlignedBuf>>,
    abort: &AtomicBool,
    span: usize,
) -> Outcome<Vec<[u8; N]>> {
    let mut hasher = D::new();
    let mut in_span = 0usize;
    let mut digests = Vec::new();
    let finish = |hasher: &mut D, digests: &mut Vec<[u8; N]>| {
        let mut digest = [0u8; N];
        digest.copy_from_slice(&hasher.finalize_reset());
        digests.push(digest);
    };
    for Filled { buf, len } in input {
        if !abort.load(Ordering::SeqCst) {
            let mut data = &buf[..len];
            while !data.is_empty() {
                let take = (span - in_span).min(data.len());
                Digest::update(&mut hasher, &data[..take]);
                in_span += take;
                data = &data[take..];
                if in_span == span {
                    finish(&mut hasher, &mut digests);
                    in_span = 0;
                }
            }
        }
        let _ = returns.send(buf);
    }
    if abort.load(Ordering::SeqCst) {
        return Ok(None);
    }
    if in_span > 0 {
        finish(&mut hasher, &mut digests);
    }
    Ok(Some(digests))
}

/// The sync thread: `fdatasync`s each file it is given; the first error aborts the ingest.
pub(crate) fn sync_loop(
    input: mpsc::Receiver<(File, PathBuf)>,
    abort: &AtomicBool,
) -> Result<(), ContentError> {
    let mut failed = None;
    for (file, path) in input {
        if failed.is_none() && !abort.load(Ordering::SeqCst) {
            if let Err(error) = file.sync_data() {
                abort.store(true, Ordering::SeqCst);
                failed = Some(ContentError::io(&path, error));
            }
        }
    }
    failed.map_or(Ok(()), Err)
}
