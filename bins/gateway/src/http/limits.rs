//! Per-IP rate limits (GCRA through governor), answered with 429 and a `Retry-After` in seconds:
//! the HTTP guard's limit on requests, the API's on uploads.
//!
//! A client is its IPv4 address or its IPv6 /64 (the block one subscriber gets), as for the
//! connection caps: otherwise one host would get a budget for each of its 2^64 addresses.
//!
//! The tracker's announce limit is the tracker's own (swarmgate-tracker's per-address GCRA),
//! so that it holds for UDP as well. Keyed state is dropped for addresses whose limit has fully
//! recovered, at most every few seconds from the checks themselves, so a scan from many
//! addresses costs memory only while it lasts and no task has to remember to sweep.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use swarmgate_core::limited_client;

/// How often idle addresses are forgotten, at most.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// One per-IP limit; a rate of 0 in the configuration means none.
#[derive(Debug)]
pub(crate) struct IpRateLimit {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
    started: Instant,
    /// Milliseconds after `started` of the last sweep.
    swept: AtomicU64,
}

impl IpRateLimit {
    /// `per_second` requests a second, with a burst of twice that.
    pub(crate) fn per_second(per_second: u32) -> IpRateLimit {
        IpRateLimit::new(NonZeroU32::new(per_second).map(|n| {
            let burst = NonZeroU32::new(n.get().saturating_mul(2)).unwrap_or(n);
            Quota::per_second(n).allow_burst(burst)
        }))
    }

    /// `per_minute` a minute, with a burst of twice that and at least 2.
    pub(crate) fn per_minute(per_minute: u32) -> IpRateLimit {
        IpRateLimit::new(NonZeroU32::new(per_minute).map(|n| {
            let burst = NonZeroU32::new(n.get().saturating_mul(2).max(2)).unwrap_or(n);
            Quota::per_minute(n).allow_burst(burst)
        }))
    }

    fn new(quota: Option<Quota>) -> IpRateLimit {
        IpRateLimit {
            limiter: quota.map(RateLimiter::keyed),
            clock: DefaultClock::default(),
            started: Instant::now(),
            swept: AtomicU64::new(0),
        }
    }

    /// Admits one request from `ip`, or says how long to wait.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        self.sweep_if_due(limiter);
        limiter
            .check_key(&limited_client(ip))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Drops the state of addresses whose limit has fully recovered, once per `SWEEP_EVERY`.
    fn sweep_if_due(&self, limiter: &DefaultKeyedRateLimiter<IpAddr>) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.swept.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= SWEEP_EVERY.as_millis() as u64;
        if due
            && self
                .swept
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Seconds for a `Retry-After` header: the wait rounded up, at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_next_waits_and_other_addresses_are_unaffected() {
        let requests = IpRateLimit::per_second(5);
        let uploads = IpRateLimit::per_minute(1);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..10 {
            assert!(requests.check(a).is_ok());
        }
        let wait = requests.check(a).unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(requests.check(b).is_ok());
        assert!(uploads.check(a).is_ok() && uploads.check(a).is_ok());
        let wait = uploads.check(a).unwrap_err();
        assert_eq!(retry_after_seconds(wait), wait.as_secs_f64().ceil() as u64);
        assert!(wait > Duration::from_secs(50));
    }

    #[test]
    fn zero_means_no_limit_and_mapped_addresses_share_a_key() {
        let uploads = IpRateLimit::per_minute(0);
        let requests = IpRateLimit::per_second(1);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..100 {
            assert!(uploads.check(ip).is_ok());
        }
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(requests.check(ip).is_ok() && requests.check(mapped).is_ok());
        assert!(requests.check(ip).is_err());
        assert_eq!(retry_after_seconds(Duration::from_millis(10)), 1);
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let requests = IpRateLimit::per_second(1);
        let host: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8:0:1::2".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:0:2::1".parse().unwrap();
        assert!(requests.check(host).is_ok() && requests.check(neighbour).is_ok());
        assert!(requests.check(neighbour).is_err(), "one budget for the /64");
        assert!(requests.check(elsewhere).is_ok());
    }
}
