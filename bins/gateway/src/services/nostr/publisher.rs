//! From a publish to every relay's outbox: the catalog observer only pushes the entry onto a
//! bounded queue (no signing, no I/O on the upload's thread), and the publisher task signs the
//! two announcements and hands a copy to each relay's own outbox, which its connection drains
//! at its own pace.
//!
//! Both queues are bounded and drop the *oldest* item when full, counting it: a relay that has
//! been down for hours should, once back, get the newest files rather than the first ones
//! that happened to fit, and an upload must never wait for room.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nostr::{Event, Keys, Timestamp};
use swarmgate_catalog::{Entry, Links};
use swarmgate_service::Shutdown;
use tokio::sync::Notify;

use super::events::announcements;
use super::relays::RelayLink;

/// Files waiting to be signed, at most.
pub(crate) const PENDING_FILES: usize = 1_000;
/// Events waiting for one relay, at most (two per file).
pub(crate) const OUTBOX_EVENTS: usize = 2_000;

/// A bounded FIFO that drops its oldest item when full, with a wake-up for its consumer.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    dropped: AtomicU64,
    ready: Notify,
}

impl<T> Queue<T> {
    /// An empty queue of at most `capacity` items.
    pub(crate) fn new(capacity: usize) -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::new()),
            capacity,
            dropped: AtomicU64::new(0),
            ready: Notify::new(),
        }
    }

    fn items(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `item`, dropping (and counting) the oldest one if full; wakes the consumer.
    pub(crate) fn push(&self, item: T) {
        let mut items = self.items();
        if items.len() >= self.capacity && items.pop_front().is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        items.push_back(item);
        drop(items);
        self.ready.notify_one();
    }

    /// Puts `returned` back at the front, in order (they were taken and not delivered); the
    /// oldest of them are dropped, and counted, when they no longer fit.
    pub(crate) fn put_back(&self, returned: impl DoubleEndedIterator<Item = T>) {
        let mut items = self.items();
        for item in returned.rev() {
            if items.len() >= self.capacity {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            items.push_front(item);
        }
        drop(items);
        self.ready.notify_one();
    }

    /// The oldest item.
    pub(crate) fn pop(&self) -> Option<T> {
        self.items().pop_front()
    }

    /// Items waiting.
    pub(crate) fn len(&self) -> usize {
        self.items().len()
    }

    /// Items dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Resolves after the next push (or at once if one happened since the last wait).
    pub(crate) async fn pushed(&self) {
        self.ready.notified().await;
    }
}

/// Signs announcements and fans them out to the relays.
#[derive(Debug)]
pub(crate) struct Publisher {
    /// Files published and not yet signed.
    pub(crate) pending: Queue<Arc<Entry>>,
    /// Files whose events were handed to the relays.
    pub(crate) announced: AtomicU64,
    /// Files whose events could not be signed (never expected; counted rather than lost).
    pub(crate) failed: AtomicU64,
}

impl Publisher {
    /// An idle publisher.
    pub(crate) fn new() -> Publisher {
        Publisher {
            pending: Queue::new(PENDING_FILES),
            announced: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Signs every pending file's two events and pushes them onto each relay's outbox, until
    /// the shutdown.
    pub(crate) async fn run(
        self: Arc<Self>,
        keys: Keys,
        links: Links,
        relays: Vec<Arc<RelayLink>>,
        mut shutdown: Shutdown,
    ) -> Result<(), std::convert::Infallible> {
        loop {
            while let Some(entry) = self.pending.pop() {
                match announcements(&entry, &links, &keys, Timestamp::now()) {
                    Ok(events) => {
                        for relay in &relays {
                            for event in &events {
                                relay.outbox.push(event.clone());
                            }
                        }
                        self.announced.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        self.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%error, sha256 = %entry.sha256(), "could not sign the announcements");
                    }
                }
            }
            tokio::select! {
                () = shutdown.wait() => return Ok(()),
                () = self.pending.pushed() => {}
            }
        }
    }
}

/// The events one relay still has to take.
pub(crate) type Outbox = Queue<Event>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_its_oldest_and_counts() {
        let queue = Queue::new(3);
        for i in 0..5 {
            queue.push(i);
        }
        assert_eq!((queue.len(), queue.dropped()), (3, 2));
        assert_eq!(queue.pop(), Some(2));
        queue.put_back([0, 1].into_iter());
        assert_eq!(queue.dropped(), 3, "only one of the two fit back");
        let left: Vec<i32> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(left, [1, 3, 4], "put back in front, in order");
    }

    #[tokio::test]
    async fn a_push_wakes_the_consumer_even_before_it_waits() {
        let queue = Arc::new(Queue::new(4));
        queue.push(1);
        tokio::time::timeout(std::time::Duration::from_secs(1), queue.pushed())
            .await
            .expect("the permit of the earlier push");
        let waiter = {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move { queue.pushed().await })
        };
        tokio::task::yield_now().await;
        queue.push(2);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .unwrap();
    }
}
