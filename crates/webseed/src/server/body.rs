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
