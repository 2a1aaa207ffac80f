//! Per-address rate limiting of announces and scrapes: the generic cell rate algorithm, one
//! timestamp per address (an IPv6 client per /64), sharded so both cores can check at once.
//!
//! GCRA keeps, per address, the "theoretical arrival time" of its next request; the rule is
//! [`swarmgate_core::Gcra`], shared with the DHT node's query limiter. This module keeps the
//! times: sharded maps, because the tracker's pure core is called from several threads at once.
//! Addresses idle long enough to have a full burst again are forgotten by
//! [`RateLimiter::purge`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use swarmgate_core::{Gcra, limited_client};

use super::config::RateLimit;

const SHARDS: usize = 16;

/// Nanoseconds since the tracker's epoch.
type Nanos = u64;

#[derive(Debug)]
pub(crate) struct RateLimiter {
    gcra: Gcra,
    /// Each address's theoretical arrival time.
    shards: Box<[Mutex<HashMap<IpAddr, Nanos>>]>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        RateLimiter {
            gcra: Gcra::new(limit.per_second, limit.burst),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, ip: &IpAddr) -> &Mutex<HashMap<IpAddr, Nanos>> {
        let byte = match ip {
            IpAddr::V4(v4) => v4.octets()[3],
            IpAddr::V6(v6) => v6.octets()[7],
        };
        &self.shards[usize::from(byte) % SHARDS]
    }

    /// Counts one request from `ip` at `now`; `Err` carries how long until one is allowed. An
    /// IPv6 client is counted by its /64, the block one subscriber gets: per address, one host
    /// would have 2^64 budgets.
    pub(crate) fn check(&self, ip: IpAddr, now: Nanos) -> Result<(), Duration> {
        let ip = limited_client(ip);
        let mut shard = self.shard(&ip).lock().unwrap_or_else(|e| e.into_inner());
        let arrival = self.gcra.check(shard.get(&ip).copied(), now)?;
        shard.insert(ip, arrival);
        Ok(())
    }

    /// Forgets addresses whose arrival time has passed: they have their whole burst again, so
    /// forgetting them changes nothing.
    pub(crate) fn purge(&self, now: Nanos) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.retain(|_, arrival| !Gcra::is_idle(*arrival, now));
        }
    }

    /// Addresses currently remembered.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10,
            burst: 5,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let now = 5 * SECOND;
        for _ in 0..5 {
            assert!(limiter.check(ip, now).is_ok());
        }
        let wait = limiter.check(ip, now).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert!(
            limiter.check(other, now).is_ok(),
            "addresses are limited apart"
        );
        assert!(limiter.check(ip, now + SECOND / 10).is_ok());
        assert!(limiter.check(ip, now + SECOND / 10).is_err());
        // Over one second at exactly the sustained rate every request passes.
        let mut allowed = 0;
        for tick in 0..10 {
            let at = now + SECOND / 10 * (2 + tick);
            allowed += usize::from(limiter.check(ip, at).is_ok());
        }
        assert_eq!(allowed, 10);
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 2,
        });
        let host: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8:0:1::ffff".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:0:2::1".parse().unwrap();
        assert!(limiter.check(host, 0).is_ok() && limiter.check(neighbour, 0).is_ok());
        assert!(
            limiter.check(neighbour, 0).is_err(),
            "one budget for the /64"
        );
        assert!(limiter.check(elsewhere, 0).is_ok());
        assert_eq!(limiter.tracked(), 2);
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 2,
        });
        let ip: IpAddr = "::1".parse().unwrap();
        assert!(limiter.check(ip, 0).is_ok());
        limiter.purge(SECOND / 2);
        assert_eq!(limiter.tracked(), 1);
        limiter.purge(SECOND);
        assert_eq!(limiter.tracked(), 0);
    }
}
