//! Peer connections over TCP: dialling, accepting, and one reader and one writer task per socket.
//!
//! The tasks only move bytes: everything they read goes to the engine loop as [`Inbound::Data`],
//! everything the engine wants sent arrives on the connection's queue. The inbound channel is
//! bounded, so a loop busy with the disk makes readers wait and TCP slows the peers down; the
//! outbound side is bounded by the engine itself (requests are small, and uploads are read from
//! disk only while less than 256 KiB is unsent).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use swarmgate_peer::{Handshake, read_handshake};
use swarmgate_rank::Source;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;

use crate::picker::PeerKey;
use crate::socket::{SocketEvents, read_loop, write_loop};

/// How long a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an incoming peer has to send its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from a socket at a time, at most.
const READ_CHUNK: usize = 256 * 1024;

/// Something for the engine loop from the network side.
#[derive(Debug)]
pub(crate) enum Inbound {
    Connected {
        key: PeerKey,
        stream: TcpStream,
    },
    ConnectFailed {
        key: PeerKey,
    },
    Incoming {
        addr: SocketAddr,
        handshake: Handshake,
        stream: TcpStream,
    },
    Data {
        key: PeerKey,
        bytes: Bytes,
    },
    Written {
        key: PeerKey,
        bytes: usize,
    },
    Closed {
        key: PeerKey,
    },
    Peers {
        addrs: Vec<SocketAddr>,
        source: Source,
    },
    WebSeedPiece {
        key: PeerKey,
        piece: swarmgate_core::PieceIndex,
        result: Result<Bytes, super::web_seed::FetchError>,
    },
}

/// An open connection's outbound queue and the handles to stop its tasks.
pub(crate) struct Connection {
    outbound: mpsc::UnboundedSender<Bytes>,
    reader: AbortHandle,
    writer: AbortHandle,
}

impl Connection {
    /// Queues bytes for the socket.
    pub(crate) fn send(&self, bytes: Bytes) {
        // A closed queue means the writer already hit an error and reported the close.
        let _ = self.outbound.send(bytes);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Both tasks end now, which closes the socket: the engine has dropped the peer, and a
        // writer left to flush its queue would wait for ever on a peer that does not read.
        self.reader.abort();
        self.writer.abort();
    }
}

/// Dials `addr` in the background; the result comes back as `Connected` or `ConnectFailed`.
pub(crate) fn dial(key: PeerKey, addr: SocketAddr, inbound: mpsc::Sender<Inbound>) {
    tokio::spawn(async move {
        let message = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => Inbound::Connected { key, stream },
            _ => Inbound::ConnectFailed { key },
        };
        let _ = inbound.send(message).await;
    });
}

/// Incoming sockets in their handshake at once, at most; more are closed at accept. A download
/// takes its peers mostly from its own dials, and the engine admits at most `max_peers` of
/// those that complete, so this only keeps a flood of connects from costing a task and a
/// descriptor each for the handshake timeout.
const MAX_HANDSHAKING: usize = 64;

/// Accepts peers until the listener fails; each one's handshake is read before it is handed on.
pub(crate) fn listen(listener: TcpListener, inbound: mpsc::Sender<Inbound>) -> AbortHandle {
    let handshaking = Arc::new(Semaphore::new(MAX_HANDSHAKING));
    tokio::spawn(async move {
        while let Ok((mut stream, addr)) = listener.accept().await {
            let Ok(place) = Arc::clone(&handshaking).try_acquire_owned() else {
                continue; // dropped: closed
            };
            let inbound = inbound.clone();
            tokio::spawn(async move {
                let handshake = read_handshake(&mut stream, HANDSHAKE_TIMEOUT).await;
                drop(place);
                if let Ok(handshake) = handshake {
                    let _ = inbound
                        .send(Inbound::Incoming {
                            addr,
                            handshake,
                            stream,
                        })
                        .await;
                }
            });
        }
    })
    .abort_handle()
}

/// Starts the reader and writer tasks of an open socket.
pub(crate) fn start(key: PeerKey, stream: TcpStream, inbound: mpsc::Sender<Inbound>) -> Connection {
    // Small request messages must not wait for Nagle; failure to set it is harmless.
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let (outbound, queue) = mpsc::unbounded_channel::<Bytes>();
    let reader = tokio::spawn(read_loop(key, read, READ_CHUNK, inbound.clone())).abort_handle();
    let writer = tokio::spawn(write_loop(key, write, queue, inbound)).abort_handle();
    Connection {
        outbound,
        reader,
        writer,
    }
}

impl SocketEvents for Inbound {
    fn data(key: PeerKey, bytes: Bytes) -> Self {
        Inbound::Data { key, bytes }
    }

    fn written(key: PeerKey, bytes: usize) -> Self {
        Inbound::Written { key, bytes }
    }

    fn closed(key: PeerKey) -> Self {
        Inbound::Closed { key }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    /// The engine drops a peer that does not read; its connection must close then, not wait
    /// for a queue the peer will never drain.
    #[tokio::test]
    async fn dropping_a_connection_closes_its_socket_whatever_is_queued() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut remote = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        let (inbound, mut events) = mpsc::channel(64);
        let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
        let connection = start(PeerKey(1), ours, inbound);
        let chunk = Bytes::from(vec![0u8; 1 << 20]);
        for _ in 0..16 * 1024 {
            connection.send(chunk.clone()); // 16 GiB queued, one buffer shared
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(connection);

        let mut buf = vec![0u8; 1 << 20];
        let mut read = 0usize;
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match remote.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "still open after {read} bytes");
        assert!(
            read < 1 << 30,
            "{read} bytes: the queue was flushed, not dropped"
        );
        drain.abort();
    }
}
