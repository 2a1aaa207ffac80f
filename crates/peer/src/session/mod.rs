//! The BEP 3 peer session: one connection's protocol state, sans I/O.
//!
//! [`PeerSession`] has the shape of every Swarmgate state machine: bytes in through
//! [`PeerSession::handle_bytes`] (or [`PeerSession::read_buffer`] + [`PeerSession::handle_read`],
//! which saves a copy), commands (`request`, `send_block`, `set_choking`, ...), and out through
//! [`PeerSession::poll_transmit`], [`PeerSession::poll_event`] and [`PeerSession::poll_timeout`]
//! / [`PeerSession::handle_timeout`]. It never reads a clock: every `now` is the caller's.
//!
//! Choices where the BEPs leave room, and why:
//! - A bitfield (or have-all / have-none) is refused only after a *piece-state* message (have,
//!   bitfield, request, piece, cancel); choke, interest, port and extended messages before it are
//!   tolerated, because libtorrent sends its extended handshake before its bitfield.
//! - A request longer than 16 KiB is answered with a reject when the fast extension is on (as
//!   libtorrent does) and is a protocol error without it. A request while we choke is rejected
//!   with the fast extension and silently dropped without it (it may have crossed our choke).
//! - Our request timeout is a snub timer: when no block (or reject) has arrived for
//!   `request_timeout` while requests are outstanding, all of them are handed back at once.
//! - Commands before the handshakes are done are ignored (a `request` fails with
//!   [`RequestError::NotEstablished`]); call them after [`PeerEvent::Handshake`].
//! - With the fast extension and no geometry (magnet), the session sends have-none itself, since
//!   BEP 6 requires a piece-state message first and nothing else can be said.

mod commands;
mod config;
mod event;
mod incoming;
mod state;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use swarmgate_core::{BLOCK_SIZE, Bitfield, BlockRef, Geometry, PieceIndex};

pub use config::{Role, SessionConfig};
pub use event::PeerEvent;

use crate::error::{HandshakeError, PeerError, Timeout};
use crate::extension::{ExtendedHandshake, UT_METADATA, UT_METADATA_ID};
use crate::handshake::Handshake;
use crate::message::{self, Limits, Message};

/// The outstanding-request limit for a peer that sent no `reqq`.
pub const DEFAULT_PEER_REQQ: usize = 250;

/// How much receive buffer [`PeerSession::read_buffer`] keeps free for a read.
const READ_RESERVE: usize = 64 * 1024;

/// Above this many unsent bytes, `ut_metadata` requests are rejected rather than answered with
/// 16 KiB each: a peer that requests without reading cannot make us buffer without bound.
const METADATA_SEND_BACKLOG: usize = 1 << 20;

/// One peer connection's protocol state.
pub struct PeerSession {
    config: SessionConfig,
    role: Role,
    established: bool,
    failure: Option<HandshakeError>,
    limits: Limits,
    recv: BytesMut,
    send: BytesMut,
    events: VecDeque<PeerEvent>,
    remote: Option<Handshake>,
    fast: bool,
    extended: bool,
    am_choking: bool,
    am_interested: bool,
    peer_choking: bool,
    peer_interested: bool,
    peer_pieces: Option<Bitfield>,
    /// The peer sent a message after which a bitfield is too late.
    piece_state_seen: bool,
    /// We sent a message after which our bitfield is too late.
    first_sent: bool,
    outstanding: VecDeque<BlockRef>,
    /// The last block or reject received, or the first request after a quiet spell.
    last_progress: Instant,
    queued: VecDeque<BlockRef>,
    remote_ext: Option<ExtendedHandshake>,
    allowed_fast: Vec<PieceIndex>,
    downloaded: u64,
    uploaded: u64,
    unrequested: u64,
    created: Instant,
    last_received: Instant,
    last_sent: Instant,
    /// The latest `now` the caller gave us: commands without one are stamped with it.
    last_now: Instant,
}

