//! UDP tracker requests (BEP 15) answered by a [`Tracker`], independent of any socket: a
//! datagram in, a datagram (or nothing) out, and a [`UdpAnswer`] saying which.
//!
//! A connect is answered with a stateless connection id (see `connection_id`). An announce or
//! scrape with a connection id that was not issued to its source address in the last two
//! minutes is dropped without an answer: answering would let anyone reflect traffic at a
//! spoofed address, and a client that hears nothing connects again. A request with a valid id
//! that is malformed or refused gets an error packet saying why. Answers to IPv6 clients carry
//! 18-byte peers and at most 80 of them, so that the datagram fits a 1500-byte path without
//! fragments; IPv4 answers carry up to the configured cap (200 peers: 1220 bytes).
//!
//! Every answer is written by the packet codec's writers (the ones [`UdpResponse::encode`]
//! uses); an announce answer's peers go from the registry straight into the datagram after a
//! placeholder head, which `announce_head` fills once the counts are known.
//!
//! [`UdpResponse::encode`]: crate::UdpResponse::encode

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Refusal, Tracker};
use crate::announce::AnnounceRequest;
use crate::udp::{
    ANNOUNCE_HEAD_LEN, AddressFamily, CONNECT, MAX_SCRAPE_HASHES, PROTOCOL_ID, UdpRequest,
    announce_head, encode_connect, encode_error, encode_scrape,
};

/// Most peers in an answer to an IPv6 client: 20 + 80 * 18 = 1460 bytes.
const MAX_PEERS_V6: u32 = 80;

/// Length of a request's header: connection id, action, transaction id.
const REQUEST_HEADER_LEN: usize = 16;

/// What [`Tracker::handle_udp`] made of one datagram.
#[must_use = "the answer in `out` reaches the client only if the caller sends it"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpAnswer {
    /// Send `out` back to the datagram's source: a connection id, an announce or scrape
    /// answer, or an error packet saying why the request was refused.
    Send,
    /// Send nothing, for this reason (counted in [`TrackerStats`](crate::TrackerStats)).
    Drop(UdpDrop),
}

impl UdpAnswer {
    /// Whether there is a datagram to send.
    pub fn is_send(self) -> bool {
        self == UdpAnswer::Send
    }
}

/// Why a datagram gets no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UdpDrop {
    /// Not a BEP 15 request: shorter than the 16-byte request header, or a connect without
    /// the protocol id. Counted in `TrackerStats::udp_not_tracker`.
    NotTracker,
    /// An announce or scrape whose connection id was not issued to the source address in the
    /// last two minutes (expired, another address's, or forged): answering could reflect
    /// traffic at a spoofed address. Counted in `TrackerStats::udp_bad_connection_id`.
    BadConnectionId,
}

impl Tracker {
    /// Answers one datagram from `source`, writing the answer to `out` (cleared first); the
    /// returned [`UdpAnswer`] says whether to send it.
    pub fn handle_udp(
        &self,
        now: Instant,
        packet: &[u8],
        source: SocketAddr,
        out: &mut Vec<u8>,
    ) -> UdpAnswer {
        out.clear();
        if packet.len() < REQUEST_HEADER_LEN {
            return self.drop_udp(UdpDrop::NotTracker);
        }
        let word = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&packet[at..at + 4]);
            u32::from_be_bytes(w)
        };
        let mut id = [0u8; 8];
        id.copy_from_slice(&packet[..8]);
        let connection_id = u64::from_be_bytes(id);
        let (action, transaction_id) = (word(8), word(12));
        let secs = self.seconds(now);
        if action == CONNECT {
            if connection_id != PROTOCOL_ID {
                return self.drop_udp(UdpDrop::NotTracker);
            }
            encode_connect(transaction_id, self.ids.issue(&source, secs), out);
            return UdpAnswer::Send;
        }
        if !self.ids.is_valid(connection_id, &source, secs) {
            return self.drop_udp(UdpDrop::BadConnectionId);
        }
        if let Err(refusal) = self.admit(source.ip(), now) {
            encode_error(transaction_id, &refusal.to_string(), out);
            return UdpAnswer::Send;
        }
        let refusal = match UdpRequest::decode(packet) {
            Ok(UdpRequest::Announce { request, .. }) => {
                match self.udp_announce(now, request, source, transaction_id, out) {
                    Ok(()) => return UdpAnswer::Send,
                    Err(refusal) => refusal,
                }
            }
            Ok(UdpRequest::Scrape { info_hashes, .. }) => {
                if info_hashes.is_empty() || info_hashes.len() > MAX_SCRAPE_HASHES {
                    self.refuse(Refusal::TooManyHashes {
                        count: info_hashes.len(),
                        max: MAX_SCRAPE_HASHES,
                    })
                } else {
                    encode_scrape(transaction_id, &self.scrape(&info_hashes), out);
                    return UdpAnswer::Send;
                }
            }
            // A connect was answered above: the action is the same word.
            Ok(UdpRequest::Connect { .. }) => return self.drop_udp(UdpDrop::NotTracker),
            Err(e) => self.refuse(Refusal::Malformed(e)),
        };
        out.clear();
        encode_error(transaction_id, &refusal.to_string(), out);
        UdpAnswer::Send
    }

    /// Writes the answer to an announce into `out`: a placeholder head, the peers from the
    /// registry, then the head over the placeholder.
    fn udp_announce(
        &self,
        now: Instant,
        mut request: AnnounceRequest,
        source: SocketAddr,
        transaction_id: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), Refusal> {
        let family = if source.ip().to_canonical().is_ipv4() {
            AddressFamily::V4
        } else {
            AddressFamily::V6
        };
        if family == AddressFamily::V6 {
            let wanted = request.numwant.unwrap_or(self.config().numwant_default);
            request.numwant = Some(wanted.min(MAX_PEERS_V6));
        }
        out.extend_from_slice(&[0; ANNOUNCE_HEAD_LEN]);
        let announced = self.announce_admitted(now, &request, source, out)?;
        if announced.family != family {
            // A trusted `ip` of the other family: its peers do not fit this socket's entry size.
            out.truncate(ANNOUNCE_HEAD_LEN);
        }
        let head = announce_head(
            transaction_id,
            announced.interval,
            announced.incomplete,
            announced.complete,
        );
        out[..ANNOUNCE_HEAD_LEN].copy_from_slice(&head);
        Ok(())
    }

    /// Counts a dropped datagram and says so.
    fn drop_udp(&self, reason: UdpDrop) -> UdpAnswer {
        let counter = match reason {
            UdpDrop::NotTracker => &self.udp_not_tracker,
            UdpDrop::BadConnectionId => &self.udp_bad_connection_id,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        UdpAnswer::Drop(reason)
    }
}
