//! A stand-in for `bloom.rs` (BEP 33 scrape bloom filters), which another branch writes: just
//! the part of the agreed interface the peer store uses (`ScrapeBloom::new`, `insert(IpAddr)`,
//! `as_bytes() -> &[u8; 256]`), so the store builds and is tested before that branch merges.
//! When it merges, this file goes and the store imports `crate::bloom::ScrapeBloom` instead.
//!
//! The filter is BEP 33's: 2,048 bits, two bits per address at the indexes given by bytes
//! `[0..2]` and `[2..4]` (little-endian, mod 2,048) of the SHA-1 of the address's octets.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

/// A BEP 33 scrape bloom filter of IP addresses.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ScrapeBloom {
    bits: Box<[u8; 256]>,
}

impl Default for ScrapeBloom {
    fn default() -> Self {
        ScrapeBloom::new()
    }
}

impl ScrapeBloom {
    /// An empty filter.
    pub fn new() -> Self {
        ScrapeBloom {
            bits: Box::new([0; 256]),
        }
    }

    /// Adds `ip` (an IPv4-mapped address as its IPv4 address).
    pub fn insert(&mut self, ip: IpAddr) {
        let hash = match ip.to_canonical() {
            IpAddr::V4(v4) => Sha1::digest(v4.octets()),
            IpAddr::V6(v6) => Sha1::digest(v6.octets()),
        };
        for pair in [[hash[0], hash[1]], [hash[2], hash[3]]] {
            let index = usize::from(u16::from_le_bytes(pair)) % 2048;
            self.bits[index / 8] |= 1 << (index % 8);
        }
    }

    /// The 256 bytes that go on the wire (`BFsd`, `BFpe`).
    pub fn as_bytes(&self) -> &[u8; 256] {
        &self.bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// BEP 33's vector: 192.0.2.0-255 and 2001:db8:: to 2001:db8::3e7.
    #[test]
    fn matches_the_bep33_vector() {
        let mut bloom = ScrapeBloom::new();
        for last in 0..=255u8 {
            bloom.insert(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)));
        }
        let base = u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap());
        for offset in 0..=0x3e7u128 {
            bloom.insert(IpAddr::V6(Ipv6Addr::from(base + offset)));
        }
        assert_eq!(
            bloom.as_bytes()[..8],
            [0xf6, 0xc3, 0xf5, 0xea, 0xa0, 0x7f, 0xfd, 0x91]
        );
    }
}
