//! BEP 19 answer bodies: a byte range of a file streamed in bounded chunks, one read ahead.
//!
//! Each chunk is read on tokio's blocking pool. As soon as a chunk is handed to hyper the read of
//! the next one starts, so the disk (or page cache) and the socket work at the same time, and at
//! most two chunks of one answer are in memory. A read error ends the body with that error, which
//! makes hyper drop the connection: the client sees a short answer, never wrong bytes.

use std::future::Future as _;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::HttpBody;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::task::JoinHandle;

use super::{WebSeedFile, read_checked};

/// The body of one answer: `head` (already read), then `rest` read chunk by chunk.
pub(super) struct FileBody<F> {
    file: Arc<F>,
    head: Option<Bytes>,
    rest: Range<u64>,
    chunk: u64,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    remaining: u64,
}

impl<F: WebSeedFile> FileBody<F> {
    pub(super) fn new(file: Arc<F>, head: Bytes, rest: Range<u64>, chunk: usize) -> Self {
        let remaining = head.len() as u64 + (rest.end - rest.start);
        let mut body = Self {
            file,
            head: (!head.is_empty()).then_some(head),
            rest,
            chunk: chunk.max(1) as u64,
            pending: None,
            remaining,
        };
        // Read ahead while hyper writes the head.
        body.start_next();
        body
    }

    fn start_next(&mut self) {
        if self.pending.is_some() || self.rest.is_empty() {
            return;
        }
        let length = (self.rest.end - self.rest.start).min(self.chunk);
        let range = self.rest.start..self.rest.start + length;
        self.rest.start = range.end;
        let file = Arc::clone(&self.file);
        self.pending = Some(tokio::task::spawn_blocking(move || {
            read_checked(&*file, range)
        }));
    }

    fn data(&mut self, bytes: Bytes) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
        self.start_next();
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

impl<F: WebSeedFile> HttpBody for FileBody<F> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = self.get_mut();
        if let Some(head) = this.head.take() {
            return this.data(head);
        }
        let Some(pending) = this.pending.as_mut() else {
            return Poll::Ready(None);
        };
        let result = ready!(Pin::new(pending).poll(cx));
        this.pending = None;
        match result {
            Ok(Ok(bytes)) => this.data(bytes),
            Ok(Err(error)) => {
                this.rest = this.rest.end..this.rest.end;
                Poll::Ready(Some(Err(error)))
            }
            Err(join) => {
                this.rest = this.rest.end..this.rest.end;
                Poll::Ready(Some(Err(io::Error::other(join))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.pending.is_none() && self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` bytes where byte i is i mod 251, counting reads.
    struct Pattern {
        len: u64,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl WebSeedFile for Pattern {
        fn len(&self) -> u64 {
            self.len
        }

        fn read(&self, offset: u64, length: usize) -> io::Result<Bytes> {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok((offset..offset + length as u64)
                .map(|i| (i % 251) as u8)
                .collect())
        }
    }

    #[tokio::test]
    async fn streams_the_range_in_chunks_in_order() {
        use std::future::poll_fn;
        let file = Arc::new(Pattern {
            len: 10_000,
            reads: 0.into(),
        });
        let head = file.read(100, 50).unwrap();
        let mut body = FileBody::new(Arc::clone(&file), head, 150..5_000, 1_000);
        assert_eq!(body.size_hint().exact(), Some(4_900));
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= 1_000);
            got.extend_from_slice(&data);
            frames += 1;
            assert!(frames <= 10, "bounded");
        }
        assert!(body.is_end_stream());
        let expected: Vec<u8> = (100..5_000u64).map(|i| (i % 251) as u8).collect();
        assert_eq!(got, expected);
        assert_eq!(frames, 6, "the head, then 5 chunks of at most 1,000 bytes");
    }
}
