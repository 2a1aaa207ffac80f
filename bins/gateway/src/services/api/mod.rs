//! The API service (DESIGN.md's HTTP API): uploads, the file list, metadata and deletion, the
//! download with Range, the .torrent (BEP 3) and the magnet link (BEP 9) of each stored file.
//!
//! Uploads go through the catalog's one way in (`publish_stream`), so what the API stores is
//! served by every other service at once, through their catalog observers; deletion goes
//! through its one way out. The API's own state is its settings section (`[api]`), the upload
//! limits and its counters.

mod answer;
mod download;
mod files;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::Serialize;
use swarmgate_catalog::Catalog;
use tokio::sync::Semaphore;

use super::Service;
use crate::http::IpRateLimit;
use crate::http::metrics::counter;
use crate::settings::ApiConfig;

/// The API; see the module docs.
#[derive(Debug)]
pub(crate) struct ApiService {
    state: Arc<ApiState>,
}

/// What the API's handlers share (and nothing of any other service).
#[derive(Debug)]
struct ApiState {
    catalog: Arc<Catalog>,
    config: ApiConfig,
    /// How long an upload may send nothing.
    idle: Duration,
    /// Uploads in progress, bounded.
    uploads: Arc<Semaphore>,
    /// Uploads per IP.
    upload_limit: IpRateLimit,
    counters: ApiCounters,
}

/// What the API counts.
#[derive(Debug)]
struct ApiCounters {
    uploads: Counter,
    duplicate_uploads: Counter,
    failed_uploads: Counter,
    upload_bytes: Counter,
    downloads: Counter,
    download_bytes: Counter,
    deletes: Counter,
    /// Shared with the HTTP guard's count of refusals.
    rate_limited: Counter,
}

/// The API's figures, as `/api/stats` shows them.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct ApiStats {
    /// New files uploaded.
    pub uploads: u64,
    /// Uploads of content already stored.
    pub duplicate_uploads: u64,
    /// Uploads refused or broken off.
    pub failed_uploads: u64,
    /// Bytes of new uploads.
    pub upload_bytes: u64,
    /// Answers of `/api/download`.
    pub downloads: u64,
    /// Body bytes sent by `/api/download`.
    pub download_bytes: u64,
    /// Files deleted.
    pub deletes: u64,
    /// Uploads in progress now.
    pub uploads_in_progress: usize,
}

impl ApiService {
    /// The API over `catalog`; `idle` is how long an upload may send nothing, `rate_limited`
    /// the counter of refusals it shares with the HTTP guard.
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        config: ApiConfig,
        idle: Duration,
        rate_limited: Counter,
        registry: &mut Registry,
    ) -> ApiService {
        let counters = ApiCounters {
            uploads: counter(registry, "uploads", "New files uploaded."),
            duplicate_uploads: counter(
                registry,
                "duplicate_uploads",
                "Uploads of content already stored.",
            ),
            failed_uploads: counter(registry, "failed_uploads", "Uploads refused or broken off."),
            upload_bytes: counter(registry, "upload_bytes", "Bytes of new uploads."),
            downloads: counter(registry, "downloads", "Answers of /api/download."),
            download_bytes: counter(registry, "download_bytes", "Bytes sent by /api/download."),
            deletes: counter(registry, "deletes", "Files deleted."),
            rate_limited,
        };
        let state = ApiState {
            catalog,
            uploads: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
            upload_limit: IpRateLimit::per_minute(config.uploads_per_minute),
            config,
            idle,
            counters,
        };
        ApiService {
            state: Arc::new(state),
        }
    }

    /// The figures so far.
    pub(crate) fn stats(&self) -> ApiStats {
        let c = &self.state.counters;
        ApiStats {
            uploads: c.uploads.get(),
            duplicate_uploads: c.duplicate_uploads.get(),
            failed_uploads: c.failed_uploads.get(),
            upload_bytes: c.upload_bytes.get(),
            downloads: c.downloads.get(),
            download_bytes: c.download_bytes.get(),
            deletes: c.deletes.get(),
            uploads_in_progress: self.state.config.max_concurrent_uploads
                - self.state.uploads.available_permits(),
        }
    }
}

impl Service for ApiService {
    fn name(&self) -> &'static str {
        "api"
    }

    fn routes(&self) -> Router {
        let upload_limit = DefaultBodyLimit::disable();
        Router::new()
            .route("/api/upload", post(upload::upload).layer(upload_limit))
            .route("/api/files", get(files::list))
            .route(
                "/api/files/{sha256}",
                get(files::metadata).delete(files::delete),
            )
            .route("/api/torrent/{file}", get(files::torrent))
            .route("/api/magnet/{sha256}", get(files::magnet))
            .with_state(Arc::clone(&self.state))
            .merge(download::routes(Arc::clone(&self.state)))
    }
}
