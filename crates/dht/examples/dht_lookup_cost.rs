//! Messages per get_peers lookup in a 40-node loopback network (issue 13's goal: ours at most
//! 12, where libtorrent sends about 17), ours and, optionally, python3-libtorrent's in the same
//! network.
//!
//! ```text
//! cargo run --release -p swarmgate-dht --example dht_lookup_cost -- \
//!     [--nodes 40] [--lookups 20] [--settle 10] [--libtorrent benches/scripts/dht/lt_dht.py]
//! ```
//!
//! It starts `--nodes` of our nodes ([`Dht::bind`], [`NodeConfig::local_network`]) in this
//! process, node `i` on 127.1.(i+1).1 (each in its own /24: libtorrent queries one node a /24
//! in a lookup): node 0 first, the others bootstrapped from it. After
//! `--settle` seconds, half of `--lookups` info-hashes get one peer each, announced by a node of
//! the network; the other half have none. Then a looker joins like any newcomer (bootstrapped
//! from node 0 only, `--settle` seconds to fill its table): ours on 127.0.2.2, and with
//! `--libtorrent`, `lt_dht.py lookup` on 127.0.2.1, each running one lookup per info-hash, one
//! at a time. It prints a line per lookup (`ours|libtorrent HASH queries peers seconds`) and a
//! summary: the mean and median get_peers queries per lookup, with and without peers. Every
//! wait is bounded.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, SplitMix64};
use swarmgate_dht::{Dht, DhtConfig, NodeConfig};

/// One lookup may take this long at most.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

struct Settings {
    nodes: usize,
    lookups: usize,
    settle: u64,
    libtorrent: Option<String>,
}

fn parse_args() -> Result<Settings, String> {
    let mut settings = Settings {
        nodes: 40,
        lookups: 20,
        settle: 10,
        libtorrent: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--nodes" => settings.nodes = number()?.clamp(2, 250),
            "--lookups" => settings.lookups = number()?.clamp(2, 1_000),
            "--settle" => settings.settle = number()? as u64,
            "--libtorrent" => settings.libtorrent = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(settings)
}

fn config(seed: u64, bootstrap: Option<SocketAddr>) -> DhtConfig {
    DhtConfig {
        node: NodeConfig::local_network(),
        bootstrap: bootstrap.iter().map(ToString::to_string).collect(),
        seed: Some(seed),
        ..DhtConfig::default()
    }
}

fn info_hash(rng: &mut SplitMix64) -> InfoHashV1 {
    let mut hash = [0u8; 20];
    for chunk in hash.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_be_bytes()[..chunk.len()]);
    }
    InfoHashV1(hash)
}

/// Queries, peers and seconds of one lookup.
type Cost = (u32, usize, f64);

fn summary(who: &str, costs: &[Cost], with_peers: usize) {
    for (label, part) in [
        ("with peers", &costs[..with_peers]),
        ("without peers", &costs[with_peers..]),
        ("all", costs),
    ] {
        let mut queries: Vec<u32> = part.iter().map(|c| c.0).collect();
        queries.sort_unstable();
        if queries.is_empty() {
            continue;
        }
        let mean = queries.iter().map(|&q| f64::from(q)).sum::<f64>() / queries.len() as f64;
        let found = part.iter().filter(|c| c.1 > 0).count();
        println!(
            "summary {who} {label}: lookups={} mean_queries={mean:.1} median_queries={} \
             found_peers_in={found}",
            queries.len(),
            queries[queries.len() / 2],
        );
    }
}

/// Runs lt_dht.py's lookups in the network through `bootstrap`; its costs in `hashes` order.
fn libtorrent_lookups(
    script: &str,
    bootstrap: SocketAddr,
    settle: u64,
    hashes: &[InfoHashV1],
) -> Result<Vec<Cost>, String> {
    let mut command = Command::new("/usr/bin/python3");
    command.args([script, "lookup", "--listen", "127.0.2.1"]);
    command.args(["--bootstrap", &bootstrap.to_string()]);
    command.args(["--settle", &settle.to_string()]);
    for hash in hashes {
        command.args(["--hash", &hash.to_hex()]);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{script}: {e}"))?;
    let deadline = Instant::now()
        + Duration::from_secs(settle + 30)
        + Duration::from_secs(16) * hashes.len() as u32;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().map_err(|e| e.to_string())?;
            child.wait().map_err(|e| e.to_string())?;
            return Err("libtorrent's lookups did not end in time".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut costs = Vec::new();
    let mut to_itself = 0;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["LOOKUP", hash, queries, peers, seconds, rest @ ..] => {
                let parse = |what: &str| format!("{what} in {line:?}");
                let cost = (
                    queries.parse().map_err(|_| parse("queries"))?,
                    peers.parse::<i64>().map_err(|_| parse("peers"))?.max(0) as usize,
                    seconds.parse().map_err(|_| parse("seconds"))?,
                );
                let to_self = rest
                    .first()
                    .and_then(|f| f.strip_prefix("self="))
                    .unwrap_or("?");
                to_itself += to_self.parse::<u32>().unwrap_or(0);
                let note = if rest.contains(&"TIMEOUT") {
                    " (timed out)"
                } else {
                    ""
                };
                println!(
                    "libtorrent {hash} {} {} {:.3} ({to_self} to itself){note}",
                    cost.0, cost.1, cost.2
                );
                costs.push(cost);
            }
            ["STATS", rest @ ..] => println!("libtorrent table: {}", rest.join(" ")),
            _ => {}
        }
    }
    println!("libtorrent queries to its own address: {to_itself} in all");
    if costs.len() != hashes.len() {
        return Err(format!(
            "libtorrent reported {} lookups of {}",
            costs.len(),
            hashes.len()
        ));
    }
    Ok(costs)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(settings))
}

