//! The mainline DHT (BEP 5) as a peer source: get_peers lookups, one at a time, while the
//! torrent wants peers, paced by how many it has; the peers found join the trackers' in the
//! engine's candidate list, ranked as [`Source::Dht`](swarmgate_rank::Source::Dht).
//!
//! The node itself (a [`Dht`]) belongs to the caller, who may share it between torrents and
//! shuts it down (which saves its table); this module only asks it for peers. When lookups run
//! is a sans-IO schedule, [`Pace`]:
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
//! Announcing our own peer is separate: the download hands the torrent to
//! [`Dht::keep_announcing`] when it accepts connections.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use swarmgate_core::InfoHashV1;
use swarmgate_dht::{Dht, NodeStats};
use swarmgate_rank::Source;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use super::net::Inbound;

/// The first wait after a lookup that reached no node; it doubles up to [`FEW_PEERS_EVERY`].
const UNREACHED_RETRY: Duration = Duration::from_secs(1);
/// How often lookups run while fewer than `enough` peers are connected.
pub(crate) const FEW_PEERS_EVERY: Duration = Duration::from_secs(30);
/// The first wait with enough peers; it doubles up to [`ENOUGH_PEERS_MAX`].
const ENOUGH_PEERS_FIRST: Duration = Duration::from_secs(60);
/// The longest wait between lookups while peers are wanted.
const ENOUGH_PEERS_MAX: Duration = Duration::from_secs(15 * 60);
/// How long the first lookup waits for the node's table to hold a node (it is bootstrapping).
const TABLE_WAIT: Duration = Duration::from_secs(5);
/// How often the table is looked at meanwhile.
const TABLE_POLL: Duration = Duration::from_millis(50);
/// Distinct peers remembered for the figure [`DhtPeers::found`], at most.
const MAX_REMEMBERED: usize = 10_000;

/// What the torrent wants, as the download loop last said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PeerWants {
    /// The torrent wants peers (pieces are missing, or its metadata).
    pub wanted: bool,
    /// Peers connected now.
    pub connected: usize,
}

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

/// The running lookups of one torrent; stops them when dropped.
#[derive(Debug)]
pub(crate) struct DhtPeers {
    wants: watch::Sender<PeerWants>,
    found: Arc<AtomicUsize>,
    task: AbortHandle,
}

impl DhtPeers {
    /// Starts looking up `info_hash` on `dht` as `wants` says, sending the peers of each answer
    /// to `out` as `wrap(peers)`, except `own` (our listener: the node answers with what we
    /// announce). `enough` connected peers slow the lookups down.
    pub(crate) fn start<T: Send + 'static>(
        dht: Dht,
        info_hash: InfoHashV1,
        own: Option<SocketAddr>,
        (wants, enough): (PeerWants, usize),
        out: mpsc::Sender<T>,
        wrap: fn(Vec<SocketAddr>) -> T,
    ) -> Self {
        let (wants, wants_rx) = watch::channel(wants);
        let found = Arc::new(AtomicUsize::new(0));
        let lookups = Lookups {
            dht,
            info_hash,
            own,
            wants: wants_rx,
            found: Arc::clone(&found),
            seen: HashSet::new(),
            pace: Pace::new(Instant::now(), enough),
        };
        let task = tokio::spawn(lookups.run(out, wrap)).abort_handle();
        Self { wants, found, task }
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
}

impl Drop for DhtPeers {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The DHT side of one running download: its lookups, and its announces while it accepts
/// peers.
#[derive(Debug)]
pub(crate) struct DhtSource {
    node: Dht,
    info_hash: InfoHashV1,
    lookups: DhtPeers,
    /// Our listener's port, announced; `None` without a listener (nothing to announce).
    port: Option<u16>,
}

impl DhtSource {
    /// Starts the lookups of `info_hash` on `node` (peers to `inbound`, ranked as DHT peers),
    /// and, when we have a `listener`, keeps its port announced (as a seed if `complete`).
    /// Lookups slow down from half of `max_peers` connected (20 at most).
    pub(crate) fn start(
        node: Dht,
        info_hash: InfoHashV1,
        listener: Option<SocketAddr>,
        max_peers: usize,
        complete: bool,
        inbound: mpsc::Sender<Inbound>,
    ) -> Self {
        let wants = PeerWants {
            wanted: !complete,
            connected: 0,
        };
        let enough = (max_peers / 2).clamp(1, 20);
        let lookups = DhtPeers::start(
            node.clone(),
            info_hash,
            listener,
            (wants, enough),
            inbound,
            |addrs| Inbound::Peers {
                addrs,
                source: Source::Dht,
            },
        );
        let port = listener.map(|l| l.port());
        if port.is_some() {
            node.keep_announcing(info_hash, port, complete);
        }
        Self {
            node,
            info_hash,
            lookups,
            port,
        }
    }

    /// What the torrent wants now.
    pub(crate) fn update(&self, wants: PeerWants) {
        self.lookups.update(wants);
    }

    /// The torrent is complete: announced as a seed from now on (BEP 33), no more lookups.
    pub(crate) fn completed(&self) {
        if self.port.is_some() {
            self.node.keep_announcing(self.info_hash, self.port, true);
        }
        self.update(PeerWants {
            wanted: false,
            connected: 0,
        });
    }

    /// Distinct peers found so far.
    pub(crate) fn found(&self) -> usize {
        self.lookups.found()
    }

    /// The run ends: no more announces (the node's entries age out on their own) or lookups.
    pub(crate) fn stop(self) {
        self.node.stop_announcing(&self.info_hash);
    }
}

/// The task's state.
struct Lookups {
    dht: Dht,
    info_hash: InfoHashV1,
    own: Option<SocketAddr>,
    wants: watch::Receiver<PeerWants>,
    found: Arc<AtomicUsize>,
    seen: HashSet<SocketAddr>,
    pace: Pace,
}

impl Lookups {
    /// Runs lookups as the pace says until the owner is gone or the node stopped.
    async fn run<T>(mut self, out: mpsc::Sender<T>, wrap: fn(Vec<SocketAddr>) -> T) {
        wait_for_table(&self.dht).await;
        while self.wait_until_due().await {
            let mut lookup = self.dht.get_peers(self.info_hash);
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

    /// Waits until a lookup is due; `false` when the owner is gone.
    async fn wait_until_due(&mut self) -> bool {
        loop {
            let wants = *self.wants.borrow_and_update();
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

/// Waits (a few seconds at most) until `dht` knows a node: a lookup before that reaches nobody.
async fn wait_for_table(dht: &Dht) {
    let deadline = Instant::now() + TABLE_WAIT;
    while known_nodes(&dht.stats()) == 0 && Instant::now() < deadline {
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
