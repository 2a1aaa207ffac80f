//! A Blossom server (BUD-01/02/04/06/08/09/11/12): blob descriptors, kind 24242 authorization
//! and an axum router over a blob-store trait.
//!
//! The crate owns the protocol rules, pure and with `now` passed in ([`authorize`],
//! [`parse_report`], [`BlobDescriptor`], [`nip94_tags`], the path parsers), and the
//! [`BlobStore`] trait a server's storage implements ([`MemoryBlobStore`] in memory).

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
    authorize, check_authorization, parse_authorization, server_host,
};
pub use config::{AuthPolicy, BlossomConfig};
pub use descriptor::{
    BlobDescriptor, ListQuery, MAX_EXTENSION_LEN, PathError, blob_url, extension_for, nip94_tags,
    page, parse_blob_segment, parse_list_request,
};
pub use memory::MemoryBlobStore;
pub use report::{
    MAX_REPORT_LEN, REPORT_KIND, Report, ReportError, ReportType, ReportedBlob, parse_report,
};
pub use router::router;
pub use store::{Blob, BlobStore, Disowned, PutBlob, StoreError, Stored};
