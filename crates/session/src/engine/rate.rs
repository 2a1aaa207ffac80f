//! Transfer rates: an exponentially weighted average of bytes per second, fed with `now`.
//!
//! Requests are pipelined in proportion to a peer's rate and the choker ranks peers by rate, so
//! the estimate must react within a few seconds and must not jump on one burst: a one-second
//! bucket folded into an average with a 2/3 weight on the past (about a 3 s time constant) does
//! both, at the cost of one addition per block.

use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_secs(1);
const KEEP: f64 = 2.0 / 3.0;

/// Bytes per second over the last few seconds.
#[derive(Clone, Debug)]
pub(crate) struct RateMeter {
    tick_started: Instant,
    bucket: u64,
    rate: f64,
}

impl RateMeter {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            tick_started: now,
            bucket: 0,
            rate: 0.0,
        }
    }

    /// Counts `bytes` moved at `now`.
    pub(crate) fn add(&mut self, now: Instant, bytes: u64) {
        self.roll(now);
        self.bucket += bytes;
    }

    /// The rate in bytes per second as of `now`.
    pub(crate) fn rate(&mut self, now: Instant) -> u64 {
        self.roll(now);
        self.rate as u64
    }

    fn roll(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.tick_started);
        if elapsed < TICK {
            return;
        }
        let ticks = (elapsed.as_secs_f64() / TICK.as_secs_f64()).floor();
        // The bucket fills the first tick; any further whole ticks were silent.
        let mut rate = self.rate * KEEP + self.bucket as f64 * (1.0 - KEEP);
        rate *= KEEP.powf(ticks - 1.0);
        self.rate = rate;
        self.bucket = 0;
        self.tick_started += TICK.mul_f64(ticks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_stream_converges_and_silence_decays() {
        let start = Instant::now();
        let mut meter = RateMeter::new(start);
        for ms in (0..10_000).step_by(10) {
            meter.add(start + Duration::from_millis(ms), 10_000);
        }
        let rate = meter.rate(start + Duration::from_secs(10));
        assert!((950_000..=1_000_000).contains(&rate), "{rate}");
        let later = meter.rate(start + Duration::from_secs(20));
        assert!(later < 20_000, "{later}");
    }
}
