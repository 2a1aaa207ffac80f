//! BEP 3 over TCP: a tokio driver for one [`PeerSession`], and BEP 9 metadata fetching on it.
//!
//! [`PeerConnection::next_event`] reads, writes and runs the session's timers concurrently in
//! one `select!`, so two peers sending to each other at once never deadlock on full socket
//! buffers. Reads go straight into the session's receive buffer (no intermediate copy).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use swarmgate_core::{InfoHashV1, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{MetadataError, PeerError, Timeout};
use crate::extension::UT_METADATA;
use crate::handshake::{HANDSHAKE_LEN, Handshake};
use crate::metadata::{MetadataFetcher, MetadataMessage};
use crate::session::{PeerEvent, PeerSession, Role, SessionConfig};

/// How many `ut_metadata` requests [`fetch_metadata`] keeps in flight.
const METADATA_WINDOW: usize = 4;

/// Why [`PeerConnection::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connection was refused or failed.
    #[error("connect: {0}")]
    Io(#[from] std::io::Error),
    /// The TCP connection did not complete in time.
    #[error("connect timed out")]
    TimedOut,
}

/// Why [`fetch_metadata`] failed; try another peer.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Could not connect.
    #[error("{0}")]
    Connect(#[from] ConnectError),
    /// The session failed (handshake, protocol, timeout, closed).
    #[error("{0}")]
    Peer(#[from] PeerError),
    /// The peer does not speak BEP 10 `ut_metadata`, or did not say how large the metadata is.
    #[error("the peer does not offer ut_metadata")]
    NoMetadataSupport,
    /// The peer refused a piece of the metadata.
    #[error("the peer rejected metadata piece {piece}")]
    Rejected {
        /// The piece refused.
        piece: u32,
    },
    /// The metadata was too large, malformed, or did not hash to the info-hash (ban the peer).
    #[error("{0}")]
    Metadata(#[from] MetadataError),
    /// The whole fetch took longer than its timeout.
    #[error("metadata fetch timed out")]
    TimedOut,
}

/// Reads a peer's handshake from a freshly accepted stream (and nothing after it), for a
/// listener that routes connections by info-hash before making a session.
pub async fn read_handshake(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<Handshake, PeerError> {
    let read = async {
        let mut buf = [0u8; HANDSHAKE_LEN];
        let mut filled = 0;
        loop {
            let n = stream.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err(PeerError::Closed);
            }
            filled += n;
            if let Some((handshake, _)) = Handshake::decode(&buf[..filled])? {
                return Ok(handshake);
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| PeerError::TimedOut {
            what: Timeout::Handshake,
        })?
}

/// One [`PeerSession`] driven over one `TcpStream`.
#[derive(Debug)]
pub struct PeerConnection {
    stream: TcpStream,
    session: PeerSession,
    peer_addr: SocketAddr,
    /// Bytes taken from the session and not yet written.
    pending: Bytes,
}

impl PeerConnection {
    /// Dials `addr` (within `timeout`) and starts a session as the initiator: our handshake is
    /// sent on the first [`Self::next_event`].
    pub async fn connect(
        addr: SocketAddr,
        config: SessionConfig,
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ConnectError::TimedOut)??;
        stream.set_nodelay(true)?;
        let session = PeerSession::new(config, Role::Initiator, Instant::now());
        Ok(PeerConnection {
            stream,
            session,
            peer_addr: addr,
            pending: Bytes::new(),
        })
    }

    /// Wraps an accepted stream whose handshake [`read_handshake`] already read. Errors (a
    /// handshake for another torrent, a dead socket) surface from the first
    /// [`Self::next_event`].
    pub fn accept(stream: TcpStream, config: SessionConfig, theirs: Handshake) -> Self {
        // A failure here only costs latency; a dead socket shows on the first read.
        let _ = stream.set_nodelay(true);
        let peer_addr = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let session = PeerSession::accepted(config, theirs, Instant::now());
        PeerConnection {
            stream,
            session,
            peer_addr,
            pending: Bytes::new(),
        }
    }

    /// The session, to read its state.
    pub fn session(&self) -> &PeerSession {
        &self.session
    }

    /// The session, to issue commands: what they queue is written on the next
    /// [`Self::next_event`] or [`Self::flush`].
    pub fn session_mut(&mut self) -> &mut PeerSession {
        &mut self.session
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Drives the connection until the session has an event: reads, writes what is queued and
    /// runs the timers. An error means the connection is finished.
    pub async fn next_event(&mut self) -> Result<PeerEvent, PeerError> {
        loop {
            self.take_transmit();
            if let Some(event) = self.session.poll_event() {
                self.try_write()?;
                return Ok(event);
            }
            let deadline = self.session.poll_timeout().map_or_else(
                || tokio::time::Instant::now() + Duration::from_secs(3600),
                tokio::time::Instant::from_std,
            );
            let (mut reader, mut writer) = self.stream.split();
            let writing = !self.pending.is_empty();
            tokio::select! {
                read = reader.read_buf(self.session.read_buffer()) => {
                    if read? == 0 {
                        return Err(PeerError::Closed);
                    }
                    self.session.handle_read(Instant::now())?;
                }
                written = writer.write(&self.pending), if writing => {
                    let n = written?;
                    self.pending.advance(n);
                }
                () = tokio::time::sleep_until(deadline) => {
                    self.session.handle_timeout(Instant::now())?;
                }
            }
        }
    }

    /// Writes everything the session has queued. Waits for the peer to read: prefer
    /// [`Self::next_event`], which reads while it writes.
    pub async fn flush(&mut self) -> Result<(), PeerError> {
        loop {
            self.take_transmit();
            if self.pending.is_empty() {
                return Ok(());
            }
            let n = self.stream.write(&self.pending).await?;
            self.pending.advance(n);
        }
    }

    fn take_transmit(&mut self) {
        if self.pending.is_empty() {
            if let Some(bytes) = self.session.poll_transmit() {
                self.pending = bytes;
            }
        }
    }

    /// Writes what the socket takes without waiting.
    fn try_write(&mut self) -> Result<(), PeerError> {
        while !self.pending.is_empty() {
            match self.stream.try_write(&self.pending) {
                Ok(n) => self.pending.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Fetches the info dictionary of `info_hash` from the peer at `addr` (BEP 9), verified against
/// the info-hash, refusing metadata larger than `max_size`; the whole exchange is bounded by
/// `timeout`.
pub async fn fetch_metadata(
    addr: SocketAddr,
    info_hash: InfoHashV1,
    peer_id: PeerId,
    max_size: u64,
    timeout: Duration,
) -> Result<Bytes, FetchError> {
    tokio::time::timeout(timeout, fetch(addr, info_hash, peer_id, max_size, timeout))
        .await
        .map_err(|_| FetchError::TimedOut)?
}

async fn fetch(
    addr: SocketAddr,
    info_hash: InfoHashV1,
    peer_id: PeerId,
    max_size: u64,
    timeout: Duration,
) -> Result<Bytes, FetchError> {
    let config = SessionConfig::new(info_hash, peer_id);
    let mut conn = PeerConnection::connect(addr, config, timeout).await?;
    let mut fetcher: Option<MetadataFetcher> = None;
    let mut in_flight = 0usize;
    loop {
        match conn.next_event().await? {
            PeerEvent::Handshake { reserved, .. } if !reserved.supports_extensions() => {
                return Err(FetchError::NoMetadataSupport);
            }
            PeerEvent::ExtendedHandshake if fetcher.is_none() => {
                let ext = conn.session().remote_extended();
                let size = ext
                    .filter(|e| e.id(UT_METADATA).is_some())
                    .and_then(|e| e.metadata_size)
                    .ok_or(FetchError::NoMetadataSupport)?;
                fetcher = Some(MetadataFetcher::new(info_hash, size, max_size)?);
            }
            PeerEvent::Metadata(MetadataMessage::Data {
                piece,
                total_size,
                data,
            }) => {
                let Some(f) = fetcher.as_mut() else { continue };
                in_flight = in_flight.saturating_sub(1);
                if let Some(info) = f.handle_data(piece, total_size, data)? {
                    return Ok(info);
                }
            }
            PeerEvent::Metadata(MetadataMessage::Reject { piece }) => {
                return Err(FetchError::Rejected { piece });
            }
            _ => {}
        }
        if let Some(f) = fetcher.as_mut() {
            while in_flight < METADATA_WINDOW {
                let Some(piece) = f.next_request() else { break };
                let request = MetadataMessage::Request { piece }.encode();
                conn.session_mut().send_extended(UT_METADATA, &request);
                in_flight += 1;
            }
        }
    }
}
