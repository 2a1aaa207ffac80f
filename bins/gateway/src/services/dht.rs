//! The DHT service (BEP 5 on UDP 6883 by default): a swarmgate-dht node that announces every
//! stored torrent, so that a client holding only `magnet:?xt=urn:btih:…` finds the gateway.
//!
//! It observes the catalog: a published file is kept announced (swarmgate-dht re-announces it
//! on its own schedule, spread out), a removed one is dropped. Its routing table is saved in the
//! data folder (`dht.dat`), so a restart keeps its id and needs no router. Its health is real:
//! the routing table's good nodes, and how many of the recent lookups got answers.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use serde::Serialize;
use swarmgate_catalog::{CatalogObserver, Entry};
use swarmgate_dht::{Dht, DhtConfig, NodeConfig, NodeStats};
use swarmgate_service::Supervisor;
use tokio::net::UdpSocket;

use super::{Health, Service};
use crate::http::metrics::Snapshot;
use crate::settings::DhtServiceConfig;

/// Good nodes for a full table score.
const GOOD_NODES: usize = 16;
/// How far back "recent lookups" reach.
const RECENT: Duration = Duration::from_secs(10 * 60);

/// The DHT node; see the module docs.
#[derive(Debug)]
pub(crate) struct DhtService {
    dht: Dht,
    /// The gateway's peer port, announced for every stored torrent.
    peer_port: u16,
    /// The lookup counters at the start of the current health window.
    window: Mutex<(Instant, u64, u64)>,
}

/// The DHT's figures, as `/api/p2p/stats` shows them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DhtAnswer {
    /// Whether a DHT node runs (`--no-dht` turns it off).
    pub running: bool,
    /// Its bound address.
    pub addr: Option<String>,
    /// Its node id, hex.
    pub id: Option<String>,
    /// swarmgate-dht's `NodeStats`: traffic, tables, store, lookups, drops by reason.
    pub stats: Option<NodeStats>,
}

impl DhtService {
    /// A node on `socket`, its state in `data_dir/dht.dat`, announcing the gateway's `peer`
    /// (its announced peer address: its port always, its IP as the node's public one when it
    /// is neither unspecified nor loopback).
    pub(crate) fn start(
        socket: UdpSocket,
        config: &DhtServiceConfig,
        data_dir: &Path,
        peer: SocketAddr,
        registry: &mut Registry,
    ) -> anyhow::Result<DhtService> {
        let public = peer.ip();
        let node = NodeConfig {
            version: Some(b"SG01".to_vec()),
            public_ip: (!public.is_unspecified() && !public.is_loopback()).then_some(public),
            ..NodeConfig::default()
        };
        let dht = Dht::start(
            socket,
            DhtConfig {
                node,
                bootstrap: config.bootstrap.clone(),
                state_file: Some(data_dir.join("dht.dat")),
                ..DhtConfig::default()
            },
        )?;
        let observed = dht.clone();
        Snapshot::register(registry, "dht", move |samples| {
            let stats = observed.stats();
            let nodes = stats.table4.good + stats.table4.questionable;
            let nodes6 = stats.table6.good + stats.table6.questionable;
            samples.gauge(
                "dht_nodes",
                "Nodes in the DHT routing tables.",
                (nodes + nodes6) as u64,
            );
            samples.counter(
                "dht_queries_received",
                "DHT queries received.",
                stats.queries_received,
            );
            samples.counter("dht_queries_sent", "DHT queries sent.", stats.queries_sent);
            samples.counter("dht_lookups", "DHT lookups finished.", stats.lookups_done);
            samples.gauge(
                "dht_stored_peers",
                "Peers in the DHT store.",
                stats.stored_peers,
            );
            samples.counter(
                "dht_rate_limited",
                "DHT queries over the rate limit.",
                stats.drops.rate_limited,
            );
            samples.counter(
                "dht_dropped",
                "DHT datagrams dropped (not KRPC, malformed, unexpected).",
                stats.drops.not_krpc
                    + stats.drops.malformed_query
                    + stats.drops.malformed_answer
                    + stats.drops.unexpected_answer,
            );
        });
        Ok(DhtService {
            dht,
            peer_port: peer.port(),
            window: Mutex::new((Instant::now(), 0, 0)),
        })
    }

    /// The node's figures.
    pub(crate) fn answer(&self) -> DhtAnswer {
        DhtAnswer {
            running: true,
            addr: Some(self.dht.local_addr().to_string()),
            id: Some(self.dht.id().to_hex()),
            stats: Some(self.dht.stats()),
        }
    }
}

impl Service for DhtService {
    fn name(&self) -> &'static str {
        "dht"
    }

    fn start(&self, services: &mut Supervisor) {
        let dht = self.dht.clone();
        let mut shutdown = services.shutdown();
        services.spawn("dht", async move {
            shutdown.wait().await;
            dht.shutdown().await
        });
    }

    fn health(&self) -> Option<Health> {
        let stats = self.dht.stats();
        let good = stats.table4.good + stats.table6.good;
        let mut issues = Vec::new();
        let table = (good.min(GOOD_NODES) * 60 / GOOD_NODES) as u8;
        if good < GOOD_NODES {
            issues.push(format!(
                "{good} good nodes in the routing table (full marks at {GOOD_NODES})"
            ));
        }
        let (done, answered) = (stats.lookups_done, stats.lookups_answered);
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let (since, done_then, answered_then) = *window;
        let recent_done = done - done_then;
        let recent_answered = answered - answered_then;
        if since.elapsed() > RECENT {
            *window = (Instant::now(), done, answered);
        }
        // The recent window when it saw lookups, else every lookup since the start.
        let (seen, got_answers) = if recent_done > 0 {
            (recent_done, recent_answered)
        } else {
            (done, answered)
        };
        let lookups = match (got_answers * 40).checked_div(seen) {
            Some(score) => score as u8,
            None => {
                issues.push("no lookup has run yet".to_owned());
                20
            }
        };
        if got_answers < seen {
            issues.push(format!(
                "{} of {seen} recent lookups got no answer",
                seen - got_answers
            ));
        }
        Some(Health {
            name: "dht",
            score: table + lookups,
            weight: 25,
            issues,
        })
    }
}

impl CatalogObserver for DhtService {
    fn published(&self, entry: &Arc<Entry>) {
        self.dht
            .keep_announcing(entry.info_hash, Some(self.peer_port), true);
    }

    fn removed(&self, entry: &Arc<Entry>) {
        self.dht.stop_announcing(&entry.info_hash);
    }
}
