//! Measures the tracker registry's memory: fills one `Tracker` with PEERS peers (default
//! 1,000,000) spread over TORRENTS torrents (default 10,000), the way a real swarm registry
//! fills (two thirds leechers, IPv4), and prints the growth of the resident set per peer.
//!
//! `cargo run --release -p swarmgate-benches --bin tracker_memory -- [PEERS] [TORRENTS]`
//! (Linux: reads VmRSS from /proc/self/status.)

use std::net::SocketAddr;
use std::time::Instant;

use swarmgate_core::{InfoHashV1, PeerId, SplitMix64};
use swarmgate_tracker::{AnnounceEvent, AnnounceRequest, Tracker, TrackerConfig};

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let peers: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let torrents: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let now = Instant::now();
    // The connection-id key does not matter here: no UDP request is made.
    let tracker =
        Tracker::new(TrackerConfig::default(), now, [0; 16]).expect("default configuration");
    let mut rng = SplitMix64::new(42);
    let hashes: Vec<InfoHashV1> = (0..torrents)
        .map(|_| {
            let mut hash = [0u8; 20];
            for chunk in hash.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_le_bytes()[..chunk.len()]);
            }
            InfoHashV1(hash)
        })
        .collect();
    let before = resident_kib();
    let started = Instant::now();
    let mut out = Vec::with_capacity(1024);
    for n in 0..peers {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(&n.to_le_bytes());
        id[8..16].copy_from_slice(&rng.next_u64().to_le_bytes());
        let hash = hashes[(n % torrents) as usize];
        let mut request = AnnounceRequest::new(hash, PeerId(id), 6881);
        request.left = if n.is_multiple_of(3) { 0 } else { 1 };
        request.event = AnnounceEvent::Started;
        request.numwant = Some(0);
        let ip = (0x0a00_0000u32 + n as u32).to_be_bytes();
        let source = SocketAddr::from((ip, 6881));
        out.clear();
        tracker
            .announce(now, &request, source, &mut out)
            .expect("an open tracker accepts every announce");
    }
    let elapsed = started.elapsed();
    let after = resident_kib();
    let stats = tracker.stats();
    let grown = after.saturating_sub(before) * 1024;
    println!(
        "{} peers ({} seeders, {} leechers) in {} torrents: resident set grew by {:.1} MiB, \
         {:.1} bytes per peer; filled in {:.2} s ({:.0} announces/s, one thread)",
        stats.seeders + stats.leechers,
        stats.seeders,
        stats.leechers,
        stats.torrents,
        grown as f64 / (1024.0 * 1024.0),
        grown as f64 / peers as f64,
        elapsed.as_secs_f64(),
        peers as f64 / elapsed.as_secs_f64(),
    );
}
