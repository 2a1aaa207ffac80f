//! The torrent writer (BEP 3, 12, 19, 27, 47, 52): the one place that writes `info`
//! dictionaries and `.torrent` files, for the builder, the test fixtures and the gateway alike.
//!
//! It writes in two steps, because the two halves of a torrent live apart:
//!
//! 1. [`InfoDictionary`] writes the `info` dictionary from parts already known: the name, the
//!    piece length, the SHA-1 piece hashes (BEP 3), one length or a file list with BEP 47 pad
//!    files, `private` (BEP 27), and for a hybrid torrent the BEP 52 `file tree` with each file's
//!    `pieces root` and `meta version` 2. Its bytes are fixed once written: their SHA-1 is the
//!    info-hash (their SHA-256 the v2 one), so a gateway stores them and never writes them again.
//! 2. [`TorrentFile`] writes a `.torrent` around raw `info` bytes, whoever wrote them: `announce`
//!    and `announce-list` tiers (BEP 12), `url-list` web seeds (BEP 19), `comment`, `created by`,
//!    `creation date`, and a hybrid torrent's `piece layers` (BEP 52). The same info bytes with
//!    new trackers keep their info-hash.
//!
//! Hashing is not done here: the builder hashes files on every core, a fixture hashes memory,
//! the gateway hashes while it stores an upload. Each hands over what it computed, borrowed, so
//! the piece hashes are not copied before they are written. Every key is written in sorted order
//! (canonical bencode, as BEP 3 asks), and the parts are checked when they are put together: a
//! hash count that does not fit the length, a hybrid file off a piece boundary and the like are
//! a [`WriteError`], never a torrent that parsers refuse.
//!
//! ```
//! use sha1::{Digest, Sha1};
//! use swarmgate_metainfo::{InfoDictionary, Torrent, TorrentFile};
//!
//! let data = vec![7u8; 40_000];
//! let pieces: Vec<[u8; 20]> = data.chunks(16_384).map(|p| Sha1::digest(p).into()).collect();
//! let info = InfoDictionary::single_file("seven.bin", 40_000, 16_384, &pieces)?.to_bytes();
//!
//! let bytes = TorrentFile::new()
//!     .tracker("http://127.0.0.1:9877/announce")
//!     .web_seed("http://127.0.0.1:9877/webseed/seven.bin")
//!     .created_by(Some("example/1.0".into()))
//!     .write(&info)?;
//! let torrent = Torrent::from_bytes(&bytes)?;
//! assert_eq!(torrent.name(), "seven.bin");
//! assert_eq!(torrent.piece_count(), 3);
//! assert_eq!(torrent.info_bytes(), &info[..]);
//! let info_hash: [u8; 20] = Sha1::digest(&info).into();
//! assert_eq!(torrent.info_hash().v1().map(|h| h.0), Some(info_hash));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod info;
mod torrent_file;
mod tree;

pub use info::{InfoDictionary, InfoFile};
pub use torrent_file::TorrentFile;

/// A test path: `a/b` as `["a", "b"]`.
#[cfg(test)]
fn components(text: &str) -> Vec<String> {
    text.split('/').map(str::to_string).collect()
}
