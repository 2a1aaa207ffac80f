//! Node ids and the XOR metric (BEP 5), ids derived from the node's IP (BEP 42), and nodes in
//! their compact wire form (BEP 5 26-byte IPv4, BEP 32 38-byte IPv6 entries).
//!
//! BEP 42 binds the first 21 bits of an id to the node's external IP: `crc32c((ip & mask) |
//! (r << shift))` with `r` the low 3 bits of the id's last byte. Only those 21 bits are compared
//! (the third byte's low 3 bits are free): comparing whole bytes fails 3 of the BEP's 5 vectors.
//! Addresses no one can share a view of (loopback, private, link-local, unique-local) are exempt,
//! as libtorrent, anacrolix and pubky exempt them, so every loopback network runs unenforced.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::str::FromStr;

use swarmgate_core::{SplitMix64, TextError};

/// A 160-bit node id (or a target: an info-hash is looked up as an id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeId(pub [u8; 20]);

/// The XOR distance between two ids, ordered as a big-endian number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Distance(pub [u8; 20]);

impl NodeId {
    /// The id's 20 bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Takes exactly 20 bytes, else `None`.
    pub fn from_slice(bytes: &[u8]) -> Option<NodeId> {
        bytes.try_into().ok().map(NodeId)
    }

    /// A uniformly random id.
    pub fn random(rng: &mut SplitMix64) -> NodeId {
        let mut id = [0u8; 20];
        fill(rng, &mut id);
        NodeId(id)
    }

    /// The XOR distance to `other`.
    pub fn distance(&self, other: &NodeId) -> Distance {
        let mut d = [0u8; 20];
        for (i, byte) in d.iter_mut().enumerate() {
            *byte = self.0[i] ^ other.0[i];
        }
        Distance(d)
    }

    /// How many leading bits `self` and `other` share (160 when equal): the index of the
    /// routing-table bucket `other` falls in, seen from `self`.
    pub fn common_prefix(&self, other: &NodeId) -> u32 {
        self.distance(other).leading_zeros()
    }

    /// A random id that shares exactly the first `prefix` bits with `self` and differs at bit
    /// `prefix` (for `prefix < 160`): a target inside the bucket `prefix` of `self`'s table,
    /// what a bucket refresh looks up.
    pub fn random_in_bucket(&self, prefix: u32, rng: &mut SplitMix64) -> NodeId {
        let mut id = NodeId::random(rng);
        for bit in 0..prefix.min(160) {
            id.set_bit(bit, self.bit(bit));
        }
        if prefix < 160 {
            id.set_bit(prefix, !self.bit(prefix));
        }
        id
    }

    /// Bit `index`, counted from the most significant bit of the first byte.
    pub fn bit(&self, index: u32) -> bool {
        self.0[(index / 8) as usize] & (0x80 >> (index % 8)) != 0
    }

    fn set_bit(&mut self, index: u32, value: bool) {
        let mask = 0x80 >> (index % 8);
        let byte = &mut self.0[(index / 8) as usize];
        if value {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }

    /// A BEP 42 id for a node whose external address is `ip`: the CRC prefix of `ip` with
    /// random bits `r` in the last byte, the rest random. For an exempt address, a plain random
    /// id.
    pub fn secure_for(ip: IpAddr, rng: &mut SplitMix64) -> NodeId {
        let mut id = NodeId::random(rng);
        if is_exempt(ip) {
            return id;
        }
        let r = id.0[19] & 0x07;
        let prefix = bep42_prefix(ip, r);
        id.0[0] = (prefix >> 24) as u8;
        id.0[1] = (prefix >> 16) as u8;
        id.0[2] = ((prefix >> 8) as u8 & 0xf8) | (id.0[2] & 0x07);
        id
    }

    /// Whether the id obeys BEP 42 for a node at `ip`: the first 21 bits equal the CRC prefix
    /// (with `r` from the last byte). Exempt addresses always pass.
    pub fn is_secure_for(&self, ip: IpAddr) -> bool {
        if is_exempt(ip) {
            return true;
        }
        let prefix = bep42_prefix(ip, self.0[19] & 0x07);
        let id = u32::from_be_bytes([self.0[0], self.0[1], self.0[2], 0]);
        (id ^ prefix) & 0xffff_f800 == 0
    }

    /// Lower-case hex, 40 characters.
    pub fn to_hex(&self) -> String {
        swarmgate_core::to_hex(&self.0)
    }
}

impl Distance {
    /// The number of leading zero bits (160 for a distance of zero).
    pub fn leading_zeros(&self) -> u32 {
        let mut zeros = 0;
        for byte in self.0 {
            if byte != 0 {
                return zeros + byte.leading_zeros();
            }
            zeros += 8;
        }
        zeros
    }
}

impl FromStr for NodeId {
    type Err = TextError;

