//! Serving a stored file over BitTorrent (BEP 3): allowed on the embedded tracker, seeded by the
//! peer listener, and the gateway's own peer announced to the tracker; and the reverse, the
//! tracker telling the seeder of leechers to dial.
//!
//! The gateway's peer is put into each swarm with [`Tracker::announce_local`] (no rate limit,
//! no round trip) and refreshed every half interval, so a leecher's first announce already
//! lists it. Some clients never dial a peer on their own host or network that a tracker hands
//! them (Transmission 3.00 ignores loopback peers), so every leecher's announce also makes the
//! seeder dial it; the seeder deduplicates those dials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use swarmgate_blobstore::ContentBlocks;
use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_session::Seeder;
use swarmgate_tracker::{AnnounceEvent, AnnounceObserver, AnnounceRequest, AnnounceSeen};

use crate::catalog::Entry;
use crate::state::Shared;

/// Puts `entry` on the tracker's allow-list, into the seeder and into its own swarm.
pub(crate) fn serve(state: &Shared, entry: &Arc<Entry>) {
    state.tracker.allow(entry.info_hash);
    let blocks = ContentBlocks::new(entry.pieces.clone(), Arc::clone(state.catalog.cache()));
    if let Err(error) = state
        .seeder
        .add(Arc::clone(&entry.torrent), Arc::new(blocks))
    {
        tracing::error!(%error, sha256 = %entry.file.sha256.to_hex(), "cannot seed");
    }
    announce_self(state, entry.info_hash, AnnounceEvent::Started);
}

/// Takes a deleted file off the tracker and out of the seeder.
pub(crate) fn unserve(state: &Shared, info_hash: &InfoHashV1) {
    announce_self(state, *info_hash, AnnounceEvent::Stopped);
    state.tracker.disallow(info_hash);
    state.seeder.remove(info_hash);
}

fn announce_self(state: &Shared, info_hash: InfoHashV1, event: AnnounceEvent) {
    let mut request = AnnounceRequest::new(info_hash, own_peer_id(), state.peer_announce.port());
    request.left = 0;
    request.event = event;
    if let Err(refusal) =
        state
            .tracker
            .announce_local(Instant::now(), &request, state.peer_announce)
    {
        tracing::warn!(%refusal, %info_hash, "the tracker refused our own announce");
    }
}

/// The gateway's peer id as its tracker records it (the seeder has its own random one).
fn own_peer_id() -> PeerId {
    PeerId::swarmgate(*b"gateway-self")
}

/// Keeps the gateway's peer in every served swarm and the tracker's expiry going, until the
/// task is dropped.
pub(crate) async fn maintain(state: Shared) {
    let refresh = state.config.announce_interval / 2;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last_refresh = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        state.tracker.maintain(now);
        state.limits.forget_idle();
        if now.duration_since(last_refresh) >= refresh {
            last_refresh = now;
            for entry in state.catalog.all() {
                announce_self(&state, entry.info_hash, AnnounceEvent::None);
            }
        }
    }
}

/// Dials every peer that announces a served torrent: leechers, and "seeders" too, since a
/// magnet client without the metadata announces `left=0` (aria2 does); a real seeder is
/// dropped as soon as both sides see the other is complete, and the seeder deduplicates. The
/// dial comes a moment after the announce and only if the peer has not dialled us meanwhile
/// (libtorrent closes both of two connections that meet head-on, then waits a minute).
#[derive(Debug)]
pub(crate) struct DialLeechers {
    /// The seeder that dials.
    pub seeder: Seeder,
}

impl AnnounceObserver for DialLeechers {
    fn announced(&self, seen: &AnnounceSeen) {
        if seen.event != AnnounceEvent::Stopped {
            self.seeder
                .connect_announced(&seen.info_hash, seen.peer, seen.peer_id);
        }
    }
}
