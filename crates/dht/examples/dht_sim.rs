//! The deterministic DHT simulation at full size (issue 13): thousands of swarmgate-dht nodes
//! on testkit's simulated UDP network, joined through their own bootstrap, then get_peers
//! lookups of announced info-hashes with every node alive, with 20 % of the nodes silent (just
//! now, or for 16 minutes), and with 20 % of them replaced while the lookups run. Prints one
//! Markdown row per scenario: rounds, queries, virtual time to LookupDone and to the first peer
//! (median / 95th percentile), lookups that found a peer, lookups that ended at the true K
//! closest nodes, and misses that no stale or new entry explains.
//!
//! ```text
//! cargo run --release -p swarmgate-dht --example dht_sim -- --nodes 10000 --lookups 1000 --seed 1
//! ```
//!
//! Options: `--nodes N`, `--lookups N`, `--seed N`, `--settle SECONDS` (after the last join),
//! `--alpha N` and `--short-timeout-ms N` (the lookups' settings),
//! `--scenario all|alive|silent|aged|churn`. Times are virtual; the wall time of each scenario
//! and how well the tables knew the network are printed to standard error.

#[path = "../tests/dht/sim/scenario.rs"]
mod scenario;
#[path = "../tests/dht/sim/world.rs"]
mod world;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use scenario::{RunConfig, Scenario, TABLE_HEADER};

fn main() -> ExitCode {
    let mut config = RunConfig::new(10_000, 1_000, 1);
    let mut scenarios = Scenario::ALL.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("{flag} needs a value");
            return ExitCode::FAILURE;
        };
        let number = value.parse::<u64>();
        match (flag.as_str(), number) {
            ("--nodes", Ok(n)) => config.world.nodes = n as usize,
            ("--lookups", Ok(n)) => config.lookups = n as usize,
            ("--seed", Ok(n)) => config.world.seed = n,
            ("--settle", Ok(n)) => config.world.settle = Duration::from_secs(n),
            ("--alpha", Ok(n)) => config.world.node.lookup.alpha = n as usize,
            ("--short-timeout-ms", Ok(n)) => {
                config.world.node.lookup.short_timeout = Duration::from_millis(n);
            }
            ("--scenario", _) => {
                scenarios = match value.as_str() {
                    "all" => Scenario::ALL.to_vec(),
                    "alive" => vec![Scenario::AllAlive],
                    "silent" => vec![Scenario::Silent],
                    "aged" => vec![Scenario::SilentAged],
                    "churn" => vec![Scenario::Churn],
                    other => {
                        eprintln!("unknown scenario {other}: all, alive, silent, aged or churn");
                        return ExitCode::FAILURE;
                    }
                }
            }
            _ => {
                eprintln!(
                    "usage: dht_sim [--nodes N] [--lookups N] [--seed N] [--settle SECONDS] \
                     [--alpha N] [--short-timeout-ms N] [--scenario all|alive|silent|aged|churn]"
                );
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "{} nodes, {} lookups, seed {}, {} % silent or replaced; times are virtual\n",
        config.world.nodes,
        config.lookups,
        config.world.seed,
        config.share * 100.0
    );
    println!("{TABLE_HEADER}");
    for scenario in scenarios {
        let wall = Instant::now();
        let report = scenario::run(scenario, &config);
        println!("{}", report.row());
        eprintln!(
            "{}: {:.1} s wall; after the build the tables held {:.1} good nodes and {:.1} % of \
             their K closest; {} of {} announces reached nodes",
            scenario.name(),
            wall.elapsed().as_secs_f64(),
            report.good_per_table,
            report.knows_closest * 100.0,
            report.announced,
            report.outcomes.len(),
        );
    }
    ExitCode::SUCCESS
}
