//! The five factors of the peer score (no BEP; BEP 3 peers from trackers, BEP 5 DHT, BEP 11
//! PEX and BEP 19 web seeds are the sources ranked), each a pure function into [0, 1].
//!
//! Proximity is heuristics only: no geo-IP or AS database ships with Swarmgate, so "near" means
//! the same host, the same /24 (IPv4) or /64 (IPv6) as one of our addresses, or both of us on
//! private networks (RFC 1918, or IPv6 unique-local fc00::/7). Everything else ranks alike: a
//! peer across the street and one across the ocean are both 0.3.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Where we learned of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A tracker's announce answer (BEP 3, 15): vouched for by the swarm's coordinator.
    Tracker,
    /// A DHT `get_peers` answer (BEP 5): announced by the peer itself, unvouched.
    Dht,
    /// Peer exchange (BEP 11): second-hand, from another peer.
    Pex,
    /// A web seed (BEP 19): a fallback, slower to start and not a real peer.
    WebSeed,
    /// Given by hand (`--peer`, a magnet's `x.pe`): the user knows it; ranks with the tracker.
    Manual,
    /// The peer connected to us: it knows the torrent, but we know nothing else; just below DHT.
    Incoming,
}

impl Source {
    /// How far peers from this source are trusted: tracker and manual 1.0, DHT 0.8, incoming
    /// 0.7, PEX 0.6, web seed 0.4.
    pub fn reliability(self) -> f64 {
        match self {
            Source::Tracker | Source::Manual => 1.0,
            Source::Dht => 0.8,
            Source::Incoming => 0.7,
            Source::Pex => 0.6,
            Source::WebSeed => 0.4,
        }
    }
}

/// How near `peer` is to us, given our own addresses `local`: 1.0 same host (loopback, or one
/// of ours), 0.8 same /24 or /64, 0.6 both private (RFC 1918 / ULA), else 0.3. IPv4-mapped IPv6
/// addresses count as the IPv4 address they carry.
pub fn proximity(local: &[IpAddr], peer: IpAddr) -> f64 {
    let peer = peer.to_canonical();
    let ours = || local.iter().map(|ip| ip.to_canonical());
    if peer.is_loopback() || ours().any(|ip| ip == peer && !ip.is_unspecified()) {
        1.0
    } else if ours().any(|ip| same_subnet(ip, peer)) {
        0.8
    } else if is_private(peer) && ours().any(is_private) {
        0.6
    } else {
        0.3
    }
}

fn same_subnet(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => !a.is_unspecified() && a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            !a.is_unspecified() && a.segments()[..4] == b.segments()[..4]
        }
        _ => false,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => Ipv4Addr::is_private(&ip),
        IpAddr::V6(ip) => is_unique_local(ip),
    }
}

/// fc00::/7 (RFC 4193).
fn is_unique_local(ip: Ipv6Addr) -> bool {
    ip.segments()[0] & 0xfe00 == 0xfc00
}

/// Blocks received that bring the history factor halfway from neutral to its best.
const HISTORY_HALF: f64 = 32.0;

/// What a peer's record is worth: 0.5 for a peer we know nothing of, rising toward 1.0 with
/// blocks received (halfway at 32 blocks), divided by `1 + 3 x hash failures + snubs`, so one
/// corrupt piece costs more than a lifetime of good blocks earns.
pub fn history(blocks_received: u64, hash_failures: u32, snubs: u32) -> f64 {
    // 1 - K / (b + K) rather than b / (b + K): rounding keeps this form monotonic in b.
    let earned = 0.5 + 0.5 * (1.0 - HISTORY_HALF / (blocks_received as f64 + HISTORY_HALF));
    let penalty = 1.0 + 3.0 * f64::from(hash_failures) + f64::from(snubs);
    (earned / penalty).clamp(0.0, 1.0)
}

