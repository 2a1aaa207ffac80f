//! What the followed keys announced: one record per (author, info-hash), merged from its kind
//! 2003 and kind 1063 events in whichever order they come, listed by `GET /api/discovered`, and
//! handed to the mirror once complete.
//!
//! Records are matched by author as well as info-hash, so a 1063 from one key never completes a
//! 2003 from another. They are kept in memory only, at most [`CAPACITY`], the oldest first seen
//! evicted: the relays are the persistent copy, and the subscription made at each start asks
//! them for the followed keys' stored announcements again, so a restarted gateway lists them
//! again within seconds (with a new `seen_at`).
//!
//! A record is *complete* when its sha256, info-hash and size are known (a 1063, or one of our
//! own 2003s, which carry `sha256`): that is what the mirror needs to fetch and verify a file.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use nostr::nips::nip19::ToBech32;
use nostr::{EventId, PublicKey};
use serde::Serialize;
use swarmgate_core::{InfoHashV1, Pubkey, Sha256};

use super::events::{Announced, FilePart, TorrentPart, hex, magnet_of};

/// Records kept, at most.
pub(crate) const CAPACITY: usize = 10_000;

/// A followed key's announced file, complete: what the mirror takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discovered {
    /// The file's SHA-256, to verify it against.
    pub sha256: Sha256,
    /// Its torrent's v1 info-hash, to find the swarm by.
    pub info_hash: InfoHashV1,
    /// Its length in bytes.
    pub size: u64,
    /// Its title (the 2003 `title`, else the 1063 content, else the info-hash).
    pub title: String,
    /// A magnet link (announced, else built from the info-hash, title and trackers).
    pub magnet: String,
    /// The announced web seed (1063 `fallback`, else our 2003 `webseed`).
    pub webseed: Option<String>,
    /// The announced download URL (1063 `url`).
    pub url: Option<String>,
    /// The announced media type (1063 `m`).
    pub mime: Option<String>,
    /// The author: the followed key that signed the announcement.
    pub source: Pubkey,
    /// When this gateway first saw it, Unix seconds.
    pub seen_at: u64,
    /// The kind 2003 event's id, hex, if seen.
    pub torrent_event: Option<String>,
    /// The kind 1063 event's id, hex, if seen.
    pub file_event: Option<String>,
}

/// One record, complete or not.
#[derive(Debug, Clone)]
struct Record {
    info_hash: InfoHashV1,
    source: PublicKey,
    seen_at: u64,
    torrent: Option<(EventId, TorrentPart)>,
    file: Option<(EventId, FilePart)>,
    handed_on: bool,
}

impl Record {
    fn sha256(&self) -> Option<Sha256> {
        let from_file = self.file.as_ref().map(|(_, f)| f.sha256);
        from_file.or_else(|| self.torrent.as_ref().and_then(|(_, t)| t.sha256))
    }

    fn size(&self) -> Option<u64> {
        let from_file = self.file.as_ref().map(|(_, f)| f.size);
        from_file.or_else(|| self.torrent.as_ref().and_then(|(_, t)| t.size))
    }

    fn title(&self) -> String {
        let torrent = self.torrent.as_ref().and_then(|(_, t)| t.title.clone());
        torrent
            .or_else(|| self.file.as_ref().and_then(|(_, f)| f.name.clone()))
            .unwrap_or_else(|| hex(&self.info_hash.0))
    }

    fn webseed(&self) -> Option<String> {
        let fallback = self.file.as_ref().and_then(|(_, f)| f.fallback.clone());
        fallback.or_else(|| self.torrent.as_ref().and_then(|(_, t)| t.webseed.clone()))
    }

    fn magnet(&self) -> String {
        let announced = self.file.as_ref().and_then(|(_, f)| f.magnet.clone());
        announced
            .or_else(|| self.torrent.as_ref().and_then(|(_, t)| t.magnet.clone()))
            .unwrap_or_else(|| {
                let trackers = self
                    .torrent
                    .as_ref()
                    .map_or(&[][..], |(_, t)| &t.trackers[..]);
                let title = self.title();
                magnet_of(
                    self.info_hash,
                    Some(&title),
                    trackers,
                    self.webseed().as_deref(),
                )
            })
    }

    fn discovered(&self) -> Option<Discovered> {
        Some(Discovered {
            sha256: self.sha256()?,
            info_hash: self.info_hash,
            size: self.size()?,
            title: self.title(),
            magnet: self.magnet(),
            webseed: self.webseed(),
            url: self.file.as_ref().and_then(|(_, f)| f.url.clone()),
            mime: self.file.as_ref().and_then(|(_, f)| f.mime.clone()),
            source: Pubkey(self.source.to_bytes()),
            seen_at: self.seen_at,
            torrent_event: self.torrent.as_ref().map(|(id, _)| id.to_hex()),
            file_event: self.file.as_ref().map(|(id, _)| id.to_hex()),
        })
    }

