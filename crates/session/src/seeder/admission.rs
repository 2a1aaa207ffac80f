//! Who may open a socket on the seeder's port (BEP 3 peers): caps per address, per subnet and
//! on sockets still in their handshake, as a sans-IO table that is told the time.
//!
//! The policy, and why:
//! - **Per address and per subnet** (`max_connections_per_ip`, `max_connections_per_subnet`;
//!   a subnet is an IPv4 /24 or an IPv6 /64, the block one host or one customer usually
//!   holds): one hostile host cannot take the seeder's `max_connections` sockets, however many
//!   it opens. A real client needs one connection per torrent; libtorrent by default allows
//!   one per address (its `allow_multiple_connections_per_ip` setting is off), we allow a few
//!   so that several clients behind one NAT (or on one loopback) still fit. IPv4-mapped IPv6
//!   addresses count as the IPv4 address they carry.
//! - **Half-open sockets** (accepted, handshake not read yet) are capped at `max_half_open`,
//!   well below `max_connections`: whatever arrives, the rest of the table stays free for
//!   peers that finished a handshake for a seeded torrent. An established peer is never
//!   evicted for a newcomer.
//! - **When the half-open table is full**, the newcomer is not refused if the oldest half-open
//!   socket has waited at least `evict_half_open_after`: that one is closed instead. A real
//!   client sends its handshake within a round trip of connecting, so the oldest half-open
//!   socket is the likeliest to be idle, and a flood of idle sockets cannot lock out a client
//!   that arrives after it. Only a table full of sockets younger than that refuses.
//! - **Under pressure** (at least `pressure_half_open` sockets half-open when one arrives) the
//!   newcomer gets `pressure_handshake_timeout` instead of `handshake_timeout`, so a reconnect
//!   loop cannot hold its slots for the long timeout that slow links deserve on a quiet port.
//!   libtorrent's `handshake_timeout` is 10 s, as our quiet-port default is.
//!
//! The table is generic over what it keeps per half-open socket (the seeder keeps the sender
//! half of a channel whose drop tells the handshake task to close): eviction hands it back.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The caps and timeouts the table applies; from `SeederConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    pub(super) max_per_ip: usize,
    pub(super) max_per_subnet: usize,
    pub(super) max_half_open: usize,
    pub(super) pressure_half_open: usize,
    pub(super) handshake_timeout: Duration,
    pub(super) pressure_handshake_timeout: Duration,
    pub(super) evict_half_open_after: Duration,
}

/// Why a socket was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Its address has `max_per_ip` sockets open.
    PerIp,
    /// Its /24 (IPv4) or /64 (IPv6) has `max_per_subnet` sockets open.
    PerSubnet,
    /// `max_half_open` sockets are in their handshake, none of them old enough to evict.
    HalfOpenFull,
}

/// A socket let in.
#[derive(Debug)]
pub(super) struct Admitted<T> {
    /// Its entry, for [`Admission::established`] and [`Admission::release`].
    pub(super) id: u64,
    /// How long it has to send its handshake.
    pub(super) handshake_timeout: Duration,
    /// The half-open socket closed to make room for it, if one was.
    pub(super) evicted: Option<T>,
}

/// An IPv4 /24 or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Subnet {
    V4([u8; 3]),
    V6([u8; 8]),
}

impl Subnet {
    fn of(ip: IpAddr) -> Subnet {
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Subnet::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let octets = v6.octets();
                let mut prefix = [0u8; 8];
                prefix.copy_from_slice(&octets[..8]);
                Subnet::V6(prefix)
            }
        }
    }
}

/// One admitted socket.
#[derive(Debug)]
struct Open {
    ip: IpAddr,
    subnet: Subnet,
}

/// The sockets open on the port, by address and subnet, and those still half-open (oldest
/// first: ids grow with time).
#[derive(Debug)]
pub(super) struct Admission<T> {
    limits: Limits,
    open: HashMap<u64, Open>,
    per_ip: HashMap<IpAddr, usize>,
    per_subnet: HashMap<Subnet, usize>,
    half_open: BTreeMap<u64, (Instant, T)>,
    next_id: u64,
}

