//! Per-IP query rate limiting for the node's answers (issue 13's protection): GCRA per address,
//! in bounded memory, with counters.
//!
//! The algorithm is [`swarmgate_core::Gcra`], shared with the tracker's announce limiter; what
//! differs is where the per-address times live. The tracker's limiter is shared between threads
//! (sharded mutexes) and forgets idle addresses when its owner purges; the node's is owned by
//! one state machine and must stay bounded under a flood from ever-new source addresses, so it
//! has a hard cap: when [`RateConfig::max_tracked`] addresses are remembered, idle ones are
//! forgotten, and if that is not enough the least loaded ones are, down to seven eighths of the
//! cap, so a flood costs a scan per eighth of the cap, not per packet. A forgotten address gets
//! its burst back: the least loaded addresses lose the least by it.
//!
//! An IPv6 address is limited by its /64 (what one host or one LAN is given): an IPv4 host has
//! one address, an IPv6 host has 2^64 to rotate through.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use swarmgate_core::{Gcra, limited_client};

/// The limit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateConfig {
    /// Queries per second an address may sustain (default 10; libtorrent allows 5). 0: no
    /// limit at all (private networks and tests, where many nodes share one IP).
    pub per_second: u32,
    /// Queries an idle address may send at once (default 25).
    pub burst: u32,
    /// Addresses remembered at most (default 65,536: about 2 MiB).
    pub max_tracked: usize,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            per_second: 10,
            burst: 25,
            max_tracked: 65_536,
        }
    }
}

/// Counters of the limiter's decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RateStats {
    /// Queries let through.
    pub allowed: u64,
    /// Queries refused: their address was over its rate.
    pub refused: u64,
    /// Addresses forgotten before they were idle, to stay within the cap.
    pub forgotten_early: u64,
}

/// A per-address limiter that takes `now` from its caller.
///
/// ```
/// use std::time::Instant;
/// use swarmgate_dht::{RateConfig, RateLimiter};
///
/// let now = Instant::now();
/// let mut limiter = RateLimiter::new(RateConfig::default(), now);
/// let flood = "192.0.2.1".parse()?;
/// let allowed = (0..100).filter(|_| limiter.check(now, flood)).count();
/// assert_eq!(allowed, 25); // the burst
/// assert!(limiter.check(now, "192.0.2.2".parse()?)); // others are served
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RateLimiter {
    /// `None`: no limit ([`RateConfig::per_second`] is 0).
    gcra: Option<Gcra>,
    epoch: Instant,
    max_tracked: usize,
    /// Each address's theoretical arrival time, in nanoseconds since `epoch`.
    arrivals: HashMap<IpAddr, u64>,
    stats: RateStats,
}

impl RateLimiter {
    /// A limiter that remembers no address yet.
    pub fn new(config: RateConfig, now: Instant) -> Self {
        RateLimiter {
            gcra: (config.per_second > 0).then(|| Gcra::new(config.per_second, config.burst)),
            epoch: now,
            max_tracked: config.max_tracked.max(1),
            arrivals: HashMap::new(),
            stats: RateStats::default(),
        }
    }

    /// Counts one query from `ip` at `now`; false when it is over its rate (and counted as
    /// refused).
    pub fn check(&mut self, now: Instant, ip: IpAddr) -> bool {
        let Some(gcra) = self.gcra else {
            self.stats.allowed += 1;
            return true;
        };
        let now = self.nanos(now);
        let key = limited_client(ip);
        let arrival = self.arrivals.get(&key).copied();
        match gcra.check(arrival, now) {
            Ok(next) => {
                if arrival.is_none() && self.arrivals.len() >= self.max_tracked {
                    self.make_room(now);
                }
                self.arrivals.insert(key, next);
                self.stats.allowed += 1;
                true
            }
            Err(_) => {
                self.stats.refused += 1;
                false
            }
        }
    }

    /// Forgets the addresses that are idle at `now`: they have their whole burst again, so
    /// forgetting them changes nothing.
    pub fn purge(&mut self, now: Instant) {
        let now = self.nanos(now);
        self.arrivals
            .retain(|_, arrival| !Gcra::is_idle(*arrival, now));
    }

    /// Addresses remembered.
    pub fn tracked(&self) -> usize {
        self.arrivals.len()
    }

    /// The counters.
    pub fn stats(&self) -> RateStats {
        self.stats
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Frees room for a new address: the idle ones go, then, if the table is still above seven
    /// eighths of the cap, the least loaded ones.
    fn make_room(&mut self, now: u64) {
        self.arrivals
            .retain(|_, arrival| !Gcra::is_idle(*arrival, now));
        let keep = self.max_tracked - self.max_tracked / 8 - 1;
        if self.arrivals.len() <= keep {
            return;
        }
        let mut arrivals: Vec<u64> = self.arrivals.values().copied().collect();
        let cut = arrivals.len() - keep;
        let (_, &mut threshold, _) = arrivals.select_nth_unstable(cut - 1);
        let before = self.arrivals.len();
        self.arrivals.retain(|_, arrival| *arrival > threshold);
        self.stats.forgotten_early += (before - self.arrivals.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(per_second: u32, burst: u32, max_tracked: usize) -> RateConfig {
        RateConfig {
            per_second,
            burst,
            max_tracked,
        }
    }

    #[test]
    fn a_burst_then_the_sustained_rate_and_counters() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(config(10, 3, 100), start);
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!((0..5).filter(|_| limiter.check(start, ip)).count(), 3);
        assert!(limiter.check(start + Duration::from_millis(100), ip));
        assert!(!limiter.check(start + Duration::from_millis(100), ip));
        let stats = limiter.stats();
        assert_eq!((stats.allowed, stats.refused), (4, 3));
    }

    #[test]
    fn an_ipv6_slash_64_shares_one_budget() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new(config(1, 2, 100), now);
        assert!(limiter.check(now, "2001:db8::1".parse().unwrap()));
        assert!(limiter.check(now, "2001:db8::ffff:2".parse().unwrap()));
        assert!(!limiter.check(now, "2001:db8::3".parse().unwrap()));
        assert!(
            limiter.check(now, "2001:db8:0:1::1".parse().unwrap()),
            "another /64"
        );
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        assert_eq!(
            limited_client(mapped),
            "192.0.2.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn zero_per_second_is_no_limit_and_remembers_nothing() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new(config(0, 1, 100), now);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..10_000).all(|_| limiter.check(now, ip)));
        assert_eq!(limiter.tracked(), 0);
        assert_eq!(
            (limiter.stats().allowed, limiter.stats().refused),
            (10_000, 0)
        );
    }

    #[test]
    fn the_cap_holds_under_ever_new_addresses() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new(config(1, 1, 64), now);
        for n in 0..10_000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + n));
            assert!(limiter.check(now, ip), "a new address has its burst");
            assert!(limiter.tracked() <= 64);
        }
        assert!(limiter.stats().forgotten_early > 0);
        limiter.purge(now + Duration::from_secs(1));
        assert_eq!(limiter.tracked(), 0);
    }
}
