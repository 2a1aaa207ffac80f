//! The shutdown signal: one trigger, any number of cloned receivers, resolved once for all.
//!
//! Built on a `watch` channel rather than a broadcast or a `Notify`: a receiver cloned after the
//! trigger still sees it (a service started late stops at once), waiting is cancel-safe, and a
//! dropped trigger counts as triggered, so a supervisor that is dropped stops its services
//! instead of leaving them serving forever.

use tokio::sync::watch;

/// The sending side: triggering it resolves every [`Shutdown`] made from it.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

/// A service's view of the shutdown: cheap to clone, resolves once the trigger fires (or is
/// dropped).
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

impl Shutdown {
    /// A new trigger and its first receiver.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (sender, receiver) = watch::channel(false);
        (ShutdownTrigger { sender }, Shutdown { receiver })
    }

    /// Resolves once the shutdown is triggered (at once if it already was). Cancel-safe.
    pub async fn wait(&mut self) {
        // An error means the trigger is gone: that stops us too.
        let _ = self.receiver.wait_for(|stop| *stop).await;
    }

    /// The same as [`wait`](Self::wait), as an owned future (for `with_graceful_shutdown` and
    /// other APIs that take a `'static` future).
    pub fn signalled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut this = self.clone();
        async move { this.wait().await }
    }

    /// Whether the shutdown was triggered (or its trigger dropped).
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow() || self.receiver.has_changed().is_err()
    }
}

impl ShutdownTrigger {
    /// Triggers the shutdown: every receiver resolves. Idempotent.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Another receiver.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            receiver: self.sender.subscribe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn every_receiver_resolves_once_triggered_even_one_made_later() {
        let (trigger, mut first) = Shutdown::new();
        let mut second = first.clone();
        assert!(!first.is_triggered());
        let pending = tokio::time::timeout(Duration::from_millis(20), first.wait()).await;
        assert!(pending.is_err(), "not triggered yet");
        trigger.trigger();
        trigger.trigger();
        first.wait().await;
        second.wait().await;
        let mut late = trigger.subscribe();
        assert!(late.is_triggered());
        late.wait().await;
        trigger.subscribe().signalled().await;
    }

    #[tokio::test]
    async fn a_dropped_trigger_stops_its_receivers() {
        let (trigger, mut shutdown) = Shutdown::new();
        drop(trigger);
        assert!(shutdown.is_triggered());
        tokio::time::timeout(Duration::from_secs(5), shutdown.wait())
            .await
            .expect("resolves when the trigger is gone");
    }
}
