//! BEP 3 session settings: what a [`PeerSession`](crate::PeerSession) needs to know up front.

use std::time::Duration;

use bytes::Bytes;
use swarmgate_core::{Geometry, InfoHashV1, PeerId};

use crate::handshake::Reserved;

/// Who opened the connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// We dialled: our handshake goes out at once.
    Initiator,
    /// They dialled: we wait for their handshake, check the info-hash, then answer.
    Responder,
}

/// The settings of one peer session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The torrent, as it appears on the wire.
    pub info_hash: InfoHashV1,
    /// Our peer id.
    pub peer_id: PeerId,
    /// The extension bits we send.
    pub reserved: Reserved,
    /// The piece geometry; `None` while the metadata is unknown (magnet): bitfields and haves
    /// are then tolerated and ignored, and requests refused.
    pub geometry: Option<Geometry>,
    /// The info dictionary, served to `ut_metadata` requests; `None` rejects them.
    pub metadata: Option<Bytes>,
    /// Our client name (`v` in the extended handshake).
    pub client: String,
    /// Our listen port (`p` in the extended handshake).
    pub listen_port: Option<u16>,
    /// How many requests from the peer we queue (`reqq`); more is a protocol violation.
    pub reqq: u32,
    /// A keep-alive goes out after this long without sending anything.
    pub keepalive_interval: Duration,
    /// The session fails after this long without receiving anything.
    pub idle_timeout: Duration,
    /// Our outstanding requests are handed back after this long without a block.
    pub request_timeout: Duration,
    /// The session fails if the handshakes take longer than this.
    pub handshake_timeout: Duration,
}

impl SessionConfig {
    /// Defaults: [`Reserved::SWARMGATE`], no geometry or metadata, client `"Swarmgate
    /// <version>"`, reqq 500, keep-alive 90 s, idle 180 s, request 30 s, handshake 20 s.
    pub fn new(info_hash: InfoHashV1, peer_id: PeerId) -> Self {
        SessionConfig {
            info_hash,
            peer_id,
            reserved: Reserved::SWARMGATE,
            geometry: None,
            metadata: None,
            client: concat!("Swarmgate ", env!("CARGO_PKG_VERSION")).to_owned(),
            listen_port: None,
            reqq: 500,
            keepalive_interval: Duration::from_secs(90),
            idle_timeout: Duration::from_secs(180),
            request_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(20),
        }
    }
}
