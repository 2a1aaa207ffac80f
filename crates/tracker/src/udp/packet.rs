//! BEP 15 packets: connect, announce, scrape and error, big-endian, in both directions.
//!
//! A datagram arrives whole, so decoders take the complete packet and return the message or a
//! [`ParseError`]; there is no "need more bytes" state as in the stream codecs. Requests carry
//! their action at byte 8 and transaction id at byte 12; responses at 0 and 4. Bytes after an
//! announce request are BEP 41 options: ignored. An announce response lists 6-byte peers when
//! the tracker was reached over IPv4 and 18-byte peers over IPv6: the decoder has to be told
//! which ([`AddressFamily`]), the packet does not say.
//!
//! The answers are written by one set of writers (`encode_connect`, `announce_head`,
//! `encode_scrape`, `encode_error`), shared by [`UdpResponse::encode`] and the tracker's
//! handler, so the codec the round-trip properties cover is the one that answers clients.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use swarmgate_core::{InfoHashV1, PeerId, compact_peers_v4, compact_peers_v6, encode_compact_peer};

use crate::announce::{AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeStats};
use crate::error::ParseError;

/// The magic constant that opens a connect request.
pub const PROTOCOL_ID: u64 = 0x41727101980;

/// Most info-hashes one scrape packet carries (BEP 15: about 74 fit a safe datagram).
pub const MAX_SCRAPE_HASHES: usize = 74;

pub(crate) const CONNECT: u32 = 0;
pub(crate) const ANNOUNCE: u32 = 1;
pub(crate) const SCRAPE: u32 = 2;
pub(crate) const ERROR: u32 = 3;

/// Length of an announce request without BEP 41 options.
const ANNOUNCE_REQUEST_LEN: usize = 98;

/// Length of an announce answer before its peers.
pub(crate) const ANNOUNCE_HEAD_LEN: usize = 20;

/// The address family of the tracker's address, which decides the size of compact peers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// IPv4: 6-byte peers.
    #[default]
    V4,
    /// IPv6: 18-byte peers.
    V6,
}

impl AddressFamily {
    /// The family of `addr`.
    pub fn of(addr: &SocketAddr) -> Self {
        if addr.is_ipv4() { Self::V4 } else { Self::V6 }
    }

    fn contains(self, addr: &SocketAddr) -> bool {
        Self::of(addr) == self
    }
}

/// A packet from client to tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpRequest {
    /// Ask for a connection id.
    Connect {
        /// Chosen by the client, echoed by the tracker.
        transaction_id: u32,
    },
    /// Announce. On the wire the request is always compact and has no tracker id; its `ip` is
    /// IPv4 only (anything else is sent as 0, "use the source address"), and `numwant` above
    /// `i32::MAX` is sent as `i32::MAX`.
    Announce {
        /// From the connect response.
        connection_id: u64,
        /// Chosen by the client, echoed by the tracker.
        transaction_id: u32,
        /// What to announce.
        request: AnnounceRequest,
    },
    /// Scrape up to [`MAX_SCRAPE_HASHES`] torrents.
    Scrape {
        /// From the connect response.
        connection_id: u64,
        /// Chosen by the client, echoed by the tracker.
        transaction_id: u32,
        /// The torrents, in the order the answer will follow.
        info_hashes: Vec<InfoHashV1>,
    },
}

/// A packet from tracker to client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpResponse {
    /// A connection id for the next requests.
    Connect {
        /// The request's transaction id.
        transaction_id: u32,
        /// Valid for about two minutes on the tracker's side.
        connection_id: u64,
    },
    /// The answer to an announce: `interval`, `complete` (seeders), `incomplete` (leechers) and
    /// peers of the tracker's address family; no minimum interval, warning or tracker id.
    Announce {
        /// The request's transaction id.
        transaction_id: u32,
        /// The answer.
        response: AnnounceResponse,
    },
    /// The answer to a scrape, one entry per requested hash, in request order.
    Scrape {
        /// The request's transaction id.
        transaction_id: u32,
        /// The counts.
        stats: Vec<ScrapeStats>,
    },
    /// The tracker refuses, in its own words.
    Error {
        /// The request's transaction id.
        transaction_id: u32,
        /// The message (trailing NULs dropped).
        message: String,
    },
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(w)
}