impl PeerSession {
    /// A session for a new connection. An [`Role::Initiator`] queues its handshake at once; a
    /// [`Role::Responder`] waits for the peer's, checks its info-hash, then answers.
    pub fn new(config: SessionConfig, role: Role, now: Instant) -> Self {
        let limits = config
            .geometry
            .map_or_else(Limits::default, |g| Limits::for_pieces(g.piece_count()));
        let mut session = PeerSession {
            config,
            role,
            established: false,
            failure: None,
            limits,
            recv: BytesMut::new(),
            send: BytesMut::new(),
            events: VecDeque::new(),
            remote: None,
            fast: false,
            extended: false,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            peer_pieces: None,
            piece_state_seen: false,
            first_sent: false,
            outstanding: VecDeque::new(),
            last_progress: now,
            queued: VecDeque::new(),
            remote_ext: None,
            allowed_fast: Vec::new(),
            downloaded: 0,
            uploaded: 0,
            unrequested: 0,
            created: now,
            last_received: now,
            last_sent: now,
            last_now: now,
        };
        if role == Role::Initiator {
            session.send_handshake();
        }
        session
    }

    /// A session for a connection whose handshake a listener already read (to route it by
    /// info-hash): ours is queued and the session goes on as if theirs had just arrived.
    ///
    /// A handshake for another torrent, or from ourselves, makes every later `handle_*` call
    /// return that error (and [`Self::poll_timeout`] ask for one at once).
    pub fn accepted(config: SessionConfig, theirs: Handshake, now: Instant) -> Self {
        let mut session = PeerSession::new(config, Role::Responder, now);
        if let Err(e) = session.on_handshake(theirs) {
            session.failure = Some(e);
        }
        session
    }

    fn send_handshake(&mut self) {
        let ours = Handshake {
            reserved: self.config.reserved,
            info_hash: self.config.info_hash,
            peer_id: self.config.peer_id,
        };
        self.send.extend_from_slice(&ours.encode());
        self.last_sent = self.last_now;
    }

    fn on_handshake(&mut self, theirs: Handshake) -> Result<(), HandshakeError> {
        if theirs.info_hash != self.config.info_hash {
            return Err(HandshakeError::InfoHashMismatch {
                expected: self.config.info_hash,
                actual: theirs.info_hash,
            });
        }
        if theirs.peer_id == self.config.peer_id {
            return Err(HandshakeError::SelfConnection);
        }
        if self.role == Role::Responder {
            self.send_handshake();
        }
        let ours = self.config.reserved;
        self.fast = ours.supports_fast() && theirs.reserved.supports_fast();
        self.extended = ours.supports_extensions() && theirs.reserved.supports_extensions();
        self.remote = Some(theirs);
        self.established = true;
        self.events.push_back(PeerEvent::Handshake {
            peer_id: theirs.peer_id,
            reserved: theirs.reserved,
        });
        if self.extended {
            self.send_extended_handshake();
        }
        if self.fast && self.config.geometry.is_none() {
            self.first_sent = true;
            self.queue(&Message::HaveNone);
        }
        Ok(())
    }

    fn send_extended_handshake(&mut self) {
        let ours = ExtendedHandshake {
            extensions: [(UT_METADATA.to_owned(), UT_METADATA_ID)].into(),
            client: Some(self.config.client.clone()),
            reqq: Some(self.config.reqq),
            your_ip: None,
            metadata_size: self.config.metadata.as_ref().map(|m| m.len() as u64),
            listen_port: self.config.listen_port,
        };
        let payload = Bytes::from(ours.encode());
        self.queue(&Message::Extended { id: 0, payload });
    }

    /// Appends a message to the send buffer.
    fn queue(&mut self, msg: &Message) {
        message::encode(msg, &mut self.send);
        self.last_sent = self.last_now;
    }

    fn check_failure(&self) -> Result<(), PeerError> {
        match &self.failure {
            Some(e) => Err(PeerError::Handshake(e.clone())),
            None => Ok(()),
        }
    }