async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let mut nodes = Vec::with_capacity(settings.nodes);
    let first = Dht::bind((Ipv4Addr::new(127, 1, 1, 1), 0).into(), config(1, None)).await?;
    let bootstrap = first.local_addr();
    nodes.push(first);
    for i in 1..settings.nodes {
        let ip = Ipv4Addr::new(127, 1, (i + 1) as u8, 1);
        let node = Dht::bind((ip, 0).into(), config(1 + i as u64, Some(bootstrap))).await?;
        nodes.push(node);
    }
    tokio::time::sleep(Duration::from_secs(settings.settle)).await;
    let known: Vec<u64> = nodes
        .iter()
        .map(|n| {
            let s = n.stats();
            (s.table4.good + s.table4.questionable) as u64
        })
        .collect();
    println!(
        "network: {} nodes on 127.1.x.1, bootstrap {bootstrap}; table sizes min {} mean {:.1} max {}",
        nodes.len(),
        known.iter().min().unwrap_or(&0),
        known.iter().sum::<u64>() as f64 / known.len() as f64,
        known.iter().max().unwrap_or(&0),
    );

    let mut rng = SplitMix64::new(0xd47_1007);
    let hashes: Vec<InfoHashV1> = (0..settings.lookups).map(|_| info_hash(&mut rng)).collect();
    let with_peers = settings.lookups / 2;
    for (i, hash) in hashes[..with_peers].iter().enumerate() {
        let announcer = &nodes[1 + i % (nodes.len() - 1)];
        let port = 10_000 + i as u16;
        let announced = tokio::time::timeout(
            LOOKUP_TIMEOUT,
            announcer.announce(*hash, Some(port), false).finish(),
        )
        .await;
        match announced {
            Ok(Ok((_, report))) => println!(
                "announced {} from {} to {} nodes",
                hash.to_hex(),
                announcer.local_addr(),
                report.announced_to
            ),
            _ => println!("announce of {} failed", hash.to_hex()),
        }
    }

    let looker = Dht::bind(
        (Ipv4Addr::new(127, 0, 2, 2), 0).into(),
        config(1_000, Some(bootstrap)),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(settings.settle)).await;
    let table = looker.stats().table4;
    println!(
        "ours table: routing_nodes={}",
        table.good + table.questionable
    );
    let mut ours = Vec::with_capacity(hashes.len());
    for hash in &hashes {
        let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, looker.get_peers(*hash).finish()).await;
        let (peers, report) = match lookup {
            Ok(Ok(done)) => done,
            _ => return Err(format!("our lookup of {} did not end", hash.to_hex()).into()),
        };
        let cost = (
            report.stats.queries,
            peers.len(),
            report.elapsed.as_secs_f64(),
        );
        println!(
            "ours {} {} {} {:.3} (rounds {}, answers {}, failures {})",
            hash.to_hex(),
            cost.0,
            cost.1,
            cost.2,
            report.stats.rounds,
            report.stats.answers,
            report.stats.failures
        );
        ours.push(cost);
    }
    summary("ours", &ours, with_peers);

    if let Some(script) = &settings.libtorrent {
        let script = script.clone();
        let settle = settings.settle;
        let for_libtorrent = hashes.clone();
        let costs = tokio::task::spawn_blocking(move || {
            libtorrent_lookups(&script, bootstrap, settle, &for_libtorrent)
        })
        .await??;
        summary("libtorrent", &costs, with_peers);
    }
    looker.shutdown().await?;
    for node in &nodes {
        node.shutdown().await?;
    }
    Ok(())
}
