//! Simulated UDP (no BEP): hosts that send each other datagrams in virtual time, with per-host
//! latency, loss, silent hosts and churn, and a wake-up timer per host.
//!
//! [`SimNet`](crate::SimNet) models TCP: ordered pipes through rate-limited links. A datagram
//! protocol (the DHT's KRPC, the UDP tracker) needs none of that, but it needs thousands of
//! hosts, some of which never answer and some of which come and go; this is that network.
//! It knows nothing of any protocol: payloads are bytes.
//!
//! The model is documented on [`SimUdp`].

use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::events::Scheduled;
use crate::net::{MAX_OFFSET, SIM_PORT};
use crate::rng::SimRng;

mod types;

pub use types::{
    Datagram, HostConfig, HostId, HostState, HostStats, UdpConfig, UdpError, UdpEvent, UdpStats,
};

/// Separates the loss and jitter stream from the test's stream drawn from the same seed.
const NETWORK_STREAM: u64 = 0xbb67_ae85_84ca_a73b;

struct Host {
    addr: SocketAddr,
    config: HostConfig,
    state: HostState,
    /// The wake-up in force, as an offset from the epoch.
    wake: Option<Duration>,
    stats: HostStats,
}

enum Pending {
    Arrive {
        to: SocketAddr,
        from: SocketAddr,
        payload: Vec<u8>,
    },
    Wake {
        host: HostId,
    },
}

/// A deterministic in-memory datagram network on a virtual clock.
///
/// # The model
///
/// - **Hosts.** Each host has one address (given, or a fresh `10.x.y.z:6881`) and a one-way
///   [`HostConfig::latency`] added to every datagram it sends, so a round trip between `a` and
///   `b` takes `latency(a) + latency(b)` (plus jitter). An address belongs to one host at a
///   time; a killed host's address may be taken by a new one.
/// - **Datagrams.** [`SimUdp::send`] never fails for the receiver's sake, as a real socket
///   does not: a datagram is lost with probability [`UdpConfig::loss`], delayed by the sender's
///   latency and up to [`UdpConfig::jitter`] more (so datagrams may overtake each other), and
///   handed to whichever host holds the address when it arrives. Nobody there, or a killed
///   host: it vanishes. A silent host ([`SimUdp::set_silent`]) receives and drops everything
///   (a firewall, a node that hung), while it may still send. Every fate is counted
///   ([`UdpStats`], [`HostStats`]).
/// - **Churn.** [`SimUdp::kill`] removes a host for good: it can send nothing more, nothing
///   reaches it and its wake-up is cancelled; datagrams it sent before are already on the wire
///   and still arrive. [`SimUdp::add_host_at`] brings new hosts in at any time.
/// - **Timers.** Each host has at most one wake-up ([`SimUdp::set_wake`]), reported as
///   [`UdpEvent::Wake`]; setting it again replaces it. A sans-IO machine's `poll_timeout` maps
///   onto it directly, so thousands of machines need no timer scan of their own.
///
/// **Determinism.** Arrivals and wake-ups share one heap ordered by (virtual time, sequence
/// number): simultaneous events come out in the order they were scheduled. Loss and jitter are
/// drawn from a stream of the seed that the test's own draws ([`SimUdp::rng`]) do not move.
/// Nothing depends on hashing order, wall time or threads, so the same calls with the same seed
/// give the same events.
///
/// ```
/// use std::time::Duration;
/// use swarmgate_testkit::{HostConfig, SimUdp, UdpEvent};
///
/// let mut net = SimUdp::new(7);
/// let a = net.add_host(HostConfig::with_latency(Duration::from_millis(30)));
/// let b = net.add_host(HostConfig::with_latency(Duration::from_millis(70)));
/// let b_addr = net.addr(b).expect("b exists");
/// net.send(a, b_addr, b"ping".to_vec())?;
/// let deadline = net.now() + Duration::from_secs(1);
/// let Some(UdpEvent::Datagram(ping)) = net.next_event(deadline) else { panic!("no ping") };
/// assert_eq!((ping.to, ping.payload.as_slice()), (b, &b"ping"[..]));
/// net.send(b, ping.from, b"pong".to_vec())?;
/// let Some(UdpEvent::Datagram(pong)) = net.next_event(deadline) else { panic!("no pong") };
/// assert_eq!(pong.to, a);
/// assert_eq!(net.elapsed(), Duration::from_millis(100)); // 30 ms there, 70 ms back
/// # Ok::<(), swarmgate_testkit::UdpError>(())
/// ```
pub struct SimUdp {
    epoch: Instant,
    now: Duration,
    config: UdpConfig,
    /// The test's own choices.
    rng: SimRng,
    /// Loss and jitter; separate from `rng` so a test's own draws do not change the network.
    network_rng: SimRng,
    hosts: Vec<Host>,
    /// The host holding each address (live or silent; a killed host gives its address up).
    by_addr: HashMap<SocketAddr, HostId>,
    /// Addresses handed out by `add_host` so far.
    next_auto: u32,
    queue: BinaryHeap<Scheduled<Pending>>,
    seq: u64,
    stats: UdpStats,
}