    /// Feeds received bytes and handles every complete message in them. An error means: drop
    /// this peer.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) -> Result<(), PeerError> {
        self.check_failure()?;
        self.recv.extend_from_slice(bytes);
        self.handle_read(now)
    }

    /// The receive buffer, with room for a read: read from the socket straight into it, then
    /// call [`Self::handle_read`]. Saves the copy [`Self::handle_bytes`] makes.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.recv.reserve(READ_RESERVE);
        &mut self.recv
    }

    /// Handles what was read into [`Self::read_buffer`] (call it only after a read of at least
    /// one byte: it counts as activity for the idle timer).
    pub fn handle_read(&mut self, now: Instant) -> Result<(), PeerError> {
        self.check_failure()?;
        self.last_now = now;
        self.last_received = now;
        if !self.established {
            let Some((theirs, used)) = Handshake::decode(&self.recv)? else {
                return Ok(());
            };
            self.recv.advance(used);
            self.on_handshake(theirs)?;
        }
        while let Some(msg) = message::decode(&mut self.recv, &self.limits)? {
            self.on_message(now, msg)?;
        }
        Ok(())
    }

    /// Everything queued for the peer, as one chunk.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.send.is_empty()).then(|| self.send.split().freeze())
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failure.is_some() {
            return Some(self.created);
        }
        if !self.established {
            return Some(self.created + self.config.handshake_timeout);
        }
        let idle = self.last_received + self.config.idle_timeout;
        let keepalive = self.last_sent + self.config.keepalive_interval;
        let mut next = idle.min(keepalive);
        if !self.outstanding.is_empty() {
            next = next.min(self.last_progress + self.config.request_timeout);
        }
        Some(next)
    }

    /// Runs the timers: handshake and idle timeouts fail the session, the request timeout hands
    /// our requests back ([`PeerEvent::RequestsTimedOut`]), and a keep-alive is queued when we
    /// sent nothing for `keepalive_interval`.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), PeerError> {
        self.check_failure()?;
        self.last_now = now;
        if !self.established {
            if now >= self.created + self.config.handshake_timeout {
                return Err(PeerError::TimedOut {
                    what: Timeout::Handshake,
                });
            }
            return Ok(());
        }
        if now >= self.last_received + self.config.idle_timeout {
            return Err(PeerError::TimedOut {
                what: Timeout::Idle,
            });
        }
        if !self.outstanding.is_empty() && now >= self.last_progress + self.config.request_timeout {
            let blocks = self.outstanding.drain(..).collect();
            self.events
                .push_back(PeerEvent::RequestsTimedOut { blocks });
        }
        if now >= self.last_sent + self.config.keepalive_interval {
            self.queue(&Message::KeepAlive);
        }
        Ok(())
    }
}

/// Whether `block` lies inside its piece, is not empty and is at most 16 KiB. Requests need not
/// be aligned to 16 KiB (some clients send odd offsets); they must fit.
fn fits(geometry: &Geometry, block: BlockRef) -> bool {
    let Some(size) = geometry.piece_size(block.piece) else {
        return false;
    };
    block.length > 0
        && block.length <= BLOCK_SIZE
        && block
            .offset
            .checked_add(block.length)
            .is_some_and(|end| end <= size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmgate_core::{InfoHashV1, PeerId, PieceIndex};

    #[test]
    fn fits_accepts_any_in_range_block_up_to_16_kib() {
        let g = Geometry::new(40_000, 32_768).unwrap();
        let b = |piece, offset, length| BlockRef {
            piece: PieceIndex(piece),
            offset,
            length,
        };
        assert!(fits(&g, b(0, 0, BLOCK_SIZE)));
        assert!(fits(&g, b(0, 100, 1000)), "unaligned is fine");
        assert!(fits(&g, b(1, 0, 40_000 - 32_768)));
        assert!(
            !fits(&g, b(1, 0, 40_000 - 32_768 + 1)),
            "past the short last piece"
        );
        assert!(!fits(&g, b(0, 0, BLOCK_SIZE + 1)));
        assert!(!fits(&g, b(0, 0, 0)));
        assert!(!fits(&g, b(0, u32::MAX, 1)));
        assert!(!fits(&g, b(2, 0, 1)));
    }

    #[test]
    fn debug_does_not_dump_buffers() {
        let now = Instant::now();
        let config = SessionConfig::new(InfoHashV1([1; 20]), PeerId([2; 20]));
        let session = PeerSession::new(config, Role::Initiator, now);
        assert_eq!(session.send_buffered(), 68);
        let text = format!("{session:?}");
        assert!(text.contains("send_buffered: 68") && !text.contains("BitTorrent"));
    }
}
