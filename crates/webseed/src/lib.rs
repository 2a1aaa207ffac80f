//! BEP 19 web seeds: URL rules, byte-range planning across files, an HTTP server handler and a
//! piece-fetching client.
//!
//! A web seed is a plain HTTP server holding a torrent's files; clients (libtorrent, aria2c,
//! Transmission) fetch pieces from it with ranged GETs, one per file a piece touches. This crate
//! owns both sides of that:
//!
//! - the pure core (no feature, no I/O): [`file_url`] (the BEP 19 URL of each file),
//!   [`decode_path`] and [`find_file`] (a request path back to a file, refusing path tricks),
//!   [`parse_range`] (the RFC 9110 `Range` header) and [`plan_piece`] (a piece as per-file
//!   requests, over swarmgate-metainfo's [`FileLayout`](swarmgate_metainfo::FileLayout));
//! - feature `server`: [`router`], an axum router answering GET and HEAD with exact range
//!   semantics and ETags, reading through a [`WebSeedSource`] (files on disk:
//!   [`DirectorySource`]), and [`serve`];
//! - feature `client`: [`WebSeed`], whose `fetch_piece` fetches a piece, assembles it across
//!   files and verifies its SHA-1, with errors shaped by what the engine does next
//!   ([`WebSeedError`]).
//!
//! It does not schedule downloads (which piece to ask a web seed for is the engine's choice),
//! store pieces, or parse torrents (swarmgate-metainfo does). Its entry types are [`WebSeed`]
//! (client) and [`router`] over a [`WebSeedSource`] (server).
//!
//! ```
//! use swarmgate_core::PieceIndex;
//! use swarmgate_metainfo::{Torrent, TorrentBuilder};
//! use swarmgate_webseed::{RangeRequest, decode_path, file_url, find_file, parse_range, plan_piece};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir_all(dir.path().join("album"))?;
//! std::fs::write(dir.path().join("album/a side.bin"), vec![1; 20_000])?;
//! std::fs::write(dir.path().join("album/b.bin"), vec![2; 30_000])?;
//! let torrent = TorrentBuilder::new(dir.path().join("album")).piece_length(16384).build()?.torrent;
//!
//! // Where a client fetches each file from the web seed http://127.0.0.1:8080/ ...
//! let url = file_url("http://127.0.0.1:8080/", &torrent, 0).unwrap();
//! assert_eq!(url, "http://127.0.0.1:8080/album/a%20side.bin");
//! // ... and the server's way back from the request path to the file.
//! let segments = decode_path("/album/a%20side.bin")?;
//! assert_eq!(find_file(&torrent, &segments), Some(0));
//!
//! // Piece 1 (bytes 16384..32768) spans both files: two ranged requests.
//! let plan = plan_piece(torrent.layout(), PieceIndex(1)).unwrap();
//! let ranges: Vec<_> = plan.requests.iter().map(|r| (r.file, r.file_range())).collect();
//! assert_eq!(ranges, [(0, 16384..20000), (1, 0..12768)]);
//!
//! assert_eq!(parse_range(b"bytes=16384-19999", 20_000), RangeRequest::Partial(16384..20000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "client")]
mod client;
mod plan;
mod range;
#[cfg(feature = "server")]
mod server;
mod url;

#[cfg(feature = "client")]
pub use client::{REQUEST_TIMEOUT, WebSeed, WebSeedError};
pub use plan::{FileRequest, PiecePlan, plan_piece};
pub use range::{
    RangeRequest, content_range, if_none_match, if_range, parse_content_range, parse_range,
    unsatisfied_range,
};
#[cfg(feature = "server")]
pub use server::{
    DirectorySource, DiskFile, ServerConfig, UrlLayout, WebSeedFile, WebSeedSource, router, serve,
};
pub use url::{PathError, decode_path, encode_component, file_url, find_file};
