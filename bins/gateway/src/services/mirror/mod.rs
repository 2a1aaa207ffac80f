//! The mirror service: fetches the files that followed gateways announce, verifies them against
//! their announced sha256, then publishes them here, so that they are served and seeded like an
//! upload (issue 14, "Federation through relays").
//!
//! Its one way in is a [`Mirror`] handle ([`Gateway::mirror`](crate::Gateway::mirror)):
//! [`Mirror::submit`] puts a [`MirrorRequest`] on a bounded queue and never waits; a full queue
//! refuses and counts. One task (the dispatcher, [`queue`]) takes requests off the queue while
//! fewer than `[mirror] concurrency` fetches run, skips files already stored and files larger
//! than the largest upload, runs each fetch ([`fetch`]) on a task of its own, and schedules a
//! failed one again after a back-off (doubled at each failure, `[mirror] max_attempts` in all).
//! A file whose bytes are not the announced ones is final: dropped, counted, logged with who
//! announced it, and never fetched again for the same (sha256, info-hash) pair.
//!
//! Why fetch-then-verify-then-publish: the catalog serves a file the moment it commits it, so a
//! check after the publish would serve unverified bytes for a moment. The fetched file is hashed
//! in its private temporary folder first, and only a file equal to the announcement reaches
//! `publish`, which checks the hash again as it ingests (`PublishRequest::expected_sha256`) and
//! keeps nothing on a mismatch: two checks, neither of which lets a wrong byte be served.

mod fetch;
mod metadata;
mod queue;
mod stats;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use prometheus_client::registry::Registry;
use swarmgate_catalog::Catalog;
use swarmgate_core::{InfoHashV1, Pubkey, Sha256};
use swarmgate_service::Supervisor;
use tokio::sync::mpsc;

pub(crate) use stats::MirrorStats;

use super::Service;
use crate::settings::MirrorConfig;
use fetch::Fetcher;
use queue::Dispatcher;
use stats::MirrorCounters;

/// Requests the queue holds before [`Mirror::submit`] refuses.
pub(crate) const QUEUE_CAPACITY: usize = 1024;

/// A file another gateway announced, to fetch, verify and publish here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorRequest {
    /// Its announced sha256: what the fetched bytes must hash to.
    pub sha256: Sha256,
    /// Its announced v1 info-hash: the torrent the magnet link must name.
    pub info_hash: InfoHashV1,
    /// Its announced size in bytes.
    pub size: u64,
    /// Its announced name or title (for logs; the file is published under its torrent's name,
    /// so that its info-hash stays the announced one).
    pub name: String,
    /// A magnet link naming the torrent (`xt=urn:btih:`), with trackers (`tr=`) and web seeds
    /// (`ws=`) to fetch it from.
    pub magnet: String,
    /// A BEP 19 web seed of the file, one more source.
    pub webseed: Option<String>,
    /// A URL serving the file itself (a Blossom or download URL), used as one more web seed.
    pub url: Option<String>,
    /// Who announced it (the Nostr key that signed the announcement), for logs.
    pub source: Pubkey,
}

/// The way into the mirror: cheap to clone, never blocks. Followers (the Nostr subscriptions)
/// hand it each file a followed gateway announces.
#[derive(Debug, Clone)]
pub struct Mirror {
    requests: mpsc::Sender<MirrorRequest>,
    counters: MirrorCounters,
}

impl Mirror {
    /// Queues `request` without waiting: `false` (and counted as `queue_full`) when the queue is
    /// full, `false` when the gateway is stopping. Files already stored, too large or known to
    /// fail verification are skipped by the mirror itself, so the caller need not check.
    pub fn submit(&self, request: MirrorRequest) -> bool {
        match self.requests.try_send(request) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(request)) => {
                self.counters.queue_full.inc();
                tracing::warn!(sha256 = %request.sha256, source = %request.source,
                    "the mirror queue is full: request dropped");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// The mirror; see the module docs.
#[derive(Debug)]
pub(crate) struct MirrorService {
    mirror: Mirror,
    /// Taken by the dispatcher when the service starts.
    dispatcher: Mutex<Option<Dispatcher>>,
}

impl MirrorService {
    /// The mirror into `catalog`, fetching into `data_dir/mirror-tmp/` with downloads listening
    /// on `listen_ip`, and refusing files over `max_size` bytes.
    pub(crate) fn new(
        catalog: Arc<Catalog>,
        config: &MirrorConfig,
        max_size: u64,
        data_dir: PathBuf,
        listen_ip: IpAddr,
        registry: &mut Registry,
    ) -> MirrorService {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let counters = MirrorCounters::register(registry, sender.downgrade());
        let fetcher = Fetcher::new(
            Arc::clone(&catalog),
            data_dir.join("mirror-tmp"),
            config.fetch_timeout,
            max_size,
            listen_ip,
        );
        let dispatcher = Dispatcher::new(receiver, fetcher, config.clone(), counters.clone());
        MirrorService {
            mirror: Mirror {
                requests: sender,
                counters,
            },
            dispatcher: Mutex::new(Some(dispatcher)),
        }
    }

    /// The handle to submit requests with.
    pub(crate) fn mirror(&self) -> Mirror {
        self.mirror.clone()
    }

    /// The figures so far.
    pub(crate) fn stats(&self) -> MirrorStats {
        self.mirror
            .counters
            .stats(&self.mirror.requests.downgrade())
    }
}

impl Service for MirrorService {
    fn name(&self) -> &'static str {
        "mirror"
    }

    fn start(&self, services: &mut Supervisor) {
        let dispatcher = self
            .dispatcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(dispatcher) = dispatcher {
            services.spawn("mirror", dispatcher.run(services.shutdown()));
        }
    }
}
