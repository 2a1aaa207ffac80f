//! The stored files of a gateway: publish, load, sweep and delete over a metadata store and a
//! content store, observed by the services that serve them.
//!
//! The crate owns what a stored file is (its record: name, size, media type, Blossom owners,
//! creation time; its BEP 3 torrent, v1, single-file, 2 MiB pieces; its verified pieces) and the
//! rules of its life:
//!
//! - **One way in.** Every way a file arrives (the HTTP upload, Blossom's `PUT /upload`, a
//!   mirror, a Nostr import) calls [`Catalog::publish`] (or [`publish_stream`] from an async
//!   body). It streams the bytes into the content store, detects the media type from the bytes,
//!   the declared type and the name ([`detect_media_type`]), writes the torrent, commits the
//!   record, and only then serves and acknowledges the file: "acknowledged means kept".
//! - **Every way out observes.** Whatever serves files (the tracker's allow-list, the seeder,
//!   the DHT, Nostr announcements) is a [`CatalogObserver`] registered once at start with
//!   [`Catalog::observe`]: it hears of every stored file then, and of each later publish and
//!   removal once.
//! - **Nothing unverified is served.** [`Entry::read`] and [`Entry::blocks`] hand out only bytes
//!   of pieces that passed their SHA-1.
//! - **Nothing half-done survives.** A failed publish removes what it stored; content without a
//!   record (a crash between the two commits, never acknowledged) is swept at
//!   [`Catalog::open`].
//!
//! It runs over swarmgate-blobstore's [`MetadataStore`](swarmgate_blobstore::MetadataStore) and
//! [`ContentStore`](swarmgate_blobstore::ContentStore) traits, so the same catalog serves from
//! SQLite and the file system, or from memory in tests. It does not speak HTTP or BitTorrent:
//! the gateway's services and a Blossom server do, through it. Its methods block (stores, files):
//! async callers use blocking threads, except [`publish_stream`] (feature `tokio`, on by
//! default), which does that itself.
//!
//! ```
//! use std::sync::Arc;
//! use swarmgate_blobstore::{ContentOptions, MemoryContentStore, MemoryStore};
//! use swarmgate_catalog::{Catalog, Links, PublishRequest};
//! use swarmgate_storage::PieceCache;
//!
//! let (catalog, loaded) = Catalog::open(
//!     Arc::new(MemoryStore::new()),
//!     Arc::new(MemoryContentStore::new(ContentOptions::default())),
//!     Arc::new(PieceCache::new(64 << 20)),
//!     Links::new("http://127.0.0.1:9877", None),
//! )?;
//! assert_eq!(loaded.files, 0);
//!
//! let request = PublishRequest {
//!     name: "hello.txt".into(),
//!     max_size: 1 << 20,
//!     ..PublishRequest::default()
//! };
//! let published = catalog.publish(&mut &b"hello, swarm"[..], &request)?;
//! let entry = &published.entry;
//! assert_eq!(entry.file.mime, "text/plain");
//! assert_eq!(&entry.read(7, 5)?[..], b"swarm");
//! assert!(catalog.by_info_hash(&entry.info_hash).is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod catalog;
mod entry;
mod error;
mod links;
mod media;
mod observer;
mod owners;
mod publish;
#[cfg(feature = "tokio")]
mod pump;

pub use catalog::{Catalog, Loaded};
pub use entry::Entry;
pub use error::CatalogError;
pub use links::{Links, sanitize_name};
pub use media::{OCTET_STREAM, detect_media_type};
pub use observer::CatalogObserver;
pub use owners::Disowned;
pub use publish::{PublishRequest, Published};
#[cfg(feature = "tokio")]
pub use pump::publish_stream;
