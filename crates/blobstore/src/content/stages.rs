//! The threads of an ingest (SHA-256 addresses, BEP 3 SHA-1 pieces): the reader, and the
//! consumers it feeds its shared buffers to (the hash threads, the writers) and the sync thread.
//!
//! Every consumer hands each buffer back when done with it (the reader reuses a buffer once all
//! have). One that fails raises the shared flag and keeps draining its input, so the reader
//! never blocks on it; the others stop working at the flag and answer `None`.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use sha2::Digest;
use sha2::digest::FixedOutputReset;

use crate::content::direct::AlignedBuf;
use crate::content::ingest::Written;
use crate::content::sink::Sink;
use crate::content::{CHUNK_SIZE, ContentError, IngestOptions};

/// The read size (2 MiB: half the channel messages and wake-ups of 1 MiB, and one write per
/// chunk); it divides [`CHUNK_SIZE`], so chunk boundaries fall between buffers, and it is a
/// multiple of the `O_DIRECT` alignment, so every full buffer is written without a copy.
const BUFFER: usize = 2 << 20;
const _: () = assert!(CHUNK_SIZE as usize % BUFFER == 0);
const _: () = assert!(BUFFER % crate::content::direct::ALIGN == 0);
/// The most buffers in flight.
pub(crate) const IN_FLIGHT: usize = 8;

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

/// The calling thread's part: read, check the limits, hand each buffer to every consumer;
/// the number of bytes read.
pub(crate) fn read_loop(
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
}
