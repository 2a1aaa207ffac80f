//! The seeder service (BEP 3, 9, 10 on the peer port): every stored file seeded over the peer
//! wire protocol from one listener, each block read from the file's verified pieces.
//!
//! The peer port's admission policy (caps per address, per /24 or /64 and on half-open
//! sockets, eviction of the oldest idle half-open socket, short handshakes under pressure)
//! lives in swarmgate-session's seeder, which owns the accept loop, so that `swarm download
//! --seed` has it too; this service only sets its limits from `[peers]` and exports its
//! refusals by reason in /metrics (`swarmgate_peer_refused_per_ip_total`, `..._per_subnet_total`,
//! `..._half_open_full_total`, `swarmgate_peer_evicted_half_open_total`,
//! `swarmgate_peer_handshake_timeouts_total`) as /api/p2p/stats has them under
//! `seeder.refusals`, and the peers dropped for not reading their socket
//! (`swarmgate_peer_slow_readers_total`, `seeder.slow_readers`).
//!
//! It observes the catalog (a published file is added to the seeder, a removed one taken out)
//! and, through [`DialLeechers`], the tracker: every peer that announces a served torrent is
//! dialled, since some clients never dial a peer on their own host or network that a tracker
//! hands them (Transmission 3.00 ignores loopback peers).

use std::sync::Arc;

use prometheus_client::registry::Registry;
use swarmgate_catalog::{CatalogObserver, Entry};
use swarmgate_core::PeerId;
use swarmgate_service::Supervisor;
use swarmgate_session::{Seeder, SeederConfig, SeederStats};
use swarmgate_tracker::{AnnounceEvent, AnnounceObserver, AnnounceSeen};
use tokio::net::TcpListener;

use super::Service;
use crate::http::metrics::Snapshot;
use crate::settings::PeerConfig;

/// The seeder; see the module docs.
#[derive(Debug)]
pub(crate) struct SeederService {
    seeder: Seeder,
}

impl SeederService {
    /// Starts seeding on `listener` with a peer id of its own.
    pub(crate) fn start(
        listener: TcpListener,
        config: &PeerConfig,
        registry: &mut Registry,
    ) -> anyhow::Result<SeederService> {
        let mut seeder_config = SeederConfig::new(PeerId::swarmgate(random_suffix()));
        seeder_config.max_connections = config.max_peers;
        seeder_config.max_connections_per_ip = config.max_peers_per_ip;
        seeder_config.max_connections_per_subnet = config.max_peers_per_subnet;
        seeder_config.max_half_open = config.max_half_open;
        seeder_config.pressure_half_open = config.max_half_open / 2;
        let seeder = Seeder::start(listener, seeder_config)?;
        let observed = seeder.clone();
        Snapshot::register(registry, "seeder", move |samples| {
            let stats = observed.stats();
            samples.counter("peer_bytes", "Bytes uploaded to peers.", stats.uploaded);
            samples.gauge(
                "peers",
                "Peers connected to the seeder.",
                stats.peers as u64,
            );
            samples.gauge(
                "peer_half_open",
                "Incoming peer connections that have not sent their handshake yet.",
                stats.half_open as u64,
            );
            samples.counter(
                "peer_refused",
                "Peer connections closed for lack of room (max_peers, peers a torrent).",
                stats.refused,
            );
            let refusals = &stats.refusals;
            for (name, help, value) in [
                (
                    "peer_refused_per_ip",
                    "Incoming peer connections refused: their address had max_peers_per_ip open.",
                    refusals.per_ip,
                ),
                (
                    "peer_refused_per_subnet",
                    "Incoming peer connections refused: their /24 or /64 had max_peers_per_subnet open.",
                    refusals.per_subnet,
                ),
                (
                    "peer_refused_half_open_full",
                    "Incoming peer connections refused: max_half_open in their handshake, none evictable.",
                    refusals.half_open_full,
                ),
                (
                    "peer_evicted_half_open",
                    "Half-open peer connections closed to make room for a newcomer.",
                    refusals.half_open_evicted,
                ),
                (
                    "peer_handshake_timeouts",
                    "Incoming peer connections closed for sending no handshake in time.",
                    refusals.handshake_timeout,
                ),
                (
                    "peer_slow_readers",
                    "Peers dropped for writing while not reading: over 4 MiB of answers waited.",
                    stats.slow_readers,
                ),
            ] {
                samples.counter(name, help, value);
            }
        });
        Ok(SeederService { seeder })
    }

    /// The figures so far.
    pub(crate) fn stats(&self) -> SeederStats {
        self.seeder.stats()
    }

    /// What the tracker tells of announcing peers, to dial them.
    pub(crate) fn dialler(&self) -> Arc<dyn AnnounceObserver> {
        Arc::new(DialLeechers {
            seeder: self.seeder.clone(),
        })
    }
}

impl Service for SeederService {
    fn name(&self) -> &'static str {
        "seeder"
    }

    fn start(&self, services: &mut Supervisor) {
        let seeder = self.seeder.clone();
        let mut shutdown = services.shutdown();
        services.spawn("seeder", async move {
            shutdown.wait().await;
            seeder.shutdown().await;
            Ok::<(), std::convert::Infallible>(())
        });
    }
}

impl CatalogObserver for SeederService {
    fn published(&self, entry: &Arc<Entry>) {
        if let Err(error) = self
            .seeder
            .add(Arc::clone(&entry.torrent), Arc::new(entry.blocks()))
        {
            tracing::error!(%error, sha256 = %entry.sha256(), "cannot seed");
        }
    }

    fn removed(&self, entry: &Arc<Entry>) {
        self.seeder.remove(&entry.info_hash);
    }
}

/// Dials every peer that announces a served torrent: leechers, and "seeders" too, since a
/// magnet client without the metadata announces `left=0` (aria2 does); a real seeder is
/// dropped as soon as both sides see the other is complete, and the seeder deduplicates. The
/// dial comes a moment after the announce and only if the peer has not dialled us meanwhile
/// (libtorrent closes both of two connections that meet head-on, then waits a minute).
#[derive(Debug)]
struct DialLeechers {
    seeder: Seeder,
}

impl AnnounceObserver for DialLeechers {
    fn announced(&self, seen: &AnnounceSeen) {
        if seen.event != AnnounceEvent::Stopped {
            self.seeder
                .connect_announced(&seen.info_hash, seen.peer, seen.peer_id);
        }
    }
}

/// Twelve random peer-id characters (the seeder's id differs per run, as clients' do).
fn random_suffix() -> [u8; 12] {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        return *b"gateway-seed";
    }
    bytes.map(|b| ALPHABET[usize::from(b) % ALPHABET.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_are_random_alphanumerics() {
        let (a, b) = (random_suffix(), random_suffix());
        assert!(a.iter().all(u8::is_ascii_alphanumeric));
        assert_ne!(a, b);
    }
}
