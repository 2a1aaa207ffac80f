//! BEP 33 scrape bloom filters: the `BFsd` (seeds) and `BFpe` (peers) keys of a scraped
//! get_peers answer, from which a lookup estimates a swarm's size without listing it.
//!
//! The filter is 256 bytes (m = 2,048 bits) with k = 2: an address's two bit indexes are the
//! first and second little-endian 16-bit words of the SHA-1 of its octets (4 bytes for IPv4,
//! 16 for IPv6), modulo m; bit `i` is bit `i % 8` (least significant first) of byte `i / 8`.
//! Filters from several nodes are merged with a bitwise OR, so an address is counted once
//! however many nodes hold it. An IPv4-mapped IPv6 address is taken as its IPv4 address, the
//! form the peer announced from.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

use crate::krpc::BLOOM_LEN;

/// The number of bits in a scrape bloom filter (m).
const BITS: usize = BLOOM_LEN * 8;

/// A BEP 33 bloom filter of peer addresses.
///
/// ```
/// use swarmgate_dht::ScrapeBloom;
///
/// let mut seeds = ScrapeBloom::new();
/// for last in 0..=255u8 {
///     seeds.insert([192, 0, 2, last].into());
/// }
/// assert!(seeds.contains([192, 0, 2, 7].into()));
/// assert!((seeds.estimate() - 256.0).abs() < 30.0);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ScrapeBloom {
    bits: [u8; BLOOM_LEN],
}

impl ScrapeBloom {
    /// An empty filter.
    pub const fn new() -> Self {
        ScrapeBloom {
            bits: [0; BLOOM_LEN],
        }
    }

    /// A filter as a `BFsd` / `BFpe` value carries it.
    pub const fn from_bytes(bits: [u8; BLOOM_LEN]) -> Self {
        ScrapeBloom { bits }
    }

    /// The 256 bytes to send as `BFsd` / `BFpe`.
    pub const fn as_bytes(&self) -> &[u8; BLOOM_LEN] {
        &self.bits
    }

    /// Adds an address.
    pub fn insert(&mut self, ip: IpAddr) {
        for index in indexes(ip) {
            self.bits[index / 8] |= 1 << (index % 8);
        }
    }

    /// Whether `ip` may have been inserted (false positives are possible, false negatives not).
    pub fn contains(&self, ip: IpAddr) -> bool {
        indexes(ip)
            .into_iter()
            .all(|index| self.bits[index / 8] & (1 << (index % 8)) != 0)
    }

    /// Adds every address of `other` (a bitwise OR): merging the answers of several nodes.
    pub fn union(&mut self, other: &ScrapeBloom) {
        for (mine, theirs) in self.bits.iter_mut().zip(other.bits.iter()) {
            *mine |= theirs;
        }
    }

    /// BEP 33's estimate of how many distinct addresses were inserted:
    /// `ln(c / m) / (2 ln(1 - 1/m))` with `c` the number of zero bits. A filter with every bit
    /// set is counted as if one bit were clear (about 7,800, far above the ~6,000 the filter
    /// is meant for) rather than infinite.
    pub fn estimate(&self) -> f64 {
        let set: u32 = self.bits.iter().map(|b| b.count_ones()).sum();
        let zeros = (BITS as u32 - set).max(1);
        let m = BITS as f64;
        (f64::from(zeros) / m).ln() / (2.0 * (-1.0 / m).ln_1p())
    }
}

impl Default for ScrapeBloom {
    fn default() -> Self {
        ScrapeBloom::new()
    }
}

impl std::fmt::Debug for ScrapeBloom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeBloom")
            .field("estimate", &self.estimate())
            .finish()
    }
}

impl From<[u8; BLOOM_LEN]> for ScrapeBloom {
    fn from(bits: [u8; BLOOM_LEN]) -> Self {
        ScrapeBloom::from_bytes(bits)
    }
}

/// The two bit indexes of `ip`.
fn indexes(ip: IpAddr) -> [usize; 2] {
    let digest = match ip.to_canonical() {
        IpAddr::V4(v4) => Sha1::digest(v4.octets()),
        IpAddr::V6(v6) => Sha1::digest(v6.octets()),
    };
    [
        usize::from(u16::from_le_bytes([digest[0], digest[1]])) % BITS,
        usize::from(u16::from_le_bytes([digest[2], digest[3]])) % BITS,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_single_filters() {
        let empty = ScrapeBloom::new();
        assert_eq!(empty.estimate(), 0.0);
        assert!(!empty.contains("203.0.113.1".parse().unwrap()));
        let mut one = ScrapeBloom::default();
        one.insert("203.0.113.1".parse().unwrap());
        let ones: u32 = one.as_bytes().iter().map(|b| b.count_ones()).sum();
        assert!(ones == 1 || ones == 2, "k = 2 sets one or two bits");
        assert!((one.estimate() - f64::from(ones) / 2.0).abs() < 0.01);
    }

    #[test]
    fn a_mapped_address_is_its_ipv4_address() {
        let mut a = ScrapeBloom::new();
        a.insert("198.51.100.4".parse().unwrap());
        let mut b = ScrapeBloom::new();
        b.insert("::ffff:198.51.100.4".parse().unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn a_full_filter_estimates_a_finite_number() {
        let full = ScrapeBloom::from_bytes([0xff; BLOOM_LEN]);
        let estimate = full.estimate();
        assert!(estimate.is_finite() && estimate > 7_000.0, "{estimate}");
        assert!(format!("{full:?}").contains("estimate"));
    }

    #[test]
    fn union_is_a_bitwise_or() {
        let mut a = ScrapeBloom::from_bytes([0x0f; BLOOM_LEN]);
        a.union(&ScrapeBloom::from([0x30; BLOOM_LEN]));
        assert_eq!(a.as_bytes(), &[0x3f; BLOOM_LEN]);
    }
}
