//! From a magnet link to a torrent: find peers (the link's `x.pe`, `--peer`, its trackers, the
//! DHT), then fetch the info dictionary from them with BEP 9 `ut_metadata`, verified against the
//! info-hash. A link with nothing but `xt=urn:btih:` needs the DHT: its lookups repeat (paced as
//! in a download with no peer connected) until a peer delivers or the time runs out.
//!
//! A few peers are asked at once and the first verified copy wins; a peer that times out, has no
//! `ut_metadata` or sends a dictionary that does not hash to the link's info-hash is dropped and
//! the next one asked.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use swarmgate_core::{InfoHash, PeerId};
use swarmgate_metainfo::{Magnet, MetainfoError, ParseLimits, Torrent};
use swarmgate_peer::fetch_metadata;
use swarmgate_tracker::{AnnounceEvent, Announcer, AnnouncerConfig, Progress as TrackerProgress};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Peers asked for the metadata at once.
const PARALLEL: usize = 4;
/// How long one peer may take to deliver the metadata.
const PER_PEER: Duration = Duration::from_secs(20);
/// The largest info dictionary accepted (libtorrent's limit is in the same range).
const MAX_METADATA: u64 = 32 * 1024 * 1024;
/// `left` announced while the size is unknown: non-zero so the tracker counts us as a leecher.
const UNKNOWN_LEFT: u64 = 16 * 1024;

/// How to resolve a magnet link.
#[derive(Debug, Clone)]
pub struct MagnetOptions {
    /// Our peer id.
    pub peer_id: PeerId,
    /// Our listening port, for announces.
    pub port: u16,
    /// Peers to ask besides the link's own and its trackers'.
    pub peers: Vec<SocketAddr>,
    /// Ask the link's trackers for peers.
    pub use_trackers: bool,
    /// A DHT node to find peers through (the caller's; it is not shut down here).
    #[cfg(feature = "dht")]
    pub dht: Option<swarmgate_dht::Dht>,
    /// Give up after this long.
    pub timeout: Duration,
}

/// Why a magnet link could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum MagnetError {
    /// The link carries only a v2 hash; v2 metadata exchange is not supported yet.
    #[error("the magnet link has no v1 info-hash (v2-only links are not supported yet)")]
    V2Only,
    /// No peer to ask: the link has no trackers or peers, none were given, and there is no DHT.
    #[error(
        "no peers to ask for the metadata (give a tracker in the link, --peer, or use the DHT)"
    )]
    NoPeers,
    /// Every peer failed or the time ran out.
    #[error("no peer delivered valid metadata within {0:?}")]
    TimedOut(Duration),
    /// Every peer there was to ask failed (no ut_metadata, wrong data, no answer).
    #[error("all {0} peers failed to deliver valid metadata")]
    AllPeersFailed(usize),
    /// The verified info dictionary is not a valid torrent.
    #[error("the metadata is not a valid torrent: {0}")]
    Invalid(#[from] MetainfoError),
}

/// Fetches and verifies the info dictionary `magnet` names.
pub async fn resolve_magnet(
    magnet: &Magnet,
    options: &MagnetOptions,
) -> Result<Torrent, MagnetError> {
    let info_hash = match magnet.info_hash {
        InfoHash::V1(hash) | InfoHash::Hybrid(hash, _) => hash,
        InfoHash::V2(_) => return Err(MagnetError::V2Only),
    };
    let use_trackers = options.use_trackers && !magnet.trackers.is_empty();
    let mut queue: VecDeque<SocketAddr> =
        options.peers.iter().chain(&magnet.peers).copied().collect();
    #[cfg(feature = "dht")]
    let use_dht = options.dht.is_some();
    #[cfg(not(feature = "dht"))]
    let use_dht = false;
    if queue.is_empty() && !use_trackers && !use_dht {
        return Err(MagnetError::NoPeers);
    }
    let (peers_tx, mut peers_rx) = mpsc::channel::<Vec<SocketAddr>>(16);
    // Dropped on the way out, which ends the lookups.
    #[cfg(feature = "dht")]
    let _dht = options.dht.clone().map(|dht| {
        let wants = super::dht::PeerWants {
            wanted: true,
            connected: 0,
        };
        super::dht::DhtPeers::start(dht, info_hash, None, (wants, 1), peers_tx.clone(), |p| p)
    });
    let mut tracker = None;
    if use_trackers {
        let tiers = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
        let mut announcer =
            Announcer::new(tiers, AnnouncerConfig::new(options.peer_id, options.port));
        tracker = Some(tokio::spawn(async move {
            let progress = TrackerProgress {
                uploaded: 0,
                downloaded: 0,
                left: UNKNOWN_LEFT,
            };
            loop {
                if let Ok(response) = announcer
                    .announce(info_hash, AnnounceEvent::Started, progress)
                    .await
                {
                    if peers_tx.send(response.peers).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(announcer.next_announce_in().min(Duration::from_secs(15))).await;
            }
        }));
    }

    let deadline = Instant::now() + options.timeout;
    let mut asked = HashSet::new();
    let mut attempts = JoinSet::new();
    let result = loop {
        while attempts.len() < PARALLEL {
            let Some(addr) = queue.pop_front() else { break };
            if asked.insert(addr) {
                let peer_id = options.peer_id;
                attempts.spawn(async move {
                    fetch_metadata(addr, info_hash, peer_id, MAX_METADATA, PER_PEER).await
                });
            }
        }
        if attempts.is_empty() && queue.is_empty() && tracker.is_none() && !use_dht {
            break Err(MagnetError::AllPeersFailed(asked.len()));
        }
        tokio::select! {
            Some(joined) = attempts.join_next(), if !attempts.is_empty() => {
                if let Ok(Ok(info)) = joined {
                    break Torrent::from_info_bytes(&info, &ParseLimits::default()).map_err(MagnetError::from);
                }
            }
            Some(peers) = peers_rx.recv() => queue.extend(peers.into_iter().filter(|p| !asked.contains(p))),
            () = tokio::time::sleep_until(deadline) => break Err(MagnetError::TimedOut(options.timeout)),
        }
    };
    if let Some(task) = tracker {
        task.abort();
    }
    attempts.abort_all();
    result
}
