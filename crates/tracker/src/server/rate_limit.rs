//! Per-address rate limiting of announces and scrapes: the generic cell rate algorithm, one
//! timestamp per address, sharded so both cores can check at once.
//!
//! GCRA keeps, per address, the "theoretical arrival time" of its next request. A request is
//! allowed when that time is no further ahead of `now` than the burst allows, and pushes it one
//! emission interval further. It is the algorithm `governor` uses; it is written out here
//! because the tracker's pure core takes `now` from its caller (tests drive it in virtual time)
//! and keeps its own sharding, where `governor` reads its own clock. Addresses idle long
//! enough to have a full burst again are forgotten by [`RateLimiter::purge`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use super::config::RateLimit;

const SHARDS: usize = 16;

/// Nanoseconds since the tracker's epoch.
type Nanos = u64;

#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Nanoseconds between two requests at the sustained rate.
    emission: Nanos,
    /// How far ahead of `now` the theoretical arrival time may run: (burst - 1) emissions.
    tolerance: Nanos,
    shards: Box<[Mutex<HashMap<IpAddr, Nanos>>]>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let emission = 1_000_000_000 / u64::from(limit.per_second.max(1));
        RateLimiter {
            emission,
            tolerance: emission * u64::from(limit.burst.max(1) - 1),
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

    /// Counts one request from `ip` at `now`; `Err` carries how long until one is allowed.
    pub(crate) fn check(&self, ip: IpAddr, now: Nanos) -> Result<(), Duration> {
        let mut shard = self.shard(&ip).lock().unwrap_or_else(|e| e.into_inner());
        let tat = shard.get(&ip).copied().unwrap_or(now).max(now);
        if tat - now > self.tolerance {
            return Err(Duration::from_nanos(tat - now - self.tolerance));
        }
        shard.insert(ip, tat + self.emission);
        Ok(())
    }

    /// Forgets addresses whose arrival time has passed: they have their whole burst again, so
    /// forgetting them changes nothing.
    pub(crate) fn purge(&self, now: Nanos) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.retain(|_, tat| *tat > now);
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
