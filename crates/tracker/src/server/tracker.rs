//! The tracker (BEP 3, 15, 20, 48) as one shareable value: policy over the swarm registry,
//! transport-neutral. The HTTP and UDP handlers and servers are thin layers on
//! [`Tracker::announce`] and [`Tracker::scrape`].
//!
//! Every method takes `&self` and `now`, so one `Arc<Tracker>` serves any number of threads,
//! and tests drive it in virtual time. Periodic work (forgetting expired peers, the request
//! rates of [`TrackerStats`]) happens in [`Tracker::maintain`], which the servers call every
//! few seconds.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, encode_compact_peer};

use super::config::{Access, ConfigError, TrackerConfig, seconds};
use super::connection_id::ConnectionIds;
use super::observer::{AnnounceObserver, AnnounceSeen};
use super::rate_limit::RateLimiter;
use super::registry::{Arrival, Refused, Registry, family_of};
use super::{Refusal, identify_client};
use crate::announce::{AnnounceEvent, AnnounceRequest, ScrapeStats};
use crate::udp::AddressFamily;

/// The answer to an accepted announce; the peers themselves went to the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announced {
    /// The interval this client should announce at.
    pub interval: Duration,
    /// Seeders in the swarm.
    pub complete: u32,
    /// Leechers in the swarm.
    pub incomplete: u32,
    /// Completed downloads the swarm has seen.
    pub downloaded: u32,
    /// The family of the compact peers written (the announcing address's).
    pub family: AddressFamily,
    /// How many compact peers were written.
    pub peers: usize,
}

/// Counts and rates for monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TrackerStats {
    /// Torrents with peers.
    pub torrents: u64,
    /// Torrents on the allow-list.
    pub allowed: u64,
    /// Seeders over all torrents (a peer announcing over IPv4 and IPv6 counts twice).
    pub seeders: u64,
    /// Leechers over all torrents.
    pub leechers: u64,
    /// Well-formed announces handled since start, including those refused because the torrent
    /// is not allowed or full (malformed and rate-limited ones count only in `refused`).
    pub announces: u64,
    /// Torrents scraped since start (a scrape naming three counts three).
    pub scrapes: u64,
    /// Requests refused since start (malformed, not allowed, full, rate-limited).
    pub refused: u64,
    /// Of those, refused by the per-address rate limit.
    pub rate_limited: u64,
    /// UDP datagrams dropped unanswered because they are not BEP 15 requests (too short, or a
    /// connect without the protocol id).
    pub udp_not_tracker: u64,
    /// UDP announces and scrapes dropped unanswered because their connection id was not issued
    /// to their address in the last two minutes (expired, another address's, or forged).
    pub udp_bad_connection_id: u64,
    /// Announces per second between the last two [`Tracker::maintain`] calls.
    pub announces_per_second: f64,
    /// Scrapes per second between the last two [`Tracker::maintain`] calls.
    pub scrapes_per_second: f64,
}

#[derive(Debug)]
struct RateWindow {
    at: Instant,
    announces: u64,
    scrapes: u64,
    announces_per_second: f64,
    scrapes_per_second: f64,
}

