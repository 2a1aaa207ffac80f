//! BEP 15 connection ids that need no state: a keyed hash of the client's address and the time
//! the id was issued.
//!
//! An id is `issued (u32 seconds) << 32 | mac (u32)`, where `mac` is SipHash-2-4 under the
//! tracker's secret key over the address, the port and `issued`. Checking one is recomputing
//! the MAC and comparing ages: no table to grow under a flood of connects, and an id is valid
//! from any thread. It expires two minutes after it was issued (BEP 15 lets a client use it for
//! one). Forging one means guessing 32 bits for a given address and second; a wrong guess costs
//! the forger a dropped packet. SipHash is written out here (about 40 lines, checked against the
//! reference vectors) rather than taken from `std`, whose keyed `SipHasher` is deprecated.

use std::net::{IpAddr, SocketAddr};

/// How long an id is accepted after it was issued, in seconds.
pub(crate) const CONNECTION_ID_LIFETIME: u32 = 120;

/// Issues and checks connection ids under one secret key.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionIds {
    key: (u64, u64),
}

impl ConnectionIds {
    pub(crate) fn new(key: (u64, u64)) -> Self {
        ConnectionIds { key }
    }

    fn mac(&self, addr: &SocketAddr, issued: u32) -> u32 {
        let mut message = [0u8; 16 + 2 + 4];
        let ip = match addr.ip().to_canonical() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        message[..16].copy_from_slice(&ip.octets());
        message[16..18].copy_from_slice(&addr.port().to_be_bytes());
        message[18..].copy_from_slice(&issued.to_be_bytes());
        // The low half of the 64-bit MAC.
        siphash24(self.key, &message) as u32
    }

    /// A connection id for `addr`, issued at `now` (seconds since the tracker's epoch).
    pub(crate) fn issue(&self, addr: &SocketAddr, now: u32) -> u64 {
        (u64::from(now) << 32) | u64::from(self.mac(addr, now))
    }

    /// Whether `id` was issued to `addr` no more than two minutes before `now`.
    pub(crate) fn is_valid(&self, id: u64, addr: &SocketAddr, now: u32) -> bool {
        let issued = (id >> 32) as u32;
        let age = now.wrapping_sub(issued);
        age <= CONNECTION_ID_LIFETIME && self.mac(addr, issued) == id as u32
    }
}

/// SipHash-2-4 of `message` under `key` (Aumasson and Bernstein, 2012).
pub(crate) fn siphash24(key: (u64, u64), message: &[u8]) -> u64 {
    let mut v = [
        key.0 ^ 0x736f_6d65_7073_6575,
        key.1 ^ 0x646f_7261_6e64_6f6d,
        key.0 ^ 0x6c79_6765_6e65_7261,
        key.1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut words = message.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let m = u64::from_le_bytes(bytes);
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let mut last = [0u8; 8];
    let tail = words.remainder();
    last[..tail.len()].copy_from_slice(tail);
    last[7] = message.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    round(&mut v);
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key 00 01 .. 0f of the SipHash paper, as two little-endian words.
    const PAPER_KEY: (u64, u64) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);

    #[test]
    fn siphash_matches_the_reference_vectors() {
        // Appendix A of the paper: the message 00 01 .. 0e.
        let message: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(PAPER_KEY, &message), 0xa129_ca61_49be_45e5);
        // vectors.h of the reference implementation: the empty message and 00..07.
        assert_eq!(siphash24(PAPER_KEY, &[]), 0x726f_db47_dd0e_0e31);
        let eight: Vec<u8> = (0..8).collect();
        assert_eq!(siphash24(PAPER_KEY, &eight), 0x93f5_f579_9a93_2462);
    }

    #[test]
    fn ids_are_bound_to_address_and_expire_after_two_minutes() {
        let ids = ConnectionIds::new((1, 2));
        let a: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:6882".parse().unwrap();
        let id = ids.issue(&a, 1000);
        assert!(ids.is_valid(id, &a, 1000));
        assert!(ids.is_valid(id, &a, 1120));
        assert!(!ids.is_valid(id, &a, 1121));
        assert!(!ids.is_valid(id, &a, 999), "an id from the future");
        assert!(!ids.is_valid(id, &b, 1000));
        assert!(!ids.is_valid(id ^ 1, &a, 1000));
        let other_key = ConnectionIds::new((1, 3));
        assert!(!other_key.is_valid(id, &a, 1000));
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:6881".parse().unwrap();
        assert!(
            ids.is_valid(id, &mapped, 1000),
            "an IPv4-mapped address is the same client"
        );
    }
}
