//! A lookup as its owner sees it: peers as they arrive, then a report of what it cost.

use std::net::SocketAddr;
use std::time::Duration;

use swarmgate_core::InfoHashV1;
use tokio::sync::mpsc;

use super::DhtError;
use crate::lookup::LookupStats;

/// What a finished lookup found and cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupReport {
    /// The torrent.
    pub info_hash: InfoHashV1,
    /// Peers found in all.
    pub peers: usize,
    /// Nodes sent announce_peer (0 for a plain get_peers).
    pub announced_to: usize,
    /// Rounds, queries, answers and failures.
    pub stats: LookupStats,
    /// From the request to the end.
    pub elapsed: Duration,
}

/// What the driver tells a [`PeerStream`].
#[derive(Debug)]
pub(crate) enum Update {
    Peers(Vec<SocketAddr>),
    Done(LookupReport),
}

/// The peers of one lookup ([`Dht::get_peers`](super::Dht::get_peers),
/// [`Dht::announce`](super::Dht::announce)), each peer once, the node's own store first.
///
/// Dropping the stream does not stop the lookup (an announce still announces); it only stops
/// listening.
#[derive(Debug)]
pub struct PeerStream {
    updates: mpsc::UnboundedReceiver<Update>,
    report: Option<LookupReport>,
}

impl PeerStream {
    pub(crate) fn new(updates: mpsc::UnboundedReceiver<Update>) -> PeerStream {
        PeerStream {
            updates,
            report: None,
        }
    }

    /// The next peers found; `None` once the lookup ended (then [`report`](Self::report)
    /// says how) or the node stopped.
    pub async fn next(&mut self) -> Option<Vec<SocketAddr>> {
        loop {
            match self.updates.recv().await? {
                Update::Peers(peers) if peers.is_empty() => continue,
                Update::Peers(peers) => return Some(peers),
                Update::Done(report) => {
                    self.report = Some(report);
                    self.updates.close();
                    return None;
                }
            }
        }
    }

    /// The report, once [`next`](Self::next) returned `None` for a lookup that ended.
    pub fn report(&self) -> Option<&LookupReport> {
        self.report.as_ref()
    }

    /// Waits for the end: every peer and the report.
    ///
    /// # Errors
    /// [`DhtError::Stopped`] if the node shut down before the lookup ended.
    pub async fn finish(mut self) -> Result<(Vec<SocketAddr>, LookupReport), DhtError> {
        let mut peers = Vec::new();
        while let Some(mut more) = self.next().await {
            peers.append(&mut more);
        }
        let report = self.report.ok_or(DhtError::Stopped)?;
        Ok((peers, report))
    }
}
