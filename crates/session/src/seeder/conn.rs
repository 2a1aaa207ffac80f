//! One peer socket of a seeded torrent (BEP 3 wire bytes): a reader task and a writer task that
//! only move bytes between the socket and the torrent's task.
//!
//! Unlike the download driver's connections, both tasks are aborted when the [`Link`] drops:
//! `remove` and `shutdown` close sockets at once, and a peer that stops reading cannot keep a
//! writer (and its socket) alive after its torrent let it go. Both tasks live in the torrent
//! task's `JoinSet`, so the torrent task ends only once its sockets are closed.

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use crate::picker::PeerKey;
use crate::socket::{SocketEvents, read_loop, write_loop};

/// Bytes read from a socket at a time, at most. A seeder's peers send small messages
/// (requests, haves), so the buffer each connection keeps is small: 500 peers cost 16 MiB.
const READ_CHUNK: usize = 32 * 1024;

/// What a connection's tasks tell the torrent task.
#[derive(Debug)]
pub(super) enum ConnEvent {
    /// Bytes arrived.
    Data { key: PeerKey, bytes: Bytes },
    /// This many queued bytes reached the socket.
    Written { key: PeerKey, bytes: usize },
    /// The peer closed, or reading or writing failed.
    Closed { key: PeerKey },
}

/// An open connection: its outbound queue and its tasks, aborted on drop.
pub(super) struct Link {
    outbound: mpsc::UnboundedSender<Bytes>,
    reader: AbortHandle,
    writer: AbortHandle,
}

impl Link {
    /// Starts the tasks of `stream` in `tasks`.
    pub(super) fn start(
        key: PeerKey,
        stream: TcpStream,
        events: mpsc::Sender<ConnEvent>,
        tasks: &mut JoinSet<()>,
    ) -> Link {
        // Small messages must not wait for Nagle; failure to set it is harmless.
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let (outbound, queue) = mpsc::unbounded_channel::<Bytes>();
        let reader = tasks.spawn(read_loop(key, read, READ_CHUNK, events.clone()));
        let writer = tasks.spawn(write_loop(key, write, queue, events));
        Link {
            outbound,
            reader,
            writer,
        }
    }

    /// Queues bytes for the socket (dropped if the writer already failed and reported it).
    pub(super) fn send(&self, bytes: Bytes) {
        let _ = self.outbound.send(bytes);
    }
}

impl SocketEvents for ConnEvent {
    fn data(key: PeerKey, bytes: Bytes) -> Self {
        ConnEvent::Data { key, bytes }
    }

    fn written(key: PeerKey, bytes: usize) -> Self {
        ConnEvent::Written { key, bytes }
    }

    fn closed(key: PeerKey) -> Self {
        ConnEvent::Closed { key }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn bytes_go_both_ways_and_dropping_the_link_closes_the_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (events_tx, mut events) = mpsc::channel(8);
        let mut tasks = JoinSet::new();
        let key = PeerKey(7);
        let link = Link::start(key, server, events_tx, &mut tasks);

        link.send(Bytes::from_static(b"hello"));
        let mut got = [0u8; 5];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        client.write_all(b"ping").await.unwrap();
        let mut data = Vec::new();
        let mut written = 0;
        while data.len() < 4 || written < 5 {
            match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
                Ok(Some(ConnEvent::Data { key: k, bytes })) => {
                    assert_eq!(k, key);
                    data.extend_from_slice(&bytes);
                }
                Ok(Some(ConnEvent::Written { bytes, .. })) => written += bytes,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(data, b"ping");

        // A peer that never reads: a large queue, then the link drops; the socket closes anyway.
        link.send(Bytes::from(vec![0u8; 8 * 1024 * 1024]));
        drop(link);
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        });
        ended.await.expect("both tasks end");
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest));
        assert!(
            read.await.is_ok(),
            "the socket is closed (EOF or reset), not left open"
        );
    }

    #[tokio::test]
    async fn a_peer_that_closes_is_reported() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (events_tx, mut events) = mpsc::channel(8);
        let mut tasks = JoinSet::new();
        let _link = Link::start(PeerKey(1), server, events_tx, &mut tasks);
        drop(client);
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
        assert!(matches!(
            event,
            Ok(Some(ConnEvent::Closed { key: PeerKey(1) }))
        ));
    }
}
