//! The per-IP query rate limit: a flood from one address is refused while others are served, in
//! bounded memory.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use swarmgate_dht::{RateConfig, RateLimiter};

fn limiter(per_second: u32, burst: u32, max_tracked: usize, now: Instant) -> RateLimiter {
    let mut config = RateConfig::default();
    config.per_second = per_second;
    config.burst = burst;
    config.max_tracked = max_tracked;
    RateLimiter::new(config, now)
}

#[test]
fn a_flood_from_one_ip_is_limited_and_others_are_served() {
    let start = Instant::now();
    let mut limiter = limiter(10, 20, 1000, start);
    let flood: IpAddr = "203.0.113.66".parse().unwrap();
    let others: Vec<IpAddr> = (1..=50u8)
        .map(|n| IpAddr::from([198, 51, 100, n]))
        .collect();
    let mut flood_allowed = 0;
    let mut others_allowed = 0;
    // Two seconds of 1,000 queries a second from the flood, one a second from each other
    // address, in virtual time.
    for ms in 0..2000u64 {
        let now = start + Duration::from_millis(ms);
        flood_allowed += usize::from(limiter.check(now, flood));
        if ms % 1000 == 0 {
            for &ip in &others {
                others_allowed += usize::from(limiter.check(now, ip));
            }
        }
    }
    // The burst, then ten a second.
    assert!(
        (39..=41).contains(&flood_allowed),
        "{flood_allowed} allowed"
    );
    assert_eq!(others_allowed, 100, "every other address served");
    let stats = limiter.stats();
    assert_eq!(stats.allowed as usize, flood_allowed + others_allowed);
    assert_eq!(stats.refused as usize, 2000 - flood_allowed);
}

#[test]
fn memory_stays_bounded_under_ever_new_addresses() {
    let now = Instant::now();
    let mut limiter = limiter(5, 5, 1024, now);
    for n in 0..50_000u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(0xc000_0000 | n));
        limiter.check(now, ip);
        limiter.check(now, ip);
        assert!(limiter.tracked() <= 1024);
    }
    // A steady flooder keeps its place: it is among the most loaded.
    let flood: IpAddr = "203.0.113.1".parse().unwrap();
    while limiter.check(now, flood) {}
    for n in 0..5_000u32 {
        limiter.check(now, IpAddr::V4(Ipv4Addr::from(0xc100_0000 | n)));
    }
    assert!(!limiter.check(now, flood), "still limited");
    limiter.purge(now + Duration::from_secs(60));
    assert_eq!(limiter.tracked(), 0);
}
