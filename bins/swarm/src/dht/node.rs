//! `swarm dht node`: one DHT node that answers others until SIGINT or SIGTERM, for a private
//! network's bootstrap or a test's.
//!
//! It prints on stdout: first its bound address, alone on the line, so a script or a test can
//! bind port 0 and read where it is; then its id; at the end, its figures. The signal handlers
//! are in place before the first line: a test that stops the node as soon as it read it stops
//! it cleanly (table saved, figures printed).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use swarmgate_dht::{Dht, DhtConfig};

use super::{known_nodes, node_config, resolve_bootstrap};

#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    /// The UDP address to bind (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    addr: SocketAddr,
    /// A node to ask for the first nodes, HOST:PORT; repeatable. Asked while the table is
    /// empty (default: none; the node waits to be found).
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap: Vec<String>,
    /// Keep the routing table (and the node's id) in this file between runs (default: not
    /// kept).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

pub(super) async fn run(args: &NodeArgs) -> anyhow::Result<()> {
    let bootstrap = resolve_bootstrap(&args.bootstrap).await?;
    let stop = Stop::install()?;
    let config = DhtConfig {
        node: node_config(args.addr.ip(), &bootstrap),
        bootstrap: bootstrap.iter().map(ToString::to_string).collect(),
        state_file: args.state.clone(),
        ..DhtConfig::default()
    };
    let dht = Dht::bind(args.addr, config).await?;
    say(&format!("{}", dht.local_addr()))?;
    say(&format!("dht: node id {}", dht.id().to_hex()))?;
    stop.wait().await;
    dht.shutdown().await?;
    let stats = dht.stats();
    let driver = dht.driver_stats();
    say(&format!(
        "dht: stopped; {} nodes known; answered {} of {} queries received; sent {} queries, \
         {} answered, {} timed out; {} announces stored, {} peers of {} torrents held{}",
        known_nodes(&stats),
        stats.answers_sent,
        stats.queries_received,
        stats.queries_sent,
        stats.answers_received,
        stats.timeouts,
        stats.announces_stored,
        stats.stored_peers,
        stats.stored_info_hashes,
        match &args.state {
            Some(path) => format!(
                "; table saved to {} ({} times)",
                path.display(),
                driver.saves
            ),
            None => String::new(),
        },
    ))
}

/// One line on stdout, at once (a reader may be waiting for it).
fn say(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
}

/// SIGINT and SIGTERM, caught from the moment this is made (a signal that arrives before it is
/// awaited still counts).
struct Stop {
    #[cfg(unix)]
    signals: (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
}

impl Stop {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let interrupt = signal(SignalKind::interrupt()).context("catching SIGINT")?;
            let terminate = signal(SignalKind::terminate()).context("catching SIGTERM")?;
            Ok(Self {
                signals: (interrupt, terminate),
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn wait(self) {
        #[cfg(unix)]
        {
            let (mut interrupt, mut terminate) = self.signals;
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        swarmgate_service::wait_for_signal().await;
    }
}
