//! Two `PeerSession`s wired to each other in memory, with a fake clock.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use swarmgate_core::{Geometry, InfoHashV1, PeerId};
use swarmgate_peer::{
    Handshake, Message, PeerError, PeerEvent, PeerSession, Reserved, Role, SessionConfig, encode,
};

pub(crate) const HASH: InfoHashV1 = InfoHashV1([0x11; 20]);

/// 4 pieces of 32 KiB (2 blocks each), the last one 20,000 bytes.
pub(crate) fn geometry() -> Geometry {
    Geometry::new(3 * 32_768 + 20_000, 32_768).unwrap()
}

pub(crate) fn config(id: u8, geometry: Option<Geometry>) -> SessionConfig {
    SessionConfig {
        geometry,
        ..SessionConfig::new(HASH, PeerId([id; 20]))
    }
}

pub(crate) fn with_reserved(mut config: SessionConfig, reserved: Reserved) -> SessionConfig {
    config.reserved = reserved;
    config
}

/// Which side failed.
#[derive(Debug)]
#[allow(dead_code, reason = "read through Debug when a test unwraps")]
pub(crate) enum Side {
    A(PeerError),
    B(PeerError),
}

/// `a` dialled `b`. Events are collected as bytes are shuttled.
pub(crate) struct Pair {
    pub(crate) a: PeerSession,
    pub(crate) b: PeerSession,
    pub(crate) now: Instant,
    pub(crate) a_events: Vec<PeerEvent>,
    pub(crate) b_events: Vec<PeerEvent>,
}

impl Pair {
    /// Connects `a` (initiator) to `b` (responder) and runs both handshakes.
    pub(crate) fn new(a: SessionConfig, b: SessionConfig) -> Pair {
        let now = Instant::now();
        let mut pair = Pair {
            a: PeerSession::new(a, Role::Initiator, now),
            b: PeerSession::new(b, Role::Responder, now),
            now,
            a_events: Vec::new(),
            b_events: Vec::new(),
        };
        pair.pump().unwrap();
        pair
    }

    /// Shuttles bytes until both sides are quiet (bounded), collecting events.
    pub(crate) fn pump(&mut self) -> Result<(), Side> {
        for _ in 0..100 {
            let mut moved = false;
            if let Some(bytes) = self.a.poll_transmit() {
                self.b.handle_bytes(self.now, &bytes).map_err(Side::B)?;
                moved = true;
            }
            if let Some(bytes) = self.b.poll_transmit() {
                self.a.handle_bytes(self.now, &bytes).map_err(Side::A)?;
                moved = true;
            }
            self.a_events
                .extend(std::iter::from_fn(|| self.a.poll_event()));
            self.b_events
                .extend(std::iter::from_fn(|| self.b.poll_event()));
            if !moved {
                return Ok(());
            }
        }
        panic!("sessions never went quiet");
    }

    /// Moves the clock on by `by` and fires due timers on both sides (then pumps).
    pub(crate) fn advance(&mut self, by: Duration) -> Result<(), Side> {
        self.now += by;
        if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
            self.a.handle_timeout(self.now).map_err(Side::A)?;
        }
        if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
            self.b.handle_timeout(self.now).map_err(Side::B)?;
        }
        self.pump()
    }

    pub(crate) fn take_a(&mut self) -> Vec<PeerEvent> {
        std::mem::take(&mut self.a_events)
    }

    pub(crate) fn take_b(&mut self) -> Vec<PeerEvent> {
        std::mem::take(&mut self.b_events)
    }
}

/// A scripted remote peer: a responder session under test, fed hand-made bytes.
pub(crate) struct Scripted {
    pub(crate) session: PeerSession,
    pub(crate) now: Instant,
}

impl Scripted {
    /// A responder with `config` that has received a handshake with `reserved` (and, when the
    /// extension bit is on for both, an empty extended handshake).
    pub(crate) fn new(config: SessionConfig, reserved: Reserved) -> Scripted {
        let now = Instant::now();
        let mut session = PeerSession::new(config, Role::Responder, now);
        let theirs = Handshake {
            reserved,
            info_hash: HASH,
            peer_id: PeerId([0xee; 20]),
        };
        session.handle_bytes(now, &theirs.encode()).unwrap();
        let mut s = Scripted { session, now };
        s.transmitted();
        s.events();
        s
    }

    pub(crate) fn send(&mut self, msgs: &[Message]) -> Result<(), PeerError> {
        let mut out = BytesMut::new();
        for msg in msgs {
            encode(msg, &mut out);
        }
        self.session.handle_bytes(self.now, &out)
    }

    pub(crate) fn events(&mut self) -> Vec<PeerEvent> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// Decodes what the session sent (after the handshake).
    pub(crate) fn transmitted(&mut self) -> Vec<Message> {
        let mut bytes = BytesMut::new();
        while let Some(chunk) = self.session.poll_transmit() {
            bytes.extend_from_slice(&chunk);
        }
        if bytes.first() == Some(&19) {
            let _ = bytes.split_to(68);
        }
        let limits = swarmgate_peer::Limits::default();
        std::iter::from_fn(|| swarmgate_peer::decode(&mut bytes, &limits).unwrap()).collect()
    }
}

pub(crate) fn data(len: u32, fill: u8) -> Bytes {
    Bytes::from(vec![fill; len as usize])
}
