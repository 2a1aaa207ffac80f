//! The dispatcher: the one task that takes requests off the mirror's queue and runs the fetches,
//! at most `[mirror] concurrency` at once, each on a task of its own.
//!
//! It reads the queue only while a fetch slot is free, so the queue's bound is what holds
//! requests back (a flood fills it and [`Mirror::submit`](super::Mirror::submit) refuses).
//! A request for a file already stored, or already queued or fetching, is skipped; one larger
//! than the largest upload is refused. A fetch that fails in a way that may pass waits
//! `retry_delay` (doubled at each failure, at most [`MAX_DELAY`]) and runs again, up to
//! `max_attempts` in all; a fetch that delivered other bytes than announced is final, and the
//! (sha256, info-hash) pair is remembered so that the same forgery is never fetched again.
//! On shutdown the running fetches see the same shutdown (their downloads stop, their
//! temporary folders go) and the dispatcher waits for them.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use swarmgate_core::{InfoHashV1, Sha256};
use swarmgate_service::Shutdown;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::MirrorRequest;
use super::fetch::{Fetcher, MirrorError, Mirrored};
use super::stats::MirrorCounters;
use crate::settings::MirrorConfig;

/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(3600);
/// Failed fetches waiting for their next attempt, at most; more are given up at once.
const MAX_WAITING: usize = 1024;
/// Pairs remembered as forgeries, at most (then the oldest are not told apart from new ones:
/// a repeated forgery is fetched and dropped again, never served).
const MAX_REJECTED: usize = 65_536;

/// What identifies one announced file.
type Key = (Sha256, InfoHashV1);

/// A request and how many times it was tried.
#[derive(Debug)]
struct Job {
    request: MirrorRequest,
    attempts: u32,
}

impl Job {
    fn key(&self) -> Key {
        (self.request.sha256, self.request.info_hash)
    }
}

/// The dispatcher; see the module docs.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    requests: mpsc::Receiver<MirrorRequest>,
    fetcher: Arc<Fetcher>,
    config: MirrorConfig,
    counters: MirrorCounters,
    running: JoinSet<(Job, Result<Mirrored, MirrorError>)>,
    /// Failed jobs and when to run them again.
    waiting: Vec<(Instant, Job)>,
    /// Files running or waiting.
    known: HashSet<Key>,
    /// Files that failed verification.
    rejected: HashSet<Key>,
}

impl Dispatcher {
    /// A dispatcher of `requests` through `fetcher`.
    pub(crate) fn new(
        requests: mpsc::Receiver<MirrorRequest>,
        fetcher: Fetcher,
        config: MirrorConfig,
        counters: MirrorCounters,
    ) -> Dispatcher {
        Dispatcher {
            requests,
            fetcher: Arc::new(fetcher),
            config,
            counters,
            running: JoinSet::new(),
            waiting: Vec::new(),
            known: HashSet::new(),
            rejected: HashSet::new(),
        }
    }

    /// Sweeps the temporary folder, then dispatches until `shutdown`, then waits for the
    /// running fetches to stop.
    pub(crate) async fn run(mut self, mut shutdown: Shutdown) -> Result<(), std::io::Error> {
        let fetcher = Arc::clone(&self.fetcher);
        tokio::task::spawn_blocking(move || fetcher.sweep())
            .await
            .map_err(std::io::Error::other)??;
        loop {
            self.start_due(&shutdown);
            self.publish_gauges();
            let room = self.running.len() < self.config.concurrency;
            let next_due = self.waiting.iter().map(|(due, _)| *due).min();
            tokio::select! {
                () = shutdown.wait() => break,
                Some(request) = self.requests.recv(), if room => self.accept(request, &shutdown),
                Some(joined) = self.running.join_next(), if !self.running.is_empty() => {
                    match joined {
                        Ok((job, result)) => self.finished(job, result),
                        Err(error) => tracing::error!(%error, "a mirror fetch panicked"),
                    }
                }
                () = sleep_until(next_due), if room && next_due.is_some() => {}
            }
        }
        while let Some(joined) = self.running.join_next().await {
            if let Ok((job, Ok(mirrored))) = joined {
                self.finished(job, Ok(mirrored));
            }
        }
        self.publish_gauges();
        Ok(())
    }

    /// Takes a new request: skipped when stored, known, forged or too large; else started.
    fn accept(&mut self, request: MirrorRequest, shutdown: &Shutdown) {
        let key = (request.sha256, request.info_hash);
        if self.fetcher.catalog.get(&request.sha256).is_some() {
            self.counters.already_stored.inc();
            return;
        }
        if self.known.contains(&key) {
            return;
        }
        if self.rejected.contains(&key) {
            tracing::debug!(sha256 = %request.sha256, source = %request.source,
                "not mirrored again: it failed verification before");
            return;
        }
        if request.size > self.fetcher.max_size {
            self.counters.too_large.inc();
            tracing::info!(sha256 = %request.sha256, size = request.size, source = %request.source,
                "not mirrored: larger than the largest upload");
            return;
        }
        self.known.insert(key);
        self.start(
            Job {
                request,
                attempts: 0,
            },
            shutdown,
        );
    }

