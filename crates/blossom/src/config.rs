//! [`BlossomConfig`]: the BUD-11 policy and the limits of one Blossom server.
//!
//! Defaults follow what Blossom clients expect of a public server: uploads, mirrors, media and
//! deletes need a token, reads and lists do not; 100 MiB uploads; 60 s of clock skew; mirrors
//! refuse loopback and private origins; 8 uploads at once, each
//! failing after 30 s without a body byte; no request rate limit. Everything is plain data so a binary can fill it from
//! flags and a test can change one field.

use std::collections::HashSet;
use std::time::Duration;

use swarmgate_core::Pubkey;

use crate::auth::{AuthRules, server_host};

/// Which endpoints require an authorization token (BUD-11). An endpoint that does not require
/// one still checks a token when it needs an owner (an upload with a token is owned by its
/// signer); `DELETE` always needs one, since it acts for an owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthPolicy {
    /// `GET`/`HEAD /<sha256>` (verb `get`).
    pub get: bool,
    /// `PUT`/`HEAD /upload` (verb `upload`).
    pub upload: bool,
    /// `PUT /mirror` (verb `upload`).
    pub mirror: bool,
    /// `PUT`/`HEAD /media` (verb `media`).
    pub media: bool,
    /// `GET /list/<pubkey>` (verb `list`).
    pub list: bool,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            get: false,
            upload: true,
            mirror: true,
            media: true,
            list: false,
        }
    }
}

/// The settings of a Blossom [`router`](crate::router).
#[derive(Clone, Debug)]
pub struct BlossomConfig {
    /// The public base URL of the server, e.g. `https://blossom.example` (descriptor URLs are
    /// `<base>/<sha256>.<ext>`).
    pub public_base: String,
    /// This server's host names for `server` tags (URLs and ports allowed; only hosts count).
    /// Empty: the host of `public_base`.
    pub servers: Vec<String>,
    /// How far in the future a token's `created_at` may be.
    pub max_skew: Duration,
    /// Which endpoints require a token.
    pub auth: AuthPolicy,
    /// When set, only these pubkeys may upload, mirror or use media (403 otherwise); any owner
    /// may still delete its blobs.
    pub allowed_pubkeys: Option<HashSet<Pubkey>>,
    /// When set, the bytes each pubkey may own in total (413 with a reason beyond).
    pub quota_bytes: Option<u64>,
    /// The largest blob accepted by upload, media and mirror, in bytes.
    pub max_upload: u64,
    /// Mirror origins on loopback, private, link-local, unspecified or multicast addresses are
    /// refused unless this is set (tests on loopback set it).
    pub mirror_allow_private: bool,
    /// The time a whole mirror (every redirect, the transfer, storing) may take.
    pub mirror_timeout: Duration,
    /// How many redirects a mirror follows (each target checked like the first).
    pub mirror_max_redirects: u8,
    /// Failed authorizations from one client address (IPv6: its /64) within
    /// `bad_auth_window` before it is answered 429 until the window ends.
    pub bad_auth_limit: u32,
    /// The window of `bad_auth_limit`.
    pub bad_auth_window: Duration,
    /// Requests per second from one client address (IPv6: its /64), with a burst of twice
    /// that; beyond it 429 with `Retry-After`. 0: no limit (a proxy in front limits).
    pub requests_per_second: u32,
    /// Uploads (`PUT /upload`, `PUT /media`) and mirrors in progress at once, in all; more
    /// are answered 503 with `Retry-After` before their body is read.
    pub max_concurrent_uploads: usize,
    /// How long an upload's body may send nothing before the upload fails (400); its slot
    /// and its blocking thread are given back.
    pub upload_idle_timeout: Duration,
    /// When set, `GET /reports` lists the BUD-09 reports to a request carrying
    /// `Authorization: Bearer <token>`; unset, the listing does not exist (404).
    pub admin_token: Option<String>,
    /// The size of each read of a blob served by GET, in bytes.
    pub read_chunk: usize,
    /// The page size of `GET /list` when the request names none.
    pub list_default_limit: usize,
    /// The largest page of `GET /list`.
    pub list_max_limit: usize,
}

impl BlossomConfig {
    /// The defaults, serving under `public_base`.
    pub fn new(public_base: impl Into<String>) -> Self {
        BlossomConfig {
            public_base: public_base.into().trim_end_matches('/').to_owned(),
            servers: Vec::new(),
            max_skew: Duration::from_secs(60),
            auth: AuthPolicy::default(),
            allowed_pubkeys: None,
            quota_bytes: None,
            max_upload: 100 << 20,
            mirror_allow_private: false,
            mirror_timeout: Duration::from_secs(60),
            mirror_max_redirects: 5,
            bad_auth_limit: 20,
            bad_auth_window: Duration::from_secs(60),
            requests_per_second: 0,
            max_concurrent_uploads: 8,
            upload_idle_timeout: Duration::from_secs(30),
            admin_token: None,
            read_chunk: 1 << 20,
            list_default_limit: 100,
            list_max_limit: 1000,
        }
    }

    /// The rules tokens are checked against.
    pub fn auth_rules(&self) -> AuthRules {
        let servers = if self.servers.is_empty() {
            server_host(&self.public_base).into_iter().collect()
        } else {
            self.servers.clone()
        };
        AuthRules {
            servers,
            max_skew: self.max_skew.as_secs(),
        }
    }
}

impl Default for BlossomConfig {
    fn default() -> Self {
        Self::new("http://localhost:8082")
    }
}
