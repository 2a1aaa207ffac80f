//! Bytes between the async HTTP side and the blocking store: [`Ingest`] feeds a request body
//! (or a mirrored origin's) into `BlobStore::put` through a bounded channel, and [`BlobBody`]
//! streams a blob out in `read_chunk` pieces, each read by a blocking call of its own.
//!
//! Both channels are bounded (a few chunks), so memory per transfer stays at a few chunks
//! whatever the blob's size, and a slow side throttles the other: a slow client stops the
//! reads, a slow disk stops the body from being polled.
//!
//! Blocking threads are the process's scarcest resource (tokio keeps at most 512, and every
//! disk read of the host shares them), so no transfer holds one while it waits on a client: a
//! GET's reader is an async task that takes a blocking thread for one chunk at a time and waits
//! for the client without one, and an upload's `put`, which must block on its body, is held to
//! the upload slots and to [`BlossomConfig::upload_idle_timeout`](crate::BlossomConfig) between
//! two body chunks.

use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::{Buf, Bytes};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use swarmgate_core::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::State;
use crate::store::{BlobStore, PutBlob, StoreError, Stored};

/// Chunks in flight in either direction.
const IN_FLIGHT: usize = 4;

/// An upload being stored: send its chunks, then [`finish`](Ingest::finish).
pub(crate) struct Ingest {
    tx: mpsc::Sender<io::Result<Bytes>>,
    task: JoinHandle<Result<Stored, StoreError>>,
}

impl Ingest {
    /// Starts `put` on a blocking thread, reading from the channel.
    pub(crate) fn start<S: BlobStore>(state: &Arc<State<S>>, put: PutBlob) -> Self {
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let state = Arc::clone(state);
        let task = tokio::task::spawn_blocking(move || {
            let mut reader = ChannelReader {
                rx,
                current: Bytes::new(),
            };
            state.store.put(&mut reader, &put)
        });
        Ingest { tx, task }
    }

    /// Hands one chunk (or the body's failure) to the store; `false` when the store stopped
    /// reading (it refused the upload: [`finish`](Ingest::finish) says why).
    pub(crate) async fn send(&self, chunk: io::Result<Bytes>) -> bool {
        self.tx.send(chunk).await.is_ok()
    }

    /// Ends the body and waits for the store's answer.
    pub(crate) async fn finish(self) -> Result<Stored, StoreError> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| StoreError::Io(format!("store task failed: {e}")))?
    }

    /// Pumps a whole request body into the store and waits for its answer; a body that sends
    /// nothing for `idle` fails the upload.
    pub(crate) async fn pump(self, mut body: Body, idle: Duration) -> Result<Stored, StoreError> {
        loop {
            let Ok(frame) = tokio::time::timeout(idle, body.frame()).await else {
                let stalled = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no body bytes for {} s", idle.as_secs()),
                );
                self.send(Err(stalled)).await;
                break;
            };
            let Some(frame) = frame else {
                break;
            };
            let chunk = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => Ok(data),
                    Err(_) => continue,
                },
                Err(error) => Err(io::Error::other(error)),
            };
            let failed = chunk.is_err();
            if !self.send(chunk).await || failed {
                break;
            }
        }
        self.finish().await
    }
}

/// The blocking side of an [`Ingest`] channel.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(error)) => return Err(error),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// A response body streaming `len` bytes of a blob from `offset`.
pub(crate) struct BlobBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    remaining: u64,
}

impl BlobBody {
    /// Starts the blocking reader of `sha256[offset..offset + len]`.
    pub(crate) fn start<S: BlobStore>(
        state: &Arc<State<S>>,
        sha256: Sha256,
        offset: u64,
        len: u64,
    ) -> Self {
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let state = Arc::clone(state);
        let chunk = state.config.read_chunk.max(1);
        tokio::spawn(async move {
            let end = offset + len;
            let mut at = offset;
            while at < end {
                let want = usize::try_from(end - at).unwrap_or(usize::MAX).min(chunk);
                let reader = Arc::clone(&state);
                let read =
                    tokio::task::spawn_blocking(move || reader.store.read(&sha256, at, want)).await;
                let piece = match read {
                    Ok(Ok(piece)) if piece.is_empty() => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the blob ended early",
                    )),
                    Ok(Ok(piece)) if piece.len() > want => Ok(piece.slice(..want)),
                    Ok(Ok(piece)) => Ok(piece),
                    Ok(Err(error)) => Err(io::Error::other(error)),
                    Err(error) => Err(io::Error::other(error)),
                };
                let failed = piece.is_err();
                at += piece.as_ref().map_or(0, |p| p.len() as u64);
                // Waits for room without a thread: a slow client costs a parked task.
                if tx.send(piece).await.is_err() || failed {
                    break;
                }
            }
        });
        BlobBody { rx, remaining: len }
    }
}

impl http_body::Body for BlobBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(piece))) => {
                self.remaining = self.remaining.saturating_sub(piece.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(piece))))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
            Poll::Ready(None) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the blob reader stopped early",
            )))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
