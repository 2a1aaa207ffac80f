//! What the seeder's tasks share (BEP 3 peers of many torrents): the torrent table, the counters,
//! the connection slots, the admission table and the dial records.
//!
//! Two locks, never nested the wrong way: `state` (torrents, tasks) and `dials` (who is being
//! dialled or resting). The admission table's lock is a leaf: nothing else is taken while it
//! is held (an evicted socket's waker is dropped after it is released). A [`DialGuard`] locks `dials` when it drops, so it may be dropped while
//! `state` is held; nothing holds `dials` while taking `state`. Neither lock is held across an
//! `.await`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_metainfo::Torrent;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use super::admission::{Admission, Limits, Refusal};
use super::torrent::Command;
use super::{BlockSource, Refusals, SeederConfig, SeederStats};
use crate::engine::EngineStats;

/// Dial records kept at most (dialling, connected or resting), all torrents together: beyond it
/// `connect` is refused until records expire.
const MAX_DIAL_RECORDS: usize = 65_536;

/// State shared by the handle, the accept loop, the dial tasks and the torrent tasks.
pub(super) struct Shared {
    pub(super) config: SeederConfig,
    pub(super) local_addr: SocketAddr,
    pub(super) runtime: Handle,
    pub(super) counters: Arc<Counters>,
    state: Mutex<State>,
    dials: Arc<Mutex<HashMap<(InfoHashV1, SocketAddr), DialState>>>,
    /// Peers connected to us, by (torrent, peer id): an announce-driven dial skips them.
    incoming: Arc<Mutex<HashMap<(InfoHashV1, PeerId), u32>>>,
    /// Incoming sockets by address and subnet, and those in their handshake.
    admission: Arc<Mutex<AdmissionTable>>,
}

/// The admission table of the seeder: a half-open socket's waker is a sender whose drop tells
/// its handshake task to close it.
type AdmissionTable = Admission<oneshot::Sender<()>>;

/// The figures every task adds to; read by `Seeder::stats`.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) max_connections: usize,
    pub(super) connections: AtomicUsize,
    pub(super) peers: AtomicUsize,
    pub(super) active: AtomicUsize,
    pub(super) uploaded: AtomicU64,
    pub(super) blocks_served: AtomicU64,
    pub(super) read_errors: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) unknown_torrent: AtomicU64,
    pub(super) dials: AtomicU64,
    pub(super) dial_failures: AtomicU64,
    pub(super) dials_skipped: AtomicU64,
    pub(super) per_ip: AtomicU64,
    pub(super) per_subnet: AtomicU64,
    pub(super) half_open_full: AtomicU64,
    pub(super) half_open_evicted: AtomicU64,
    pub(super) handshake_timeout: AtomicU64,
    pub(super) slow_readers: AtomicU64,
}

impl Counters {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The torrent table and the tasks to wait for.
#[derive(Default)]
pub(super) struct State {
    pub(super) closed: bool,
    pub(super) torrents: HashMap<InfoHashV1, Entry>,
    pub(super) next_task: u64,
    /// Handshake reads and dials: short tasks, aborted at shutdown.
    pub(super) helpers: JoinSet<()>,
    /// Torrent tasks no longer in the table (stopping, or ended on their own), to wait for.
    pub(super) ended: Vec<JoinHandle<()>>,
    pub(super) accept: Option<JoinHandle<()>>,
}

impl State {
    /// Keeps `handle` to wait for at shutdown, forgetting those already finished.
    pub(super) fn push_ended(&mut self, handle: JoinHandle<()>) {
        self.ended.retain(|h| !h.is_finished());
        self.ended.push(handle);
    }

