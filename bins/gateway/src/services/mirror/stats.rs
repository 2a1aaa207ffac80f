//! What the mirror counts: prometheus-client counters bumped by the dispatcher (read by the
//! JSON statistics and `/metrics` alike, so they cannot disagree) and three gauges of where the
//! work stands, read at each scrape.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio::sync::mpsc;

use super::MirrorRequest;
use crate::http::metrics::{Snapshot, counter};

/// The mirror's counters and gauges.
#[derive(Debug, Clone)]
pub(crate) struct MirrorCounters {
    pub(crate) mirrored: Counter,
    pub(crate) mirrored_bytes: Counter,
    pub(crate) already_stored: Counter,
    pub(crate) retries: Counter,
    pub(crate) verify_failures: Counter,
    pub(crate) late_mismatch: Counter,
    pub(crate) fetch_failures: Counter,
    pub(crate) too_large: Counter,
    pub(crate) queue_full: Counter,
    pub(crate) in_flight: Arc<AtomicU64>,
    pub(crate) waiting_retry: Arc<AtomicU64>,
}

/// The mirror's figures, as `/api/p2p/stats` shows them under `mirror`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct MirrorStats {
    /// Requests waiting in the queue.
    pub queued: u64,
    /// Fetches running.
    pub in_flight: u64,
    /// Failed fetches waiting for their next attempt.
    pub waiting_retry: u64,
    /// Files fetched, verified and published.
    pub mirrored: u64,
    /// Bytes of those files.
    pub mirrored_bytes: u64,
    /// Requests for files already stored here (nothing fetched).
    pub already_stored: u64,
    /// Failed fetches tried again.
    pub retries: u64,
    /// Why requests failed for good.
    pub failed: MirrorFailures,
}

/// Requests that failed for good, by reason.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct MirrorFailures {
    /// The bytes did not hash to the announced sha256 (or the torrent was not the announced
    /// one): dropped, never served, never fetched again.
    pub verify: u64,
    /// Passed our hash, then refused by the catalog's own at publish (nothing kept or served;
    /// the two hashes disagreeing is a bug: stays 0).
    pub late_mismatch: u64,
    /// Every attempt failed (no peer, no web seed, time out, a local error).
    pub fetch: u64,
    /// Larger than the gateway's largest upload.
    pub too_large: u64,
    /// Refused because the queue was full.
    pub queue_full: u64,
}

impl MirrorCounters {
    /// The counters, registered with `registry`; the gauges read `requests`' queue.
    pub(crate) fn register(
        registry: &mut Registry,
        requests: mpsc::WeakSender<MirrorRequest>,
    ) -> MirrorCounters {
        let counters = MirrorCounters {
            mirrored: counter(registry, "mirror_mirrored", "Files mirrored."),
            mirrored_bytes: counter(registry, "mirror_mirrored_bytes", "Bytes mirrored."),
            already_stored: counter(
                registry,
                "mirror_already_stored",
                "Mirror requests for files already stored.",
            ),
            retries: counter(registry, "mirror_retries", "Mirror fetches tried again."),
            verify_failures: counter(
                registry,
                "mirror_verify_failures",
                "Mirrored files dropped: not the announced sha256 or torrent.",
            ),
            late_mismatch: counter(
                registry,
                "mirror_late_mismatch",
                "Mirrored files refused at publish by the catalog's hash after passing ours (a bug).",
            ),
            fetch_failures: counter(
                registry,
                "mirror_fetch_failures",
                "Mirror requests given up after every attempt failed.",
            ),
            too_large: counter(
                registry,
                "mirror_too_large",
                "Mirror requests over the largest upload.",
            ),
            queue_full: counter(
                registry,
                "mirror_queue_full",
                "Mirror requests refused: the queue was full.",
            ),
            in_flight: Arc::default(),
            waiting_retry: Arc::default(),
        };
        let (in_flight, waiting) = (
            Arc::clone(&counters.in_flight),
            Arc::clone(&counters.waiting_retry),
        );
        Snapshot::register(registry, "mirror", move |samples| {
            samples.gauge(
                "mirror_queued",
                "Mirror requests queued.",
                queued(&requests),
            );
            samples.gauge(
                "mirror_in_flight",
                "Mirror fetches running.",
                in_flight.load(Ordering::Relaxed),
            );
            samples.gauge(
                "mirror_waiting_retry",
                "Failed mirror fetches waiting to be tried again.",
                waiting.load(Ordering::Relaxed),
            );
        });
        counters
    }

    /// The figures now.
    pub(crate) fn stats(&self, requests: &mpsc::WeakSender<MirrorRequest>) -> MirrorStats {
        MirrorStats {
            queued: queued(requests),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            waiting_retry: self.waiting_retry.load(Ordering::Relaxed),
            mirrored: self.mirrored.get(),
            mirrored_bytes: self.mirrored_bytes.get(),
            already_stored: self.already_stored.get(),
            retries: self.retries.get(),
            failed: MirrorFailures {
                verify: self.verify_failures.get(),
                late_mismatch: self.late_mismatch.get(),
                fetch: self.fetch_failures.get(),
                too_large: self.too_large.get(),
                queue_full: self.queue_full.get(),
            },
        }
    }
}

/// Requests in the queue (0 once it is closed).
fn queued(requests: &mpsc::WeakSender<MirrorRequest>) -> u64 {
    requests.upgrade().map_or(0, |sender| {
        (sender.max_capacity() - sender.capacity()) as u64
    })
}