    /// 40 hex characters, either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        swarmgate_core::from_hex(s).map(NodeId)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.to_hex())
    }
}

impl From<swarmgate_core::InfoHashV1> for NodeId {
    fn from(hash: swarmgate_core::InfoHashV1) -> Self {
        NodeId(hash.0)
    }
}

/// Whether BEP 42 leaves `ip` alone: loopback, private (10/8, 172.16/12, 192.168/16),
/// link-local (169.254/16, fe80::/10), unique-local (fc00::/7) and unspecified addresses. An
/// IPv4-mapped IPv6 address is judged as its IPv4 address.
pub fn is_exempt(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || first & 0xffc0 == 0xfe80
                || first & 0xfe00 == 0xfc00
        }
    }
}

/// BEP 42's CRC-32C of the masked address with `r`, for the top 21 bits of an id.
fn bep42_prefix(ip: IpAddr, r: u8) -> u32 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let masked = u32::from(v4) & 0x030f_3fff;
            let value = masked | (u32::from(r & 0x07) << 29);
            crc32c(&value.to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let high = u64::from_be_bytes(v6.octets()[..8].try_into().expect("8 bytes"));
            let masked = high & 0x0103_070f_1f3f_7fff;
            let value = masked | (u64::from(r & 0x07) << 61);
            crc32c(&value.to_be_bytes())
        }
    }
}

/// CRC-32C (Castagnoli, reflected, polynomial 0x82F63B78), bit by bit: it runs once per id
/// check, so a table buys nothing.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82f6_3b78 & mask);
        }
    }
    !crc
}