    /// Spawns a short task that shutdown aborts, reaping those already finished.
    pub(super) fn spawn_helper(
        &mut self,
        runtime: &Handle,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        while self.helpers.try_join_next().is_some() {}
        self.helpers.spawn_on(task, runtime);
    }
}

/// One seeded torrent.
pub(super) struct Entry {
    /// Unique across adds: a task of a removed torrent does not write into its successor.
    pub(super) id: u64,
    pub(super) torrent: Arc<Torrent>,
    pub(super) source: Arc<dyn BlockSource>,
    pub(super) task: Option<TaskHandle>,
    /// The latest figures its task published (uploaded adds up across task lifetimes).
    pub(super) stats: EngineStats,
}

/// A running torrent task.
pub(super) struct TaskHandle {
    pub(super) id: u64,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) join: JoinHandle<()>,
}

/// What is known of one (torrent, address) the seeder was asked to dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DialState {
    /// Being dialled, or connected.
    Busy,
    /// The last dial failed: not again before this.
    Resting(Instant),
}

impl Shared {
    pub(super) fn new(config: SeederConfig, local_addr: SocketAddr, runtime: Handle) -> Self {
        let counters = Counters {
            max_connections: config.max_connections,
            ..Counters::default()
        };
        let limits = Limits {
            max_per_ip: config.max_connections_per_ip,
            max_per_subnet: config.max_connections_per_subnet,
            max_half_open: config.max_half_open,
            pressure_half_open: config.pressure_half_open,
            handshake_timeout: config.handshake_timeout,
            pressure_handshake_timeout: config.pressure_handshake_timeout,
            evict_half_open_after: config.evict_half_open_after,
        };
        Self {
            admission: Arc::new(Mutex::new(Admission::new(limits))),
            config,
            local_addr,
            runtime,
            counters: Arc::new(counters),
            state: Mutex::new(State::default()),
            dials: Arc::new(Mutex::new(HashMap::new())),
            incoming: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Records that the peer `peer_id` connected to us for `info_hash`, until the guard drops.
    pub(super) fn register_incoming(
        &self,
        info_hash: InfoHashV1,
        peer_id: PeerId,
    ) -> IncomingGuard {
        *lock(&self.incoming)
            .entry((info_hash, peer_id))
            .or_insert(0) += 1;
        IncomingGuard {
            incoming: Arc::clone(&self.incoming),
            key: (info_hash, peer_id),
        }
    }

    /// Lets in a socket accepted from `ip` (its [`Ticket`], to keep while it is open, and its
    /// handshake timeout; a receiver that ends when it is evicted), or counts why not.
    pub(super) fn admit(&self, ip: IpAddr) -> Option<(Ticket, Duration, oneshot::Receiver<()>)> {
        let (waker, evicted_signal) = oneshot::channel();
        let admitted = lock(&self.admission).admit(ip, Instant::now(), waker);
        let c = &self.counters;
        match admitted {
            Ok(admitted) => {
                if admitted.evicted.is_some() {
                    Counters::add(&c.half_open_evicted, 1);
                }
                // Dropping the evicted socket's waker (here, outside the lock) closes it.
                drop(admitted.evicted);
                let ticket = Ticket {
                    table: Arc::clone(&self.admission),
                    id: admitted.id,
                };
                Some((ticket, admitted.handshake_timeout, evicted_signal))
            }
            Err(refusal) => {
                let counter = match refusal {
                    Refusal::PerIp => &c.per_ip,
                    Refusal::PerSubnet => &c.per_subnet,
                    Refusal::HalfOpenFull => &c.half_open_full,
                };
                Counters::add(counter, 1);
                None
            }
        }
    }

    /// Whether the peer `peer_id` is connected to us (it dialled) for `info_hash`.
    pub(super) fn has_incoming(&self, info_hash: InfoHashV1, peer_id: PeerId) -> bool {
        lock(&self.incoming).contains_key(&(info_hash, peer_id))
    }

    /// The torrent table. A task that panicked while holding it left nothing half-done that
    /// matters more than going on, so a poisoned lock is taken as is.
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a dial of `addr` for `info_hash` unless one is under way, connected or resting;
    /// the guard marks it resting when dropped.
    pub(super) fn begin_dial(&self, info_hash: InfoHashV1, addr: SocketAddr) -> Option<DialGuard> {
        let now = Instant::now();
        let mut dials = lock(&self.dials);
        if dials.len() >= MAX_DIAL_RECORDS {
            dials.retain(|_, state| !matches!(state, DialState::Resting(until) if *until <= now));
        }
        match dials.get(&(info_hash, addr)) {
            Some(DialState::Busy) => return None,
            Some(DialState::Resting(until)) if *until > now => return None,
            Some(DialState::Resting(_)) => {}
            None if dials.len() >= MAX_DIAL_RECORDS => return None,
            None => {}
        }
        dials.insert((info_hash, addr), DialState::Busy);
        Some(DialGuard {
            dials: Arc::clone(&self.dials),
            key: (info_hash, addr),
            rest: self.config.redial_after,
            connected: false,
        })
    }

    /// Forgets every dial record of `info_hash` (the torrent is no longer seeded).
    pub(super) fn forget_dials(&self, info_hash: &InfoHashV1) {
        lock(&self.dials).retain(|(hash, _), _| hash != info_hash);
    }

    pub(super) fn stats(&self) -> SeederStats {
        let c = &self.counters;
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        SeederStats {
            torrents: self.state().torrents.len(),
            active_torrents: c.active.load(Ordering::Relaxed),
            peers: c.peers.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
            half_open: lock(&self.admission).half_open(),
            uploaded: get(&c.uploaded),
            blocks_served: get(&c.blocks_served),
            read_errors: get(&c.read_errors),
            refused: get(&c.refused),
            unknown_torrent: get(&c.unknown_torrent),
            refusals: Refusals {
                per_ip: get(&c.per_ip),
                per_subnet: get(&c.per_subnet),
                half_open_full: get(&c.half_open_full),
                half_open_evicted: get(&c.half_open_evicted),
                handshake_timeout: get(&c.handshake_timeout),
            },
            dials: get(&c.dials),
            dial_failures: get(&c.dial_failures),
            dials_skipped: get(&c.dials_skipped),
            slow_readers: get(&c.slow_readers),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One open socket (accepted, being dialled, or a peer), counted against `max_connections`
/// from the moment it exists until it is dropped.
pub(super) struct Slot {
    counters: Arc<Counters>,
    peer: bool,
    /// An incoming socket's entry in the admission table, released with the slot.
    ticket: Option<Ticket>,
}

impl Slot {
    /// A slot, or `None` (counted as refused) when `max_connections` are open.
    pub(super) fn take(counters: &Arc<Counters>) -> Option<Slot> {
        let taken = counters
            .connections
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < counters.max_connections).then_some(n + 1)
            });
        match taken {
            Ok(_) => Some(Slot {
                counters: Arc::clone(counters),
                peer: false,
                ticket: None,
            }),
            Err(_) => {
                Counters::add(&counters.refused, 1);
                None
            }
        }
    }

    /// Keeps an incoming socket's admission entry for as long as the slot.
    pub(super) fn admitted(&mut self, ticket: Ticket) {
        self.ticket = Some(ticket);
    }

    /// The socket sent its handshake: no longer half-open. False if it was evicted meanwhile.
    pub(super) fn established(&mut self) -> bool {
        self.ticket.as_ref().is_none_or(Ticket::established)
    }

    /// The socket is now a peer of a torrent's engine: counted among the connected peers.
    pub(super) fn make_peer(&mut self) {
        if !self.peer {
            self.peer = true;
            self.counters.peers.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counters.connections.fetch_sub(1, Ordering::Relaxed);
        if self.peer {
            self.counters.peers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// An incoming socket's entry in the admission table, released when dropped.
pub(super) struct Ticket {
    table: Arc<Mutex<AdmissionTable>>,
    id: u64,
}

impl Ticket {
    fn established(&self) -> bool {
        lock(&self.table).established(self.id)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let waker = lock(&self.table).release(self.id);
        drop(waker);
    }
}

/// An incoming connection's peer id, registered while the connection lasts.
pub(super) struct IncomingGuard {
    incoming: Arc<Mutex<HashMap<(InfoHashV1, PeerId), u32>>>,
    key: (InfoHashV1, PeerId),
}

impl Drop for IncomingGuard {
    fn drop(&mut self) {
        let mut incoming = lock(&self.incoming);
        if let Some(count) = incoming.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                incoming.remove(&self.key);
            }
        }
    }
}

/// A (torrent, address) being dialled or connected after a dial. When dropped after a failed
/// dial, the address rests for `redial_after`; when dropped after a connection that was made,
/// the record goes, so the peer's next announce dials it again at once: Transmission 3.00
/// closes every connection when a magnet link's metadata arrives, then announces again and
/// waits to be dialled, and a rest then would leave it without a peer for a whole interval.
/// Dials follow announces, so without a rest they still come no faster than the tracker's
/// rate limit lets a client announce.
pub(super) struct DialGuard {
    dials: Arc<Mutex<HashMap<(InfoHashV1, SocketAddr), DialState>>>,
    key: (InfoHashV1, SocketAddr),
    rest: Duration,
    connected: bool,
}

impl DialGuard {
    /// The dial succeeded: no rest when the connection ends.
    pub(super) fn connected(&mut self) {
        self.connected = true;
    }
}

impl Drop for DialGuard {
    fn drop(&mut self) {
        let mut dials = lock(&self.dials);
        // Only a record this guard made busy: `remove` may have dropped it meanwhile.
        if dials.get(&self.key) == Some(&DialState::Busy) {
            if self.connected {
                dials.remove(&self.key);
            } else {
                dials.insert(self.key, DialState::Resting(Instant::now() + self.rest));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use swarmgate_core::PeerId;

    use super::*;

    fn shared(max_connections: usize, redial_after: Duration) -> Shared {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut config = SeederConfig::new(PeerId::swarmgate(*b"shared-test1"));
        config.max_connections = max_connections;
        config.redial_after = redial_after;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 6881));
        let shared = Shared::new(config, addr, runtime.handle().clone());
        drop(runtime);
        shared
    }

    #[test]
    fn slots_stop_at_the_cap_count_refusals_and_come_back_when_dropped() {
        let shared = shared(2, Duration::from_secs(30));
        let c = &shared.counters;
        let mut first = Slot::take(c).unwrap();
        let second = Slot::take(c).unwrap();
        assert!(Slot::take(c).is_none());
        assert_eq!(c.refused.load(Ordering::Relaxed), 1);
        first.make_peer();
        first.make_peer();
        assert_eq!(c.peers.load(Ordering::Relaxed), 1);
        drop(first);
        assert_eq!(c.peers.load(Ordering::Relaxed), 0);
        assert!(Slot::take(c).is_some(), "a slot came back");
        drop(second);
        assert_eq!(c.connections.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_dial_is_not_repeated_while_busy_nor_while_resting() {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 51413));
        let hash = InfoHashV1([3; 20]);
        let shared = shared(8, Duration::from_secs(30));
        let guard = shared.begin_dial(hash, addr).unwrap();
        assert!(shared.begin_dial(hash, addr).is_none(), "busy");
        assert!(
            shared.begin_dial(InfoHashV1([4; 20]), addr).is_some(),
            "another torrent is another record"
        );
        drop(guard);
        assert!(shared.begin_dial(hash, addr).is_none(), "resting 30 s");
        shared.forget_dials(&hash);
        assert!(shared.begin_dial(hash, addr).is_some(), "forgotten");

        let quick = self::shared(8, Duration::ZERO);
        drop(quick.begin_dial(hash, addr).unwrap());
        assert!(quick.begin_dial(hash, addr).is_some(), "the rest is over");

        // A dial that connected does not rest once its connection ends: the peer's next
        // announce is dialled at once (Transmission reconnects no other way after a magnet).
        let other = SocketAddr::from((Ipv4Addr::LOCALHOST, 51414));
        let mut made = shared.begin_dial(hash, other).unwrap();
        made.connected();
        assert!(
            shared.begin_dial(hash, other).is_none(),
            "busy while connected"
        );
        drop(made);
        assert!(
            shared.begin_dial(hash, other).is_some(),
            "no rest after a connection"
        );
    }
}
