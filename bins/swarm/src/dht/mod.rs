//! `swarm dht`: a standalone mainline DHT node (BEP 5) and one-off lookups, on
//! swarmgate-dht's driver; and what `swarm download` shares with them: bootstrap names checked
//! and resolved up front, the node's configuration for its network, and where the routing table
//! is kept between runs.
//!
//! Bootstrap nodes are asked only while the routing table is empty, so a saved table and
//! explicit bootstrap nodes do not mix: with `--bootstrap` (`--dht-bootstrap`) nothing is read
//! or saved unless a state file is named too; without, the user's saved table is used
//! ([`default_state_file`]) and the public routers ([`WELL_KNOWN_ROUTERS`]) when it is empty or
//! missing. A node bound to loopback, or bootstrapped from loopback nodes only, is on a test
//! network: several nodes may share one IP there ([`NodeConfig::local_network`]).

mod get_peers;
mod node;

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use swarmgate_dht::{Dht, NodeConfig, NodeStats, WELL_KNOWN_ROUTERS};

/// How long one bootstrap name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `swarm dht`.
#[derive(Args, Debug)]
pub(crate) struct DhtArgs {
    #[command(subcommand)]
    command: DhtCommand,
}

#[derive(Subcommand, Debug)]
enum DhtCommand {
    /// Run a DHT node until SIGINT or SIGTERM (a bootstrap node for a private network or for
    /// tests). Prints its bound address on stdout first.
    Node(node::NodeArgs),
    /// Look up the peers of an info-hash and print them, one IP:PORT a line, with what the
    /// lookup cost.
    GetPeers(get_peers::GetPeersArgs),
}

pub(crate) fn run_dht(args: &DhtArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match &args.command {
        DhtCommand::Node(args) => runtime.block_on(node::run(args)),
        DhtCommand::GetPeers(args) => runtime.block_on(get_peers::run(args)),
    }
}

/// The routing table's file when none is named: `$XDG_CACHE_HOME/swarmgate/dht.dat`, else
/// `$HOME/.cache/swarmgate/dht.dat`; `None` when neither is set (nothing is saved).
pub(crate) fn default_state_file() -> Option<PathBuf> {
    state_file_in(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
}

/// The state file given `$XDG_CACHE_HOME` and `$HOME` (a relative one is ignored, as the XDG
/// base directory specification says).
fn state_file_in(xdg_cache: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |value: Option<OsString>| value.map(PathBuf::from).filter(|p| p.is_absolute());
    let cache = absolute(xdg_cache).or_else(|| absolute(home).map(|h| h.join(".cache")))?;
    Some(cache.join("swarmgate").join("dht.dat"))
}

/// Checks and resolves `names` (`HOST:PORT`, `[IPv6]:PORT`) to addresses, the first of each
/// name. One that does not parse or resolve is an error naming it: a node given by hand must
/// exist.
pub(crate) async fn resolve_bootstrap(names: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    let mut addrs = Vec::with_capacity(names.len());
    for name in names {
        let Some((host, port)) = name.rsplit_once(':') else {
            bail!("{name}: not a HOST:PORT DHT node");
        };
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            bail!("{name}: not a HOST:PORT DHT node");
        }
        if let Ok(addr) = name.parse::<SocketAddr>() {
            addrs.push(addr);
            continue;
        }
        let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(name.as_str()))
            .await
            .map_err(|_| anyhow::anyhow!("{name}: the DHT node's name took too long to resolve"))?
            .with_context(|| format!("{name}: cannot resolve the DHT node's name"))?
            .next();
        match found {
            Some(addr) => addrs.push(addr),
            None => bail!("{name}: the DHT node's name has no address"),
        }
    }
    Ok(addrs)
}

/// The bootstrap nodes to give the driver: `given` as addresses, or the public routers.
pub(crate) fn bootstrap_names(given: &[SocketAddr]) -> Vec<String> {
    if given.is_empty() {
        WELL_KNOWN_ROUTERS.iter().map(|r| (*r).to_owned()).collect()
    } else {
        given.iter().map(ToString::to_string).collect()
    }
}

/// The node's configuration: a test network's ([`NodeConfig::local_network`]) when it is bound
/// to loopback or every bootstrap node is on loopback, else the public DHT's.
pub(crate) fn node_config(bind: IpAddr, bootstrap: &[SocketAddr]) -> NodeConfig {
    let loopback_only = !bootstrap.is_empty()
        && bootstrap
            .iter()
            .all(|a| a.ip().to_canonical().is_loopback());
    if bind.is_loopback() || loopback_only {
        NodeConfig::local_network()
    } else {
        NodeConfig::default()
    }
}

/// Nodes in the tables that are not known to be bad.
pub(crate) fn known_nodes(stats: &NodeStats) -> usize {
    stats.table4.good + stats.table4.questionable + stats.table6.good + stats.table6.questionable
}

/// Waits until `dht` knows a node, `patience` at most; says whether it does.
pub(crate) async fn wait_for_nodes(dht: &Dht, patience: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if known_nodes(&dht.stats()) > 0 {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bootstrap_names_are_checked() {
        let ok = resolve_bootstrap(&["127.0.0.1:6881".into(), "[::1]:7000".into()])
            .await
            .unwrap();
        assert_eq!(ok[0], "127.0.0.1:6881".parse().unwrap());
        assert_eq!(ok[1], "[::1]:7000".parse().unwrap());
        let localhost = resolve_bootstrap(&["localhost:6881".into()]).await.unwrap();
        assert!(localhost[0].ip().is_loopback() && localhost[0].port() == 6881);
        for bad in ["router", "router:", ":6881", "host:0", "host:70000"] {
            let error = resolve_bootstrap(&[bad.into()]).await.unwrap_err();
            assert!(
                error.to_string().contains("not a HOST:PORT"),
                "{bad}: {error}"
            );
        }
        let error = resolve_bootstrap(&["no-such-node.invalid:6881".into()])
            .await
            .unwrap_err();
        assert!(format!("{error:#}").starts_with("no-such-node.invalid:6881: cannot resolve"));
    }

    #[test]
    fn the_table_is_kept_in_the_cache_folder() {
        let some = |text: &str| Some(OsString::from(text));
        let kept = |xdg, home| state_file_in(xdg, home).map(|p| p.display().to_string());
        assert_eq!(
            kept(some("/x/cache"), some("/home/u")).as_deref(),
            Some("/x/cache/swarmgate/dht.dat")
        );
        assert_eq!(
            kept(None, some("/home/u")).as_deref(),
            Some("/home/u/.cache/swarmgate/dht.dat")
        );
        assert_eq!(
            kept(some("relative"), some("/home/u")).as_deref(),
            Some("/home/u/.cache/swarmgate/dht.dat")
        );
        assert_eq!(kept(None, None), None);
        assert_eq!(kept(some(""), some("rel")), None);
    }

    #[test]
    fn loopback_networks_allow_shared_ips() {
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let public: SocketAddr = "192.0.2.1:1".parse().unwrap();
        assert!(node_config(any, &[local]).routing.allow_local_duplicates);
        assert!(
            node_config("127.0.0.1".parse().unwrap(), &[])
                .routing
                .allow_local_duplicates
        );
        assert!(
            !node_config(any, &[local, public])
                .routing
                .allow_local_duplicates
        );
        assert!(!node_config(any, &[]).routing.allow_local_duplicates);
        assert_eq!(bootstrap_names(&[]).len(), WELL_KNOWN_ROUTERS.len());
        assert_eq!(bootstrap_names(&[local]), ["127.0.0.1:1"]);
    }
}
