//! The bad-authorization limiter: after N failed authorizations from one client within a
//! window, that client is answered 429 until the window ends.
//!
//! Verifying a Schnorr signature costs tens of microseconds, and a token guesser should not get
//! unlimited tries, so failures are counted per client address (an IPv6 client by its /64, which
//! one host usually holds whole) in fixed windows. Successful requests are not counted: the
//! limiter never slows an honest client down. The table is bounded: past [`MAX_CLIENTS`] entries
//! the ones whose window ended are dropped, and if that is not enough the table starts over
//! (a flood from that many addresses is the firewall's job).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most client entries kept.
pub(crate) const MAX_CLIENTS: usize = 65_536;

/// Counts failed authorizations per client.
#[derive(Debug)]
pub(crate) struct BadAuthLimiter {
    limit: u32,
    window: Duration,
    clients: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

/// The address a client is counted under: IPv4 whole, IPv6 by /64.
fn key(ip: Option<IpAddr>) -> Option<IpAddr> {
    ip.map(|ip| match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    })
}

impl BadAuthLimiter {
    /// At most `limit` failures per `window` (a `limit` of 0 disables the limiter).
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        BadAuthLimiter {
            limit,
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// How long the client must wait, if it used up its failures.
    pub(crate) fn blocked(&self, ip: Option<IpAddr>, now: Instant) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = clients.get(&key(ip))?;
        let end = *start + self.window;
        (*count >= self.limit && now < end).then(|| end - now)
    }

    /// Counts one failure.
    pub(crate) fn fail(&self, ip: Option<IpAddr>, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= MAX_CLIENTS {
            let window = self.window;
            clients.retain(|_, (start, _)| now < *start + window);
            if clients.len() >= MAX_CLIENTS {
                clients.clear();
            }
        }
        let entry = clients.entry(key(ip)).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_until_the_window_ends() {
        let limiter = BadAuthLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b_neighbour: IpAddr = "2001:db8::2".parse().unwrap();
        limiter.fail(Some(a), t0);
        assert_eq!(limiter.blocked(Some(a), t0), None);
        limiter.fail(Some(a), t0);
        assert_eq!(limiter.blocked(Some(a), t0), Some(Duration::from_secs(10)));
        assert_eq!(limiter.blocked(None, t0), None);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(limiter.blocked(Some(a), later), None);
        limiter.fail(Some(a), later);
        assert_eq!(limiter.blocked(Some(a), later), None);
        limiter.fail(Some(b), t0);
        limiter.fail(Some(b_neighbour), t0);
        assert!(limiter.blocked(Some(b), t0).is_some());
        let off = BadAuthLimiter::new(0, Duration::from_secs(1));
        off.fail(Some(a), t0);
        assert_eq!(off.blocked(Some(a), t0), None);
    }
}
