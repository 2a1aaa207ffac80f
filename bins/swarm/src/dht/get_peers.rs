//! `swarm dht get-peers`: one BEP 5 get_peers lookup from a node of our own, for checking what
//! the DHT knows of a torrent (and that a private network's nodes answer).
//!
//! The node joins, the lookup runs once, and the peers found are printed one `IP:PORT` a line
//! on stdout; what the lookup cost (rounds, queries, answers, failures, time) goes to stderr.
//! The timeout covers joining and the lookup together.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use swarmgate_core::InfoHashV1;
use swarmgate_dht::{Dht, DhtConfig};

use super::{bootstrap_names, default_state_file, node_config, resolve_bootstrap, wait_for_nodes};

#[derive(Args, Debug)]
pub(crate) struct GetPeersArgs {
    /// The torrent's v1 info-hash, 40 hex or 32 base32 digits.
    info_hash: String,
    /// A node to join the DHT through, HOST:PORT; repeatable (default: the saved table, then
    /// the public routers).
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap: Vec<String>,
    /// Give up after this many seconds (joining and the lookup together).
    #[arg(long, value_name = "S", default_value_t = 30)]
    timeout: u64,
    /// The routing table's file (default: the saved table in the user's cache folder when no
    /// --bootstrap is given, else none).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

pub(super) async fn run(args: &GetPeersArgs) -> anyhow::Result<()> {
    let info_hash = InfoHashV1::from_hex_or_base32(args.info_hash.trim()).map_err(|e| {
        anyhow!(
            "{}: not an info-hash (40 hex or 32 base32 digits): {e}",
            args.info_hash
        )
    })?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let deadline = tokio::time::Instant::now() + timeout;
    let bootstrap = resolve_bootstrap(&args.bootstrap).await?;
    let state_file = args
        .state
        .clone()
        .or_else(|| bootstrap.is_empty().then(default_state_file).flatten());
    let bind = SocketAddr::new(bind_ip(&bootstrap), 0);
    let config = DhtConfig {
        node: node_config(bind.ip(), &bootstrap),
        bootstrap: bootstrap_names(&bootstrap),
        state_file,
        ..DhtConfig::default()
    };
    let dht = Dht::bind(bind, config).await?;
    let result = look_up(&dht, info_hash, deadline, timeout).await;
    dht.shutdown().await?;
    let (peers, report) = result?;
    let mut stdout = std::io::stdout().lock();
    for peer in &peers {
        writeln!(stdout, "{peer}").context("writing to stdout")?;
    }
    stdout.flush().context("writing to stdout")?;
    eprintln!(
        "get-peers: {} peers for {} in {} rounds, {} queries ({} answered, {} failed), {:.2} s",
        peers.len(),
        info_hash.to_hex(),
        report.stats.rounds,
        report.stats.queries,
        report.stats.answers,
        report.stats.failures,
        report.elapsed.as_secs_f64()
    );
    Ok(())
}

/// Joins the DHT, then runs the lookup, all before `deadline`.
async fn look_up(
    dht: &Dht,
    info_hash: InfoHashV1,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> anyhow::Result<(Vec<SocketAddr>, swarmgate_dht::LookupReport)> {
    let patience = deadline.saturating_duration_since(tokio::time::Instant::now());
    if !wait_for_nodes(dht, patience).await {
        bail!("no DHT node answered within {timeout:?}");
    }
    tokio::time::timeout_at(deadline, dht.get_peers(info_hash).finish())
        .await
        .map_err(|_| anyhow!("the lookup did not end within {timeout:?}"))?
        .context("the lookup")
}

/// Loopback when every bootstrap node is on loopback (a test network), else every address of
/// the bootstrap nodes' family.
fn bind_ip(bootstrap: &[SocketAddr]) -> IpAddr {
    let v6 = bootstrap.first().is_some_and(SocketAddr::is_ipv6);
    let loopback = !bootstrap.is_empty() && bootstrap.iter().all(|a| a.ip().is_loopback());
    match (v6, loopback) {
        (false, false) => Ipv4Addr::UNSPECIFIED.into(),
        (false, true) => Ipv4Addr::LOCALHOST.into(),
        (true, false) => Ipv6Addr::UNSPECIFIED.into(),
        (true, true) => Ipv6Addr::LOCALHOST.into(),
    }
}
