//! Torrent metainfo: parse and validate v1, v2 and hybrid `.torrent` files, magnet links, the
//! file layout, and a builder that creates torrents.
//!
//! The crate owns everything between the bytes of a `.torrent` (or a `magnet:` URI) and a
//! validated description of what to download:
//!
//! - [`Torrent::from_bytes`] parses v1 single- and multi-file, v2 and hybrid torrents (BEP 3, 52),
//!   with BEP 12 tracker tiers, BEP 19 web seeds, BEP 27 private, BEP 47 pad files and
//!   attributes. The info-hashes are taken over the raw `info` bytes. Every rule that libtorrent
//!   enforces is enforced, and each refusal is a [`MetainfoError`] naming the field. Paths are
//!   sanitised so no torrent can write outside its download folder (see [`Warning`]).
//! - [`FileLayout`] maps pieces to file spans and back.
//! - [`Magnet`] parses and formats magnet links (BEP 9, 53).
//! - [`TorrentBuilder`] creates v1 and hybrid torrents from a file or folder, hashing on every
//!   core, with [`choose_piece_length`] picking a power of two that gives 1,250-2,500 pieces.
//! - [`InfoDictionary`] and [`TorrentFile`] write `info` dictionaries and `.torrent` files from
//!   parts already computed (piece hashes, files, trackers): the builder's last step, and the
//!   only torrent writer of the workspace.
//!
//! It does no network I/O; the builder reads files, nothing else does. Its entry types are
//! [`Torrent`], [`Magnet`], [`TorrentBuilder`] and, to write a torrent from hashes already
//! known, [`InfoDictionary`].
//!
//! ```
//! use swarmgate_metainfo::{Magnet, Torrent, TorrentBuilder};
//!
//! let dir = std::env::temp_dir().join(format!("swarmgate-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let file = dir.join("hello.txt");
//! std::fs::write(&file, b"hello, swarm")?;
//!
//! let created = TorrentBuilder::new(&file).tracker("http://127.0.0.1:9877/announce").build()?;
//! let torrent = Torrent::from_bytes(&created.bytes)?;
//! assert_eq!(torrent.name(), "hello.txt");
//! assert_eq!(torrent.total_length(), 12);
//! assert_eq!(torrent.piece_count(), 1);
//!
//! let magnet = Magnet::from_torrent(&torrent);
//! let parsed: Magnet = magnet.to_string().parse()?;
//! assert_eq!(parsed.info_hash, torrent.info_hash());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod error;
mod layout;
mod magnet;
mod merkle;
mod path;
mod torrent;
mod v1;
mod v2;
mod writer;

pub use builder::{
    BuildError, CreatedTorrent, MAX_AUTO_PIECE_LENGTH, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH,
    TorrentBuilder, choose_piece_length,
};
pub use error::{MagnetError, MetainfoError, WriteError};
pub use layout::{FileAttributes, FileEntry, FileLayout, FileSpan, FileSpans};
pub use magnet::Magnet;
pub use torrent::{ParseLimits, Torrent, Warning};
pub use writer::{InfoDictionary, InfoFile, TorrentFile};