impl SimUdp {
    /// An empty network with the default [`UdpConfig`] (no loss, no jitter); `seed` drives
    /// its RNGs.
    pub fn new(seed: u64) -> Self {
        Self::with_config(seed, UdpConfig::default())
    }

    /// An empty network with `config`.
    pub fn with_config(seed: u64, config: UdpConfig) -> Self {
        Self {
            epoch: Instant::now(),
            now: Duration::ZERO,
            config,
            rng: SimRng::new(seed),
            network_rng: SimRng::new(seed ^ NETWORK_STREAM),
            hosts: Vec::new(),
            by_addr: HashMap::new(),
            next_auto: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            stats: UdpStats::default(),
        }
    }

    /// The seeded RNG, for the test's own choices (who is silent, who joins when...).
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// The instant virtual time started from, taken once by the constructor.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The current virtual time: `epoch() + elapsed()`.
    pub fn now(&self) -> Instant {
        self.epoch + self.now
    }

    /// Virtual time elapsed since the epoch.
    pub fn elapsed(&self) -> Duration {
        self.now
    }

    /// Datagram counters, network-wide.
    pub fn stats(&self) -> UdpStats {
        self.stats
    }

    /// Hosts ever added, killed ones included.
    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }

    /// Adds a host at the next free address `10.x.y.z:6881` (counting from 10.0.0.1).
    ///
    /// # Panics
    ///
    /// When the 16,777,214 addresses of 10.0.0.0/8 are all taken.
    pub fn add_host(&mut self, config: HostConfig) -> HostId {
        loop {
            self.next_auto += 1;
            let n = self.next_auto;
            assert!(n < 1 << 24, "SimUdp hands out at most 2^24 - 2 addresses");
            let ip = Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8);
            let addr = SocketAddr::V4(SocketAddrV4::new(ip, SIM_PORT));
            if let Ok(host) = self.add_host_at(addr, config) {
                return host;
            }
        }
    }

    /// Adds a host at `addr`, which no live or silent host may hold.
    pub fn add_host_at(
        &mut self,
        addr: SocketAddr,
        config: HostConfig,
    ) -> Result<HostId, UdpError> {
        if let Some(&holder) = self.by_addr.get(&addr) {
            return Err(UdpError::AddrInUse { addr, holder });
        }
        let id = HostId(u32::try_from(self.hosts.len()).expect("fewer than 2^32 hosts"));
        self.hosts.push(Host {
            addr,
            config,
            state: HostState::Alive,
            wake: None,
            stats: HostStats::default(),
        });
        self.by_addr.insert(addr, id);
        Ok(id)
    }

    /// The host's address.
    pub fn addr(&self, host: HostId) -> Result<SocketAddr, UdpError> {
        Ok(self.host(host)?.addr)
    }

    /// The live or silent host holding `addr`, if any.
    pub fn host_at(&self, addr: SocketAddr) -> Option<HostId> {
        self.by_addr.get(&addr).copied()
    }

    /// Whether the host is alive, silent or killed.
    pub fn state(&self, host: HostId) -> Result<HostState, UdpError> {
        Ok(self.host(host)?.state)
    }

    /// The host's counters.
    pub fn host_stats(&self, host: HostId) -> Result<HostStats, UdpError> {
        Ok(self.host(host)?.stats)
    }

    /// Changes the host's latency, for datagrams it sends from now on.
    pub fn set_config(&mut self, host: HostId, config: HostConfig) -> Result<(), UdpError> {
        self.live_host_mut(host)?.config = config;
        Ok(())
    }

    /// Makes the host drop everything it receives (`true`), or receive again (`false`).
    pub fn set_silent(&mut self, host: HostId, silent: bool) -> Result<(), UdpError> {
        let host = self.live_host_mut(host)?;
        host.state = match silent {
            true => HostState::Silent,
            false => HostState::Alive,
        };
        Ok(())
    }

    /// Removes the host for good: nothing more reaches it, it can send nothing, its wake-up
    /// is cancelled and its address is free. Datagrams it sent before still arrive.
    pub fn kill(&mut self, host: HostId) -> Result<(), UdpError> {
        let entry = self.live_host_mut(host)?;
        entry.state = HostState::Killed;
        entry.wake = None;
        let addr = entry.addr;
        self.by_addr.remove(&addr);
        Ok(())
    }

    /// Sends `payload` from `from` to `to`: it arrives after the sender's latency (plus
    /// jitter) unless it is lost; see the module docs for where it may vanish.
    pub fn send(&mut self, from: HostId, to: SocketAddr, payload: Vec<u8>) -> Result<(), UdpError> {
        let sender = self.live_host_mut(from)?;
        sender.stats.sent += 1;
        sender.stats.bytes_sent += payload.len() as u64;
        let (source, latency) = (sender.addr, sender.config.latency);
        self.stats.sent += 1;
        if self.config.loss > 0.0 && self.network_rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return Ok(());
        }
        let jitter = self.draw_jitter();
        let at = self.now.saturating_add(latency).saturating_add(jitter);
        self.schedule(
            at,
            Pending::Arrive {
                to,
                from: source,
                payload,
            },
        );
        Ok(())
    }

    /// Wakes the host at `at` (at once if it is past), replacing any wake-up it had; `None`
    /// cancels it. A machine's `poll_timeout` goes here after every call into it.
    pub fn set_wake(&mut self, host: HostId, at: Option<Instant>) -> Result<(), UdpError> {
        let now = self.now;
        let at = at.map(|at| {
            at.saturating_duration_since(self.epoch)
                .clamp(now, MAX_OFFSET)
        });
        let entry = self.live_host_mut(host)?;
        if entry.wake == at {
            return Ok(());
        }
        entry.wake = at;
        if let Some(at) = at {
            self.schedule(at, Pending::Wake { host });
        }
        Ok(())
    }

    /// When the next arrival or wake-up is scheduled (it may turn out to be a datagram that
    /// vanishes, or a wake-up that was replaced).
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.peek().map(|s| self.epoch + s.at)
    }

    /// Moves the clock to the next event due at or before `deadline` and returns it; `None`
    /// when there is none, with the clock moved to `deadline` (never backwards).
    pub fn next_event(&mut self, deadline: Instant) -> Option<UdpEvent> {
        let deadline = deadline
            .saturating_duration_since(self.epoch)
            .min(MAX_OFFSET);
        while let Some(next) = self.queue.peek() {
            if next.at > deadline {
                break;
            }
            let Scheduled {
                at, event: pending, ..
            } = self.queue.pop().expect("peeked");
            self.now = self.now.max(at);
            if let Some(event) = self.happen(at, pending) {
                return Some(event);
            }
        }
        self.now = self.now.max(deadline);
        None
    }

    /// Carries out one scheduled event; `Some` when it is something to report.
    fn happen(&mut self, at: Duration, pending: Pending) -> Option<UdpEvent> {
        match pending {
            Pending::Arrive { to, from, payload } => {
                let Some(&id) = self.by_addr.get(&to) else {
                    self.stats.unroutable += 1;
                    return None;
                };
                let host = &mut self.hosts[id.index()];
                if host.state == HostState::Silent {
                    host.stats.dropped_silent += 1;
                    self.stats.dropped_silent += 1;
                    return None;
                }
                host.stats.received += 1;
                host.stats.bytes_received += payload.len() as u64;
                self.stats.delivered += 1;
                Some(UdpEvent::Datagram(Datagram {
                    to: id,
                    from,
                    payload,
                }))
            }
            Pending::Wake { host } => {
                let entry = &mut self.hosts[host.index()];
                // A replaced or cancelled wake-up left its entry in the heap: skip it.
                if entry.wake != Some(at) || entry.state == HostState::Killed {
                    return None;
                }
                entry.wake = None;
                Some(UdpEvent::Wake { host })
            }
        }
    }

    fn draw_jitter(&mut self) -> Duration {
        let max = self.config.jitter.as_nanos().min(u128::from(u64::MAX - 1)) as u64;
        match max {
            0 => Duration::ZERO,
            max => Duration::from_nanos(self.network_rng.below(max + 1)),
        }
    }

    fn schedule(&mut self, at: Duration, pending: Pending) {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Scheduled {
            at: at.min(MAX_OFFSET),
            seq,
            event: pending,
        });
    }

    fn host(&self, host: HostId) -> Result<&Host, UdpError> {
        self.hosts
            .get(host.index())
            .ok_or(UdpError::UnknownHost { host })
    }

    /// The host, unless it was killed.
    fn live_host_mut(&mut self, host: HostId) -> Result<&mut Host, UdpError> {
        let entry = self
            .hosts
            .get_mut(host.index())
            .ok_or(UdpError::UnknownHost { host })?;
        match entry.state {
            HostState::Killed => Err(UdpError::HostDown { host }),
            _ => Ok(entry),
        }
    }
}

impl fmt::Debug for SimUdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimUdp")
            .field("elapsed", &self.now)
            .field("hosts", &self.hosts.len())
            .field("pending_events", &self.queue.len())
            .field("stats", &self.stats)
            .finish()
    }
}

#[cfg(test)]
mod tests;
