//! Whole seconds since a structure's creation, in four bytes: how the routing table and the peer
//! store keep their times.
//!
//! An `Instant` is 16 bytes on Linux; a table node or a stored peer keeps one to three times, and
//! both have a memory goal of 64 bytes or less. Their timeouts are minutes long, so a second's
//! resolution loses nothing, and a `u32` of seconds lasts 136 years.

use std::time::{Duration, Instant};

/// A point in time: seconds since the [`Epoch`], plus one, so that 0 can mean "never".
pub(crate) type Stamp = u32;

/// The stamp no event ever has.
pub(crate) const NEVER: Stamp = 0;

/// The instant a structure was created, from which its stamps count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Epoch(Instant);

impl Epoch {
    pub(crate) fn new(now: Instant) -> Self {
        Epoch(now)
    }

    /// `now` as a stamp (never [`NEVER`]; an instant before the epoch is the epoch).
    pub(crate) fn stamp(&self, now: Instant) -> Stamp {
        let secs = now.saturating_duration_since(self.0).as_secs();
        u32::try_from(secs)
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1)
    }

    /// The instant a stamp stands for.
    pub(crate) fn instant(&self, stamp: Stamp) -> Instant {
        self.0 + Duration::from_secs(u64::from(stamp.saturating_sub(1)))
    }
}

/// Whole seconds of `duration`, saturating.
pub(crate) fn secs(duration: Duration) -> u32 {
    u32::try_from(duration.as_secs()).unwrap_or(u32::MAX)
}

/// Whether at least `duration` seconds separate `since` from `now` (false when `since` is
/// [`NEVER`]: what never happened is not old).
pub(crate) fn at_least(since: Stamp, now: Stamp, duration: u32) -> bool {
    since != NEVER && now.saturating_sub(since) >= duration
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_count_seconds_from_one_and_saturate() {
        let start = Instant::now();
        let epoch = Epoch::new(start);
        assert_eq!(epoch.stamp(start), 1);
        assert_eq!(epoch.stamp(start + Duration::from_millis(1999)), 2);
        assert_eq!(epoch.instant(3), start + Duration::from_secs(2));
        let earlier = Epoch::new(start + Duration::from_secs(5));
        assert_eq!(earlier.stamp(start), 1, "before the epoch is the epoch");
        assert_eq!(secs(Duration::from_secs(u64::MAX)), u32::MAX);
        assert!(at_least(1, 901, 900));
        assert!(!at_least(1, 900, 900));
        assert!(!at_least(NEVER, 5000, 900));
    }
}
