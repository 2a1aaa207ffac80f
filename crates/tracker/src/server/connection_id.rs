//! BEP 15 connection ids that need no state: a keyed hash of the client's address and the time
//! the id was issued.
//!
//! An id is `issued (u32 seconds) << 32 | mac (u32)`, where `mac` is SipHash-2-4 under the
//! tracker's secret key over the address, the port and `issued`. Checking one is recomputing
//! the MAC and comparing ages: no table to grow under a flood of connects, and an id is valid
//! from any thread. It expires two minutes after it was issued (BEP 15 lets a client use it for
//! one). Forging one means guessing 32 bits for a given address and second; a wrong guess costs
//! the forger a dropped packet. SipHash is [`swarmgate_core::siphash24`], shared with the DHT's
//! announce tokens.

use std::net::{IpAddr, SocketAddr};

use swarmgate_core::siphash24;

/// How long an id is accepted after it was issued, in seconds.
pub(crate) const CONNECTION_ID_LIFETIME: u32 = 120;

/// Issues and checks connection ids under one secret key.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionIds {
    key: [u8; 16],
}

impl ConnectionIds {
    pub(crate) fn new(key: [u8; 16]) -> Self {
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
        siphash24(&self.key, &message) as u32
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The key the words `(k0, k1)` stand for.
    fn key(k0: u64, k1: u64) -> [u8; 16] {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&k0.to_le_bytes());
        key[8..].copy_from_slice(&k1.to_le_bytes());
        key
    }

    #[test]
    fn ids_are_bound_to_address_and_expire_after_two_minutes() {
        let ids = ConnectionIds::new(key(1, 2));
        let a: SocketAddr = "127.0.0.1:6881".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:6882".parse().unwrap();
        let id = ids.issue(&a, 1000);
        assert!(ids.is_valid(id, &a, 1000));
        assert!(ids.is_valid(id, &a, 1120));
        assert!(!ids.is_valid(id, &a, 1121));
        assert!(!ids.is_valid(id, &a, 999), "an id from the future");
        assert!(!ids.is_valid(id, &b, 1000));
        assert!(!ids.is_valid(id ^ 1, &a, 1000));
        let other_key = ConnectionIds::new(key(1, 3));
        assert!(!other_key.is_valid(id, &a, 1000));
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:6881".parse().unwrap();
        assert!(
            ids.is_valid(id, &mapped, 1000),
            "an IPv4-mapped address is the same client"
        );
    }
}
