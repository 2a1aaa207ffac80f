//! The web seed service (BEP 19, `/webseed/<sha256>`): every stored file as a GetRight-style
//! web seed, read from verified pieces, so a damaged chunk answers 500, never wrong data.
//!
//! [`StoredFiles`] is the catalog as a swarmgate-webseed source, keyed by sha256; the download
//! API serves through it too, with the same Range, HEAD and ETag handling, so the two cannot
//! disagree about a byte. Its health is a live probe (the newest file's first bytes read
//! through the verifying cache) and its error ratio.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::Serialize;
use swarmgate_catalog::{Catalog, Entry};
use swarmgate_core::Sha256;
use swarmgate_metainfo::Torrent;
use swarmgate_webseed::{ServerConfig, UrlLayout, WebSeedFile, WebSeedSource};

use super::{Health, Service};
use crate::http::metrics::counter;

/// The catalog as a web seed source, keyed by sha256.
#[derive(Debug)]
pub(crate) struct StoredFiles {
    /// The stored files.
    pub catalog: Arc<Catalog>,
}

impl WebSeedSource for StoredFiles {
    type File = StoredFile;

    fn torrent(&self, key: &str) -> Option<Arc<Torrent>> {
        let sha256 = Sha256::from_hex(key).ok()?;
        self.catalog
            .get(&sha256)
            .map(|entry| Arc::clone(&entry.torrent))
    }

    fn open(&self, torrent: &Torrent, index: usize) -> io::Result<Option<StoredFile>> {
        let entry = torrent
            .info_hash()
            .v1()
            .and_then(|info_hash| self.catalog.by_info_hash(&info_hash));
        Ok(entry.filter(|_| index == 0).map(StoredFile))
    }
}

/// One stored file, read piece by verified piece.
#[derive(Debug)]
pub(crate) struct StoredFile(Arc<Entry>);

impl WebSeedFile for StoredFile {
    fn len(&self) -> u64 {
        self.0.size()
    }

    fn read(&self, offset: u64, length: usize) -> io::Result<Bytes> {
        self.0.read(offset, length)
    }

    fn content_type(&self) -> Option<&str> {
        Some(&self.0.file.mime)
    }
}

/// The web seed; see the module docs.
#[derive(Debug)]
pub(crate) struct WebSeedService {
    catalog: Arc<Catalog>,
    counters: Arc<WebSeedCounters>,
}

/// What the web seed counts.
#[derive(Debug)]
struct WebSeedCounters {
    requests: Counter,
    bytes: Counter,
    errors: Counter,
}

/// The web seed's figures.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct WebSeedStats {
    /// Requests answered.
    pub requests: u64,
    /// Body bytes sent.
    pub bytes: u64,
    /// Answers that were errors (4xx other than 416, 5xx).
    pub errors: u64,
}

/// The live probe of the web seed's health.
#[derive(Debug)]
pub(crate) struct Probe {
    /// The component.
    pub health: Health,
    /// How long the probe read took.
    pub probe_ms: Option<f64>,
    /// The file probed (the newest).
    pub probed: Option<String>,
}

impl WebSeedService {
    /// The web seed of the catalog's files.
    pub(crate) fn new(catalog: Arc<Catalog>, registry: &mut Registry) -> WebSeedService {
        let counters = WebSeedCounters {
            requests: counter(registry, "webseed_requests", "Web seed requests."),
            bytes: counter(registry, "webseed_bytes", "Bytes sent by the web seed."),
            errors: counter(
                registry,
                "webseed_errors",
                "Web seed answers that were errors.",
            ),
        };
        WebSeedService {
            catalog,
            counters: Arc::new(counters),
        }
    }

    /// The figures so far.
    pub(crate) fn stats(&self) -> WebSeedStats {
        WebSeedStats {
            requests: self.counters.requests.get(),
            bytes: self.counters.bytes.get(),
            errors: self.counters.errors.get(),
        }
    }

    /// Reads the newest file's first bytes through the verifying cache and scores the answer
    /// and the error ratio. Blocks (it may read a disk).
    pub(crate) fn probe(&self) -> Probe {
        let mut issues = Vec::new();
        let mut score: i32 = 100;
        let newest = self
            .catalog
            .all()
            .into_iter()
            .max_by_key(|e| e.file.created);
        let (mut probe_ms, mut probed) = (None, None);
        if let Some(entry) = newest {
            let started = Instant::now();
            let length = entry.size().min(4096) as usize;
            match entry.read(0, length) {
                Ok(_) => probe_ms = Some(started.elapsed().as_secs_f64() * 1000.0),
                Err(error) => {
                    score = 0;
                    issues.push(format!("reading {} failed: {error}", entry.sha256()));
                }
            }
            probed = Some(entry.sha256().to_hex());
        }
        let WebSeedStats {
            requests, errors, ..
        } = self.stats();
        if requests >= 20 {
            let ratio = errors as f64 / requests as f64;
            if ratio > 0.01 {
                score -= (ratio * 100.0).round() as i32;
                issues.push(format!("{errors} of {requests} web seed requests failed"));
            }
        }
        Probe {
            health: Health {
                name: "webseed",
                score: score.clamp(0, 100) as u8,
                weight: 40,
                issues,
            },
            probe_ms,
            probed,
        }
    }
}

impl Service for WebSeedService {
    fn name(&self) -> &'static str {
        "webseed"
    }

    fn routes(&self) -> Router {
        let source = Arc::new(StoredFiles {
            catalog: Arc::clone(&self.catalog),
        });
        let config = ServerConfig::with_layout(UrlLayout::ByKey);
        let webseed = swarmgate_webseed::router(source, config).layer(
            middleware::from_fn_with_state(Arc::clone(&self.counters), count),
        );
        Router::new().nest("/webseed", webseed)
    }

    fn health(&self) -> Option<Health> {
        Some(self.probe().health)
    }
}

/// Counts each answer, its body bytes and its errors.
async fn count(
    State(counters): State<Arc<WebSeedCounters>>,
    request: Request,
    next: Next,
) -> Response {
    let is_head = request.method() == Method::HEAD;
    let response = next.run(request).await;
    counters.requests.inc();
    let status = response.status();
    if status.is_success() && !is_head {
        counters.bytes.inc_by(body_length(&response));
    } else if status.is_server_error()
        || (status.is_client_error() && status != StatusCode::RANGE_NOT_SATISFIABLE)
    {
        counters.errors.inc();
    }
    response
}

/// The `Content-Length` of an answer (0 when it has none).
pub(crate) fn body_length(response: &Response) -> u64 {
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
