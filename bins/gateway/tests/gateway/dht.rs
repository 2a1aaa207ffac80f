//! The gateway's DHT node: every stored file announced, so a node that asks the gateway finds
//! its peer for the file's info-hash; its figures in /api/p2p/stats, /metrics and the health
//! report; its id and table kept across a restart (dht.dat in the data folder); `--no-dht`.
//! Real clients given only `magnet:?xt=urn:btih:…` and the gateway's node (python3-libtorrent,
//! aria2c) are in the ignored tests at the end.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use swarmgate_core::InfoHashV1;
use swarmgate_dht::{Dht, DhtConfig, NodeConfig};
use swarmgate_testkit::programs::{Running, free_port, hex_encode, lt_leech_with, sha256};

use super::support::{Gateway, small, workspace};
use super::uploads::{Stored, upload};

/// Every wait in these tests ends by this.
const PATIENCE: Duration = Duration::from_secs(30);

/// A runtime whose worker drives the test's DHT nodes in the background between calls.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn info_hash(stored: &Stored) -> InfoHashV1 {
    let hex = stored.field("info_hash");
    let bytes: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    InfoHashV1(bytes.try_into().expect("20 bytes"))
}

/// A node of ours on loopback whose only contact is `gateway_node`.
async fn node_beside(gateway_node: SocketAddr, seed: u64) -> Dht {
    Dht::bind(
        "127.0.0.1:0".parse().expect("address"),
        DhtConfig {
            node: NodeConfig::local_network(),
            bootstrap: vec![gateway_node.to_string()],
            seed: Some(seed),
            ..DhtConfig::default()
        },
    )
    .await
    .expect("bind")
}