fn hash_at(b: &[u8], at: usize) -> [u8; 20] {
    let mut w = [0u8; 20];
    w.copy_from_slice(&b[at..at + 20]);
    w
}

fn at_least(packet: &[u8], what: &'static str, len: usize) -> Result<(), ParseError> {
    if packet.len() < len {
        return Err(ParseError::Length {
            what,
            expected: len,
            actual: packet.len(),
        });
    }
    Ok(())
}

fn whole_entries(body: &[u8], what: &'static str, entry: usize) -> Result<usize, ParseError> {
    if body.len() % entry != 0 {
        return Err(ParseError::Length {
            what,
            expected: entry,
            actual: body.len(),
        });
    }
    Ok(body.len() / entry)
}

fn clamp_u32(secs: u64) -> u32 {
    u32::try_from(secs).unwrap_or(u32::MAX)
}

fn header(action: u32, transaction_id: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&action.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
}

/// Appends a connect answer.
pub(crate) fn encode_connect(transaction_id: u32, connection_id: u64, out: &mut Vec<u8>) {
    header(CONNECT, transaction_id, out);
    out.extend_from_slice(&connection_id.to_be_bytes());
}

/// The first [`ANNOUNCE_HEAD_LEN`] bytes of an announce answer: action, transaction id,
/// interval (seconds, saturating), leechers, seeders. The compact peers of the socket's family
/// follow. [`UdpResponse::encode`] appends it before the peers; the tracker's handler writes it
/// over a placeholder once the registry has written the peers after it and given the counts.
pub(crate) fn announce_head(
    transaction_id: u32,
    interval: Duration,
    incomplete: u32,
    complete: u32,
) -> [u8; ANNOUNCE_HEAD_LEN] {
    let mut head = [0u8; ANNOUNCE_HEAD_LEN];
    head[..4].copy_from_slice(&ANNOUNCE.to_be_bytes());
    head[4..8].copy_from_slice(&transaction_id.to_be_bytes());
    head[8..12].copy_from_slice(&clamp_u32(interval.as_secs()).to_be_bytes());
    head[12..16].copy_from_slice(&incomplete.to_be_bytes());
    head[16..].copy_from_slice(&complete.to_be_bytes());
    head
}

/// Appends a scrape answer: one entry per requested torrent, in request order.
pub(crate) fn encode_scrape(transaction_id: u32, stats: &[ScrapeStats], out: &mut Vec<u8>) {
    header(SCRAPE, transaction_id, out);
    for s in stats {
        out.extend_from_slice(&s.complete.to_be_bytes());
        out.extend_from_slice(&s.downloaded.to_be_bytes());
        out.extend_from_slice(&s.incomplete.to_be_bytes());
    }
}

/// Appends an error answer carrying `message`.
pub(crate) fn encode_error(transaction_id: u32, message: &str, out: &mut Vec<u8>) {
    header(ERROR, transaction_id, out);
    out.extend_from_slice(message.as_bytes());
}

impl UdpRequest {
    /// The transaction id the answer must echo.
    pub fn transaction_id(&self) -> u32 {
        match self {
            UdpRequest::Connect { transaction_id }
            | UdpRequest::Announce { transaction_id, .. }
            | UdpRequest::Scrape { transaction_id, .. } => *transaction_id,
        }
    }

