//! BitTorrent vocabulary types: info-hashes, peer ids, compact peer addresses, piece/block
//! geometry, and the sha256 and Nostr-key identities of stored files.
//!
//! Every Swarmgate crate speaks in these types, so they live at the bottom of the dependency graph
//! with nothing below them but `thiserror`. The crate owns:
//!
//! - [`InfoHashV1`], [`InfoHashV2`] and [`InfoHash`] (v1, v2 or hybrid), with their hex, base32
//!   and multihash forms;
//! - [`PeerId`] (BEP 20, Swarmgate's prefix `-SG0001-`) and client identification from it
//!   ([`identify_client`], [`ClientId`], [`client_family`]);
//! - compact peers, IPv4 in 6 bytes and IPv6 in 18 ([`compact_peers_v4`], [`encode_compact_peer`]);
//! - [`Geometry`]: pieces, the short last piece, and 16 KiB blocks ([`BLOCK_SIZE`]);
//! - [`Bitfield`]: the BEP 3 piece set, checked on receipt and kept in its wire form;
//! - [`SplitMix64`]: the seeded generator every state machine takes instead of a global RNG;
//! - [`Sha256`] and [`Pubkey`]: a stored file's address and a Nostr owner, 32 bytes with a hex
//!   form, shared by the content store, the catalog, Blossom and the HTTP API;
//! - [`siphash24`], the keyed hash of values that must be unforgeable without being stored (the
//!   tracker's BEP 15 connection ids, the DHT's announce tokens), and [`Gcra`], the per-key rate
//!   rule of the tracker's and the DHT node's limiters.
//!
//! It does not hash content, parse torrents or do I/O: that is the metainfo crate and the engines
//! above.
//! Constructors check their input (a 19-byte info-hash is an error, not a panic).
//!
//! ```
//! use swarmgate_core::{Geometry, InfoHashV1, PeerId, PieceIndex};
//!
//! let hash: InfoHashV1 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a".parse()?;
//! assert_eq!(hash.to_base32().len(), 32);
//!
//! let id = PeerId::swarmgate([7; 12]);
//! assert_eq!(id.client().map(|c| c.family), Some("Swarmgate"));
//!
//! let geometry = Geometry::new(100_000, 32_768)?;
//! assert_eq!(geometry.piece_count(), 4);
//! assert_eq!(geometry.piece_size(PieceIndex(3)), Some(100_000 - 3 * 32_768));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bitfield;
mod client_id;
mod compact;
mod error;
mod gcra;
mod geometry;
mod identity;
mod info_hash;
mod peer_id;
mod rng;
mod siphash;
mod text;

pub use bitfield::{Bitfield, BitfieldError};
pub use client_id::{ClientId, client_family, identify_client};
pub use compact::{
    COMPACT_V4_LEN, COMPACT_V6_LEN, CompactPeers, compact_peers_v4, compact_peers_v6,
    decode_compact_peer, encode_compact_peer,
};
pub use error::{GeometryError, LengthError, TextError};
pub use gcra::{Gcra, limited_client};
pub use geometry::{BLOCK_SIZE, BlockRef, Geometry, PieceIndex};
pub use identity::{Pubkey, Sha256};
pub use info_hash::{InfoHash, InfoHashV1, InfoHashV2};
pub use peer_id::{PeerId, SWARMGATE_PREFIX};
pub use rng::SplitMix64;
pub use siphash::siphash24;
pub use text::{from_base32, from_hex, to_base32, to_hex};
