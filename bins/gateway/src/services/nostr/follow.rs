//! Following keys: the subscription every relay connection opens (and opens again after each
//! reconnect), and what happens to each event it brings.
//!
//! Every event is checked before anything is read from it: its id must be the hash of its
//! content and its signature valid for its key (`Event::verify`), its author one we follow and
//! its kind 2003 or 1063; a forged event is counted as `invalid` and dropped, one of another
//! author or kind or without the required tags as `ignored`. The same event from several
//! relays is merged once. A record that becomes complete is handed to the mirror, only when
//! `--mirror-followed` is set, through a [`Handoff`] that never blocks the relay connection
//! (the mirror's bounded queue; a refusal, full or closed, is counted as `mirror_dropped`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use nostr::{Event, Filter, PublicKey, SubscriptionId};
use serde::Serialize;

use super::discovered::{Added, Discovered, DiscoveredStore};
use super::events::{FILE_METADATA, TORRENT, parse};

/// The subscription's id on every relay.
const SUBSCRIPTION: &str = "swarmgate-follow";

/// What following counted.
#[derive(Debug, Default)]
pub(crate) struct FollowCounters {
    /// Events received (every relay, duplicates included).
    pub received: AtomicU64,
    /// Events whose id or signature is wrong: dropped.
    pub invalid: AtomicU64,
    /// Verified events that are not an announcement by a followed key: dropped.
    pub ignored: AtomicU64,
    /// Events already merged (from another relay, or a re-announcement).
    pub duplicates: AtomicU64,
    /// Relay messages that were not NIP-01 JSON.
    pub unreadable: AtomicU64,
    /// Completed records handed to the mirror.
    pub mirrored: AtomicU64,
    /// Completed records the mirror's channel had no room for (full or closed).
    pub mirror_dropped: AtomicU64,
}

/// The followed keys, their records, and the hand-off to the mirror.
pub(crate) struct Follower {
    authors: BTreeSet<PublicKey>,
    /// The merged announcements.
    pub store: DiscoveredStore,
    /// What was counted.
    pub counters: FollowCounters,
    mirror: Option<Handoff>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("authors", &self.authors)
            .field("store", &self.store)
            .field("counters", &self.counters)
            .field("mirror", &self.mirror.is_some())
            .finish()
    }
}

/// How a completed record reaches the mirror: `true` when it was queued. It must not wait (it
/// runs on a relay connection's task).
pub(crate) type Handoff = Box<dyn Fn(Discovered) -> bool + Send + Sync>;

/// `following` in `/api/p2p/stats`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FollowAnswer {
    /// The followed keys, hex.
    pub keys: Vec<String>,
    /// Whether completed records go to the mirror (`--mirror-followed`).
    pub mirror_followed: bool,
    /// Events received (every relay, duplicates included).
    pub received: u64,
    /// Forged events (bad id or signature), dropped.
    pub invalid: u64,
    /// Events of another kind or author, or without the required tags, dropped.
    pub ignored: u64,
    /// Events already merged.
    pub duplicates: u64,
    /// Relay messages that were not NIP-01 JSON.
    pub unreadable: u64,
    /// Records listed by /api/discovered.
    pub discovered: usize,
    /// Of those, the complete ones (sha256, info-hash and size known).
    pub complete: usize,
    /// Complete records handed to the mirror.
    pub mirrored: u64,
    /// Complete records the mirror had no room for.
    pub mirror_dropped: u64,
}

impl Follower {
    /// Follows `authors`; completed records go to `mirror` when given (`--mirror-followed`).
    pub(crate) fn new(
        authors: impl IntoIterator<Item = PublicKey>,
        mirror: Option<Handoff>,
    ) -> Follower {
        Follower {
            authors: authors.into_iter().collect(),
            store: DiscoveredStore::default(),
            counters: FollowCounters::default(),
            mirror,
        }
    }

    /// The subscription's id.
    pub(crate) fn subscription_id(&self) -> SubscriptionId {
        SubscriptionId::new(SUBSCRIPTION)
    }

    /// The followed keys' kinds 2003 and 1063.
    pub(crate) fn filter(&self) -> Filter {
        Filter::new()
            .authors(self.authors.iter().copied())
            .kinds([TORRENT, FILE_METADATA])
    }

    /// A relay message that did not parse.
    pub(crate) fn unreadable(&self) {
        self.counters.unreadable.fetch_add(1, Ordering::Relaxed);
    }

    /// An event from the subscription on `relay`.
    pub(crate) fn receive(&self, event: Event, relay: &str) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        if event.verify().is_err() {
            self.counters.invalid.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%relay, id = %event.id, "dropped a forged event");
            return;
        }
        if !self.authors.contains(&event.pubkey) {
            self.counters.ignored.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let announced = match parse(&event) {
            Ok(announced) => announced,
            Err(reason) => {
                self.counters.ignored.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%relay, id = %event.id, %reason, "ignored an event");
                return;
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match self.store.add(event.pubkey, event.id, announced, now) {
            Added::Known => {
                self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            Added::New => {}
            Added::Completed(discovered) => self.hand_on(*discovered),
        }
    }

    /// Gives a completed record to the mirror, if there is one; never waits.
    fn hand_on(&self, discovered: Discovered) {
        let Some(mirror) = &self.mirror else {
            return;
        };
        match mirror(discovered) {
            true => self.counters.mirrored.fetch_add(1, Ordering::Relaxed),
            false => self.counters.mirror_dropped.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// The figures for `/api/p2p/stats`.
    pub(crate) fn answer(&self) -> FollowAnswer {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let c = &self.counters;
        let (discovered, complete) = self.store.counts();
        FollowAnswer {
            keys: self.authors.iter().map(PublicKey::to_hex).collect(),
            mirror_followed: self.mirror.is_some(),
            received: read(&c.received),
            invalid: read(&c.invalid),
            ignored: read(&c.ignored),
            duplicates: read(&c.duplicates),
            unreadable: read(&c.unreadable),
            discovered,
            complete,
            mirrored: read(&c.mirrored),
            mirror_dropped: read(&c.mirror_dropped),
        }
    }
}
