//! The per-torrent announcer (BEP 12 over BEP 3/15 trackers): one object a torrent engine holds.
//!
//! An announce walks the tiers in order and stops at the first tracker that answers, which moves
//! to the front of its tier; when all fail the last error is returned. Each attempt is bounded
//! by the configured timeout, UDP included (its own retransmission schedule can run for an
//! hour). URLs with another scheme (`wss://`, a typo) are skipped with
//! [`TrackerError::UnsupportedUrl`]. A tracker's `tracker id` is sent back to that tracker only.
//!
//! [`Announcer::next_announce_in`] is the engine's clock hint: the last interval (never below
//! the minimum interval), 30 minutes before any answer, and after a failed walk 60 s doubling to
//! 30 minutes.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use swarmgate_core::{InfoHashV1, PeerId};

use super::http::{HttpTracker, default_client};
use super::udp::UdpTracker;
use crate::announce::{AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeStats};
use crate::error::TrackerError;
use crate::tiers::TrackerTiers;
use crate::udp::UdpClientConfig;

/// The interval used before any tracker has answered, and the ceiling of the failure backoff.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1800);
/// The first wait after a failed walk.
const FIRST_BACKOFF: Duration = Duration::from_secs(60);

/// How far along the torrent is, as trackers count it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Bytes downloaded (and verified) this session.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
}

/// Settings of an [`Announcer`].
#[derive(Clone, Debug)]
pub struct AnnouncerConfig {
    /// Our peer id.
    pub peer_id: PeerId,
    /// The port our peer listener accepts on.
    pub port: u16,
    /// The announce `key`: random, fixed for the session.
    pub key: u32,
    /// Peers wanted per announce; `None` leaves it to the tracker.
    pub numwant: Option<u32>,
    /// The bound on one tracker attempt, HTTP or UDP.
    pub timeout: Duration,
    /// Seeds the tier shuffle and the UDP transaction ids.
    pub seed: u64,
    /// UDP retransmission settings (the family is set per tracker).
    pub udp: UdpClientConfig,
}

impl AnnouncerConfig {
    /// Defaults for `peer_id` and `port`: random key and seed from the OS, 200 peers wanted,
    /// 15 s per tracker, BEP 15 retransmission.
    pub fn new(peer_id: PeerId, port: u16) -> Self {
        let random = getrandom::u64().unwrap_or_else(|_| {
            let mut h = DefaultHasher::new();
            std::time::SystemTime::now().hash(&mut h);
            h.finish()
        });
        AnnouncerConfig {
            peer_id,
            port,
            key: random as u32,
            numwant: Some(200),
            timeout: Duration::from_secs(15),
            seed: random,
            udp: UdpClientConfig::default(),
        }
    }
}

enum Tracker {
    Http(HttpTracker),
    Udp(Box<UdpTracker>),
}

