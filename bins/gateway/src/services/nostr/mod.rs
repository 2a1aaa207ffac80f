//! The Nostr service: the gateway's key, the announcement of every file published while it
//! runs (NIP-35 kind 2003 and NIP-94 kind 1063) to the configured relays, and the following of
//! other keys' announcements, listed by `GET /api/discovered` and optionally handed to the
//! mirror.
//!
//! | part | file |
//! |---|---|
//! | the key (given, or `DATA_DIR/nostr.key`, mode 0600) | [`key`] |
//! | the two events, and reading received ones | [`events`] |
//! | the bounded queues and the signing task | [`publisher`] |
//! | one WebSocket connection per relay, with back-off | [`relays`] |
//! | the subscription and the checks on what it brings | [`follow`] |
//! | the merged records and `Discovered`, the mirror's input | [`discovered`] |
//! | stats, metrics and health | [`status`] |
//!
//! Only files published *while the gateway runs* are announced: the catalog tells a new
//! observer of every file already stored, and announcing those at every start would send the
//! whole catalog to every relay again at each restart (relays rate-limit that, and followers
//! would see nothing new). The observer ignores that replay ([`NostrService::announce_from_now`]
//! is called once the catalog has told it of the stored files) and, for a new publish, only
//! queues the entry: signing and sending happen on the service's own tasks, so an upload never
//! waits for a relay and never fails because of one. A deleted file is not withdrawn (no NIP-09
//! deletion event is sent).

mod discovered;
mod events;
mod follow;
mod key;
mod publisher;
mod relays;
mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use nostr::Keys;
use prometheus_client::registry::Registry;
use serde::Serialize;
use swarmgate_catalog::{CatalogObserver, Entry, Links};
use swarmgate_service::Supervisor;

pub(crate) use discovered::Discovered;
use discovered::DiscoveredAnswer;
use follow::Follower;
pub(crate) use follow::Handoff;
use key::{KeySource, gateway_key, public_forms};
use publisher::Publisher;
use relays::RelayLink;
pub(crate) use status::NostrAnswer;
use status::RelayAnswer;

use super::{Health, Service};
use crate::http::metrics::Snapshot;
use crate::http::{ApiError, Page};
use crate::settings::NostrConfig;

/// The Nostr service; see the module docs.
pub(crate) struct NostrService {
    keys: Keys,
    links: Links,
    publisher: Arc<Publisher>,
    relays: Vec<Arc<RelayLink>>,
    follower: Arc<Follower>,
    following: bool,
    live: AtomicBool,
}

impl std::fmt::Debug for NostrService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NostrService")
            .field("pubkey", &self.keys.public_key().to_hex())
            .field("relays", &self.relays.len())
            .finish_non_exhaustive()
    }
}

impl NostrService {
    /// The service for `config`: its key given or kept in `data_dir` (made there at the first
    /// start), announcing under `links`; completed records of followed keys go to `mirror`
    /// when `config.mirror_followed` is set. Reads or writes the key file (call it with the
    /// data folder locked).
    pub(crate) fn new(
        config: &NostrConfig,
        data_dir: &std::path::Path,
        links: Links,
        mirror: Option<Handoff>,
        registry: &mut Registry,
    ) -> anyhow::Result<NostrService> {
        let (keys, source) = gateway_key(config.key.as_ref(), data_dir)?;
        let (hex, npub) = public_forms(&keys);
        let from = match source {
            KeySource::Given => "given",
            KeySource::Loaded => "loaded from the data folder",
            KeySource::Created => "made and saved in the data folder",
        };
        tracing::info!(
            pubkey = %hex,
            relays = config.relays.len(),
            following = config.follow.len(),
            "Nostr key {npub} ({from})"
        );
        let mirror = mirror.filter(|_| config.mirror_followed);
        if config.mirror_followed && mirror.is_none() {
            tracing::warn!(
                "--mirror-followed is set but this gateway has no mirror to hand files to"
            );
        }
        let relays: Vec<Arc<RelayLink>> = config
            .relays
            .iter()
            .map(|url| Arc::new(RelayLink::new(url.clone())))
            .collect();
        let follower = Arc::new(Follower::new(config.follow.iter().copied(), mirror));
        let publisher = Arc::new(Publisher::new());
        registry.register_collector(Box::new(status::RelayMetrics {
            relays: relays.clone(),
        }));
        let (observed, observed_publisher) = (Arc::clone(&follower), Arc::clone(&publisher));
        Snapshot::register(registry, "nostr", move |samples| {
            let answer = observed.answer();
            let files = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
            samples.counter(
                "nostr_files_announced",
                "Files whose announcements were handed to the relays.",
                files(&observed_publisher.announced),
            );
            samples.gauge(
                "nostr_files_pending",
                "Files published and not yet signed.",
                observed_publisher.pending.len() as u64,
            );
            samples.counter(
                "nostr_files_dropped",
                "Files dropped from the full announcement queue.",
                observed_publisher.pending.dropped(),
            );
            samples.counter(
                "nostr_followed_received",
                "Events received for the followed keys.",
                answer.received,
            );
            samples.counter(
                "nostr_followed_invalid",
                "Received events with a bad id or signature (dropped).",
                answer.invalid,
            );
            samples.counter(
                "nostr_followed_ignored",
                "Received events that are no followed key's announcement (dropped).",
                answer.ignored,
            );
            samples.gauge(
                "nostr_discovered",
                "Announcements of followed keys listed.",
                answer.discovered as u64,
            );
            samples.counter(
                "nostr_mirror_handed",
                "Complete announcements handed to the mirror.",
                answer.mirrored,
            );
        });
        Ok(NostrService {
            keys,
            links,
            publisher,
            relays,
            following: !config.follow.is_empty(),
            follower,
            live: AtomicBool::new(false),
        })
    }

