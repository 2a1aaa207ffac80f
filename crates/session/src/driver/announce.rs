//! The tracker side of a running torrent: announce `started`, then at the tracker's interval,
//! `completed` when the last piece verifies, and `stopped` on the way out (BEP 3, 12).
//!
//! It runs as its own task so a slow or dead tracker never holds up the peers: what it learns goes
//! to the engine loop as [`Inbound::Peers`], and the loop tells it the transfer totals through a
//! watch channel.

use std::time::Duration;

use swarmgate_core::InfoHashV1;
use swarmgate_rank::Source;
use swarmgate_tracker::{AnnounceEvent, Announcer, Progress as TrackerProgress};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::net::Inbound;

/// How long `stopped` may take on the way out.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The running announce task.
pub(crate) struct AnnounceTask {
    totals: watch::Sender<TrackerProgress>,
    events: mpsc::UnboundedSender<AnnounceEvent>,
    task: JoinHandle<()>,
}

impl AnnounceTask {
    pub(crate) fn start(
        mut announcer: Announcer,
        info_hash: InfoHashV1,
        totals: TrackerProgress,
        inbound: mpsc::Sender<Inbound>,
    ) -> Self {
        let (totals_tx, totals_rx) = watch::channel(totals);
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut event = AnnounceEvent::Started;
            loop {
                let progress = *totals_rx.borrow();
                match announcer.announce(info_hash, event, progress).await {
                    Ok(response) if !response.peers.is_empty() => {
                        let peers = Inbound::Peers {
                            addrs: response.peers,
                            source: Source::Tracker,
                        };
                        if inbound.send(peers).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::debug!(%error, "announce failed"),
                }
                if event == AnnounceEvent::Stopped {
                    return;
                }
                event = tokio::select! {
                    () = tokio::time::sleep(announcer.next_announce_in()) => AnnounceEvent::None,
                    next = events_rx.recv() => next.unwrap_or(AnnounceEvent::Stopped),
                };
            }
        });
        Self {
            totals: totals_tx,
            events: events_tx,
            task,
        }
    }

    /// The latest transfer totals, for the next announce.
    pub(crate) fn update(&self, totals: TrackerProgress) {
        self.totals.send_replace(totals);
    }

    /// Announces `completed` now.
    pub(crate) fn completed(&self) {
        let _ = self.events.send(AnnounceEvent::Completed);
    }

    /// Announces `stopped` with the final totals and waits for it, a few seconds at most.
    pub(crate) async fn stop(self, totals: TrackerProgress) {
        self.totals.send_replace(totals);
        let _ = self.events.send(AnnounceEvent::Stopped);
        let mut task = self.task;
        if tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err() {
            task.abort();
        }
    }
}
