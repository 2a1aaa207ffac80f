//! The mainline DHT (BEP 5) as a peer source: get_peers lookups, one at a time, while the
//! torrent wants peers, paced by how many it has; the peers found join the trackers' in the
//! engine's candidate list, ranked as [`Source::Dht`](swarmgate_rank::Source::Dht). And, while
//! the run accepts peers, our own peer kept announced there.
//!
//! The node itself (a [`Dht`]) belongs to the caller, who may share it between torrents and
//! shuts it down (which saves its table); this module only asks it. When lookups run is a
//! sans-IO schedule, [`Pace`]:
//! - a lookup that reached no node (the table is still empty, the network is down) is retried
//!   soon: after 1 s, then 2, 4... up to 30 s, so a download does not wait long for a table
//!   that fills a moment after it starts;
//! - while fewer than `enough` peers are connected, a lookup every 30 s: a swarm's peers come
//!   and go, and a peer may announce after our last lookup;
//! - with enough peers, the wait doubles from 1 minute up to 15 minutes (the DHT's announce
//!   interval, so a peer that announced since is still found);
//! - while no peers are wanted (the torrent is complete), none; a torrent that wants peers
//!   again (peers left, or a piece failed) starts again from the schedule above.
//!
//! Announcing: a run with a listener hands its torrent and port to [`Dht::keep_announcing`]
//! once the node knows a node (an announce into an empty table reaches nobody and is retried
//! only seconds later), as a seed (BEP 33) once no pieces are wanted, and stops on the way out.
//! The task makes every announce call, under one lock with the stop, so a stopped run is never
//! announced again.

mod pace;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swarmgate_core::InfoHashV1;
use swarmgate_dht::{Dht, NodeStats};
use swarmgate_rank::Source;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use super::net::Inbound;
use pace::Pace;

/// How long the first lookup waits for the node's table to hold a node (it is bootstrapping).
const TABLE_WAIT: Duration = Duration::from_secs(5);
/// How often the table is looked at meanwhile.
const TABLE_POLL: Duration = Duration::from_millis(50);
/// Distinct peers remembered for the figure [`DhtPeers::found`], at most.
const MAX_REMEMBERED: usize = 10_000;

/// What the torrent wants, as the download loop last said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PeerWants {
    /// The torrent wants peers: pieces (or its metadata) are missing. A run that wants none
    /// is complete, and announced as a seed.
    pub wanted: bool,
    /// Peers connected now.
    pub connected: usize,
}

/// Our peer as the node is told of it.
#[derive(Debug)]
struct Announced {
    /// Our listener's port.
    port: u16,
    /// The seed flag last given to the node (`None`: not announced yet).
    seed: Option<bool>,
    /// The run ended: never announce again.
    stopped: bool,
}

/// The running lookups (and announces) of one torrent; stops them when dropped.
#[derive(Debug)]
pub(crate) struct DhtPeers {
    node: Dht,
    info_hash: InfoHashV1,
    wants: watch::Sender<PeerWants>,
    found: Arc<AtomicUsize>,
    announced: Option<Arc<Mutex<Announced>>>,
    task: AbortHandle,
}

impl DhtPeers {
    /// Starts looking up `info_hash` on `node` as `wants` says, sending the peers of each
    /// answer to `out` as `wrap(peers)`; `enough` connected peers slow the lookups down. With
    /// our `listener`, its port is kept announced and its address left out of the answers (the
    /// node answers with what we announce).
    pub(crate) fn start<T: Send + 'static>(
        node: Dht,
        info_hash: InfoHashV1,
        listener: Option<SocketAddr>,
        (wants, enough): (PeerWants, usize),
        out: mpsc::Sender<T>,
        wrap: fn(Vec<SocketAddr>) -> T,
    ) -> Self {
        let (wants, wants_rx) = watch::channel(wants);
        let found = Arc::new(AtomicUsize::new(0));
        let announced = listener.map(|l| {
            Arc::new(Mutex::new(Announced {
                port: l.port(),
                seed: None,
                stopped: false,
            }))
        });
        let lookups = Lookups {
            node: node.clone(),
            info_hash,
            own: listener,
            wants: wants_rx,
            found: Arc::clone(&found),
            announced: announced.clone(),
            seen: HashSet::new(),
            pace: Pace::new(Instant::now(), enough),
        };
        let task = tokio::spawn(lookups.run(out, wrap)).abort_handle();
        Self {
            node,
            info_hash,
            wants,
            found,
            announced,
            task,
        }
    }

    /// Tells the lookups what the torrent wants now.
    pub(crate) fn update(&self, wants: PeerWants) {
        self.wants.send_if_modified(|current| {
            let changed = *current != wants;
            *current = wants;
            changed
        });
    }

    /// Distinct peers found so far (our own address not counted).
    pub(crate) fn found(&self) -> usize {
        self.found.load(Ordering::Relaxed)
    }

    /// The run ends: no more lookups, and no more announces (the entries other nodes hold age
    /// out on their own).
    pub(crate) fn stop(self) {
        if let Some(announced) = &self.announced {
            let mut announced = announced.lock().unwrap_or_else(|p| p.into_inner());
            announced.stopped = true;
            if announced.seed.is_some() {
                self.node.stop_announcing(&self.info_hash);
            }
        }
    }
}

