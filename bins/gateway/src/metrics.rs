//! The gateway's counters: lock-free atomics bumped on the request path, read by /api/stats and
//! /metrics. Nothing here logs; figures go to metrics, as the house style asks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since start.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// HTTP requests answered, by class.
    pub requests: StatusCounts,
    /// Files uploaded (new ones).
    pub uploads: AtomicU64,
    /// Uploads of content already stored.
    pub duplicate_uploads: AtomicU64,
    /// Uploads that failed (client error, limit, I/O).
    pub failed_uploads: AtomicU64,
    /// Bytes received in accepted uploads.
    pub upload_bytes: AtomicU64,
    /// Answers to /api/download.
    pub downloads: AtomicU64,
    /// Body bytes sent by /api/download.
    pub download_bytes: AtomicU64,
    /// Answers to /webseed.
    pub webseed_requests: AtomicU64,
    /// Body bytes sent by /webseed.
    pub webseed_bytes: AtomicU64,
    /// Web seed answers that were errors (4xx other than 416, 5xx).
    pub webseed_errors: AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// Files deleted.
    pub deletes: AtomicU64,
}

/// HTTP answers by status class.
#[derive(Debug, Default)]
pub(crate) struct StatusCounts {
    /// 2xx and 3xx.
    pub ok: AtomicU64,
    /// 4xx.
    pub client_error: AtomicU64,
    /// 5xx.
    pub server_error: AtomicU64,
}

impl StatusCounts {
    /// Counts one answer of `status`.
    pub(crate) fn count(&self, status: u16) {
        let counter = match status {
            500.. => &self.server_error,
            400..=499 => &self.client_error,
            _ => &self.ok,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// All answers.
    pub(crate) fn total(&self) -> u64 {
        get(&self.ok) + get(&self.client_error) + get(&self.server_error)
    }
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A counter's value.
pub(crate) fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
