//! The tokio driver: one [`Node`] on one UDP socket, run by one task, behind a cheap,
//! cloneable handle ([`Dht`]).
//!
//! The task owns the node and the socket; the handle talks to it over a channel and reads a
//! snapshot of its figures, so asking for statistics never waits on the network. The task:
//! - reads the saved table at start ([`DhtConfig::state_file`]) and writes it every
//!   [`DhtConfig::save_every`] and at shutdown, so a restart keeps its id (libtorrent evicts a
//!   node whose id changes) and needs no router;
//! - resolves the bootstrap names ([`DhtConfig::bootstrap`], used only while the table is
//!   empty: the saved table comes first);
//! - runs the lookups the owner asks for as [`PeerStream`]s, and keeps announced the torrents
//!   the owner holds ([`Dht::keep_announcing`]), re-announcing every
//!   [`DhtConfig::reannounce_every`], spread out, a bounded number at once;
//! - ends when [`Dht::shutdown`] is called or every handle is dropped, saving the table.
//!
//! ```no_run
//! # async fn demo() -> Result<(), swarmgate_dht::DhtError> {
//! use swarmgate_dht::{Dht, DhtConfig};
//! let dht = Dht::bind("0.0.0.0:6881".parse().unwrap(), DhtConfig::default()).await?;
//! let info_hash = swarmgate_core::InfoHashV1([0x5a; 20]);
//! let mut peers = dht.get_peers(info_hash);
//! while let Some(found) = peers.next().await {
//!     println!("{found:?}");
//! }
//! println!("{:?}", peers.report());
//! dht.shutdown().await?;
//! # Ok(()) }
//! ```

mod announcer;
mod runner;
mod state_file;
mod stream;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swarmgate_core::InfoHashV1;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::id::NodeId;
use crate::node::{Node, NodeConfig, NodeStats};
use stream::Update;
pub use stream::{LookupReport, PeerStream};

/// The public routers most clients bootstrap from (libtorrent's, µTorrent's, Transmission's).
pub const WELL_KNOWN_ROUTERS: &[&str] = &[
    "router.bittorrent.com:6881",
    "router.utorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "dht.libtorrent.org:25401",
];

/// How a driven node starts and behaves.
#[derive(Clone, Debug)]
pub struct DhtConfig {
    /// The node itself (its `local_addr`, `ipv4` and `ipv6` are set from the socket).
    pub node: NodeConfig,
    /// Nodes to ask for the first nodes, as `HOST:PORT` (names are resolved; one that does not
    /// resolve is skipped with a warning). Asked only while the routing table is empty.
    pub bootstrap: Vec<String>,
    /// Where the routing table is saved between runs (`None`: not saved).
    pub state_file: Option<PathBuf>,
    /// How often the table is saved while running.
    pub save_every: Duration,
    /// The RNG seed (`None`: from the operating system). Tests fix it.
    pub seed: Option<u64>,
    /// How often each torrent given to [`Dht::keep_announcing`] is announced again.
    pub reannounce_every: Duration,
    /// Announces of kept torrents running at once, at most.
    pub max_announcing: usize,
}

impl Default for DhtConfig {
    /// A default node, bootstrapped from [`WELL_KNOWN_ROUTERS`], not saved, re-announcing
    /// every 15 minutes (libtorrent's `dht_announce_interval`), 8 announces at once.
    fn default() -> Self {
        DhtConfig {
            node: NodeConfig::default(),
            bootstrap: WELL_KNOWN_ROUTERS.iter().map(|r| (*r).to_owned()).collect(),
            state_file: None,
            save_every: Duration::from_secs(5 * 60),
            seed: None,
            reannounce_every: Duration::from_secs(15 * 60),
            max_announcing: 8,
        }
    }
}

/// What went wrong, by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum DhtError {
    /// The address cannot be bound (in use, not local, no permission): choose another.
    #[error("cannot bind the DHT socket on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The socket given is unusable (it has no local address).
    #[error("the DHT socket is unusable: {0}")]
    Socket(io::Error),
    /// The node's task has ended (shut down, or every handle dropped): start a new node.
    #[error("the DHT node has stopped")]
    Stopped,
}

/// The driver's own figures, beside the node's [`NodeStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DriverStats {
    /// Datagrams read from the socket.
    pub datagrams_received: u64,
    /// Datagrams the socket refused to send (unreachable address, full buffer).
    pub send_failures: u64,
    /// Errors reading the socket.
    pub receive_failures: u64,
    /// Bootstrap names that did not resolve.
    pub unresolved_bootstraps: u64,
    /// Tables saved to the state file.
    pub saves: u64,
    /// Saves that failed (the folder is not writable, the disk is full).
    pub save_failures: u64,
    /// Torrents kept announced.
    pub kept_announced: u64,
    /// Announces of kept torrents run.
    pub announces_run: u64,
}

/// The snapshot the task publishes for the handle.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    pub id: NodeId,
    pub node: NodeStats,
    pub driver: DriverStats,
}

