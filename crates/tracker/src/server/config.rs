//! The tracker server's policy (BEP 3, 15, 48): intervals, how many peers an answer carries,
//! which torrents are tracked, whose addresses are believed, and how fast one address may ask.
//!
//! Defaults follow what clients expect of a public tracker (opentracker's and aquatic's choices
//! where they agree): announce every 30 minutes, not more often than every minute, 50 peers
//! unless asked, never more than 200, full scrape off, the `ip` parameter ignored.

use std::time::Duration;

/// Which torrents the tracker serves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Access {
    /// Any info-hash: a swarm is created by its first announce.
    #[default]
    Open,
    /// Only info-hashes registered with `Tracker::allow`; anything else is refused with a
    /// failure reason. The gateway runs in this mode: it tracks what it stores.
    AllowList,
}

/// A per-address rate limit on announces and scrapes (a generic cell rate: `per_second` on
/// average, bursts of up to `burst` back to back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second an address may sustain.
    pub per_second: u32,
    /// Requests an idle address may send at once.
    pub burst: u32,
}

/// Everything a [`Tracker`](crate::Tracker) decides by.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TrackerConfig {
    /// The regular announce interval sent to clients. Peers that do not announce for twice
    /// their interval are forgotten.
    pub interval: Duration,
    /// The `min interval` sent to HTTP clients.
    pub min_interval: Duration,
    /// Intervals for client families (BEP 20 names, as [`client_family`](swarmgate_core::client_family)
    /// knows them, matched without regard to case): `("qBittorrent", 900 s)` makes
    /// qBittorrent peers announce every 15 minutes whatever `interval` says.
    pub client_intervals: Vec<(String, Duration)>,
    /// Peers sent when a client does not say `numwant`.
    pub numwant_default: u32,
    /// Most peers sent in one answer, whatever `numwant` asks.
    pub numwant_max: u32,
    /// Which torrents are tracked.
    pub access: Access,
    /// Honour the HTTP `ip` parameter and the UDP IP field. Only behind a proxy that sets them,
    /// or on a private network: otherwise anyone can point a swarm at a third party.
    pub trust_ip: bool,
    /// Answer a scrape that names no info-hash with every torrent.
    pub full_scrape: bool,
    /// Most info-hashes one HTTP scrape may name (UDP carries at most 74 anyway).
    pub max_scrape_hashes: usize,
    /// The per-address limit on announces and scrapes, or none.
    pub rate_limit: Option<RateLimit>,
    /// Most torrents tracked at once (open mode): a flood of random info-hashes stops here.
    pub max_torrents: usize,
    /// Most peers in one torrent (both families): a flood of peer ids stops here.
    pub max_peers_per_torrent: usize,
    /// The seed of the random windows peers are picked from. (The key of UDP connection ids
    /// is not configuration but an argument of [`Tracker::new`](crate::Tracker::new).)
    pub seed: u64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(60),
            client_intervals: Vec::new(),
            numwant_default: 50,
            numwant_max: 200,
            access: Access::Open,
            trust_ip: false,
            full_scrape: false,
            max_scrape_hashes: 100,
            rate_limit: None,
            max_torrents: 2_000_000,
            max_peers_per_torrent: 1_000_000,
            seed: 0x5eed_7ac4,
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A `client_intervals` name is not a client family this crate recognises.
    #[error("unknown client family `{0}` in client intervals")]
    UnknownClient(String),
    /// An interval is zero or shorter than the minimum interval.
    #[error("interval {interval:?} is shorter than the minimum interval {min_interval:?}")]
    Interval {
        /// The interval found.
        interval: Duration,
        /// The minimum interval.
        min_interval: Duration,
    },
    /// A rate limit of zero requests would refuse everything.
    #[error("a rate limit needs at least one request per second and a burst of at least one")]
    RateLimit,
}

impl TrackerConfig {
    /// Checks the configuration and resolves client family names.
    pub(crate) fn client_intervals(&self) -> Result<Vec<(&'static str, u32)>, ConfigError> {
        let check = |interval: Duration| {
            if interval.is_zero() || interval < self.min_interval {
                Err(ConfigError::Interval {
                    interval,
                    min_interval: self.min_interval,
                })
            } else {
                Ok(seconds(interval))
            }
        };
        check(self.interval)?;
        if let Some(limit) = self.rate_limit
            && (limit.per_second == 0 || limit.burst == 0)
        {
            return Err(ConfigError::RateLimit);
        }
        self.client_intervals
            .iter()
            .map(|(name, interval)| {
                let family = super::client_family(name)
                    .ok_or_else(|| ConfigError::UnknownClient(name.clone()))?;
                Ok((family, check(*interval)?))
            })
            .collect()
    }
}

/// Whole seconds, saturating at `u32::MAX`.
pub(crate) fn seconds(duration: Duration) -> u32 {
    u32::try_from(duration.as_secs()).unwrap_or(u32::MAX)
}
