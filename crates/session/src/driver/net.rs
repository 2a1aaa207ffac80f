//! Peer connections over TCP: dialling, accepting, and one reader and one writer task per socket.
//!
//! The tasks only move bytes: everything they read goes to the engine loop as [`Inbound::Data`],
//! everything the engine wants sent arrives on the connection's queue. The inbound channel is
//! bounded, so a loop busy with the disk makes readers wait and TCP slows the peers down; the
//! outbound side is bounded by the engine itself (requests are small, and uploads are read from
//! disk only while less than 256 KiB is unsent).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use swarmgate_peer::{Handshake, read_handshake};
use swarmgate_rank::Source;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
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
        // Dropping `outbound` ends the writer after what is queued, which closes the socket.
        self.reader.abort();
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

/// Accepts peers until the listener fails; each one's handshake is read before it is handed on.
pub(crate) fn listen(listener: TcpListener, inbound: mpsc::Sender<Inbound>) -> AbortHandle {
    tokio::spawn(async move {
        while let Ok((mut stream, addr)) = listener.accept().await {
            let inbound = inbound.clone();
            tokio::spawn(async move {
                if let Ok(handshake) = read_handshake(&mut stream, HANDSHAKE_TIMEOUT).await {
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
    tokio::spawn(write_loop(key, write, queue, inbound));
    Connection { outbound, reader }
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
