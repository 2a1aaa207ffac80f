//! A peer socket's two byte-moving tasks (BEP 3 wire bytes, not parsed here), shared by the
//! download driver and the seeder: the reader hands every read to its owner as it comes, the
//! writer sends the owner's queue in order and reports what reached the socket (the engine
//! reads uploads from disk only while little is unsent).
//!
//! Each owner has its own event type; [`SocketEvents`] says how to make the three events in it.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::picker::PeerKey;

/// The events a socket's tasks send their owner.
pub(crate) trait SocketEvents: Send + 'static {
    /// Bytes arrived from `key`.
    fn data(key: PeerKey, bytes: Bytes) -> Self;
    /// This many queued bytes reached `key`'s socket.
    fn written(key: PeerKey, bytes: usize) -> Self;
    /// `key` closed, or reading or writing failed.
    fn closed(key: PeerKey) -> Self;
}

/// Reads `chunk` bytes at most at a time until the peer closes or a read fails, then reports
/// the close; stops quietly when the owner is gone.
pub(crate) async fn read_loop<E: SocketEvents>(
    key: PeerKey,
    mut read: OwnedReadHalf,
    chunk: usize,
    owner: mpsc::Sender<E>,
) {
    let mut buffer = BytesMut::with_capacity(chunk);
    loop {
        buffer.reserve(chunk);
        match read.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let bytes = buffer.split().freeze();
                if owner.send(E::data(key, bytes)).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = owner.send(E::closed(key)).await;
}

/// Writes the queue in order, reporting each write; a failed write reports the close. When the
/// owner drops the queue, what was queued is sent and the socket is shut down.
pub(crate) async fn write_loop<E: SocketEvents>(
    key: PeerKey,
    mut write: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Bytes>,
    owner: mpsc::Sender<E>,
) {
    while let Some(bytes) = queue.recv().await {
        if write.write_all(&bytes).await.is_err() {
            let _ = owner.send(E::closed(key)).await;
            return;
        }
        if owner.send(E::written(key, bytes.len())).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}