    /// From now on every publish is announced: call it once the service is registered as a
    /// catalog observer (which first replays the files already stored).
    pub(crate) fn announce_from_now(&self) {
        self.live.store(true, Ordering::Release);
    }

    /// The figures for `/api/p2p/stats`.
    pub(crate) fn answer(&self) -> NostrAnswer {
        let (pubkey, npub) = public_forms(&self.keys);
        NostrAnswer {
            pubkey,
            npub,
            announcing: !self.relays.is_empty(),
            pending_files: self.publisher.pending.len(),
            dropped_files: self.publisher.pending.dropped(),
            announced_files: self.publisher.announced.load(Ordering::Relaxed),
            relays: self.relays.iter().map(|r| RelayAnswer::of(r)).collect(),
            following: self.follower.answer(),
        }
    }
}

impl Service for NostrService {
    fn name(&self) -> &'static str {
        "nostr"
    }

    fn routes(&self) -> Router {
        Router::new()
            .route("/api/discovered", get(discovered_list))
            .with_state(Arc::clone(&self.follower))
    }

    fn start(&self, services: &mut Supervisor) {
        if self.relays.is_empty() {
            return;
        }
        services.spawn(
            "nostr-publisher",
            Arc::clone(&self.publisher).run(
                self.keys.clone(),
                self.links.clone(),
                self.relays.clone(),
                services.shutdown(),
            ),
        );
        let follower = self.following.then(|| Arc::clone(&self.follower));
        for relay in &self.relays {
            services.spawn(
                "nostr-relay",
                Arc::clone(relay).run(follower.clone(), services.shutdown()),
            );
        }
    }

    fn health(&self) -> Option<Health> {
        status::health(&self.relays)
    }
}

impl CatalogObserver for NostrService {
    fn published(&self, entry: &Arc<Entry>) {
        if self.live.load(Ordering::Acquire) && !self.relays.is_empty() {
            self.publisher.pending.push(Arc::clone(entry));
        }
    }

    fn removed(&self, _entry: &Arc<Entry>) {}
}

/// One page of `/api/discovered`, shaped as `/api/files`'s.
#[derive(Debug, Serialize)]
struct DiscoveredList {
    /// The records, newest first seen first.
    discovered: Vec<DiscoveredAnswer>,
    /// Records kept in all.
    total: u64,
    /// The offset of this page.
    offset: u64,
    /// The limit used.
    limit: u32,
}

/// `GET /api/discovered`.
async fn discovered_list(
    State(follower): State<Arc<Follower>>,
    page: Page,
) -> Result<Json<DiscoveredList>, ApiError> {
    let (discovered, total) = follower.store.page(page.offset, page.limit);
    Ok(Json(DiscoveredList {
        discovered,
        total,
        offset: page.offset,
        limit: page.limit,
    }))
}