    /// Appends the packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            UdpRequest::Connect { transaction_id } => {
                out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
                out.extend_from_slice(&CONNECT.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
            }
            UdpRequest::Announce {
                connection_id,
                transaction_id,
                request: r,
            } => {
                out.reserve(ANNOUNCE_REQUEST_LEN);
                out.extend_from_slice(&connection_id.to_be_bytes());
                out.extend_from_slice(&ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(r.info_hash.as_bytes());
                out.extend_from_slice(r.peer_id.as_bytes());
                out.extend_from_slice(&r.downloaded.to_be_bytes());
                out.extend_from_slice(&r.left.to_be_bytes());
                out.extend_from_slice(&r.uploaded.to_be_bytes());
                out.extend_from_slice(&r.event.as_udp().to_be_bytes());
                let ip = match r.ip {
                    Some(IpAddr::V4(v4)) => v4.octets(),
                    _ => [0; 4],
                };
                out.extend_from_slice(&ip);
                out.extend_from_slice(&r.key.to_be_bytes());
                let numwant = r
                    .numwant
                    .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
                out.extend_from_slice(&numwant.to_be_bytes());
                out.extend_from_slice(&r.port.to_be_bytes());
            }
            UdpRequest::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                out.extend_from_slice(&connection_id.to_be_bytes());
                out.extend_from_slice(&SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for hash in info_hashes {
                    out.extend_from_slice(hash.as_bytes());
                }
            }
        }
    }

    /// Reads a packet a client sent (the tracker server's side).
    pub fn decode(packet: &[u8]) -> Result<Self, ParseError> {
        at_least(packet, "UDP request header", 16)?;
        let connection_id = u64_at(packet, 0);
        let transaction_id = u32_at(packet, 12);
        match u32_at(packet, 8) {
            CONNECT if connection_id != PROTOCOL_ID => Err(ParseError::ProtocolId {
                found: connection_id,
            }),
            CONNECT => Ok(UdpRequest::Connect { transaction_id }),
            ANNOUNCE => {
                at_least(packet, "UDP announce request", ANNOUNCE_REQUEST_LEN)?;
                let ip = Ipv4Addr::from(u32_at(packet, 84));
                let numwant = u32_at(packet, 92) as i32;
                let request = AnnounceRequest {
                    info_hash: InfoHashV1(hash_at(packet, 16)),
                    peer_id: PeerId(hash_at(packet, 36)),
                    downloaded: u64_at(packet, 56),
                    left: u64_at(packet, 64),
                    uploaded: u64_at(packet, 72),
                    event: AnnounceEvent::from_udp(u32_at(packet, 80)),
                    ip: (!ip.is_unspecified()).then_some(IpAddr::V4(ip)),
                    key: u32_at(packet, 88),
                    numwant: u32::try_from(numwant).ok(),
                    port: u16::from_be_bytes([packet[96], packet[97]]),
                    compact: true,
                    tracker_id: None,
                };
                Ok(UdpRequest::Announce {
                    connection_id,
                    transaction_id,
                    request,
                })
            }
            SCRAPE => {
                let body = &packet[16..];
                whole_entries(body, "UDP scrape request info-hashes", 20)?;
                let info_hashes = body
                    .chunks_exact(20)
                    .map(|h| InfoHashV1(hash_at(h, 0)))
                    .collect();
                Ok(UdpRequest::Scrape {
                    connection_id,
                    transaction_id,
                    info_hashes,
                })
            }
            action => Err(ParseError::UnknownAction { action }),
        }
    }
}

impl UdpResponse {
    /// The transaction id this answer echoes.
    pub fn transaction_id(&self) -> u32 {
        match self {
            UdpResponse::Connect { transaction_id, .. }
            | UdpResponse::Announce { transaction_id, .. }
            | UdpResponse::Scrape { transaction_id, .. }
            | UdpResponse::Error { transaction_id, .. } => *transaction_id,
        }
    }

    /// Appends the packet to `out`. An announce answer carries only the peers of `family` (the
    /// family of the socket it goes out on); absent counts are sent as 0.
    pub fn encode(&self, family: AddressFamily, out: &mut Vec<u8>) {
        match self {
            UdpResponse::Connect {
                transaction_id,
                connection_id,
            } => encode_connect(*transaction_id, *connection_id, out),
            UdpResponse::Announce {
                transaction_id,
                response: r,
            } => {
                let (incomplete, complete) = (r.incomplete.unwrap_or(0), r.complete.unwrap_or(0));
                out.extend_from_slice(&announce_head(
                    *transaction_id,
                    r.interval,
                    incomplete,
                    complete,
                ));
                for peer in r.peers.iter().filter(|p| family.contains(p)) {
                    encode_compact_peer(*peer, out);
                }
            }
            UdpResponse::Scrape {
                transaction_id,
                stats,
            } => encode_scrape(*transaction_id, stats, out),
            UdpResponse::Error {
                transaction_id,
                message,
            } => encode_error(*transaction_id, message, out),
        }
    }

