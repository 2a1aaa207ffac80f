//! `swarm dht` and `swarm download` over the DHT, on loopback only: a `swarm dht node` that
//! others bootstrap from, `swarm dht get-peers` finding a peer announced through it, bad input
//! answered in one line, and a magnet link with nothing but its info-hash downloaded from a
//! `swarm download --seed` that only the DHT knows of. Every wait is bounded.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use swarmgate_core::InfoHashV1;
use swarmgate_dht::{Dht, DhtConfig, NodeConfig};

use crate::support::{Running, free_port, sha256, spawn_swarm, stderr, swarm, write_random};

const LIMIT: Duration = Duration::from_secs(60);

fn s(text: impl ToString) -> String {
    text.to_string()
}

/// `swarm dht node` on `addr` (port 0: any), and the address it printed first.
pub(crate) fn dht_node(addr: &str) -> (Running, SocketAddr) {
    let node = spawn_swarm(&[s("dht"), s("node"), s("--addr"), s(addr)]);
    let line = node
        .lines
        .recv_timeout(LIMIT)
        .expect("the node prints its address");
    let bound = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("an address first, got {line:?}"));
    (node, bound)
}

/// `swarm dht get-peers HASH --bootstrap NODE`: the peers printed, and the figures line.
pub(crate) fn get_peers(hash: &str, node: SocketAddr) -> (Vec<SocketAddr>, String) {
    let args = [
        s("dht"),
        s("get-peers"),
        s(hash),
        s("--bootstrap"),
        s(node),
        s("--timeout"),
        s(20),
    ];
    let output = swarm(&args, LIMIT);
    let text = stderr(&output);
    assert!(output.status.success(), "get-peers failed: {text}");
    let peers = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.parse().expect("one IP:PORT a line"))
        .collect();
    (peers, text)
}