impl<T> Admission<T> {
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            limits,
            open: HashMap::new(),
            per_ip: HashMap::new(),
            per_subnet: HashMap::new(),
            half_open: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// A socket from `ip` was accepted at `now`: let in (half-open, keeping `waker` until it is
    /// established, released or evicted), or refused.
    pub(super) fn admit(
        &mut self,
        ip: IpAddr,
        now: Instant,
        waker: T,
    ) -> Result<Admitted<T>, Refusal> {
        let ip = ip.to_canonical();
        let subnet = Subnet::of(ip);
        if self.per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.max_per_ip {
            return Err(Refusal::PerIp);
        }
        if self.per_subnet.get(&subnet).copied().unwrap_or(0) >= self.limits.max_per_subnet {
            return Err(Refusal::PerSubnet);
        }
        let mut evicted = None;
        if self.half_open.len() >= self.limits.max_half_open {
            let oldest = self
                .half_open
                .first_key_value()
                .and_then(|(&id, (since, _))| {
                    let waited = now.saturating_duration_since(*since);
                    (waited >= self.limits.evict_half_open_after).then_some(id)
                });
            match oldest {
                Some(id) => evicted = self.release(id),
                None => return Err(Refusal::HalfOpenFull),
            }
        }
        let handshake_timeout = if self.half_open.len() >= self.limits.pressure_half_open {
            self.limits.pressure_handshake_timeout
        } else {
            self.limits.handshake_timeout
        };
        let id = self.next_id;
        self.next_id += 1;
        *self.per_ip.entry(ip).or_insert(0) += 1;
        *self.per_subnet.entry(subnet).or_insert(0) += 1;
        self.open.insert(id, Open { ip, subnet });
        self.half_open.insert(id, (now, waker));
        Ok(Admitted {
            id,
            handshake_timeout,
            evicted,
        })
    }

    /// The socket `id` finished its handshake: no longer half-open (never evicted from now on).
    /// False if it is no longer open (it was evicted meanwhile).
    pub(super) fn established(&mut self, id: u64) -> bool {
        if !self.open.contains_key(&id) {
            return false;
        }
        self.half_open.remove(&id);
        true
    }

    /// The socket `id` closed (or is to be closed): its counts go, and its waker if it was
    /// still half-open.
    pub(super) fn release(&mut self, id: u64) -> Option<T> {
        let open = self.open.remove(&id)?;
        decrement(&mut self.per_ip, open.ip);
        decrement(&mut self.per_subnet, open.subnet);
        self.half_open.remove(&id).map(|(_, waker)| waker)
    }

    /// Sockets open (half-open or established).
    #[cfg(test)]
    fn open(&self) -> usize {
        self.open.len()
    }

    /// Sockets still in their handshake.
    pub(super) fn half_open(&self) -> usize {
        self.half_open.len()
    }
}

fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: K) {
    if let Some(count) = counts.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_per_ip: 2,
            max_per_subnet: 3,
            max_half_open: 4,
            pressure_half_open: 2,
            handshake_timeout: Duration::from_secs(10),
            pressure_handshake_timeout: Duration::from_secs(2),
            evict_half_open_after: Duration::from_secs(1),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_subnets_are_capped_and_get_their_room_back() {
        let now = Instant::now();
        let mut table = Admission::new(limits());
        let a = table.admit(ip("10.0.0.1"), now, 'a').unwrap();
        table.admit(ip("10.0.0.1"), now, 'b').unwrap();
        let third = table.admit(ip("10.0.0.1"), now, 'c');
        assert_eq!(third.unwrap_err(), Refusal::PerIp);
        // The mapped form is the same address.
        let mapped = table.admit(ip("::ffff:10.0.0.1"), now, 'c');
        assert_eq!(mapped.unwrap_err(), Refusal::PerIp);
        table.admit(ip("10.0.0.2"), now, 'd').unwrap();
        let subnet = table.admit(ip("10.0.0.3"), now, 'e');
        assert_eq!(
            subnet.unwrap_err(),
            Refusal::PerSubnet,
            "three in 10.0.0.0/24"
        );
        table.admit(ip("10.0.1.3"), now, 'f').unwrap();

        assert_eq!(table.release(a.id), Some('a'), "still half-open");
        assert_eq!(table.release(a.id), None, "released once");
        table.admit(ip("10.0.0.3"), now, 'g').unwrap();
        assert_eq!(table.open(), 4);
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let now = Instant::now();
        let mut table = Admission::new(limits());
        for host in ["2001:db8::1", "2001:db8::2", "2001:db8::ffff:3"] {
            table.admit(ip(host), now, ()).unwrap();
        }
        let fourth = table.admit(ip("2001:db8:0:0:8000::4"), now, ());
        assert_eq!(fourth.unwrap_err(), Refusal::PerSubnet);
        assert!(
            table.admit(ip("2001:db8:0:1::1"), now, ()).is_ok(),
            "another /64"
        );
    }

    #[test]
    fn handshake_timeout_shortens_under_pressure() {
        let now = Instant::now();
        let mut table = Admission::new(limits());
        let first = table.admit(ip("10.0.1.1"), now, ()).unwrap();
        let second = table.admit(ip("10.0.2.1"), now, ()).unwrap();
        assert_eq!(first.handshake_timeout, Duration::from_secs(10));
        assert_eq!(second.handshake_timeout, Duration::from_secs(10));
        let third = table.admit(ip("10.0.3.1"), now, ()).unwrap();
        assert_eq!(
            third.handshake_timeout,
            Duration::from_secs(2),
            "two half-open"
        );
        assert!(table.established(first.id) && table.established(second.id));
        let fourth = table.admit(ip("10.0.4.1"), now, ()).unwrap();
        assert_eq!(
            fourth.handshake_timeout,
            Duration::from_secs(10),
            "established peers are no pressure"
        );
    }

    #[test]
    fn a_full_half_open_table_evicts_its_oldest_idle_socket_never_a_peer() {
        let start = Instant::now();
        let mut table = Admission::new(limits());
        let peer = table.admit(ip("10.0.9.1"), start, "peer").unwrap();
        assert!(table.established(peer.id));
        let mut idle = Vec::new();
        for (i, name) in ["idle0", "idle1", "idle2", "idle3"].into_iter().enumerate() {
            let at = start + Duration::from_millis(100 * i as u64);
            idle.push(table.admit(ip(&format!("10.0.{i}.1")), at, name).unwrap());
        }
        assert_eq!(table.half_open(), 4);

        // Nobody has waited a second yet: the newcomer is refused.
        let early = start + Duration::from_millis(900);
        let refused = table.admit(ip("10.0.5.1"), early, "new");
        assert_eq!(refused.unwrap_err(), Refusal::HalfOpenFull);

        // Later, the oldest idle socket makes room; the established peer stays.
        let later = start + Duration::from_millis(1_050);
        let newcomer = table.admit(ip("10.0.5.1"), later, "new").unwrap();
        assert_eq!(newcomer.evicted, Some("idle0"));
        assert_eq!(newcomer.handshake_timeout, Duration::from_secs(2));
        assert!(!table.established(idle[0].id), "evicted: gone");
        assert_eq!(table.release(idle[0].id), None);
        assert_eq!((table.half_open(), table.open()), (4, 5));
        let next = table.admit(ip("10.0.6.1"), later, "next");
        assert_eq!(
            next.unwrap_err(),
            Refusal::HalfOpenFull,
            "idle1 is 0.95 s old"
        );
        assert!(table.established(peer.id), "the peer was never touched");
    }
}