    /// Reads the action and transaction id without decoding the rest, or `None` if the packet
    /// is shorter than a response header.
    pub fn peek(packet: &[u8]) -> Option<(u32, u32)> {
        (packet.len() >= 8).then(|| (u32_at(packet, 0), u32_at(packet, 4)))
    }

    /// Reads a packet a tracker sent, whose peers are of `family`.
    pub fn decode(packet: &[u8], family: AddressFamily) -> Result<Self, ParseError> {
        let (action, transaction_id) = Self::peek(packet).ok_or(ParseError::Length {
            what: "UDP response header",
            expected: 8,
            actual: packet.len(),
        })?;
        match action {
            CONNECT => {
                at_least(packet, "UDP connect response", 16)?;
                Ok(UdpResponse::Connect {
                    transaction_id,
                    connection_id: u64_at(packet, 8),
                })
            }
            ANNOUNCE => {
                at_least(packet, "UDP announce response", ANNOUNCE_HEAD_LEN)?;
                let mut response =
                    AnnounceResponse::new(Duration::from_secs(u64::from(u32_at(packet, 8))));
                response.incomplete = Some(u32_at(packet, 12));
                response.complete = Some(u32_at(packet, 16));
                let peers = &packet[ANNOUNCE_HEAD_LEN..];
                response.peers = match family {
                    AddressFamily::V4 => compact_peers_v4(peers)?.collect(),
                    AddressFamily::V6 => compact_peers_v6(peers)?.collect(),
                };
                Ok(UdpResponse::Announce {
                    transaction_id,
                    response,
                })
            }
            SCRAPE => {
                let body = &packet[8..];
                whole_entries(body, "UDP scrape response entries", 12)?;
                let stats = body
                    .chunks_exact(12)
                    .map(|s| ScrapeStats {
                        complete: u32_at(s, 0),
                        downloaded: u32_at(s, 4),
                        incomplete: u32_at(s, 8),
                    })
                    .collect();
                Ok(UdpResponse::Scrape {
                    transaction_id,
                    stats,
                })
            }
            ERROR => {
                let text = String::from_utf8_lossy(&packet[8..]);
                Ok(UdpResponse::Error {
                    transaction_id,
                    message: text.trim_end_matches('\0').to_owned(),
                })
            }
            action => Err(ParseError::UnknownAction { action }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_unknown_packets_are_errors() {
        assert!(matches!(
            UdpRequest::decode(&[0; 15]),
            Err(ParseError::Length { actual: 15, .. })
        ));
        let mut p = Vec::new();
        UdpRequest::Connect { transaction_id: 1 }.encode(&mut p);
        p[0] = 9;
        assert!(matches!(
            UdpRequest::decode(&p),
            Err(ParseError::ProtocolId { .. })
        ));
        p[8..12].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(
            UdpRequest::decode(&p),
            Err(ParseError::UnknownAction { action: 7 })
        );
        assert_eq!(
            UdpResponse::decode(&[0, 0, 0, 4, 0, 0, 0, 0], AddressFamily::V4),
            Err(ParseError::UnknownAction { action: 4 })
        );
        assert_eq!(UdpResponse::peek(&[0; 7]), None);
    }

    #[test]
    fn ragged_peer_lists_are_errors_in_the_tracker_family() {
        let mut p = vec![0, 0, 0, 1, 0, 0, 0, 5];
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(&[0; 18]);
        // 18 bytes are three IPv4 peers or one IPv6 peer.
        let v4 = UdpResponse::decode(&p, AddressFamily::V4).unwrap();
        let v6 = UdpResponse::decode(&p, AddressFamily::V6).unwrap();
        let count = |r: UdpResponse| match r {
            UdpResponse::Announce { response, .. } => response.peers.len(),
            _ => 0,
        };
        assert_eq!((count(v4), count(v6)), (3, 1));
        p.push(0);
        assert!(UdpResponse::decode(&p, AddressFamily::V4).is_err());
    }
}