/// Looks `info_hash` up from `client` until the gateway's `peer` is found (at most 20 lookups).
async fn find_gateway_peer(client: &Dht, info_hash: InfoHashV1, peer: SocketAddr) {
    let mut seen = Vec::new();
    for _ in 0..20 {
        let (peers, _) = tokio::time::timeout(PATIENCE, client.get_peers(info_hash).finish())
            .await
            .expect("the lookup ends")
            .expect("the node runs");
        if peers.contains(&peer) {
            return;
        }
        seen = peers;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the gateway's peer {peer} was never found; found {seen:?}");
}

/// Waits (at most [`PATIENCE`]) until the DHT component scores more than `than`.
fn wait_for_score_above(gateway: &Gateway, than: u64) -> Value {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let component = dht_component(gateway);
        if component["score"].as_u64() > Some(than) || std::time::Instant::now() > deadline {
            return component;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits (at most [`PATIENCE`]) until the gateway's node has `nodes` nodes in its table.
fn wait_for_gateway_nodes(gateway: &Gateway, nodes: u64) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let p2p = gateway.get_json("/api/p2p/stats", StatusCode::OK);
        let table = &p2p["dht"]["stats"]["table4"];
        let known =
            table["good"].as_u64().unwrap_or(0) + table["questionable"].as_u64().unwrap_or(0);
        if known >= nodes {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway's node never knew {nodes} nodes: {p2p}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn dht_component(gateway: &Gateway) -> Value {
    let health = gateway.get_json("/api/health", StatusCode::OK);
    health["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "dht")
        .cloned()
        .unwrap_or_else(|| panic!("a dht component in {health}"))
}

#[test]
fn every_stored_file_is_announced_on_the_gateways_node_and_its_figures_are_real() {
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let node = gateway.dht.expect("a DHT node by default");
    let before = dht_component(&gateway);
    assert!(before["score"].as_u64().expect("score") < 100, "{before}");

    let stored = upload(&gateway, small(), "small.bin", false, StatusCode::CREATED);
    let peer = SocketAddr::from(([127, 0, 0, 1], gateway.peer.port()));
    let runtime = runtime();
    let client = runtime.block_on(node_beside(node, 5));
    runtime.block_on(find_gateway_peer(&client, info_hash(&stored), peer));

    let p2p = gateway.get_json("/api/p2p/stats", StatusCode::OK);
    let dht = &p2p["dht"];
    assert_eq!(dht["running"], true, "{p2p}");
    assert_eq!(dht["addr"], node.to_string());
    assert_eq!(dht["id"].as_str().expect("id").len(), 40);
    assert!(
        dht["stats"]["queries_received"].as_u64() >= Some(1),
        "{dht}"
    );
    assert!(
        dht["stats"]["own_torrents"].as_u64() == Some(1),
        "the stored file: {dht}"
    );
    let metrics = gateway.get("/metrics").text().expect("metrics");
    assert!(metrics.contains("dht_queries_received"), "{metrics}");
    let diagnostics = gateway.get_json("/api/diagnostics", StatusCode::OK);
    assert_eq!(diagnostics["listening"]["dht"], node.to_string());

    // The node met ours: its table is no longer empty, its announce (retried after the first
    // reached nobody) is answered, and the score says so.
    let after = wait_for_score_above(&gateway, before["score"].as_u64().expect("score"));
    assert!(
        after["score"].as_u64() > before["score"].as_u64(),
        "{before} then {after}; the node: {}",
        gateway.get_json("/api/p2p/stats", StatusCode::OK)["dht"]
    );
    runtime.block_on(client.shutdown()).expect("shutdown");
}

#[test]
fn a_restarted_gateway_keeps_its_dht_id_and_without_dht_says_so() {
    let (_tmp, data) = workspace();
    let mut first = Gateway::start(&data, &[]);
    let id = first.get_json("/api/p2p/stats", StatusCode::OK)["dht"]["id"].clone();
    first.terminate(PATIENCE);
    assert!(data.join("dht.dat").exists(), "saved at shutdown");
    let second = first.restart();
    let again = second.get_json("/api/p2p/stats", StatusCode::OK)["dht"]["id"].clone();
    assert_eq!(again, id, "the same id after a restart");
    drop(second);

    let without = Gateway::start(&data, &["--no-dht"]);
    assert_eq!(without.dht, None);
    let p2p = without.get_json("/api/p2p/stats", StatusCode::OK);
    assert_eq!(p2p["dht"]["running"], false, "{p2p}");
    let component = dht_component(&without);
    assert_eq!(component["score"], 0);
    assert!(component.to_string().contains("--no-dht"), "{component}");
}

/// Waits for a client process to print DONE (or fail), then checks the file.
fn expect_done(process: &mut Running, file: &Path, expected: &str, what: &str) {
    let line = process.expect_line("DONE", Duration::from_secs(180));
    assert!(line.starts_with("DONE"), "{what}: {line}");
    assert_eq!(
        hex_encode(&sha256(file)),
        expected,
        "{what}: the file differs"
    );
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn a_libtorrent_leecher_with_only_the_info_hash_and_the_gateways_node_completes() {
    let (tmp, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let node = gateway.dht.expect("a DHT node");
    let stored = upload(&gateway, small(), "small.bin", false, StatusCode::CREATED);
    let magnet = format!("magnet:?xt=urn:btih:{}", stored.field("info_hash"));
    // libtorrent keeps its bootstrap nodes out of its routing table and announces a torrent
    // only once that table has a node: one more node on the network, as any real one has.
    let runtime = runtime();
    let other = runtime.block_on(node_beside(node, 6));
    wait_for_gateway_nodes(&gateway, 1);
    let save = tmp.path().join("libtorrent");
    let mut leecher = lt_leech_with(
        &magnet,
        &save,
        &[
            "--listen",
            "127.0.7.1",
            "--dht",
            &node.to_string(),
            "--timeout",
            "170",
        ],
    );
    expect_done(
        &mut leecher.process,
        &save.join("small.bin"),
        &small().sha256,
        "python3-libtorrent by DHT",
    );
    let dht = &gateway.get_json("/api/p2p/stats", StatusCode::OK)["dht"];
    assert!(
        dht["stats"]["queries_received"].as_u64() >= Some(1),
        "{dht}"
    );
    runtime.block_on(other.shutdown()).expect("shutdown");
}

#[test]
#[ignore = "needs aria2c"]
fn aria2c_with_its_dht_entry_point_at_the_gateways_node_completes_a_magnet() {
    let (tmp, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let node = gateway.dht.expect("a DHT node");
    let stored = upload(&gateway, small(), "small.bin", false, StatusCode::CREATED);
    let magnet = format!("magnet:?xt=urn:btih:{}", stored.field("info_hash"));
    let work = tmp.path().join("aria2");
    std::fs::create_dir_all(&work).expect("aria2's folder");
    let mut command = std::process::Command::new("aria2c");
    command
        .arg("--no-conf=true")
        .arg(format!("--listen-port={}", free_port()))
        .arg("--enable-dht=true")
        .arg("--enable-dht6=false")
        .arg(format!("--dht-listen-port={}", free_port()))
        .arg(format!("--dht-entry-point={node}"))
        .arg(format!(
            "--dht-file-path={}",
            work.join("dht.dat").display()
        ))
        .arg("--enable-peer-exchange=false")
        .arg("--bt-enable-lpd=false")
        .arg("--seed-time=0")
        .arg("--bt-stop-timeout=170")
        .arg("--summary-interval=0")
        .arg("--console-log-level=warn")
        .arg("--log-level=info")
        .arg("-l")
        .arg(work.join("aria2.log"))
        .arg("-d")
        .arg(work.join("download"))
        .arg(&magnet);
    let mut aria2 = Running::spawn(command);
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = aria2.exited() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            aria2.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = std::fs::read_to_string(work.join("aria2.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    let tail: String = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    let status =
        status.unwrap_or_else(|| panic!("aria2c still running after 180 s; its log ends:\n{tail}"));
    assert!(
        status.success(),
        "aria2c exited with {status}; its log ends:\n{tail}"
    );
    assert_eq!(
        hex_encode(&sha256(&work.join("download").join("small.bin"))),
        small().sha256,
        "aria2c's file differs"
    );
}
