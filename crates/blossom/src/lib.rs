//! A Blossom server (BUD-01/02/04/06/08/09/11/12): blob descriptors, kind 24242 authorization
//! and an axum router over a blob-store trait.
//!
//! Blossom stores blobs by their sha256 on plain HTTP servers and lets Nostr keys own them. The
//! crate owns both halves of a server, so anyone can put one in front of their own storage:
//!
//! - the pure rules, with `now` passed in: [`authorize`] (the `Authorization: Nostr` header,
//!   either base64 form, `server` tags compared by host, checked in BUD-11's order, each refusal
//!   an [`AuthError`] with its status and `X-Reason`), [`parse_report`] (BUD-09),
//!   [`BlobDescriptor`] and [`nip94_tags`] (BUD-02, BUD-08), [`parse_blob_segment`] and
//!   [`parse_list_request`] (the paths);
//! - the [`BlobStore`] trait, the storage a server runs over (blocking methods; it keeps nothing
//!   unverified and drops bytes with their last owner), with [`MemoryBlobStore`] in memory;
//! - [`router`], the axum router over a store under a [`BlossomConfig`] (the BUD-11 policy,
//!   limits, the mirror's SSRF guard, the bad-auth limiter): `GET`/`HEAD`/`DELETE /<sha256>`,
//!   `PUT`/`HEAD /upload` and `/media`, `PUT /mirror`, `GET /list/<pubkey>`, `PUT /report`,
//!   with CORS and `X-Reason` on every answer.
//!
//! It does not make torrents, announce on Nostr relays or persist anything itself: those are
//! the store's and the embedding server's (the Swarmgate gateway plugs its catalog in as the
//! store). It does not transcode (`/media` stores what it is sent) and takes no payments
//! (BUD-07).
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use swarmgate_blossom::{BlossomConfig, MemoryBlobStore, router};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let base = format!("http://{}", listener.local_addr()?);
//! let app = router(Arc::new(MemoryBlobStore::new()), BlossomConfig::new(base.clone()));
//! let service = app.into_make_service_with_connect_info::<SocketAddr>();
//! tokio::spawn(async move { axum::serve(listener, service).await });
//!
//! // A kind 24242 upload token for these bytes, as a Blossom client makes it.
//! let keys = nostr::Keys::generate();
//! let body = b"hello, blossom";
//! let sha256 = swarmgate_core::Sha256(<sha2::Sha256 as sha2::Digest>::digest(body).into());
//! let expiration = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 60).to_string();
//! let tags = [["t", "upload"], ["x", &sha256.to_hex()], ["expiration", &expiration]];
//! let event = nostr::EventBuilder::new(nostr::Kind::Custom(24242), "Upload hello")
//!     .tags(tags.iter().map(|tag| nostr::Tag::parse(*tag).unwrap()))
//!     .sign_with_keys(&keys)?;
//! let token = base64_url(nostr::JsonUtil::as_json(&event).as_bytes());
//!
//! let http = reqwest::Client::new();
//! let upload = http
//!     .put(format!("{base}/upload"))
//!     .header("authorization", format!("Nostr {token}"))
//!     .header("content-type", "text/plain")
//!     .body(&body[..])
//!     .send()
//!     .await?;
//! assert_eq!(upload.status(), 201);
//! let descriptor: swarmgate_blossom::BlobDescriptor = serde_json::from_str(&upload.text().await?)?;
//! assert_eq!(descriptor.url, format!("{base}/{sha256}.txt"));
//!
//! let blob = http.get(&descriptor.url).send().await?;
//! assert_eq!(blob.headers()["content-type"], "text/plain");
//! assert_eq!(&blob.bytes().await?[..], body);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! # fn base64_url(bytes: &[u8]) -> String {
//! #     let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
//! #     let mut out = String::new();
//! #     for chunk in bytes.chunks(3) {
//! #         let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
//! #         for i in 0..=chunk.len() {
//! #             out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
//! #         }
//! #     }
//! #     out
//! # }
//! ```

mod auth;
mod base64;
mod config;
mod descriptor;
mod limit;
mod memory;
mod report;
mod router;
mod store;

pub use auth::{
    AUTH_KIND, AuthError, AuthRequest, AuthRules, Authorization, MAX_HEADER_LEN, Verb, XRule,
    authorization_header, authorize, check_authorization, parse_authorization, server_host,
};
pub use base64::TokenEncoding;
pub use config::{AuthPolicy, BlossomConfig};
pub use descriptor::{
    BlobDescriptor, ListQuery, MAX_EXTENSION_LEN, PathError, blob_url, extension_for, list_page,
    nip94_tags, parse_blob_segment, parse_list_request,
};
pub use memory::MemoryBlobStore;
pub use report::{
    MAX_REPORT_LEN, REPORT_KIND, Report, ReportError, ReportType, ReportedBlob, parse_report,
};
pub use router::router;
pub use store::{Blob, BlobStore, Disowned, PutBlob, StoreError, Stored};