/// Announces one torrent to all its trackers (BEP 12).
pub struct Announcer {
    tiers: TrackerTiers,
    config: AnnouncerConfig,
    http: Option<reqwest::Client>,
    trackers: HashMap<String, Tracker>,
    tracker_ids: HashMap<String, Vec<u8>>,
    interval: Option<(Duration, Option<Duration>)>,
    failures: u32,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer")
            .field("tiers", &self.tiers)
            .field("interval", &self.interval)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Announcer {
    /// An announcer over `tiers` (a torrent's `announce-list`, or `[[announce]]`).
    pub fn new(tiers: Vec<Vec<String>>, config: AnnouncerConfig) -> Self {
        Announcer {
            tiers: TrackerTiers::new(tiers, config.seed),
            config,
            http: None,
            trackers: HashMap::new(),
            tracker_ids: HashMap::new(),
            interval: None,
            failures: 0,
        }
    }

    /// The tiers in their current order.
    pub fn tiers(&self) -> &TrackerTiers {
        &self.tiers
    }

    /// Announces to the first tracker that answers, in BEP 12 order.
    pub async fn announce(
        &mut self,
        info_hash: InfoHashV1,
        event: AnnounceEvent,
        progress: Progress,
    ) -> Result<AnnounceResponse, TrackerError> {
        let order: Vec<String> = self.tiers.iter().map(str::to_owned).collect();
        let mut last_error = TrackerError::NoTrackers;
        for url in order {
            let request = AnnounceRequest {
                uploaded: progress.uploaded,
                downloaded: progress.downloaded,
                left: progress.left,
                event,
                numwant: self.config.numwant,
                key: self.config.key,
                tracker_id: self.tracker_ids.get(&url).cloned(),
                ..AnnounceRequest::new(info_hash, self.config.peer_id, self.config.port)
            };
            let timeout = self.config.timeout;
            let outcome = match self.tracker(&url) {
                Ok(Tracker::Http(t)) => bounded(timeout, t.announce(&request)).await,
                Ok(Tracker::Udp(t)) => bounded(timeout, t.announce(&request)).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(response) => {
                    self.tiers.promote(&url);
                    if let Some(id) = &response.tracker_id {
                        self.tracker_ids.insert(url, id.clone());
                    }
                    self.interval = Some((response.interval, response.min_interval));
                    self.failures = 0;
                    return Ok(response);
                }
                Err(e) => last_error = e,
            }
        }
        self.failures = self.failures.saturating_add(1);
        Err(last_error)
    }

    /// Scrapes `info_hashes` from the first tracker that answers, in BEP 12 order: one entry
    /// per hash, in order.
    pub async fn scrape(
        &mut self,
        info_hashes: &[InfoHashV1],
    ) -> Result<Vec<ScrapeStats>, TrackerError> {
        let order: Vec<String> = self.tiers.iter().map(str::to_owned).collect();
        let mut last_error = TrackerError::NoTrackers;
        let timeout = self.config.timeout;
        for url in order {
            let outcome = match self.tracker(&url) {
                Ok(Tracker::Http(t)) => bounded(timeout, t.scrape(info_hashes)).await,
                Ok(Tracker::Udp(t)) => bounded(timeout, t.scrape(info_hashes)).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(stats) => return Ok(stats),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// How long to wait before the next regular announce.
    pub fn next_announce_in(&self) -> Duration {
        if self.failures > 0 {
            let doublings = (self.failures - 1).min(16);
            return FIRST_BACKOFF
                .saturating_mul(1 << doublings)
                .min(DEFAULT_INTERVAL);
        }
        match self.interval {
            Some((interval, min)) => interval.max(min.unwrap_or_default()),
            None => DEFAULT_INTERVAL,
        }
    }

    /// The client for `url`, made on first use.
    fn tracker(&mut self, url: &str) -> Result<&Tracker, TrackerError> {
        match self.trackers.entry(url.to_owned()) {
            Entry::Occupied(known) => Ok(known.into_mut()),
            Entry::Vacant(new) => Ok(new.insert(open(url, &self.config, &mut self.http)?)),
        }
    }
}

/// A client for `url` by its scheme; HTTP trackers share one reqwest client.
fn open(
    url: &str,
    config: &AnnouncerConfig,
    http: &mut Option<reqwest::Client>,
) -> Result<Tracker, TrackerError> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => {
            let client = match http {
                Some(client) => client.clone(),
                None => http.insert(default_client()?).clone(),
            };
            Ok(Tracker::Http(HttpTracker::with_client(
                client,
                url,
                config.timeout,
            )?))
        }
        Some("udp") => {
            let mut h = DefaultHasher::new();
            url.hash(&mut h);
            let seed = config.seed ^ h.finish();
            Ok(Tracker::Udp(Box::new(UdpTracker::new(
                url, config.udp, seed,
            )?)))
        }
        _ => Err(TrackerError::UnsupportedUrl {
            url: url.to_owned(),
            reason: "the scheme is not http, https or udp",
        }),
    }
}

async fn bounded<T>(
    timeout: Duration,
    attempt: impl Future<Output = Result<T, TrackerError>>,
) -> Result<T, TrackerError> {
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| TrackerError::Timeout)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcer() -> Announcer {
        Announcer::new(vec![], AnnouncerConfig::new(PeerId([1; 20]), 1))
    }

    #[test]
    fn next_announce_follows_the_last_answer_and_backs_off_on_failure() {
        let mut a = announcer();
        assert_eq!(a.next_announce_in(), Duration::from_secs(1800));
        a.interval = Some((Duration::from_secs(100), Some(Duration::from_secs(300))));
        assert_eq!(a.next_announce_in(), Duration::from_secs(300));
        a.interval = Some((Duration::from_secs(900), Some(Duration::from_secs(300))));
        assert_eq!(a.next_announce_in(), Duration::from_secs(900));
        let waits: Vec<u64> = (1..=7)
            .map(|n| {
                a.failures = n;
                a.next_announce_in().as_secs()
            })
            .collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1800, 1800]);
        a.failures = u32::MAX;
        assert_eq!(a.next_announce_in(), Duration::from_secs(1800));
    }

    #[tokio::test]
    async fn no_trackers_and_unsupported_schemes() {
        let mut a = announcer();
        let err = a
            .announce(
                InfoHashV1([0; 20]),
                AnnounceEvent::Started,
                Progress::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, TrackerError::NoTrackers));
        let config = AnnouncerConfig::new(PeerId([1; 20]), 1);
        let mut a = Announcer::new(vec![vec!["wss://t.example/announce".into()]], config);
        let err = a.scrape(&[InfoHashV1([0; 20])]).await.unwrap_err();
        assert!(
            matches!(&err, TrackerError::UnsupportedUrl { url, .. } if url == "wss://t.example/announce"),
            "{err}"
        );
        assert_eq!(
            a.next_announce_in(),
            Duration::from_secs(1800),
            "scrape does not back off"
        );
    }
}
