//! Which torrents the driver keeps announced, and when each is due again: a sans-IO schedule.
//!
//! An owner that serves torrents (a gateway, a seeding client) says once that it holds a
//! torrent; the schedule turns that into an announce now and one every `every` after it, each
//! spread by up to a tenth so that thousands of torrents added at once do not announce in the
//! same second ever after. At most `max_running` announces run at once. An announce that
//! reached no node (an empty table, a network that is down) is retried sooner, backing off
//! from [`RETRY_FIRST`] to `every`.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, SplitMix64};

/// The first retry of an announce that reached no node.
pub(crate) const RETRY_FIRST: Duration = Duration::from_secs(5);

/// One torrent kept announced.
#[derive(Debug)]
struct Kept {
    /// Our peer's port (`None`: implied, the DHT socket's).
    port: Option<u16>,
    /// Announced as a seed (BEP 33).
    seed: bool,
    /// When it is due, while it waits in the queue; `None` while its announce runs.
    due: Option<Instant>,
    /// The wait before the next retry, after announces that reached no node.
    retry: Duration,
}

/// An announce to start: the torrent, the port and the seed flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DueAnnounce {
    pub info_hash: InfoHashV1,
    pub port: Option<u16>,
    pub seed: bool,
}

/// The schedule; see the module docs.
#[derive(Debug)]
pub(crate) struct Announcer {
    kept: HashMap<InfoHashV1, Kept>,
    queue: BTreeSet<(Instant, InfoHashV1)>,
    running: usize,
    every: Duration,
    max_running: usize,
    rng: SplitMix64,
}

impl Announcer {
    pub(crate) fn new(every: Duration, max_running: usize, seed: u64) -> Announcer {
        Announcer {
            kept: HashMap::new(),
            queue: BTreeSet::new(),
            running: 0,
            every: every.max(Duration::from_secs(1)),
            max_running: max_running.max(1),
            rng: SplitMix64::new(seed),
        }
    }

    /// How many torrents are kept announced.
    pub(crate) fn len(&self) -> usize {
        self.kept.len()
    }

    /// Keeps `info_hash` announced from now on; a torrent already kept takes the new port and
    /// seed flag at its next announce.
    pub(crate) fn keep(
        &mut self,
        now: Instant,
        info_hash: InfoHashV1,
        port: Option<u16>,
        seed: bool,
    ) {
        if let Some(kept) = self.kept.get_mut(&info_hash) {
            kept.port = port;
            kept.seed = seed;
            return;
        }
        self.kept.insert(
            info_hash,
            Kept {
                port,
                seed,
                due: Some(now),
                retry: RETRY_FIRST,
            },
        );
        self.queue.insert((now, info_hash));
    }

    /// Stops announcing `info_hash` (an announce running now still ends).
    pub(crate) fn stop(&mut self, info_hash: &InfoHashV1) {
        if let Some(Kept { due: Some(due), .. }) = self.kept.remove(info_hash) {
            self.queue.remove(&(due, *info_hash));
        }
    }

    /// When [`next_due`](Self::next_due) will have something (`None`: nothing waits, or as
    /// many announces run as may).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.running >= self.max_running {
            return None;
        }
        self.queue.first().map(|(due, _)| *due)
    }

    /// The next announce to start at `now`, if one is due and a slot is free.
    pub(crate) fn next_due(&mut self, now: Instant) -> Option<DueAnnounce> {
        if self.running >= self.max_running {
            return None;
        }
        let &(due, info_hash) = self.queue.first()?;
        if due > now {
            return None;
        }
        self.queue.pop_first();
        let kept = self.kept.get_mut(&info_hash)?;
        kept.due = None;
        self.running += 1;
        Some(DueAnnounce {
            info_hash,
            port: kept.port,
            seed: kept.seed,
        })
    }

    /// The announce of `info_hash` that [`next_due`](Self::next_due) gave ended at `now`,
    /// having reached `answered` nodes: schedules the next one.
    pub(crate) fn done(&mut self, now: Instant, info_hash: InfoHashV1, answered: u32) {
        self.running = self.running.saturating_sub(1);
        let every = self.every;
        let spread = self.rng.below(every.as_millis() as usize / 10 + 1) as u64;
        let Some(kept) = self.kept.get_mut(&info_hash) else {
            return; // stopped while it ran
        };
        let wait = if answered > 0 {
            kept.retry = RETRY_FIRST;
            every + Duration::from_millis(spread)
        } else {
            let wait = kept.retry;
            kept.retry = (kept.retry * 2).min(every);
            wait
        };
        let due = now + wait;
        kept.due = Some(due);
        self.queue.insert((due, info_hash));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> InfoHashV1 {
        InfoHashV1([n; 20])
    }

    #[test]
    fn announces_at_once_then_every_interval_with_spread() {
        let t0 = Instant::now();
        let every = Duration::from_secs(900);
        let mut schedule = Announcer::new(every, 8, 7);
        schedule.keep(t0, hash(1), Some(6881), true);
        assert_eq!(schedule.poll_timeout(), Some(t0));
        let due = schedule.next_due(t0).expect("due at once");
        assert_eq!(
            due,
            DueAnnounce {
                info_hash: hash(1),
                port: Some(6881),
                seed: true
            }
        );
        assert_eq!(schedule.next_due(t0), None, "running, not queued twice");
        schedule.done(t0, hash(1), 8);
        let next = schedule.poll_timeout().expect("scheduled again");
        assert!(
            next >= t0 + every && next <= t0 + every + every / 10,
            "{:?}",
            next - t0
        );
        assert_eq!(schedule.next_due(next - Duration::from_millis(1)), None);
        assert!(schedule.next_due(next).is_some());
    }

    #[test]
    fn an_announce_that_reached_nobody_backs_off_to_the_interval() {
        let t0 = Instant::now();
        let every = Duration::from_secs(60);
        let mut schedule = Announcer::new(every, 8, 1);
        schedule.keep(t0, hash(1), None, false);
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..6 {
            assert!(schedule.next_due(now).is_some());
            schedule.done(now, hash(1), 0);
            let next = schedule.poll_timeout().expect("retried");
            waits.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert!(schedule.next_due(now).is_some());
        schedule.done(now, hash(1), 3);
        assert!(schedule.poll_timeout().expect("kept") - now >= every);
    }

    #[test]
    fn at_most_max_running_at_once_and_stopped_torrents_leave() {
        let t0 = Instant::now();
        let mut schedule = Announcer::new(Duration::from_secs(900), 2, 1);
        for n in 0..5 {
            schedule.keep(t0, hash(n), None, true);
        }
        assert_eq!(schedule.len(), 5);
        let first = schedule.next_due(t0).expect("one");
        assert!(schedule.next_due(t0).is_some());
        assert_eq!(schedule.next_due(t0), None, "two run at most");
        assert_eq!(
            schedule.poll_timeout(),
            None,
            "no slot: nothing to wake for"
        );
        schedule.stop(&first.info_hash);
        schedule.done(t0, first.info_hash, 8);
        assert_eq!(schedule.len(), 4);
        let mut started = 0;
        while let Some(due) = schedule.next_due(t0) {
            assert_ne!(
                due.info_hash, first.info_hash,
                "a stopped torrent is not announced"
            );
            schedule.done(t0, due.info_hash, 8);
            started += 1;
            assert!(started <= 4);
        }
        assert_eq!(
            started, 3,
            "the three never started; the running one is not yet due"
        );
    }
}