/// Asks `node` for `hash` until `peer` is among the answers, a bounded number of times.
pub(crate) fn wait_until_found(hash: &str, node: SocketAddr, peer: SocketAddr) {
    for _ in 0..30 {
        if get_peers(hash, node).0.contains(&peer) {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("{peer} never found for {hash} through {node}");
}

/// The number before `label` in `text` ("2 peers found on the DHT").
fn figure(text: &str, label: &str) -> u64 {
    let before = &text[..text
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {text}"))];
    before
        .split(|c: char| !c.is_ascii_digit())
        .rfind(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("a number before {label} in {text}"))
}

/// Stops a `swarm dht node` with SIGINT and returns its last line (its figures).
fn stop_node(mut node: Running) -> String {
    assert!(node.interrupt(LIMIT).success(), "the node exits 0");
    let lines = node.drain_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("dht: node id ")),
        "{lines:?}"
    );
    let last = lines.last().cloned().unwrap_or_default();
    assert!(last.starts_with("dht: stopped;"), "{lines:?}");
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_peers_finds_a_peer_announced_through_a_swarm_dht_node() {
    let (node, node_addr) = dht_node("127.0.0.1:0");
    let announcer = Dht::bind(
        "127.0.0.1:0".parse().unwrap(),
        DhtConfig {
            node: NodeConfig::local_network(),
            bootstrap: vec![node_addr.to_string()],
            seed: Some(7),
            ..DhtConfig::default()
        },
    )
    .await
    .unwrap();
    let info_hash = InfoHashV1([0x5c; 20]);
    let mut announced = 0;
    for _ in 0..50 {
        let announce = announcer.announce(info_hash, Some(7001), true).finish();
        let (_, report) = tokio::time::timeout(LIMIT, announce)
            .await
            .unwrap()
            .unwrap();
        announced = report.announced_to;
        if announced > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(announced, 1, "the node took the announce");

    let hash = info_hash.to_hex();
    let (peers, figures) = tokio::task::spawn_blocking(move || get_peers(&hash, node_addr))
        .await
        .unwrap();
    assert!(
        peers.contains(&"127.0.0.1:7001".parse().unwrap()),
        "{peers:?}"
    );
    assert!(figures.contains(&info_hash.to_hex()), "{figures}");
    assert!(figure(&figures, "rounds") >= 1, "{figures}");
    assert!(figure(&figures, "answered") >= 1, "{figures}");
    assert!(figure(&figures, "queries") >= figure(&figures, "answered"));
    assert!(figures.trim_end().ends_with(" s"), "{figures}");
    announcer.shutdown().await.unwrap();

    let last = tokio::task::spawn_blocking(move || stop_node(node))
        .await
        .unwrap();
    assert_eq!(figure(&last, "announces stored"), 1, "{last}");
    assert!(figure(&last, "queries received") >= 3, "{last}");
}

#[test]
fn dht_bad_input_gets_one_line_and_exit_code_1() {
    let tmp = tempfile::tempdir().unwrap();
    let hash = "0123456789abcdef0123456789abcdef01234567";
    let dead = format!("127.0.0.1:{}", free_port());
    let cases: &[(&[&str], &str)] = &[
        (
            &["dht", "get-peers", "xyz", "--bootstrap", "127.0.0.1:1"],
            "xyz: not an info-hash",
        ),
        (
            &[
                "dht",
                "get-peers",
                hash,
                "--bootstrap",
                "no-such-node.invalid:6881",
            ],
            "no-such-node.invalid:6881: ",
        ),
        (
            &["dht", "get-peers", hash, "--bootstrap", "router"],
            "router: not a HOST:PORT DHT node",
        ),
        (
            &[
                "dht",
                "get-peers",
                hash,
                "--bootstrap",
                &dead,
                "--timeout",
                "1",
            ],
            "no DHT node answered within 1s",
        ),
        (
            &[
                "dht",
                "node",
                "--addr",
                "127.0.0.1:0",
                "--bootstrap",
                "no-such-node.invalid:6881",
            ],
            "no-such-node.invalid:6881: ",
        ),
        (
            &[
                "download",
                "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--dht-bootstrap",
                "no-such-node.invalid:6881",
            ],
            "--dht-bootstrap: no-such-node.invalid:6881: ",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<String> = args.iter().map(s).collect();
        let mut full = args.clone();
        if full[0] == "download" {
            full.extend([s("-o"), s(tmp.path().display())]);
        }
        let out = swarm(&full, LIMIT);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let text = stderr(&out);
        assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
        assert!(
            text.starts_with("swarm: ") && text.contains(needle),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn a_bare_magnet_downloads_from_a_swarm_seeder_found_only_through_the_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("seed/clip.bin");
    write_random(&data, 2 * 1024 * 1024 + 123, 31);
    let torrent = tmp.path().join("clip.torrent");
    let created = swarm(
        &[
            s("create"),
            s(data.display()),
            s("-o"),
            s(torrent.display()),
            s("-l"),
            s("64K"),
            s("-q"),
        ],
        LIMIT,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let printed = String::from_utf8_lossy(&created.stdout).into_owned();
    let at = printed
        .find("urn:btih:")
        .expect("create prints the magnet link")
        + "urn:btih:".len();
    let hash = printed[at..at + 40].to_owned();

    let (node, node_addr) = dht_node("127.0.0.1:0");
    let port = free_port();
    let mut seeder = dht_seeder(&torrent, &tmp.path().join("seed"), port, node_addr);
    wait_until_found(&hash, node_addr, SocketAddr::from(([127, 0, 0, 1], port)));

    // Nothing but the info-hash: no tracker, no web seed, no peer.
    let bare = format!("magnet:?xt=urn:btih:{hash}");
    let out = tmp.path().join("out");
    let leecher_state = tmp.path().join("leecher-dht.dat");
    let args = [
        s("download"),
        bare,
        s("-o"),
        s(out.display()),
        s("--bind"),
        s("127.0.0.1"),
        s("--port"),
        s(0),
        s("--dht-bootstrap"),
        s(node_addr),
        s("--dht-state"),
        s(leecher_state.display()),
        s("-q"),
    ];
    let output = swarm(&args, LIMIT);
    let summary = stderr(&output);
    assert!(output.status.success(), "{summary}");
    assert_eq!(sha256(&out.join("clip.bin")), sha256(&data));
    assert_eq!(figure(&summary, "peers found on the DHT"), 1, "{summary}");
    assert_eq!(figure(&summary, "peers used"), 1, "{summary}");
    assert!(leecher_state.exists(), "the leecher's table is kept");

    assert!(
        seeder.interrupt(LIMIT).success(),
        "the seeder stops cleanly"
    );
    assert!(
        tmp.path().join("seed/dht.dat").exists(),
        "the seeder's table is kept"
    );
    // The seeder announced; the leecher, done in a moment and not seeding, may not have.
    let last = stop_node(node);
    assert!(figure(&last, "announces stored") >= 1, "{last}");
}

/// `swarm download --seed` of `torrent` from `data_parent`, on `port`, bootstrapped from
/// `node`.
pub(crate) fn dht_seeder(
    torrent: &Path,
    data_parent: &Path,
    port: u16,
    node: SocketAddr,
) -> Running {
    spawn_swarm(&[
        s("download"),
        s(torrent.display()),
        s("-o"),
        s(data_parent.display()),
        s("--seed"),
        s("--no-trackers"),
        s("--bind"),
        s("127.0.0.1"),
        s("--port"),
        s(port),
        s("--dht-bootstrap"),
        s(node),
        s("--dht-state"),
        s(data_parent.join("dht.dat").display()),
        s("-q"),
    ])
}
