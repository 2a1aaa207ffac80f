//! When the DHT lookups of one torrent run: a sans-IO schedule (see the parent module's docs
//! for the rules and their reasons).

use std::time::{Duration, Instant};

use super::PeerWants;

/// The first wait after a lookup that reached no node; it doubles up to [`FEW_PEERS_EVERY`].
const UNREACHED_RETRY: Duration = Duration::from_secs(1);
/// How often lookups run while fewer than `enough` peers are connected.
const FEW_PEERS_EVERY: Duration = Duration::from_secs(30);
/// The first wait with enough peers; it doubles up to [`ENOUGH_PEERS_MAX`].
const ENOUGH_PEERS_FIRST: Duration = Duration::from_secs(60);
/// The longest wait between lookups while peers are wanted.
const ENOUGH_PEERS_MAX: Duration = Duration::from_secs(15 * 60);

/// When the next lookup is due; see the module docs.
#[derive(Debug)]
pub(crate) struct Pace {
    /// Connected peers that are enough to slow down.
    enough: usize,
    /// When the schedule began (the first lookup is due then).
    started: Instant,
    /// When the last lookup ended.
    last_end: Option<Instant>,
    /// Lookups in a row that reached no node.
    unreached: u32,
    /// Lookups in a row that ended with enough peers connected.
    enough_streak: u32,
}

impl Pace {
    pub(crate) fn new(now: Instant, enough: usize) -> Self {
        Self {
            enough: enough.max(1),
            started: now,
            last_end: None,
            unreached: 0,
            enough_streak: 0,
        }
    }

    /// When the next lookup is due; `None` while no peers are wanted.
    pub(crate) fn next_lookup(&self, wants: PeerWants) -> Option<Instant> {
        if !wants.wanted {
            return None;
        }
        let Some(last_end) = self.last_end else {
            return Some(self.started);
        };
        let wait = if self.unreached > 0 {
            doubled(UNREACHED_RETRY, self.unreached - 1, FEW_PEERS_EVERY)
        } else if wants.connected < self.enough {
            FEW_PEERS_EVERY
        } else {
            doubled(ENOUGH_PEERS_FIRST, self.enough_streak, ENOUGH_PEERS_MAX)
        };
        Some(last_end + wait)
    }

    /// A lookup ended at `now`; `reached` says whether any node answered it, `connected` how
    /// many peers the torrent has.
    pub(crate) fn lookup_done(&mut self, now: Instant, reached: bool, connected: usize) {
        self.last_end = Some(now);
        if !reached {
            self.unreached = self.unreached.saturating_add(1);
            return;
        }
        self.unreached = 0;
        if connected >= self.enough {
            self.enough_streak = self.enough_streak.saturating_add(1);
        } else {
            self.enough_streak = 0;
        }
    }
}

/// `first` doubled `times` times, at most `max`.
fn doubled(first: Duration, times: u32, max: Duration) -> Duration {
    first.saturating_mul(1u32 << times.min(16)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANTED_ALONE: PeerWants = PeerWants {
        wanted: true,
        connected: 0,
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_first_lookup_is_due_at_once_and_none_while_nothing_is_wanted() {
        let t0 = Instant::now();
        let pace = Pace::new(t0, 10);
        assert_eq!(pace.next_lookup(WANTED_ALONE), Some(t0));
        let complete = PeerWants {
            wanted: false,
            connected: 3,
        };
        assert_eq!(pace.next_lookup(complete), None);
    }

    #[test]
    fn unreached_lookups_retry_soon_then_back_off_to_the_few_peers_interval() {
        let t0 = Instant::now();
        let mut pace = Pace::new(t0, 10);
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..7 {
            pace.lookup_done(now, false, 0);
            let due = pace.next_lookup(WANTED_ALONE).expect("wanted");
            waits.push((due - now).as_secs());
            now = due;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        // One that reached a node: the regular pace.
        pace.lookup_done(now, true, 0);
        assert_eq!(pace.next_lookup(WANTED_ALONE), Some(now + FEW_PEERS_EVERY));
    }

    #[test]
    fn few_peers_look_every_30_s_and_enough_back_off_to_15_minutes() {
        let t0 = Instant::now();
        let mut pace = Pace::new(t0, 10);
        pace.lookup_done(t0, true, 3);
        let few = PeerWants {
            wanted: true,
            connected: 3,
        };
        assert_eq!(pace.next_lookup(few), Some(t0 + secs(30)));
        let enough = PeerWants {
            wanted: true,
            connected: 12,
        };
        assert_eq!(pace.next_lookup(enough), Some(t0 + secs(60)));
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..6 {
            pace.lookup_done(now, true, 12);
            let due = pace.next_lookup(enough).expect("wanted");
            waits.push((due - now).as_secs());
            now = due;
        }
        assert_eq!(waits, [120, 240, 480, 900, 900, 900]);
        // Peers leave during a long wait: the next lookup is 30 s after the last one.
        assert_eq!(pace.next_lookup(few), Some(now - secs(900) + secs(30)));
        pace.lookup_done(now, true, 3);
        assert_eq!(pace.next_lookup(enough), Some(now + secs(60)));
    }
}