    fn answer(&self) -> DiscoveredAnswer {
        DiscoveredAnswer {
            title: self.title(),
            size: self.size(),
            info_hash: hex(&self.info_hash.0),
            sha256: self.sha256().map(|s| s.to_hex()),
            magnet: self.magnet(),
            webseed: self.webseed(),
            url: self.file.as_ref().and_then(|(_, f)| f.url.clone()),
            mime: self.file.as_ref().and_then(|(_, f)| f.mime.clone()),
            source: self.source.to_hex(),
            source_npub: self.source.to_bech32().unwrap_or_default(),
            seen_at: self.seen_at,
            torrent_event: self.torrent.as_ref().map(|(id, _)| id.to_hex()),
            file_event: self.file.as_ref().map(|(id, _)| id.to_hex()),
            complete: self.discovered().is_some(),
        }
    }
}

/// One item of `GET /api/discovered`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DiscoveredAnswer {
    /// The title.
    pub title: String,
    /// Bytes, when announced.
    pub size: Option<u64>,
    /// The v1 info-hash, hex.
    pub info_hash: String,
    /// The SHA-256, hex, when announced (kind 1063).
    pub sha256: Option<String>,
    /// A magnet link.
    pub magnet: String,
    /// The web seed URL, when announced.
    pub webseed: Option<String>,
    /// The download URL, when announced.
    pub url: Option<String>,
    /// The media type, when announced.
    pub mime: Option<String>,
    /// The author's key, hex.
    pub source: String,
    /// The same, as an npub.
    pub source_npub: String,
    /// When first seen, Unix seconds.
    pub seen_at: u64,
    /// The kind 2003 event id, if seen.
    pub torrent_event: Option<String>,
    /// The kind 1063 event id, if seen.
    pub file_event: Option<String>,
    /// Whether sha256, info-hash and size are all known (what mirroring needs).
    pub complete: bool,
}

/// What [`DiscoveredStore::add`] did with an announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Added {
    /// A new record, or a part a record lacked.
    New,
    /// That part of the record was already known (the same event from another relay, or a
    /// re-announcement).
    Known,
    /// The record became complete with this part: hand it on.
    Completed(Box<Discovered>),
}

/// The records, oldest first.
#[derive(Debug)]
pub(crate) struct DiscoveredStore {
    inner: Mutex<Records>,
    capacity: usize,
}

impl Default for DiscoveredStore {
    fn default() -> Self {
        DiscoveredStore::with_capacity(CAPACITY)
    }
}

#[derive(Debug, Default)]
struct Records {
    by_key: HashMap<(PublicKey, InfoHashV1), Record>,
    order: VecDeque<(PublicKey, InfoHashV1)>,
}

impl DiscoveredStore {
    /// An empty store of at most `capacity` records.
    pub(crate) fn with_capacity(capacity: usize) -> DiscoveredStore {
        DiscoveredStore {
            inner: Mutex::new(Records::default()),
            capacity,
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Merges a verified announcement by `source`, seen at `now` (Unix seconds).
    pub(crate) fn add(
        &self,
        source: PublicKey,
        id: EventId,
        announced: Announced,
        now: u64,
    ) -> Added {
        let info_hash = match &announced {
            Announced::Torrent(t) => t.info_hash,
            Announced::File(f) => f.info_hash,
        };
        let key = (source, info_hash);
        let mut records = self.records();
        if !records.by_key.contains_key(&key) {
            if records.order.len() >= self.capacity {
                if let Some(oldest) = records.order.pop_front() {
                    records.by_key.remove(&oldest);
                }
            }
            records.order.push_back(key);
            records.by_key.insert(
                key,
                Record {
                    info_hash,
                    source,
                    seen_at: now,
                    torrent: None,
                    file: None,
                    handed_on: false,
                },
            );
        }
        let record = records.by_key.get_mut(&key).expect("inserted above");
        let fresh = match announced {
            Announced::Torrent(part) if record.torrent.is_none() => {
                record.torrent = Some((id, part));
                true
            }
            Announced::File(part) if record.file.is_none() => {
                record.file = Some((id, part));
                true
            }
            _ => false,
        };
        if !fresh {
            return Added::Known;
        }
        match record.discovered() {
            Some(discovered) if !record.handed_on => {
                record.handed_on = true;
                Added::Completed(Box::new(discovered))
            }
            _ => Added::New,
        }
    }

    /// Records (complete or not), newest first seen first: `limit` from `offset`, and the total.
    pub(crate) fn page(&self, offset: u64, limit: u32) -> (Vec<DiscoveredAnswer>, u64) {
        let records = self.records();
        let items = records
            .order
            .iter()
            .rev()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(limit as usize)
            .filter_map(|key| records.by_key.get(key).map(Record::answer))
            .collect();
        (items, records.order.len() as u64)
    }

    /// Records kept, and how many of them are complete.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let records = self.records();
        let complete = records.by_key.values().filter(|r| r.handed_on).count();
        (records.order.len(), complete)
    }
}

#[cfg(test)]
#[path = "discovered_tests.rs"]
mod tests;
