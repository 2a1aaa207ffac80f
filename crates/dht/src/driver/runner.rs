//! The task that drives one node: reads the socket, runs the node's timers, answers the
//! handle's commands, sends what the node wants sent, and hands its events to their owners.
//!
//! One step of the loop waits for the first of: a command, a datagram, the resolved bootstrap
//! names, or the earliest deadline (the node's timeout, the next save, the next kept
//! announce). Then it sends every datagram the node queued, routes every event, and publishes
//! the figures for the handle. Datagrams are read in batches (up to [`BATCH`] without waiting)
//! so a busy node pays for the bookkeeping once per batch, not per datagram.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::announcer::Announcer;
use super::stream::{LookupReport, Update};
use super::{Command, DhtConfig, DriverStats, View, state_file};
use crate::node::{LookupId, Node, NodeEvent};

/// Datagrams read in one step, at most.
const BATCH: usize = 64;
/// The receive buffer: larger than any KRPC datagram (a longer one arrives cut and is dropped
/// as malformed).
const RECEIVE_BUFFER: usize = 4096;
/// How long one bootstrap name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait after a socket error before reading again (no busy loop on a broken
/// socket).
const ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Who waits for a lookup's events.
enum Owner {
    /// A [`PeerStream`](super::PeerStream).
    Stream {
        updates: mpsc::UnboundedSender<Update>,
        asked: Instant,
    },
    /// The schedule of kept announces.
    Kept,
}

pub(super) struct Runner {
    node: Node,
    socket: UdpSocket,
    config: DhtConfig,
    commands: mpsc::UnboundedReceiver<Command>,
    view: Arc<Mutex<View>>,
    owners: HashMap<LookupId, Owner>,
    announcer: Announcer,
    driver: DriverStats,
    next_save: Instant,
    resolving: Option<JoinHandle<(Vec<SocketAddr>, u64)>>,
}

impl Runner {
    pub(super) fn new(
        node: Node,
        socket: UdpSocket,
        config: DhtConfig,
        seed: u64,
        commands: mpsc::UnboundedReceiver<Command>,
        view: Arc<Mutex<View>>,
    ) -> Runner {
        let announcer = Announcer::new(
            config.reannounce_every,
            config.max_announcing,
            seed.rotate_left(17),
        );
        Runner {
            node,
            socket,
            next_save: Instant::now() + config.save_every,
            config,
            commands,
            view,
            owners: HashMap::new(),
            announcer,
            driver: DriverStats::default(),
            resolving: None,
        }
    }

