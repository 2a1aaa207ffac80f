//! Per-IP rate limits on uploads and on requests (GCRA through governor), answered with 429 and
//! a `Retry-After` in seconds.
//!
//! The tracker's announce limit is the tracker's own (swarmgate-tracker's per-address GCRA),
//! configured from the same settings, so it holds for UDP as well. Keyed state is dropped for
//! addresses that have been quiet for a while ([`Limits::forget_idle`], called every few
//! seconds), so a scan from many addresses costs memory only while it lasts.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The per-IP limiters; a limit of 0 in the configuration means none.
#[derive(Debug)]
pub(crate) struct Limits {
    uploads: Option<DefaultKeyedRateLimiter<IpAddr>>,
    requests: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

impl Limits {
    /// Limiters for `uploads_per_minute` and `requests_per_second` (burst: twice the rate, and
    /// at least 2 uploads).
    pub(crate) fn new(uploads_per_minute: u32, requests_per_second: u32) -> Limits {
        let uploads = NonZeroU32::new(uploads_per_minute).map(|n| {
            let burst = NonZeroU32::new(n.get().saturating_mul(2).max(2)).unwrap_or(n);
            RateLimiter::keyed(Quota::per_minute(n).allow_burst(burst))
        });
        let requests = NonZeroU32::new(requests_per_second).map(|n| {
            let burst = NonZeroU32::new(n.get().saturating_mul(2)).unwrap_or(n);
            RateLimiter::keyed(Quota::per_second(n).allow_burst(burst))
        });
        Limits {
            uploads,
            requests,
            clock: DefaultClock::default(),
        }
    }

    /// Admits one upload from `ip`, or says how long to wait.
    pub(crate) fn upload(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check(self.uploads.as_ref(), ip)
    }

    /// Admits one request from `ip`, or says how long to wait.
    pub(crate) fn request(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check(self.requests.as_ref(), ip)
    }

    fn check(
        &self,
        limiter: Option<&DefaultKeyedRateLimiter<IpAddr>>,
        ip: IpAddr,
    ) -> Result<(), Duration> {
        match limiter {
            None => Ok(()),
            Some(limiter) => limiter
                .check_key(&ip.to_canonical())
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Drops the state of addresses whose limit has fully recovered.
    pub(crate) fn forget_idle(&self) {
        for limiter in [&self.uploads, &self.requests].into_iter().flatten() {
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
        let limits = Limits::new(1, 5);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..10 {
            assert!(limits.request(a).is_ok());
        }
        let wait = limits.request(a).unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(limits.request(b).is_ok());
        assert!(limits.upload(a).is_ok() && limits.upload(a).is_ok());
        let wait = limits.upload(a).unwrap_err();
        assert_eq!(retry_after_seconds(wait), wait.as_secs_f64().ceil() as u64);
        assert!(wait > Duration::from_secs(50));
        limits.forget_idle();
    }

    #[test]
    fn zero_means_no_limit_and_mapped_addresses_share_a_key() {
        let limits = Limits::new(0, 1);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..100 {
            assert!(limits.upload(ip).is_ok());
        }
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(limits.request(ip).is_ok() && limits.request(mapped).is_ok());
        assert!(limits.request(ip).is_err());
        assert_eq!(retry_after_seconds(Duration::from_millis(10)), 1);
    }
}
