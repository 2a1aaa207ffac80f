//! The BitTorrent peer wire protocol: handshake, message codec, BEP 6/9/10 extensions, a sans-IO
//! peer session and a tokio connection driver.
//!
//! The crate owns one connection's worth of protocol:
//!
//! - [`Handshake`] and its [`Reserved`] bits (BEP 3, 5, 6, 10);
//! - the message codec: [`Message`], [`decode`], [`decode_slice`], [`encode`], with [`Limits`]
//!   that refuse a hostile length prefix before anything is buffered (BEP 3, 6, 10);
//! - the BEP 10 [`ExtendedHandshake`] and BEP 9 `ut_metadata` ([`MetadataMessage`],
//!   [`MetadataFetcher`], [`metadata_piece`]);
//! - [`PeerSession`], the entry type: the sans-IO state machine of one connection (choking,
//!   interest, piece availability, request pipelining and timeouts, serving metadata);
//! - behind the default `tokio` feature, [`PeerConnection`] driving a session over a
//!   `TcpStream`, [`read_handshake`] for listeners, and [`fetch_metadata`] for magnet links.
//!
//! It does not pick pieces, choose whom to unchoke, read or verify piece data, or know about
//! trackers and the DHT: that is the torrent engine's job (swarmgate-session), which owns many
//! sessions. No encryption (MSE/PE) and no uTP.
//!
//! Two sessions wired to each other in memory, exchanging one block:
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use swarmgate_core::{Bitfield, Geometry, InfoHashV1, PeerId, PieceIndex};
//! use swarmgate_peer::{PeerEvent, PeerSession, Role, SessionConfig};
//!
//! let now = Instant::now();
//! let geometry = Geometry::new(32_768, 32_768)?;
//! let config = |id: u8| SessionConfig {
//!     geometry: Some(geometry),
//!     ..SessionConfig::new(InfoHashV1([1; 20]), PeerId([id; 20]))
//! };
//! let mut leech = PeerSession::new(config(1), Role::Initiator, now);
//! let mut seed = PeerSession::new(config(2), Role::Responder, now);
//!
//! // Shuttle bytes both ways until both sides are quiet.
//! fn pump(a: &mut PeerSession, b: &mut PeerSession, now: Instant) {
//!     for _ in 0..10 {
//!         let mut moved = false;
//!         if let Some(bytes) = a.poll_transmit() { b.handle_bytes(now, &bytes).unwrap(); moved = true; }
//!         if let Some(bytes) = b.poll_transmit() { a.handle_bytes(now, &bytes).unwrap(); moved = true; }
//!         if !moved { break; }
//!     }
//! }
//! pump(&mut leech, &mut seed, now);
//! assert!(leech.is_established() && seed.is_established());
//!
//! seed.send_bitfield(&Bitfield::full(1));
//! seed.set_choking(false);
//! pump(&mut leech, &mut seed, now);
//! assert!(leech.is_seed() && !leech.peer_choking());
//!
//! let block = geometry.block(PieceIndex(0), 1).unwrap();
//! leech.request(now, block)?;
//! pump(&mut leech, &mut seed, now);
//! while let Some(event) = seed.poll_event() {
//!     if let PeerEvent::Request(wanted) = event {
//!         assert!(seed.send_block(wanted, Bytes::from(vec![9; wanted.length as usize])));
//!     }
//! }
//! pump(&mut leech, &mut seed, now);
//! let got = std::iter::from_fn(|| leech.poll_event())
//!     .find_map(|e| match e { PeerEvent::Block { block, data } => Some((block, data)), _ => None });
//! assert_eq!(got.map(|(b, d)| (b, d.len())), Some((block, 16_384)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "tokio")]
mod connection;
mod error;
mod extension;
mod handshake;
mod message;
mod metadata;
mod session;

#[cfg(feature = "tokio")]
pub use connection::{ConnectError, FetchError, PeerConnection, fetch_metadata, read_handshake};
pub use error::{
    ExtensionError, HandshakeError, MetadataError, PeerError, ProtocolError, RequestError, Timeout,
    WireError,
};
pub use extension::{
    ExtendedHandshake, MAX_CLIENT_NAME, MAX_EXTENSION_NAME, MAX_EXTENSIONS, UT_METADATA,
    UT_METADATA_ID,
};
pub use handshake::{HANDSHAKE_LEN, Handshake, PROTOCOL, Reserved};
pub use message::{Limits, MAX_EXTENDED_LEN, Message, decode, decode_slice, encode, id};
pub use metadata::{METADATA_PIECE_LEN, MetadataFetcher, MetadataMessage, metadata_piece};
pub use session::{DEFAULT_PEER_REQQ, PeerEvent, PeerSession, Role, SessionConfig};