    pub(super) async fn run(mut self) {
        let family_v4 = self.socket.local_addr().map_or(true, |a| a.is_ipv4());
        if !self.config.bootstrap.is_empty() {
            let names = self.config.bootstrap.clone();
            self.resolving = Some(tokio::spawn(resolve(names, family_v4)));
        }
        let mut buffer = vec![0u8; RECEIVE_BUFFER];
        let stopped = loop {
            let deadline = self.deadline();
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => break None,
                    Some(Command::Shutdown(done)) => break Some(done),
                    Some(command) => self.command(command),
                },
                received = self.socket.recv_from(&mut buffer) => {
                    self.received(received, &mut buffer).await;
                }
                resolved = async { self.resolving.as_mut().expect("guarded").await },
                    if self.resolving.is_some() =>
                {
                    self.resolving = None;
                    let (routers, unresolved) = resolved.unwrap_or_default();
                    self.driver.unresolved_bootstraps += unresolved;
                    self.node.bootstrap(Instant::now(), routers);
                }
                () = tokio::time::sleep_until(deadline.into()) => self.timers(),
            }
            self.flush().await;
            self.route_events();
            self.publish();
        };
        self.save();
        self.publish();
        if let Some(done) = stopped {
            let _ = done.send(());
        }
    }

    /// The earliest of the node's timeout, the next save and the next kept announce.
    fn deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        [
            self.node.poll_timeout(),
            self.config.state_file.as_ref().map(|_| self.next_save),
            self.announcer.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(far)
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Lookup {
                info_hash,
                announce,
                updates,
                asked,
            } => {
                let id = match announce {
                    Some((port, seed)) => self.node.announce(now, info_hash, port, seed),
                    None => self.node.get_peers(now, info_hash),
                };
                self.owners.insert(id, Owner::Stream { updates, asked });
            }
            Command::Keep {
                info_hash,
                port,
                seed,
            } => {
                self.announcer.keep(now, info_hash, port, seed);
                self.start_kept_announces(now);
            }
            Command::Stop(info_hash) => {
                self.announcer.stop(&info_hash);
                self.node.withdraw(&info_hash);
            }
            Command::Shutdown(_) => unreachable!("handled by the loop"),
        }
        self.driver.kept_announced = self.announcer.len() as u64;
    }

    /// One datagram (or a read error), then as many more as are ready, up to a batch.
    async fn received(&mut self, first: io::Result<(usize, SocketAddr)>, buffer: &mut [u8]) {
        let mut next = Some(first);
        let mut read = 0;
        while let Some(result) = next.take() {
            match result {
                Ok((len, from)) => {
                    self.driver.datagrams_received += 1;
                    self.node
                        .handle_datagram(Instant::now(), from, &buffer[..len]);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    self.driver.receive_failures += 1;
                    tracing::debug!(%error, "DHT socket read failed");
                    tokio::time::sleep(ERROR_PAUSE).await;
                    break;
                }
            }
            read += 1;
            if read < BATCH {
                next = Some(self.socket.try_recv_from(buffer));
            }
        }
    }

    /// The node's timers, the periodic save and the kept announces that are due.
    fn timers(&mut self) {
        let now = Instant::now();
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
        }
        if self.config.state_file.is_some() && now >= self.next_save {
            self.next_save = now + self.config.save_every;
            self.save();
        }
        self.start_kept_announces(now);
    }

    fn start_kept_announces(&mut self, now: Instant) {
        while let Some(due) = self.announcer.next_due(now) {
            let id = self.node.announce(now, due.info_hash, due.port, due.seed);
            self.owners.insert(id, Owner::Kept);
            self.driver.announces_run += 1;
        }
    }

    /// Sends every datagram the node queued. A datagram the socket refuses is counted and
    /// dropped: to the node it is a query that timed out or an answer that was lost.
    async fn flush(&mut self) {
        while let Some((to, datagram)) = self.node.poll_transmit() {
            let sent = match self.socket.try_send_to(&datagram, to) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.socket.send_to(&datagram, to).await
                }
                other => other,
            };
            if let Err(error) = sent {
                self.driver.send_failures += 1;
                tracing::trace!(%to, %error, "DHT datagram not sent");
            }
        }
    }

    /// Hands each event to whoever waits for it.
    fn route_events(&mut self) {
        while let Some(event) = self.node.poll_event() {
            match event {
                NodeEvent::Peers { id, peers, .. } => {
                    if let Some(Owner::Stream { updates, .. }) = self.owners.get(&id) {
                        let _ = updates.send(Update::Peers(peers));
                    }
                }
                NodeEvent::LookupDone {
                    id,
                    info_hash,
                    peers,
                    announced_to,
                    stats,
                    ..
                } => match self.owners.remove(&id) {
                    Some(Owner::Stream { updates, asked }) => {
                        let _ = updates.send(Update::Done(LookupReport {
                            info_hash,
                            peers,
                            announced_to,
                            stats,
                            elapsed: asked.elapsed(),
                        }));
                    }
                    Some(Owner::Kept) => {
                        self.announcer
                            .done(Instant::now(), info_hash, stats.answers);
                    }
                    None => {}
                },
                NodeEvent::IdChanged { id, external } => {
                    tracing::info!(id = %id.to_hex(), %external, "DHT node id changed to fit the external address (BEP 42)");
                }
            }
        }
    }

    fn publish(&mut self) {
        let snapshot = View {
            id: self.node.id(),
            node: self.node.stats(Instant::now()),
            driver: self.driver,
        };
        *self.view.lock().unwrap_or_else(|p| p.into_inner()) = snapshot;
    }

    fn save(&mut self) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        match state_file::save(path, &self.node.save(Instant::now())) {
            Ok(()) => self.driver.saves += 1,
            Err(error) => {
                self.driver.save_failures += 1;
                tracing::warn!(path = %path.display(), %error, "cannot save the DHT table");
            }
        }
    }
}

/// Resolves `HOST:PORT` names to addresses of the socket's family; also says how many names
/// gave none.
async fn resolve(names: Vec<String>, v4: bool) -> (Vec<SocketAddr>, u64) {
    let mut routers = Vec::new();
    let mut unresolved = 0;
    for name in names {
        if let Ok(addr) = name.parse::<SocketAddr>() {
            if addr.is_ipv4() == v4 {
                routers.push(addr);
            }
            continue;
        }
        let found =
            tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(name.as_str())).await;
        match found {
            Ok(Ok(addrs)) => {
                let before = routers.len();
                routers.extend(addrs.filter(|a| a.is_ipv4() == v4));
                if routers.len() == before {
                    unresolved += 1;
                }
            }
            Ok(Err(error)) => {
                unresolved += 1;
                tracing::warn!(router = %name, %error, "DHT bootstrap name does not resolve");
            }
            Err(_) => {
                unresolved += 1;
                tracing::warn!(router = %name, "DHT bootstrap name took too long to resolve");
            }
        }
    }
    (routers, unresolved)
}