fn fill(rng: &mut SplitMix64, out: &mut [u8]) {
    for chunk in out.chunks_mut(8) {
        let word = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// A node as the wire carries it: its id and its address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// Where it answers.
    pub addr: SocketAddr,
}

/// A compact IPv4 node: 20-byte id, 4-byte address, 2-byte port.
pub const COMPACT_NODE_V4_LEN: usize = 26;
/// A compact IPv6 node (BEP 32): 20-byte id, 16-byte address, 2-byte port.
pub const COMPACT_NODE_V6_LEN: usize = 38;

impl NodeInfo {
    /// Appends the compact form: 26 bytes for an IPv4 address (a v4-mapped IPv6 address
    /// included), 38 for IPv6.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0);
        match self.addr.ip().to_canonical() {
            IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
            IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
        }
        out.extend_from_slice(&self.addr.port().to_be_bytes());
    }

    /// Decodes a run of compact IPv4 nodes; `None` unless the length is a multiple of 26.
    pub fn decode_v4(bytes: &[u8]) -> Option<Vec<NodeInfo>> {
        if bytes.len() % COMPACT_NODE_V4_LEN != 0 {
            return None;
        }
        Some(
            bytes
                .chunks_exact(COMPACT_NODE_V4_LEN)
                .map(|c| {
                    let ip = Ipv4Addr::new(c[20], c[21], c[22], c[23]);
                    let port = u16::from_be_bytes([c[24], c[25]]);
                    NodeInfo {
                        id: NodeId(c[..20].try_into().expect("20 bytes")),
                        addr: SocketAddr::V4(SocketAddrV4::new(ip, port)),
                    }
                })
                .collect(),
        )
    }

    /// Decodes a run of compact IPv6 nodes; `None` unless the length is a multiple of 38.
    pub fn decode_v6(bytes: &[u8]) -> Option<Vec<NodeInfo>> {
        if bytes.len() % COMPACT_NODE_V6_LEN != 0 {
            return None;
        }
        Some(
            bytes
                .chunks_exact(COMPACT_NODE_V6_LEN)
                .map(|c| {
                    let octets: [u8; 16] = c[20..36].try_into().expect("16 bytes");
                    let port = u16::from_be_bytes([c[36], c[37]]);
                    NodeInfo {
                        id: NodeId(c[..20].try_into().expect("20 bytes")),
                        addr: SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, 0, 0)),
                    }
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(hex_prefix: &str, last: u8) -> NodeId {
        let mut bytes = [0u8; 20];
        let prefix = swarmgate_core::from_hex::<3>(hex_prefix).unwrap();
        bytes[..3].copy_from_slice(&prefix);
        bytes[19] = last;
        NodeId(bytes)
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    /// BEP 42's five vectors: (ip, rand, id prefix, last byte); only the top 21 bits count.
    #[test]
    fn bep42_vectors_pass_and_other_addresses_fail() {
        let vectors = [
            ("124.31.75.21", 1u8, "5fbfbf", 0x01u8),
            ("21.75.31.124", 86, "5a3ce9", 0x56),
            ("65.23.51.170", 22, "a5d432", 0x16),
            ("84.124.73.14", 65, "1b0321", 0x41),
            ("43.213.53.83", 90, "e56f6c", 0x5a),
        ];
        for (ip, rand, prefix, last) in vectors {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(last, rand, "the vector's last byte is its random byte");
            let node = id(prefix, last);
            assert!(node.is_secure_for(ip), "{ip}");
            // The third byte's low 3 bits are free.
            let mut free = node;
            free.0[2] ^= 0x07;
            assert!(
                free.is_secure_for(ip),
                "{ip}: the free bits are not compared"
            );
            let mut wrong = node;
            wrong.0[2] ^= 0x08;
            assert!(!wrong.is_secure_for(ip), "{ip}: bit 21 is compared");
            let elsewhere: IpAddr = "8.8.8.8".parse().unwrap();
            assert!(
                !node.is_secure_for(elsewhere),
                "{ip}: another address fails"
            );
        }
    }

    #[test]
    fn secure_ids_pass_their_own_check_and_exempt_addresses_are_free() {
        let mut rng = SplitMix64::new(7);
        for ip in ["203.0.113.9", "2001:db8::1", "::ffff:198.51.100.4"] {
            let ip: IpAddr = ip.parse().unwrap();
            for _ in 0..50 {
                assert!(NodeId::secure_for(ip, &mut rng).is_secure_for(ip), "{ip}");
            }
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_exempt(ip), "{ip}");
            assert!(NodeId([0xff; 20]).is_secure_for(ip));
        }
        assert!(!is_exempt("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn distances_order_by_xor_and_buckets_split_where_ids_differ() {
        let a = NodeId([0; 20]);
        let mut b = NodeId([0; 20]);
        b.0[0] = 0x10;
        assert_eq!(a.common_prefix(&b), 3);
        assert_eq!(a.common_prefix(&a), 160);
        let mut c = NodeId([0; 20]);
        c.0[19] = 1;
        assert!(a.distance(&c) < a.distance(&b));
        let mut rng = SplitMix64::new(1);
        for prefix in [0, 1, 7, 8, 63, 159] {
            let target = b.random_in_bucket(prefix, &mut rng);
            assert_eq!(b.common_prefix(&target), prefix, "prefix {prefix}");
        }
    }

    #[test]
    fn compact_nodes_round_trip_and_bad_lengths_are_refused() {
        let v4 = NodeInfo {
            id: NodeId([3; 20]),
            addr: "192.0.2.7:6881".parse().unwrap(),
        };
        let v6 = NodeInfo {
            id: NodeId([4; 20]),
            addr: "[2001:db8::7]:6882".parse().unwrap(),
        };
        let mut out = Vec::new();
        v4.encode(&mut out);
        assert_eq!(out.len(), COMPACT_NODE_V4_LEN);
        assert_eq!(NodeInfo::decode_v4(&out).unwrap(), [v4]);
        out.clear();
        v6.encode(&mut out);
        assert_eq!(out.len(), COMPACT_NODE_V6_LEN);
        assert_eq!(NodeInfo::decode_v6(&out).unwrap(), [v6]);
        assert!(NodeInfo::decode_v4(&[0; 25]).is_none());
        assert!(NodeInfo::decode_v6(&[0; 26]).is_none());
        assert_eq!(NodeInfo::decode_v4(&[]).unwrap(), []);
    }
}