/// What the handle asks the task.
#[derive(Debug)]
pub(crate) enum Command {
    Lookup {
        info_hash: InfoHashV1,
        announce: Option<(Option<u16>, bool)>,
        updates: mpsc::UnboundedSender<Update>,
        asked: Instant,
    },
    Keep {
        info_hash: InfoHashV1,
        port: Option<u16>,
        seed: bool,
    },
    Stop(InfoHashV1),
    Shutdown(oneshot::Sender<()>),
}

/// A running DHT node; cheap to clone, every clone the same node. See the module docs.
#[derive(Clone)]
pub struct Dht {
    shared: Arc<Shared>,
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    local_addr: SocketAddr,
    view: Arc<Mutex<View>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Dht {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dht")
            .field("local_addr", &self.shared.local_addr)
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl Dht {
    /// Binds `addr` and starts a node on it (see [`Dht::start`]).
    ///
    /// # Errors
    /// [`DhtError::Bind`] if the address cannot be bound.
    pub async fn bind(addr: SocketAddr, config: DhtConfig) -> Result<Dht, DhtError> {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| DhtError::Bind { addr, source })?;
        Dht::start(socket, config)
    }

    /// Starts a node on `socket`, on the current tokio runtime: reads the saved table, starts
    /// the task, and bootstraps when the table is empty.
    ///
    /// # Errors
    /// [`DhtError::Socket`] if the socket has no local address.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(socket: UdpSocket, config: DhtConfig) -> Result<Dht, DhtError> {
        let local_addr = socket.local_addr().map_err(DhtError::Socket)?;
        let seed = config.seed.unwrap_or_else(os_seed);
        let saved = config.state_file.as_deref().and_then(state_file::load);
        let mut node_config = config.node.clone();
        node_config.local_addr = Some(local_addr);
        node_config.ipv4 = local_addr.is_ipv4();
        node_config.ipv6 = local_addr.is_ipv6();
        let now = Instant::now();
        let node = Node::new(node_config, now, seed, saved.as_ref());
        let view = Arc::new(Mutex::new(View {
            id: node.id(),
            node: node.stats(now),
            driver: DriverStats::default(),
        }));
        let (commands, receiver) = mpsc::unbounded_channel();
        let runner = runner::Runner::new(node, socket, config, seed, receiver, Arc::clone(&view));
        let task = tokio::spawn(runner.run());
        Ok(Dht {
            shared: Arc::new(Shared {
                commands,
                local_addr,
                view,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The node id now (it changes when peers agree on an external address it does not fit,
    /// BEP 42).
    pub fn id(&self) -> NodeId {
        self.view().id
    }

    /// The node's figures, as of the task's last step.
    pub fn stats(&self) -> NodeStats {
        self.view().node
    }

    /// The driver's figures, as of the task's last step.
    pub fn driver_stats(&self) -> DriverStats {
        self.view().driver
    }

    /// Looks up the peers of `info_hash`.
    pub fn get_peers(&self, info_hash: InfoHashV1) -> PeerStream {
        self.lookup(info_hash, None)
    }

    /// Looks up the peers of `info_hash` and announces our peer on `port` (`None`: the DHT
    /// socket's port, BEP 5 `implied_port`), as a seed if `seed`, to the closest nodes. Once:
    /// [`keep_announcing`](Self::keep_announcing) repeats it.
    pub fn announce(&self, info_hash: InfoHashV1, port: Option<u16>, seed: bool) -> PeerStream {
        self.lookup(info_hash, Some((port, seed)))
    }

    /// Announces `info_hash` now and every [`DhtConfig::reannounce_every`] until
    /// [`stop_announcing`](Self::stop_announcing); calling it again changes the port and seed
    /// flag. The node also answers get_peers for it with its own address.
    pub fn keep_announcing(&self, info_hash: InfoHashV1, port: Option<u16>, seed: bool) {
        self.send(Command::Keep {
            info_hash,
            port,
            seed,
        });
    }

    /// Stops announcing `info_hash`.
    pub fn stop_announcing(&self, info_hash: &InfoHashV1) {
        self.send(Command::Stop(*info_hash));
    }

    /// Stops the node: ends its lookups, saves its table, and waits for its task.
    ///
    /// # Errors
    /// None today; the `Result` is for the supervisors that run it.
    pub async fn shutdown(&self) -> Result<(), DhtError> {
        let (done, finished) = oneshot::channel();
        self.send(Command::Shutdown(done));
        let _ = finished.await;
        let task = self
            .shared
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        Ok(())
    }

    fn lookup(&self, info_hash: InfoHashV1, announce: Option<(Option<u16>, bool)>) -> PeerStream {
        let (updates, receiver) = mpsc::unbounded_channel();
        self.send(Command::Lookup {
            info_hash,
            announce,
            updates,
            asked: Instant::now(),
        });
        PeerStream::new(receiver)
    }

    /// Sends a command; if the task has ended, the command's channels close and its waiters
    /// see [`DhtError::Stopped`].
    fn send(&self, command: Command) {
        let _ = self.shared.commands.send(command);
    }

    fn view(&self) -> View {
        *self.shared.view.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A seed from the operating system, else from the clock and the process id.
fn os_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 32)
    })
}
