//! Zero-copy bencode decoding with exact byte spans, and canonical encoding.
//!
//! This crate owns the bencode format for Swarmgate: [`decode`] turns bytes into a
//! [`Document`] (a flat token tape in the style of libtorrent's `bdecode`, one allocation,
//! strings borrowed from the input) that knows the exact raw bytes of every value; [`Encoder`]
//! and [`OwnedValue`] write canonical bencode; and, behind the `serde` feature, [`to_bytes`] and
//! [`from_bytes`] map Rust types to and from bencode, borrowing strings where the type allows.
//!
//! Decoding is lenient where real torrents are and strict where it matters: dictionaries with
//! unsorted keys are accepted and reported ([`Document::unsorted_at`], [`Dict::is_sorted`]),
//! while duplicate keys, non-string keys, `-0`, leading zeros and overflowing integers are
//! errors with a byte offset ([`DecodeError`]). Hostile input never panics, never allocates what
//! a length prefix claims, and never recurses on the call stack; depth and size are bounded by
//! [`Limits`].
//!
//! It does not know what a torrent is (that is `swarmgate-metainfo`), does not hash (take
//! [`Value::raw`] to your hasher), and does no I/O: [`decode_prefix`] is the streaming shape for
//! a caller that reads from a socket.
//!
//! # Example
//!
//! Decode a small torrent whose keys are out of order and find the exact bytes of its `info`
//! dictionary, the bytes an info-hash is taken over:
//!
//! ```
//! use swarmgate_bencode::{decode, Kind};
//!
//! let torrent = b"d8:announce14:http://tracker4:infod4:name5:a.txt6:lengthi5e\
//!                 12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
//! let doc = decode(torrent)?;
//! let root = doc.root().as_dict().expect("a torrent is a dictionary");
//! assert_eq!(root.get(b"announce").and_then(|v| v.as_str()), Some("http://tracker"));
//!
//! let info = root.get(b"info").expect("info");
//! assert_eq!(info.kind(), Kind::Dict);
//! assert_eq!(info.span(), 34..torrent.len() - 1);
//! assert_eq!(info.raw(), &torrent[34..torrent.len() - 1]); // hash these bytes
//!
//! // "name" comes before "length": not canonical, but accepted, reported, and kept as it is.
//! assert!(!info.as_dict().unwrap().is_sorted());
//! assert_eq!(doc.unsorted_at(), Some(34));
//! # Ok::<(), swarmgate_bencode::DecodeError>(())
//! ```
//!
//! Writing is canonical by construction; [`Encoder::raw`] splices an existing value verbatim:
//!
//! ```
//! use swarmgate_bencode::Encoder;
//!
//! let mut e = Encoder::new();
//! e.begin_dict().key(b"info").raw(b"d4:name1:x6:lengthi1ee").end();
//! assert_eq!(e.finish()?, b"d4:infod4:name1:x6:lengthi1eee");
//! # Ok::<(), swarmgate_bencode::EncodeError>(())
//! ```

mod debug;
mod decode;
mod encode;
mod error;
mod owned;
mod scalar;
mod scan;
#[cfg(feature = "serde")]
mod serde;
mod tape;
mod value;

pub use crate::decode::{Limits, decode, decode_prefix, decode_with};
pub use crate::encode::Encoder;
pub use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
pub use crate::owned::OwnedValue;
#[cfg(feature = "serde")]
pub use crate::serde::{SerdeError, from_bytes, from_bytes_with, to_bytes};
pub use crate::value::{Dict, DictIter, Document, Kind, List, ListIter, Value};
