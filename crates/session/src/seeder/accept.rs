//! Peers in and out of the seeder (BEP 3 handshakes): the shared accept loop that reads each
//! incoming handshake and routes the socket by info-hash, and the dials `Seeder::connect` asks
//! for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_peer::{PeerError, read_handshake};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::shared::{Counters, DialGuard, Shared, Slot};
use super::torrent::{self, Command};

/// How long to wait after a failed accept (out of file descriptors, say) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts peers until aborted: each passes the admission table (per address, per subnet,
/// half-open) and takes a connection slot, or is closed at once and counted by reason, then
/// gets its handshake timeout (shorter under pressure) to send its handshake.
pub(super) async fn run(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let Some((ticket, timeout, evicted)) = shared.admit(addr.ip()) else {
                    continue;
                };
                let Some(mut slot) = Slot::take(&shared.counters) else {
                    continue;
                };
                slot.admitted(ticket);
                let incoming = Accepted {
                    stream,
                    addr,
                    slot,
                    timeout,
                    evicted,
                };
                let task = handshake(Arc::clone(&shared), incoming);
                let mut state = shared.state();
                if state.closed {
                    return;
                }
                state.spawn_helper(&shared.runtime, task);
            }
            Err(error) => {
                tracing::debug!(%error, "accepting a peer failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// An admitted socket, before its handshake.
struct Accepted {
    stream: TcpStream,
    addr: SocketAddr,
    slot: Slot,
    /// How long it has to send its handshake.
    timeout: Duration,
    /// Ends when the admission table evicts the socket (or once it is no longer half-open).
    evicted: oneshot::Receiver<()>,
}

/// Reads an incoming peer's handshake, then hands the socket to its torrent's task; a peer for a
/// torrent not seeded is closed, as is one evicted or timed out meanwhile.
async fn handshake(shared: Arc<Shared>, accepted: Accepted) {
    let Accepted {
        mut stream,
        addr,
        mut slot,
        timeout,
        evicted,
    } = accepted;
    let read = tokio::select! {
        read = read_handshake(&mut stream, timeout) => read,
        _ = evicted => return,
    };
    let handshake = match read {
        Ok(handshake) => handshake,
        Err(PeerError::TimedOut { .. }) => {
            return Counters::add(&shared.counters.handshake_timeout, 1);
        }
        Err(_) => return,
    };
    if !slot.established() {
        return;
    }
    let info_hash = handshake.info_hash;
    let registered = shared.register_incoming(info_hash, handshake.peer_id);
    let command = Command::Incoming {
        addr,
        handshake,
        stream,
        slot,
        registered,
    };
    if let Routed::Unknown(command) = route(&shared, info_hash, command) {
        Counters::add(&shared.counters.unknown_torrent, 1);
        drop(command);
    }
}

/// Dials `addr` for `info_hash`; an open socket goes to the torrent's task. With `announced`,
/// the dial follows that peer's announce: it waits `announce_dial_delay` first and is dropped
/// if the peer connected to us meanwhile (a client that dials the peers its tracker hands it
/// would otherwise meet our dial head-on, and libtorrent then closes both as duplicates and
/// waits a minute).
pub(super) async fn dial(
    shared: Arc<Shared>,
    info_hash: InfoHashV1,
    addr: SocketAddr,
    slot: Slot,
    mut guard: DialGuard,
    announced: Option<PeerId>,
) {
    if let Some(peer_id) = announced {
        tokio::time::sleep(shared.config.announce_dial_delay).await;
        if shared.has_incoming(info_hash, peer_id) {
            // Not a failure: no rest, the peer's next announce may dial again.
            guard.connected();
            Counters::add(&shared.counters.dials_skipped, 1);
            return;
        }
    }
    let connect = tokio::time::timeout(shared.config.connect_timeout, TcpStream::connect(addr));
    match connect.await {
        Ok(Ok(stream)) => {
            guard.connected();
            let command = Command::Dialled {
                addr,
                stream,
                slot,
                guard,
            };
            // A torrent removed meanwhile: the socket just closes.
            match route(&shared, info_hash, command) {
                Routed::Delivered | Routed::Closed => {}
                Routed::Unknown(command) => drop(command),
            }
        }
        _ => {
            // The address rests from now on, before the failure shows in the figures.
            drop((slot, guard));
            Counters::add(&shared.counters.dial_failures, 1);
        }
    }
}

/// Where [`route`] put a command.
enum Routed {
    /// With its torrent's task.
    Delivered,
    /// Nowhere: no such torrent. Given back to be dropped once the table's lock is released.
    Unknown(Command),
    /// Nowhere: the seeder is shutting down (the command was dropped).
    Closed,
}

/// Hands `command` to its torrent's task.
fn route(shared: &Arc<Shared>, info_hash: InfoHashV1, command: Command) -> Routed {
    let mut state = shared.state();
    if state.closed {
        drop(state);
        drop(command);
        return Routed::Closed;
    }
    match torrent::deliver(shared, &mut state, info_hash, command) {
        None => Routed::Delivered,
        Some(command) => Routed::Unknown(command),
    }
}
