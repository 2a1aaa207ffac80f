//! The generic cell rate algorithm: one timestamp per rate-limited key, the rule behind the
//! tracker's announce limits and the DHT node's query limits.
//!
//! GCRA keeps, per key, the "theoretical arrival time" of its next request. A request is allowed
//! when that time is no further ahead of `now` than the burst allows, and pushes it one emission
//! interval further. It is the algorithm `governor` uses, written out because Swarmgate's pure
//! cores take `now` from their caller (tests drive them in virtual time) where `governor` reads
//! its own clock. Only the arithmetic lives here: where the per-key times are kept (a sharded
//! map shared between threads, a bounded map owned by one state machine) is the caller's.

use std::net::IpAddr;
use std::time::Duration;

/// The client a per-address limit counts: an IPv4 address (an IPv4-mapped IPv6 one as the IPv4
/// it maps), or an IPv6 /64, the block one subscriber gets (per address, one host would have
/// 2^64 budgets).
///
/// ```
/// use swarmgate_core::limited_client;
///
/// let a = limited_client("2001:db8::1".parse().unwrap());
/// assert_eq!(a, limited_client("2001:db8::ffff".parse().unwrap()));
/// assert_eq!(limited_client("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<std::net::IpAddr>().unwrap());
/// ```
pub fn limited_client(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// A rate: a sustained number of requests per second and a burst, in nanoseconds.
///
/// ```
/// use swarmgate_core::Gcra;
///
/// let gcra = Gcra::new(10, 2); // 10 a second, 2 at once
/// let first = gcra.check(None, 0).unwrap();
/// let second = gcra.check(Some(first), 0).unwrap();
/// let wait = gcra.check(Some(second), 0).unwrap_err();
/// assert_eq!(wait.as_millis(), 100);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcra {
    /// Nanoseconds between two requests at the sustained rate.
    emission: u64,
    /// How far ahead of `now` the theoretical arrival time may run: (burst - 1) emissions.
    tolerance: u64,
}

impl Gcra {
    /// `per_second` requests a second sustained, `burst` at once (each at least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let emission = 1_000_000_000 / u64::from(per_second.max(1));
        Gcra {
            emission,
            tolerance: emission * u64::from(burst.max(1) - 1),
        }
    }

    /// Decides one request at `now` (nanoseconds since the caller's epoch) from a key whose
    /// theoretical arrival time is `arrival` (`None`: a key not seen, or forgotten). `Ok` holds
    /// the key's next arrival time, to store; `Err` how long until a request would be allowed
    /// (store nothing).
    #[inline]
    pub fn check(&self, arrival: Option<u64>, now: u64) -> Result<u64, Duration> {
        let arrival = arrival.unwrap_or(now).max(now);
        if arrival - now > self.tolerance {
            return Err(Duration::from_nanos(arrival - now - self.tolerance));
        }
        Ok(arrival.saturating_add(self.emission))
    }

    /// Whether a key whose arrival time is `arrival` has its whole burst again at `now`: then
    /// forgetting it changes nothing.
    #[inline]
    pub fn is_idle(arrival: u64, now: u64) -> bool {
        arrival <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let gcra = Gcra::new(10, 5);
        let now = 5 * SECOND;
        let mut arrival = None;
        for _ in 0..5 {
            arrival = Some(gcra.check(arrival, now).unwrap());
        }
        assert_eq!(gcra.check(arrival, now), Err(Duration::from_millis(100)));
        let later = now + SECOND / 10;
        let next = gcra.check(arrival, later).unwrap();
        assert!(gcra.check(Some(next), later).is_err());
        assert!(!Gcra::is_idle(next, later));
        assert!(Gcra::is_idle(next, now + SECOND));
    }

    #[test]
    fn zero_rates_mean_one() {
        let gcra = Gcra::new(0, 0);
        let arrival = gcra.check(None, 0).unwrap();
        assert_eq!(arrival, SECOND);
        assert_eq!(gcra.check(Some(arrival), 0), Err(Duration::from_secs(1)));
        assert_eq!(gcra.check(Some(u64::MAX), u64::MAX), Ok(u64::MAX));
    }
}