/// Spare capacity: `1 - outstanding / max_outstanding`, 0 at or past the limit. A limit of 0
/// means "not known yet": 1.0 while nothing is outstanding.
pub fn load(outstanding: u32, max_outstanding: u32) -> f64 {
    if max_outstanding == 0 {
        return if outstanding == 0 { 1.0 } else { 0.0 };
    }
    (1.0 - f64::from(outstanding) / f64::from(max_outstanding)).clamp(0.0, 1.0)
}

/// The half-life of freshness: a peer seen 10 minutes ago counts half as fresh as one seen now.
pub const FRESHNESS_HALF_LIFE: Duration = Duration::from_secs(600);

/// How recently the peer was seen: 1.0 just now, halving every [`FRESHNESS_HALF_LIFE`]; 0 for a
/// peer never seen.
pub fn freshness(since_seen: Option<Duration>) -> f64 {
    match since_seen {
        None => 0.0,
        Some(age) => {
            let halves = age.as_secs_f64() / FRESHNESS_HALF_LIFE.as_secs_f64();
            0.5f64.powf(halves).clamp(0.0, 1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn proximity_tiers() {
        let local = [ip("192.168.1.10"), ip("2001:db8:1:2::5")];
        assert_eq!(proximity(&local, ip("127.0.0.1")), 1.0);
        assert_eq!(proximity(&local, ip("::1")), 1.0);
        assert_eq!(proximity(&local, ip("192.168.1.10")), 1.0);
        assert_eq!(proximity(&local, ip("::ffff:192.168.1.10")), 1.0);
        assert_eq!(proximity(&local, ip("192.168.1.99")), 0.8);
        assert_eq!(proximity(&local, ip("2001:db8:1:2:abcd::1")), 0.8);
        assert_eq!(proximity(&local, ip("192.168.2.1")), 0.6);
        assert_eq!(proximity(&local, ip("10.0.0.1")), 0.6);
        assert_eq!(proximity(&local, ip("172.16.5.5")), 0.6);
        assert_eq!(proximity(&local, ip("2001:db8:1:3::1")), 0.3);
        assert_eq!(proximity(&local, ip("8.8.8.8")), 0.3);
        // Private only counts when we are on a private network too.
        assert_eq!(proximity(&[ip("203.0.113.5")], ip("10.0.0.1")), 0.3);
        assert_eq!(proximity(&[ip("fd00::1")], ip("fdab::2")), 0.6);
        assert_eq!(proximity(&[ip("fd00::1")], ip("fe80::2")), 0.3);
        // A wildcard bind address is nobody's address.
        assert_eq!(proximity(&[ip("0.0.0.0")], ip("0.0.0.1")), 0.3);
        assert_eq!(proximity(&[], ip("8.8.8.8")), 0.3);
    }

    #[test]
    fn sources_rank_as_designed() {
        use Source::*;
        let r = |s: Source| s.reliability();
        assert!(r(Tracker) > r(Dht) && r(Dht) > r(Pex) && r(Pex) > r(WebSeed));
        assert_eq!(r(Manual), r(Tracker));
        assert!(r(Incoming) < r(Dht) && r(Incoming) > r(Pex));
    }

    #[test]
    fn factor_edges() {
        assert_eq!(history(0, 0, 0), 0.5);
        assert!(history(1_000_000, 0, 0) > 0.99);
        assert!(history(1_000_000, 1, 0) < history(0, 0, 0));
        assert_eq!(
            history(u64::MAX, u32::MAX, u32::MAX).clamp(0.0, 1.0),
            history(u64::MAX, u32::MAX, u32::MAX)
        );
        assert_eq!(load(0, 0), 1.0);
        assert_eq!(load(1, 0), 0.0);
        assert_eq!(load(5, 10), 0.5);
        assert_eq!(load(20, 10), 0.0);
        assert_eq!(freshness(None), 0.0);
        assert_eq!(freshness(Some(Duration::ZERO)), 1.0);
        assert!((freshness(Some(FRESHNESS_HALF_LIFE)) - 0.5).abs() < 1e-12);
        assert_eq!(freshness(Some(Duration::MAX)), 0.0);
    }
}