impl Drop for DhtPeers {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The DHT side of one running download: [`DhtPeers`] whose peers go to the engine loop as
/// DHT peers, slowing down from half of `max_peers` connected (20 at most).
pub(crate) fn start_for_download(
    node: Dht,
    info_hash: InfoHashV1,
    listener: Option<SocketAddr>,
    max_peers: usize,
    complete: bool,
    inbound: mpsc::Sender<Inbound>,
) -> DhtPeers {
    let wants = PeerWants {
        wanted: !complete,
        connected: 0,
    };
    let enough = (max_peers / 2).clamp(1, 20);
    DhtPeers::start(
        node,
        info_hash,
        listener,
        (wants, enough),
        inbound,
        |addrs| Inbound::Peers {
            addrs,
            source: Source::Dht,
        },
    )
}

/// The task's state.
struct Lookups {
    node: Dht,
    info_hash: InfoHashV1,
    own: Option<SocketAddr>,
    wants: watch::Receiver<PeerWants>,
    found: Arc<AtomicUsize>,
    announced: Option<Arc<Mutex<Announced>>>,
    seen: HashSet<SocketAddr>,
    pace: Pace,
}

impl Lookups {
    /// Runs lookups as the pace says until the owner is gone or the node stopped.
    async fn run<T>(mut self, out: mpsc::Sender<T>, wrap: fn(Vec<SocketAddr>) -> T) {
        wait_for_table(&self.node).await;
        while self.wait_until_due().await {
            let mut lookup = self.node.get_peers(self.info_hash);
            while let Some(peers) = lookup.next().await {
                let peers = self.keep_new(peers);
                if !peers.is_empty() && out.send(wrap(peers)).await.is_err() {
                    return;
                }
            }
            // No report: the node stopped, and no lookup will ever answer again.
            let Some(report) = lookup.report() else {
                return;
            };
            tracing::debug!(
                info_hash = %self.info_hash,
                peers = report.peers,
                queries = report.stats.queries,
                answers = report.stats.answers,
                elapsed = ?report.elapsed,
                "DHT lookup done"
            );
            let connected = self.wants.borrow().connected;
            self.pace
                .lookup_done(Instant::now(), report.stats.answers > 0, connected);
        }
    }

    /// Waits until a lookup is due, announcing as the torrent's state changes; `false` when
    /// the owner is gone.
    async fn wait_until_due(&mut self) -> bool {
        loop {
            let wants = *self.wants.borrow_and_update();
            self.announce(wants);
            match self.pace.next_lookup(wants) {
                Some(due) if due <= Instant::now() => return true,
                Some(due) => tokio::select! {
                    () = tokio::time::sleep_until(due.into()) => return true,
                    changed = self.wants.changed() => if changed.is_err() { return false },
                },
                None => {
                    if self.wants.changed().await.is_err() {
                        return false;
                    }
                }
            }
        }
    }

    /// Keeps our peer announced, as a seed once nothing is wanted, unless the run stopped.
    fn announce(&self, wants: PeerWants) {
        let Some(announced) = &self.announced else {
            return;
        };
        let mut announced = announced.lock().unwrap_or_else(|p| p.into_inner());
        let seed = !wants.wanted;
        if !announced.stopped && announced.seed != Some(seed) {
            self.node
                .keep_announcing(self.info_hash, Some(announced.port), seed);
            announced.seed = Some(seed);
        }
    }

    /// The peers of one answer without our own address, counting the new ones. Peers seen
    /// before are kept: the engine may have given up on one that is back.
    fn keep_new(&mut self, mut peers: Vec<SocketAddr>) -> Vec<SocketAddr> {
        peers.retain(|&peer| !is_own(self.own, peer));
        for &peer in &peers {
            if self.seen.len() < MAX_REMEMBERED {
                self.seen.insert(peer);
            }
        }
        self.found.store(self.seen.len(), Ordering::Relaxed);
        peers
    }
}

/// Whether `peer` is our own listener `own` (bound to every address: any loopback address on
/// its port).
fn is_own(own: Option<SocketAddr>, peer: SocketAddr) -> bool {
    match own {
        Some(own) if own.ip().is_unspecified() => {
            peer.port() == own.port() && peer.ip().to_canonical().is_loopback()
        }
        Some(own) => own == peer,
        None => false,
    }
}

/// Waits (a few seconds at most) until `node` knows a node: a lookup or an announce before
/// that reaches nobody.
async fn wait_for_table(node: &Dht) {
    let deadline = Instant::now() + TABLE_WAIT;
    while known_nodes(&node.stats()) == 0 && Instant::now() < deadline {
        tokio::time::sleep(TABLE_POLL).await;
    }
}

/// Nodes in the node's tables that are not known to be bad.
fn known_nodes(stats: &NodeStats) -> usize {
    stats.table4.good + stats.table4.questionable + stats.table6.good + stats.table6.questionable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_listener_is_not_a_peer() {
        let any: SocketAddr = "0.0.0.0:6881".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        assert!(is_own(Some(any), local));
        assert!(is_own(Some(any), "127.0.0.7:6881".parse().unwrap()));
        assert!(!is_own(Some(any), "127.0.0.1:6882".parse().unwrap()));
        assert!(!is_own(Some(any), "192.0.2.1:6881".parse().unwrap()));
        assert!(is_own(Some(local), local));
        assert!(!is_own(Some(local), "127.0.0.2:6881".parse().unwrap()));
        assert!(!is_own(None, local));
    }
}
