//! Compact peer addresses (BEP 23 IPv4, BEP 7 IPv6) and compact node info (BEP 5).
//!
//! Trackers, the DHT and PEX all speak in these packed forms: 4 or 16 address bytes followed by a
//! big-endian port. Decoding borrows the input and yields addresses lazily, so a 200-peer tracker
//! answer costs no allocation; a list whose length is not a whole number of entries is an error,
//! not a silent truncation.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::error::LengthError;

/// Bytes in one compact IPv4 peer: 4 address bytes, 2 port bytes.
pub const COMPACT_V4_LEN: usize = 6;
/// Bytes in one compact IPv6 peer: 16 address bytes, 2 port bytes.
pub const COMPACT_V6_LEN: usize = 18;

/// Appends the compact form of `addr` (6 bytes for IPv4, 18 for IPv6).
pub fn encode_compact_peer(addr: SocketAddr, out: &mut Vec<u8>) {
    match addr {
        SocketAddr::V4(v4) => {
            out.extend_from_slice(&v4.ip().octets());
            out.extend_from_slice(&v4.port().to_be_bytes());
        }
        SocketAddr::V6(v6) => {
            out.extend_from_slice(&v6.ip().octets());
            out.extend_from_slice(&v6.port().to_be_bytes());
        }
    }
}

/// Decodes one compact peer from exactly 6 or 18 bytes.
pub fn decode_compact_peer(bytes: &[u8]) -> Result<SocketAddr, LengthError> {
    match bytes.len() {
        COMPACT_V4_LEN => Ok(v4_at(bytes)),
        COMPACT_V6_LEN => Ok(v6_at(bytes)),
        actual => Err(LengthError {
            what: "compact peer",
            expected: COMPACT_V4_LEN,
            actual,
        }),
    }
}

/// Iterates a packed list of IPv4 peers (a tracker's `peers` string).
pub fn compact_peers_v4(bytes: &[u8]) -> Result<CompactPeers<'_>, LengthError> {
    CompactPeers::new(bytes, COMPACT_V4_LEN, "compact IPv4 peer list")
}

/// Iterates a packed list of IPv6 peers (a tracker's `peers6` string).
pub fn compact_peers_v6(bytes: &[u8]) -> Result<CompactPeers<'_>, LengthError> {
    CompactPeers::new(bytes, COMPACT_V6_LEN, "compact IPv6 peer list")
}

/// A lazy iterator over a packed peer list; see [`compact_peers_v4`] and [`compact_peers_v6`].
#[derive(Clone, Debug)]
pub struct CompactPeers<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
    entry_len: usize,
}

impl<'a> CompactPeers<'a> {
    fn new(bytes: &'a [u8], entry_len: usize, what: &'static str) -> Result<Self, LengthError> {
        if bytes.len() % entry_len != 0 {
            return Err(LengthError {
                what,
                expected: entry_len,
                actual: bytes.len(),
            });
        }
        Ok(Self {
            chunks: bytes.chunks_exact(entry_len),
            entry_len,
        })
    }
}

impl Iterator for CompactPeers<'_> {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        let entry = self.chunks.next()?;
        Some(if self.entry_len == COMPACT_V4_LEN {
            v4_at(entry)
        } else {
            v6_at(entry)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for CompactPeers<'_> {}

fn v4_at(b: &[u8]) -> SocketAddr {
    let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be_bytes([b[4], b[5]])))
}

fn v6_at(b: &[u8]) -> SocketAddr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&b[..16]);
    let port = u16::from_be_bytes([b[16], b[17]]);
    SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_vector() {
        let addr: SocketAddr = "10.1.2.3:6881".parse().unwrap();
        let mut out = Vec::new();
        encode_compact_peer(addr, &mut out);
        assert_eq!(out, [10, 1, 2, 3, 0x1a, 0xe1]);
        assert_eq!(decode_compact_peer(&out).unwrap(), addr);
    }

    #[test]
    fn v6_vector() {
        let addr: SocketAddr = "[::1]:443".parse().unwrap();
        let mut out = Vec::new();
        encode_compact_peer(addr, &mut out);
        assert_eq!(out.len(), 18);
        assert_eq!(&out[15..], [1, 0x01, 0xbb]);
        assert_eq!(compact_peers_v6(&out).unwrap().collect::<Vec<_>>(), [addr]);
    }

    #[test]
    fn ragged_lists_are_rejected() {
        assert!(compact_peers_v4(&[0; 7]).is_err());
        assert!(compact_peers_v6(&[0; 17]).is_err());
        assert!(decode_compact_peer(&[0; 5]).is_err());
        assert_eq!(compact_peers_v4(&[]).unwrap().len(), 0);
    }
}
