//! The per-client limits of a Blossom server: the bad-authorization limiter, the request rate
//! limit, and the upload slots.
//!
//! - [`BadAuthLimiter`]: after N failed authorizations from one client within a window, that
//!   client is answered 429 until the window ends. Verifying a Schnorr signature costs tens of
//!   microseconds, and a token guesser should not get unlimited tries, so failures are counted
//!   per client in fixed windows. Successful requests are not counted: the limiter never slows
//!   an honest client down.
//! - [`RequestLimiter`]: requests per second per client (GCRA, [`swarmgate_core::Gcra`]), a
//!   burst of twice the rate; 429 with `Retry-After` beyond it.
//! - [`UploadSlots`]: uploads and mirrors in progress at once, in all; 503 with `Retry-After`
//!   beyond them, before a body byte is read, so a crowd of uploaders costs a refusal each, not
//!   a blocking thread, a body channel and a temporary file each.
//!
//! A client is its address, an IPv6 client its /64 (one host usually holds it whole). Both
//! tables are bounded: past [`MAX_CLIENTS`] entries the idle ones are dropped, and if that is
//! not enough the table starts over (a flood from that many addresses is the firewall's job).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swarmgate_core::{Gcra, limited_client};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The most client entries kept by each table.
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
    ip.map(limited_client)
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

/// Requests per second per client; see the module docs.
#[derive(Debug)]
pub(crate) struct RequestLimiter {
    /// `None`: no limit.
    gcra: Option<Gcra>,
    epoch: Instant,
    /// Each client's theoretical arrival time, in nanoseconds after `epoch`.
    clients: Mutex<HashMap<Option<IpAddr>, u64>>,
}

impl RequestLimiter {
    /// `per_second` requests a second, a burst of twice that (0: no limit).
    pub(crate) fn new(per_second: u32, now: Instant) -> Self {
        RequestLimiter {
            gcra: (per_second > 0).then(|| Gcra::new(per_second, per_second.saturating_mul(2))),
            epoch: now,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request from `ip` at `now`, or says how long to wait.
    pub(crate) fn check(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let Some(gcra) = self.gcra else {
            return Ok(());
        };
        let now =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= MAX_CLIENTS {
            clients.retain(|_, arrival| !Gcra::is_idle(*arrival, now));
            if clients.len() >= MAX_CLIENTS {
                clients.clear();
            }
        }
        let key = key(ip);
        let arrival = gcra.check(clients.get(&key).copied(), now)?;
        clients.insert(key, arrival);
        Ok(())
    }

    /// Clients remembered.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.lock().map_or(0, |c| c.len())
    }
}

/// Uploads and mirrors in progress at once; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct UploadSlots(Arc<Semaphore>);

/// One upload's slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct UploadSlot {
    _permit: OwnedSemaphorePermit,
}

impl UploadSlots {
    /// `slots` at once (at least one).
    pub(crate) fn new(slots: usize) -> Self {
        UploadSlots(Arc::new(Semaphore::new(slots.max(1))))
    }

    /// A slot, if one is free now.
    pub(crate) fn try_take(&self) -> Option<UploadSlot> {
        Arc::clone(&self.0)
            .try_acquire_owned()
            .ok()
            .map(|permit| UploadSlot { _permit: permit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_beyond_the_burst_wait_and_clients_are_apart() {
        let t0 = Instant::now();
        let limiter = RequestLimiter::new(10, t0);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let a6: IpAddr = "2001:db8::1".parse().unwrap();
        let a6_neighbour: IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..20 {
            limiter.check(Some(a), t0).unwrap();
        }
        let wait = limiter.check(Some(a), t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert!(limiter.check(Some(a), t0 + wait).is_ok());
        for _ in 0..20 {
            limiter.check(Some(a6), t0).unwrap();
        }
        assert!(
            limiter.check(Some(a6_neighbour), t0).is_err(),
            "one /64, one client"
        );
        let off = RequestLimiter::new(0, t0);
        for _ in 0..1000 {
            off.check(Some(a), t0).unwrap();
        }
        assert_eq!(off.tracked(), 0);
    }

    #[test]
    fn the_request_table_stays_bounded() {
        let t0 = Instant::now();
        let limiter = RequestLimiter::new(1, t0);
        for n in 0..(MAX_CLIENTS as u32 + 10) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            limiter.check(Some(ip), t0).unwrap();
        }
        assert!(limiter.tracked() <= MAX_CLIENTS);
    }

    #[test]
    fn upload_slots_are_given_back_when_dropped() {
        let slots = UploadSlots::new(2);
        let first = slots.try_take().expect("a slot");
        let _second = slots.try_take().expect("a slot");
        assert!(slots.try_take().is_none(), "both taken");
        drop(first);
        assert!(slots.try_take().is_some(), "given back");
    }

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
