//! UDP tracker requests (BEP 15) answered by a [`Tracker`], independent of any socket: a
//! datagram in, a datagram (or nothing) out.
//!
//! A connect is answered with a stateless connection id (see `connection_id`). An announce or
//! scrape with a connection id that was not issued to its source address in the last two
//! minutes is dropped without an answer: answering would let anyone reflect traffic at a
//! spoofed address, and a client that hears nothing connects again. A request with a valid id
//! that is malformed or refused gets an error packet saying why. Answers to IPv6 clients carry
//! 18-byte peers and at most 80 of them, so that the datagram fits a 1500-byte path without
//! fragments; IPv4 answers carry up to the configured cap (200 peers: 1220 bytes).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Refusal, Tracker};
use crate::announce::ScrapeStats;
use crate::udp::{
    ANNOUNCE, AddressFamily, CONNECT, ERROR, MAX_SCRAPE_HASHES, PROTOCOL_ID, SCRAPE, UdpRequest,
};

/// Most peers in an answer to an IPv6 client: 20 + 80 * 18 = 1460 bytes.
const MAX_PEERS_V6: u32 = 80;

fn header(out: &mut Vec<u8>, action: u32, transaction_id: u32) {
    out.extend_from_slice(&action.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
}

fn error(out: &mut Vec<u8>, transaction_id: u32, message: &str) {
    out.clear();
    header(out, ERROR, transaction_id);
    out.extend_from_slice(message.as_bytes());
}

impl Tracker {
    /// Answers one datagram from `source`, writing the answer to `out` (cleared first).
    /// Returns `false` when nothing is to be sent.
    pub fn handle_udp(
        &self,
        now: Instant,
        packet: &[u8],
        source: SocketAddr,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        if packet.len() < 16 {
            return false;
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
                return false;
            }
            header(out, CONNECT, transaction_id);
            let issued = self.ids.issue(&source, secs);
            out.extend_from_slice(&issued.to_be_bytes());
            return true;
        }
        if !self.ids.is_valid(connection_id, &source, secs) {
            return false;
        }
        if let Err(refusal) = self.admit(source.ip(), now) {
            error(out, transaction_id, &refusal.to_string());
            return true;
        }
        match UdpRequest::decode(packet) {
            Ok(UdpRequest::Announce { mut request, .. }) => {
                let family = if source.ip().to_canonical().is_ipv4() {
                    AddressFamily::V4
                } else {
                    AddressFamily::V6
                };
                if family == AddressFamily::V6 {
                    let wanted = request.numwant.unwrap_or(self.config().numwant_default);
                    request.numwant = Some(wanted.min(MAX_PEERS_V6));
                }
                header(out, ANNOUNCE, transaction_id);
                out.extend_from_slice(&[0; 12]);
                match self.announce_admitted(now, &request, source, out) {
                    Ok(announced) => {
                        if announced.family != family {
                            // A trusted `ip` of the other family: its peers do not fit
                            // this socket's entry size.
                            out.truncate(20);
                        }
                        let interval = u32::try_from(announced.interval.as_secs());
                        out[8..12].copy_from_slice(&interval.unwrap_or(u32::MAX).to_be_bytes());
                        out[12..16].copy_from_slice(&announced.incomplete.to_be_bytes());
                        out[16..20].copy_from_slice(&announced.complete.to_be_bytes());
                    }
                    Err(refusal) => error(out, transaction_id, &refusal.to_string()),
                }
            }
            Ok(UdpRequest::Scrape { info_hashes, .. }) => {
                if info_hashes.is_empty() || info_hashes.len() > MAX_SCRAPE_HASHES {
                    let refusal = self.refuse(Refusal::TooManyHashes {
                        count: info_hashes.len(),
                        max: MAX_SCRAPE_HASHES,
                    });
                    error(out, transaction_id, &refusal.to_string());
                    return true;
                }
                header(out, SCRAPE, transaction_id);
                for ScrapeStats {
                    complete,
                    downloaded,
                    incomplete,
                } in self.scrape(&info_hashes)
                {
                    out.extend_from_slice(&complete.to_be_bytes());
                    out.extend_from_slice(&downloaded.to_be_bytes());
                    out.extend_from_slice(&incomplete.to_be_bytes());
                }
            }
            Ok(UdpRequest::Connect { .. }) => return false,
            Err(e) => {
                let refusal = self.refuse(Refusal::Malformed(e));
                error(out, transaction_id, &refusal.to_string());
            }
        }
        true
    }
}