    /// Runs `job`'s next attempt on a task of its own.
    fn start(&mut self, mut job: Job, shutdown: &Shutdown) {
        if self.fetcher.catalog.get(&job.request.sha256).is_some() {
            self.counters.already_stored.inc();
            self.known.remove(&job.key());
            return;
        }
        job.attempts += 1;
        let fetcher = Arc::clone(&self.fetcher);
        let shutdown = shutdown.clone();
        self.running.spawn(async move {
            let result = fetcher.fetch(job.request.clone(), shutdown).await;
            (job, result)
        });
    }

    /// Starts the waiting jobs that are due, while there is room.
    fn start_due(&mut self, shutdown: &Shutdown) {
        let now = Instant::now();
        while self.running.len() < self.config.concurrency {
            let Some(at) = self
                .waiting
                .iter()
                .enumerate()
                .filter(|(_, (due, _))| *due <= now)
                .min_by_key(|(_, (due, _))| *due)
                .map(|(at, _)| at)
            else {
                break;
            };
            let (_, job) = self.waiting.swap_remove(at);
            self.counters.retries.inc();
            self.start(job, shutdown);
        }
    }

    /// Counts and logs a finished attempt; schedules the next one when it may pass.
    fn finished(&mut self, job: Job, result: Result<Mirrored, MirrorError>) {
        let request = &job.request;
        let error = match result {
            Ok(mirrored) => {
                self.known.remove(&job.key());
                if mirrored.existing {
                    self.counters.already_stored.inc();
                } else {
                    self.counters.mirrored.inc();
                    self.counters.mirrored_bytes.inc_by(mirrored.size);
                }
                if mirrored.info_hash != request.info_hash {
                    tracing::warn!(sha256 = %request.sha256, announced = %request.info_hash,
                        here = %mirrored.info_hash, "mirrored under another info-hash");
                }
                tracing::info!(sha256 = %request.sha256, name = %request.name,
                    size = mirrored.size, source = %request.source, "mirrored");
                return;
            }
            Err(error) => error,
        };
        if matches!(error, MirrorError::Stopped) {
            self.known.remove(&job.key());
            return;
        }
        let retry = error.is_retryable()
            && job.attempts < self.config.max_attempts
            && self.waiting.len() < MAX_WAITING;
        if retry {
            let delay = backoff(self.config.retry_delay, job.attempts);
            tracing::info!(sha256 = %request.sha256, source = %request.source, %error,
                attempt = job.attempts, retry_in = ?delay, "mirror fetch failed");
            self.waiting.push((Instant::now() + delay, job));
            return;
        }
        self.known.remove(&job.key());
        match error {
            MirrorError::Mismatch(_) => {
                self.counters.verify_failures.inc();
                if self.rejected.len() < MAX_REJECTED {
                    self.rejected.insert(job.key());
                }
                tracing::warn!(sha256 = %request.sha256, info_hash = %request.info_hash,
                    source = %request.source, %error, "mirror dropped: verification failed");
            }
            MirrorError::LateMismatch(_) => {
                self.counters.late_mismatch.inc();
                if self.rejected.len() < MAX_REJECTED {
                    self.rejected.insert(job.key());
                }
                tracing::error!(sha256 = %request.sha256, source = %request.source, %error,
                    "mirror refused at publish: the catalog's hash differs from ours");
            }
            MirrorError::TooLarge { .. } => {
                self.counters.too_large.inc();
                tracing::info!(sha256 = %request.sha256, source = %request.source, %error,
                    "not mirrored");
            }
            _ => {
                self.counters.fetch_failures.inc();
                tracing::warn!(sha256 = %request.sha256, source = %request.source, %error,
                    attempts = job.attempts, "mirror given up");
            }
        }
    }

    /// The gauges the statistics read.
    fn publish_gauges(&self) {
        let counters = &self.counters;
        counters
            .in_flight
            .store(self.running.len() as u64, Ordering::Relaxed);
        counters
            .waiting_retry
            .store(self.waiting.len() as u64, Ordering::Relaxed);
    }
}

/// The wait after the `attempts`-th failure: `first`, doubled each time, at most [`MAX_DELAY`].
fn backoff(first: Duration, attempts: u32) -> Duration {
    let doubling = 1u32 << attempts.saturating_sub(1).min(16);
    first.saturating_mul(doubling).min(MAX_DELAY)
}

/// Resolves at `due`, never when there is none.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_an_hour() {
        let first = Duration::from_secs(60);
        assert_eq!(backoff(first, 1), first);
        assert_eq!(backoff(first, 2), first * 2);
        assert_eq!(backoff(first, 3), first * 4);
        assert_eq!(backoff(first, 40), MAX_DELAY);
    }
}
