//! Memory per stored peer and per routing-table node (issue 13's goal: 64 bytes or less each),
//! measured as the growth of the process's resident memory while many are held: what the
//! allocator really hands out, its own overhead and the vectors' spare capacity included.
//!
//! `cargo run --release -p swarmgate-dht --example dht_memory` (Linux: it reads
//! /proc/self/statm).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use swarmgate_core::SplitMix64;
use swarmgate_dht::{
    Family, NodeId, NodeInfo, PeerStore, RoutingConfig, RoutingTable, StoreConfig,
};

/// Resident bytes of this process.
fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Bytes of resident growth per item while `fill` builds what it returns.
fn per_item<T>(items: impl Fn(&T) -> usize, fill: impl FnOnce() -> T) -> Option<(f64, usize, T)> {
    let before = resident()?;
    let built = fill();
    let after = resident()?;
    let count = items(&built);
    Some((
        (after.saturating_sub(before)) as f64 / count as f64,
        count,
        built,
    ))
}

fn store(hashes: u32, peers_per_hash: u32, v6_every: u32) -> Option<(f64, usize, PeerStore)> {
    let now = Instant::now();
    let mut config = StoreConfig::default();
    config.max_peers = usize::MAX;
    config.max_peers_per_hash = 5_999;
    per_item(PeerStore::len, || {
        let mut store = PeerStore::new(config, now);
        for h in 0..hashes {
            let mut hash = [0u8; 20];
            hash[..4].copy_from_slice(&h.to_be_bytes());
            for p in 0..peers_per_hash {
                let n = h.wrapping_mul(7919).wrapping_add(p);
                let addr = if v6_every > 0 && p % v6_every == 0 {
                    SocketAddr::from((Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(n)), 6881))
                } else {
                    SocketAddr::from((Ipv4Addr::from(0x0b00_0000 + n), 6881))
                };
                store.announce(now, hash, addr, p % 3 == 0);
            }
        }
        store
    })
}

fn tables(count: u32, nodes_each: u32) -> Option<(f64, usize, Vec<RoutingTable>)> {
    let now = Instant::now();
    let mut rng = SplitMix64::new(1);
    let held = |tables: &Vec<RoutingTable>| {
        tables
            .iter()
            .flat_map(|t| t.buckets())
            .map(|b| b.nodes.len() + b.replacements.len())
            .sum()
    };
    per_item(held, || {
        let mut tables = Vec::new();
        for _ in 0..count {
            let mut table = RoutingTable::new(
                NodeId::random(&mut rng),
                Family::V4,
                RoutingConfig::default(),
                now,
            );
            for n in 0..nodes_each {
                let node = NodeInfo {
                    id: NodeId::random(&mut rng),
                    addr: SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + n), 6881)),
                };
                table.answered(now, node, false);
            }
            tables.push(table);
        }
        tables
    })
}

/// The scenarios, each measured in a fresh process so that no memory freed by one is reused by
/// the next.
const SCENARIOS: [(&str, u32, u32, u32); 4] = [
    ("1,000 info-hashes x 200 IPv4 peers", 1_000, 200, 0),
    ("100 info-hashes x 2,000 peers, 1 in 5 IPv6", 100, 2_000, 5),
    ("20,000 info-hashes x 10 IPv4 peers", 20_000, 10, 0),
    ("200,000 info-hashes x 1 IPv4 peer", 200_000, 1, 0),
];

fn run(scenario: usize) {
    if let Some(&(label, hashes, peers, v6_every)) = SCENARIOS.get(scenario) {
        if let Some((bytes, count, _store)) = store(hashes, peers, v6_every) {
            println!("  peer store, {label}: {count} peers, {bytes:.1} bytes each");
        }
    } else if let Some((bytes, count, tables)) = tables(2_000, 400) {
        let live: usize = tables.iter().map(RoutingTable::len).sum();
        println!(
            "  routing tables, 2,000 offered 400 IPv4 nodes each: {count} nodes held ({live} live, \
             the rest waiting), {bytes:.1} bytes each"
        );
    }
}

fn main() {
    if resident().is_none() {
        println!("this measurement reads /proc/self/statm: Linux only");
        return;
    }
    if let Some(scenario) = std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        run(scenario);
        return;
    }
    println!("bytes of resident memory per stored peer and per routing-table node:");
    let exe = std::env::current_exe().expect("the running example's path");
    for scenario in 0..=SCENARIOS.len() {
        let status = std::process::Command::new(&exe)
            .arg(scenario.to_string())
            .status()
            .expect("the example runs itself");
        assert!(status.success());
    }
}