/// A BitTorrent tracker: swarms, policy and statistics, shared by its HTTP and UDP servers and
/// by anything in the same process that wants to announce or read a swarm (the gateway
/// announces the torrents it seeds with [`Tracker::announce_local`] and dials the leechers it
/// learns of through an [`AnnounceObserver`]).
pub struct Tracker {
    config: TrackerConfig,
    client_intervals: Vec<(&'static str, u32)>,
    registry: Registry,
    pub(super) ids: ConnectionIds,
    limiter: Option<RateLimiter>,
    epoch: Instant,
    refused: AtomicU64,
    rate_limited: AtomicU64,
    pub(super) udp_not_tracker: AtomicU64,
    pub(super) udp_bad_connection_id: AtomicU64,
    rates: Mutex<RateWindow>,
    observer: Option<Arc<dyn AnnounceObserver>>,
    /// The embedding process's own seeder in each swarm (from [`Tracker::announce_local`]).
    local_peers: Mutex<HashMap<InfoHashV1, SocketAddr>>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("config", &self.config)
            .field("registry", &self.registry)
            .field("observer", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// A tracker with no swarms. `now` is its epoch: every later `now` must not be earlier.
    ///
    /// `secret` keys the UDP connection ids (a SipHash key): the caller draws it from the
    /// operating system at start (`getrandom::fill`), so that no one can forge an id, or keeps
    /// one across restarts so that issued ids survive them; it must not be guessable. The
    /// tracker itself draws no randomness: it is a pure core, and an argument rather than a
    /// [`TrackerConfig`] field because no default value would be safe.
    pub fn new(config: TrackerConfig, now: Instant, secret: [u8; 16]) -> Result<Self, ConfigError> {
        let client_intervals = config.client_intervals()?;
        Ok(Tracker {
            client_intervals,
            registry: Registry::new(config.seed),
            ids: ConnectionIds::new(secret),
            limiter: config.rate_limit.map(RateLimiter::new),
            epoch: now,
            refused: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            udp_not_tracker: AtomicU64::new(0),
            udp_bad_connection_id: AtomicU64::new(0),
            rates: Mutex::new(RateWindow {
                at: now,
                announces: 0,
                scrapes: 0,
                announces_per_second: 0.0,
                scrapes_per_second: 0.0,
            }),
            config,
            observer: None,
            local_peers: Mutex::new(HashMap::new()),
        })
    }

    /// This tracker, telling `observer` of every announce it accepts from a client.
    pub fn with_observer(mut self, observer: Arc<dyn AnnounceObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The configuration this tracker runs with.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Seconds since the epoch.
    pub(super) fn seconds(&self, now: Instant) -> u32 {
        seconds(now.saturating_duration_since(self.epoch))
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Counts a refusal and passes it on.
    pub(super) fn refuse(&self, refusal: Refusal) -> Refusal {
        self.refused.fetch_add(1, Ordering::Relaxed);
        if matches!(refusal, Refusal::RateLimited { .. }) {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        refusal
    }

    /// Applies the per-address rate limit to one request from `ip`.
    pub(super) fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        match &self.limiter {
            Some(limiter) => limiter
                .check(ip, self.nanos(now))
                .map_err(|retry_after| self.refuse(Refusal::RateLimited { retry_after })),
            None => Ok(()),
        }
    }

    /// The announce interval for a peer id's client family (BEP 20), in seconds.
    fn interval_for(&self, request: &AnnounceRequest) -> u32 {
        if !self.client_intervals.is_empty()
            && let Some(client) = identify_client(&request.peer_id)
            && let Some((_, secs)) = self
                .client_intervals
                .iter()
                .find(|(family, _)| *family == client.family)
        {
            return *secs;
        }
        seconds(self.config.interval)
    }

    /// Records an announce from `source` (the address the request came from) and appends up to
    /// `numwant` (capped) compact peers of the source's address family to `peers`.
    ///
    /// `stopped` removes the peer and returns no peers; `completed` counts a download once per
    /// peer; `left == 0` makes the peer a seeder, who is sent leechers only. The peer's address
    /// is `source`'s IP with `request.port`, or `request.ip` when the configuration trusts it;
    /// that address is the peer's identity in the swarm (a new peer id from the same address
    /// replaces the old entry).
    pub fn announce(
        &self,
        now: Instant,
        request: &AnnounceRequest,
        source: SocketAddr,
        peers: &mut Vec<u8>,
    ) -> Result<Announced, Refusal> {
        self.admit(source.ip(), now)?;
        self.announce_admitted(now, request, source, peers)
    }

    /// An announce from this process for the peer at `addr` (the gateway's own listener, as a
    /// seeder of what it stores): no rate limit, no `ip` policy, no observer, no peers returned.
    /// Re-announce within twice the returned interval, or the peer is forgotten.
    pub fn announce_local(
        &self,
        now: Instant,
        request: &AnnounceRequest,
        addr: SocketAddr,
    ) -> Result<Announced, Refusal> {
        let local = AnnounceRequest {
            ip: None,
            port: addr.port(),
            numwant: Some(0),
            ..request.clone()
        };
        let announced = self.record(now, &local, addr.ip(), &mut Vec::new())?;
        let mut local_peers = self.local_peers.lock().unwrap_or_else(|p| p.into_inner());
        if request.event == AnnounceEvent::Stopped {
            local_peers.remove(&request.info_hash);
        } else {
            local_peers.insert(request.info_hash, addr);
        }
        Ok(announced)
    }

    /// [`Tracker::announce`] after the rate limit was applied.
    pub(super) fn announce_admitted(
        &self,
        now: Instant,
        request: &AnnounceRequest,
        source: SocketAddr,
        peers: &mut Vec<u8>,
    ) -> Result<Announced, Refusal> {
        let ip = match request.ip {
            Some(ip) if self.config.trust_ip => ip,
            _ => source.ip(),
        };
        let start = peers.len();
        let mut announced = self.record(now, request, ip, peers)?;
        if request.left == 0
            && request.event != AnnounceEvent::Stopped
            && request.numwant != Some(0)
        {
            announced.peers += self.add_local_peer(request, ip, &announced, start, peers);
        }
        if let Some(observer) = &self.observer {
            observer.announced(&AnnounceSeen {
                info_hash: request.info_hash,
                peer: SocketAddr::new(ip.to_canonical(), request.port),
                peer_id: request.peer_id,
                seeder: request.left == 0,
                event: request.event,
            });
        }
        Ok(announced)
    }

    /// A seeder is sent leechers only, except the embedding process's own seeder: a magnet
    /// client without the metadata yet announces `left=0` (aria2 does) and must still find the
    /// peer that can send it the info dictionary. Appends that peer to `peers[start..]` when it
    /// is of the answer's family, not the announcer and not already there; how many it added.
    fn add_local_peer(
        &self,
        request: &AnnounceRequest,
        ip: IpAddr,
        announced: &Announced,
        start: usize,
        peers: &mut Vec<u8>,
    ) -> usize {
        let local = {
            let local_peers = self.local_peers.lock().unwrap_or_else(|p| p.into_inner());
            match local_peers.get(&request.info_hash) {
                Some(local) => *local,
                None => return 0,
            }
        };
        let announcer = SocketAddr::new(ip.to_canonical(), request.port);
        if local == announcer || family_of(&local.ip()) != announced.family {
            return 0;
        }
        let mut compact = Vec::with_capacity(18);
        encode_compact_peer(local, &mut compact);
        let listed = peers
            .get(start..)
            .is_some_and(|listed| listed.chunks_exact(compact.len()).any(|p| p == compact));
        if listed {
            return 0;
        }
        peers.extend_from_slice(&compact);
        1
    }

    /// Records `request` for the peer at `ip` and its port, writing peers for it.
    fn record(
        &self,
        now: Instant,
        request: &AnnounceRequest,
        ip: IpAddr,
        peers: &mut Vec<u8>,
    ) -> Result<Announced, Refusal> {
        if request.port == 0 {
            return Err(self.refuse(Refusal::InvalidPort));
        }
        let ip = ip.to_canonical();
        let interval = self.interval_for(request);
        let numwant = request
            .numwant
            .unwrap_or(self.config.numwant_default)
            .min(self.config.numwant_max);
        let arrival = Arrival {
            info_hash: request.info_hash,
            addr: SocketAddr::new(ip, request.port),
            seeder: request.left == 0,
            event: request.event,
            expires: self.seconds(now).saturating_add(interval.saturating_mul(2)),
            numwant: numwant as usize,
            open: self.config.access == Access::Open,
            max_torrents: self.config.max_torrents,
            max_peers: self.config.max_peers_per_torrent,
        };
        let (counts, written) = self.registry.announce(&arrival, peers).map_err(|refused| {
            self.refuse(match refused {
                Refused::NotAllowed => Refusal::NotAllowed,
                Refused::TooManyTorrents => Refusal::TooManyTorrents,
                Refused::TooManyPeers => Refusal::TooManyPeers,
            })
        })?;
        Ok(Announced {
            interval: Duration::from_secs(u64::from(interval)),
            complete: counts.complete,
            incomplete: counts.incomplete,
            downloaded: counts.downloaded,
            family: family_of(&ip),
            peers: written,
        })
    }

    /// Scrape counts for each of `info_hashes`, in order (zeros for a torrent not tracked).
    pub fn scrape(&self, info_hashes: &[InfoHashV1]) -> Vec<ScrapeStats> {
        info_hashes
            .iter()
            .map(|h| self.registry.scrape(h))
            .collect()
    }

    /// Scrape counts for every torrent (a full scrape, whatever the configuration says).
    pub fn scrape_all(&self) -> Vec<(InfoHashV1, ScrapeStats)> {
        self.registry.scrape_all()
    }

    /// Puts a torrent on the allow-list (which only matters in [`Access::AllowList`] mode);
    /// `false` if it already was.
    pub fn allow(&self, info_hash: InfoHashV1) -> bool {
        self.registry.register(info_hash)
    }

    /// Takes a torrent off the allow-list and forgets its peers; `false` if it was neither
    /// allowed nor tracked.
    pub fn disallow(&self, info_hash: &InfoHashV1) -> bool {
        self.registry.unregister(info_hash)
    }

    /// Whether a torrent is on the allow-list.
    pub fn is_allowed(&self, info_hash: &InfoHashV1) -> bool {
        self.registry.is_registered(info_hash)
    }

    /// Every peer of a torrent, with whether it is a seeder: for a seeder in the same process
    /// that dials the leechers itself.
    pub fn peers(&self, info_hash: &InfoHashV1) -> Vec<(SocketAddr, bool)> {
        self.registry.peers(info_hash)
    }

    /// Forgets peers that stopped announcing, forgets idle rate-limit entries, and updates the
    /// request rates. Call it every few seconds; returns how many peers were forgotten.
    pub fn maintain(&self, now: Instant) -> usize {
        let dropped = self.registry.purge(self.seconds(now));
        if let Some(limiter) = &self.limiter {
            limiter.purge(self.nanos(now));
        }
        let totals = self.registry.totals();
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(rates.at).as_secs_f64();
        if elapsed > 0.0 {
            rates.announces_per_second =
                totals.announces.saturating_sub(rates.announces) as f64 / elapsed;
            rates.scrapes_per_second =
                totals.scrapes.saturating_sub(rates.scrapes) as f64 / elapsed;
            rates.at = now;
            rates.announces = totals.announces;
            rates.scrapes = totals.scrapes;
        }
        dropped
    }

    /// Current counts and the rates measured by the last [`Tracker::maintain`].
    pub fn stats(&self) -> TrackerStats {
        let totals = self.registry.totals();
        let rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        TrackerStats {
            torrents: totals.torrents,
            allowed: totals.allowed,
            seeders: totals.seeders,
            leechers: totals.leechers,
            announces: totals.announces,
            scrapes: totals.scrapes,
            refused: self.refused.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            udp_not_tracker: self.udp_not_tracker.load(Ordering::Relaxed),
            udp_bad_connection_id: self.udp_bad_connection_id.load(Ordering::Relaxed),
            announces_per_second: rates.announces_per_second,
            scrapes_per_second: rates.scrapes_per_second,
        }
    }
}
