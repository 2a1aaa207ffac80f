//! An async upload body into the blocking publish: [`publish_stream`].
//!
//! The body is pumped on the async side into a small bounded channel, and the publish runs on a
//! blocking thread reading that channel as a `Read`. So a slow disk slows the client down (TCP
//! back-pressure) rather than filling memory, and a client that stops sending for the idle limit
//! or disconnects ends the ingest with an error, which leaves nothing behind. The end of the
//! body is an explicit marker: a channel that merely closes (the request was dropped, the
//! server is stopping) is a cut-off upload, never a complete one.

use std::fmt::Display;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::error::CatalogError;
use crate::{Catalog, PublishRequest, Published};

/// Chunks in flight between the body and the ingest, at most (16 of hyper's 16-64 KiB frames).
const CHANNEL_CHUNKS: usize = 16;

/// Publishes the upload `body` (any stream of byte chunks: an HTTP body, a multipart field)
/// with `request`'s limits; a body that sends nothing for `idle` is [`CatalogError::Idle`].
/// Returns once the file is committed and served, or once the upload failed and nothing of it
/// is kept.
pub async fn publish_stream<S, E>(
    catalog: Arc<Catalog>,
    body: S,
    request: PublishRequest,
    idle: Duration,
) -> Result<Published, CatalogError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_CHUNKS);
    let work = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader::new(receiver);
        catalog.publish(&mut reader, &request)
    });
    let (joined, ()) = tokio::join!(work, pump(body, sender, idle));
    let result = joined.map_err(|e| CatalogError::Interrupted {
        source: io::Error::other(e),
    })?;
    result.map_err(|error| match error {
        CatalogError::Interrupted { source } if source.kind() == io::ErrorKind::TimedOut => {
            CatalogError::Idle { idle }
        }
        other => other,
    })
}

/// Moves `body`'s chunks into the channel until its end (then the end marker), an error or an
/// idle gap; stops early when the ingest has stopped reading.
async fn pump<S, E>(mut body: S, sender: mpsc::Sender<io::Result<Bytes>>, idle: Duration)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    loop {
        let chunk = match tokio::time::timeout(idle, body.next()).await {
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "upload idle")),
            Ok(Some(Err(reason))) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                reason.to_string(),
            )),
            Ok(None) => Ok(Bytes::new()),
            Ok(Some(Ok(bytes))) if bytes.is_empty() => continue,
            Ok(Some(Ok(bytes))) => Ok(bytes),
        };
        let last = chunk.as_ref().map_or(true, Bytes::is_empty);
        // A closed channel means the ingest already stopped (with its own error).
        if sender.send(chunk).await.is_err() || last {
            break;
        }
    }
}

/// The ingest's view of the body: chunks from the channel. An empty chunk is the body's end;
/// an error chunk, or a channel closed before the end, is a failed upload.
struct ChannelReader {
    receiver: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    ended: bool,
}

impl ChannelReader {
    fn new(receiver: mpsc::Receiver<io::Result<Bytes>>) -> ChannelReader {
        ChannelReader {
            receiver,
            current: Bytes::new(),
            ended: false,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.receiver.blocking_recv() {
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upload was cut off before its end",
                    ));
                }
                Some(Err(error)) => return Err(error),
                Some(Ok(bytes)) if bytes.is_empty() => self.ended = true,
                Some(Ok(bytes)) => self.current = bytes,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_reader_ends_at_the_end_marker_and_fails_on_an_error_chunk() {
        let (sender, receiver) = mpsc::channel(4);
        sender.try_send(Ok(Bytes::from_static(b"hello "))).unwrap();
        sender.try_send(Ok(Bytes::from_static(b"world"))).unwrap();
        sender.try_send(Ok(Bytes::new())).unwrap();
        drop(sender);
        let mut reader = ChannelReader::new(receiver);
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");

        // Closed without the end marker (the request was dropped): an error, not an end.
        let (sender, receiver) = mpsc::channel(4);
        sender.try_send(Ok(Bytes::from_static(b"half"))).unwrap();
        drop(sender);
        let mut reader = ChannelReader::new(receiver);
        let mut out = Vec::new();
        assert_eq!(
            reader.read_to_end(&mut out).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );

        let (sender, receiver) = mpsc::channel(4);
        sender.try_send(Ok(Bytes::from_static(b"abc"))).unwrap();
        sender
            .try_send(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut")))
            .unwrap();
        let mut reader = ChannelReader::new(receiver);
        let mut out = Vec::new();
        assert_eq!(
            reader.read_to_end(&mut out).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert_eq!(out, b"abc");
    }
}
