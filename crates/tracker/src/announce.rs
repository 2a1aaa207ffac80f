//! Announce and scrape vocabulary (BEP 3, 23): the request a client sends, the answer a tracker
//! gives, and per-torrent scrape counts.
//!
//! These types are transport-neutral: the HTTP and UDP codecs and both sides (client now, server
//! later) speak them. Durations are whole seconds on every wire.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use swarmgate_core::{InfoHashV1, PeerId};

/// The `event` of an announce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AnnounceEvent {
    /// A regular re-announce (no `event` parameter; UDP 0).
    #[default]
    None,
    /// The first announce of a download (`started`; UDP 2).
    Started,
    /// The download finished (`completed`; UDP 1). Sent once, not when starting complete.
    Completed,
    /// The client is leaving the swarm (`stopped`; UDP 3).
    Stopped,
}

impl AnnounceEvent {
    /// The HTTP `event` value, `None` for a regular announce.
    pub fn as_http(self) -> Option<&'static str> {
        match self {
            AnnounceEvent::None => None,
            AnnounceEvent::Started => Some("started"),
            AnnounceEvent::Completed => Some("completed"),
            AnnounceEvent::Stopped => Some("stopped"),
        }
    }

    /// Reads an HTTP `event` value; an empty or unknown one (BEP 21 `paused`) is a regular
    /// announce.
    pub fn from_http(value: &[u8]) -> Self {
        match value {
            b"started" => AnnounceEvent::Started,
            b"completed" => AnnounceEvent::Completed,
            b"stopped" => AnnounceEvent::Stopped,
            _ => AnnounceEvent::None,
        }
    }

    /// The BEP 15 event number.
    pub fn as_udp(self) -> u32 {
        match self {
            AnnounceEvent::None => 0,
            AnnounceEvent::Completed => 1,
            AnnounceEvent::Started => 2,
            AnnounceEvent::Stopped => 3,
        }
    }

    /// Reads a BEP 15 event number; unknown numbers are a regular announce.
    pub fn from_udp(value: u32) -> Self {
        match value {
            1 => AnnounceEvent::Completed,
            2 => AnnounceEvent::Started,
            3 => AnnounceEvent::Stopped,
            _ => AnnounceEvent::None,
        }
    }
}

/// One announce: who we are, where we listen, how far along we are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent (v1 info-hash, or a v2 hash truncated to 20 bytes).
    pub info_hash: InfoHashV1,
    /// Our peer id.
    pub peer_id: PeerId,
    /// The port our peer listener accepts on.
    pub port: u16,
    /// Bytes uploaded since the `started` event.
    pub uploaded: u64,
    /// Bytes downloaded (and verified) since the `started` event.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// Why we announce now.
    pub event: AnnounceEvent,
    /// How many peers we want; `None` leaves it to the tracker (UDP -1).
    pub numwant: Option<u32>,
    /// A per-session random value that lets the tracker recognise us across IP changes.
    pub key: u32,
    /// Ask for compact peers (BEP 23). UDP is always compact.
    pub compact: bool,
    /// The `tracker id` the tracker gave us last time, echoed back (`trackerid`).
    pub tracker_id: Option<Vec<u8>>,
    /// Our address if it is not the one the request comes from (UDP: IPv4 only).
    pub ip: Option<IpAddr>,
}

impl AnnounceRequest {
    /// A request with no progress, compact peers, no event, and the tracker's choice of numwant.
    pub fn new(info_hash: InfoHashV1, peer_id: PeerId, port: u16) -> Self {
        AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: AnnounceEvent::None,
            numwant: None,
            key: 0,
            compact: true,
            tracker_id: None,
            ip: None,
        }
    }
}

/// A tracker's answer to an announce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// How long to wait before the next regular announce.
    pub interval: Duration,
    /// The shortest wait the tracker accepts (`min interval`; HTTP only).
    pub min_interval: Option<Duration>,
    /// Seeders (`complete`; UDP `seeders`), when told.
    pub complete: Option<u32>,
    /// Leechers (`incomplete`; UDP `leechers`), when told.
    pub incomplete: Option<u32>,
    /// Completed downloads the swarm has seen (`downloaded`, which opentracker and this crate's
    /// server send; not in UDP), when told.
    pub downloaded: Option<u32>,
    /// Peers to connect to: IPv4 and IPv6 together.
    pub peers: Vec<SocketAddr>,
    /// A `warning message`: the announce worked, but show this.
    pub warning: Option<String>,
    /// A `tracker id` to send back on the next announce.
    pub tracker_id: Option<Vec<u8>>,
}

impl AnnounceResponse {
    /// An answer with this interval and nothing else.
    pub fn new(interval: Duration) -> Self {
        AnnounceResponse {
            interval,
            min_interval: None,
            complete: None,
            incomplete: None,
            downloaded: None,
            peers: Vec::new(),
            warning: None,
            tracker_id: None,
        }
    }
}

/// Scrape counts for one torrent (BEP 48; BEP 15 scrape).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScrapeStats {
    /// Seeders.
    pub complete: u32,
    /// Completed downloads ever reported (`downloaded`; UDP `completed`).
    pub downloaded: u32,
    /// Leechers.
    pub incomplete: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_numbers_and_names() {
        let all = [
            AnnounceEvent::None,
            AnnounceEvent::Started,
            AnnounceEvent::Completed,
            AnnounceEvent::Stopped,
        ];
        let udp: Vec<u32> = all.iter().map(|e| e.as_udp()).collect();
        assert_eq!(udp, [0, 2, 1, 3]);
        for e in all {
            assert_eq!(AnnounceEvent::from_udp(e.as_udp()), e);
            let http = e.as_http().unwrap_or("");
            assert_eq!(AnnounceEvent::from_http(http.as_bytes()), e);
        }
        assert_eq!(AnnounceEvent::from_http(b"paused"), AnnounceEvent::None);
        assert_eq!(AnnounceEvent::from_udp(9), AnnounceEvent::None);
    }
}
