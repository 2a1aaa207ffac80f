//! The DHT against python3-libtorrent (BEP 5 as libtorrent speaks it), no tracker anywhere:
//! `swarm download` of a bare magnet link, bootstrapped from one libtorrent DHT node, finds a
//! libtorrent seeder and completes; and a libtorrent leecher bootstrapped from that node finds a
//! `swarm download --seed`. libtorrent keeps one node per IP, so each libtorrent session has its
//! own 127.0.N.1 (Linux routes all of 127/8 to loopback), across tests too, since they run at
//! once (two libtorrent nodes of two tests on one IP made the second test's leecher find
//! nothing): 127.0.2.1 and 127.0.3.1 for the first, 127.0.4.1 and 127.0.5.1 for the second.
//! Ignored without python3-libtorrent.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use swarmgate_testkit::programs::{LtPeer, lt_command, started};

use crate::dht::{dht_seeder, wait_until_found};
use crate::support::{Running, free_port, lt_create, sha256, stderr, swarm, write_random};

const LIMIT: Duration = Duration::from_secs(120);

fn s(text: impl ToString) -> String {
    text.to_string()
}

/// A libtorrent session on `ip` with its DHT on (bootstrapped from `dht`), started with
/// `lt_peer.py ARGS… --listen IP --dht NODE`; its address on `ip`.
fn lt_on(ip: [u8; 4], dht: &str, args: &[&str]) -> (LtPeer, SocketAddr) {
    let ip_text = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
    let mut command = lt_command(args);
    command.args(["--listen", &ip_text, "--dht", dht]);
    let peer = started(Running::spawn(command));
    let addr = SocketAddr::from((ip, peer.addr.port()));
    (peer, addr)
}

/// The bootstrap node: a libtorrent session whose torrent nobody has, so it is only a DHT node
/// (its DHT shares its listen port). Its own bootstrap is an address where nobody answers: the
/// DHT is on, and the node waits to be found.
fn lt_dht_node(ip: [u8; 4], save: &Path) -> (LtPeer, SocketAddr) {
    let nobody = "magnet:?xt=urn:btih:1111111111111111111111111111111111111111";
    let save = save.display().to_string();
    lt_on(
        ip,
        "127.0.0.1:1",
        &["leech", nobody, &save, "--timeout", "300"],
    )
}

/// A v1 torrent (no tracker) of a fresh file made by libtorrent; its info-hash in hex.
fn lt_torrent(dir: &Path, size: usize) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let data = dir.join("seed/film.bin");
    write_random(&data, size, 41);
    let torrent = dir.join("film.torrent");
    lt_create(&data, &torrent, &[], true);
    let shown = swarm(&[s("show"), s(torrent.display()), s("--json")], LIMIT);
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("show --json");
    let hash = json["info_hash_v1"].as_str().expect("a v1 hash").to_owned();
    (data, torrent, hash)
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn a_bare_magnet_downloads_from_a_libtorrent_seeder_through_one_libtorrent_dht_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, torrent, hash) = lt_torrent(tmp.path(), 6 * 1024 * 1024 + 7);
    let (_node, node) = lt_dht_node([127, 0, 2, 1], &tmp.path().join("node"));
    let torrent_text = torrent.display().to_string();
    let seed_dir = tmp.path().join("seed").display().to_string();
    let (_seeder, seeder) = lt_on(
        [127, 0, 3, 1],
        &node.to_string(),
        &["seed", &torrent_text, &seed_dir],
    );
    // The seeder announced to the node (through it, as its only contact).
    wait_until_found(&hash, node, seeder);

    let out = tmp.path().join("out");
    let args = [
        s("download"),
        format!("magnet:?xt=urn:btih:{hash}"),
        s("-o"),
        s(out.display()),
        s("--bind"),
        s("127.0.0.1"),
        s("--port"),
        s(0),
        s("--dht-bootstrap"),
        s(node),
        s("--dht-state"),
        s(tmp.path().join("dht.dat").display()),
        s("-q"),
    ];
    let output = swarm(&args, LIMIT);
    let summary = stderr(&output);
    assert!(output.status.success(), "swarm download failed:\n{summary}");
    assert_eq!(sha256(&out.join("film.bin")), sha256(&data));
    assert!(summary.contains(" 1 peers used"), "{summary}");
    assert!(summary.contains("peers found on the DHT"), "{summary}");
    assert!(!summary.contains(" 0 peers found on the DHT"), "{summary}");
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn a_libtorrent_leecher_finds_a_swarm_seeder_through_a_libtorrent_dht_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, torrent, hash) = lt_torrent(tmp.path(), 3 * 1024 * 1024 + 99);
    let (_node, node) = lt_dht_node([127, 0, 4, 1], &tmp.path().join("node"));
    let port = free_port();
    let mut seeder = dht_seeder(&torrent, &tmp.path().join("seed"), port, node);
    wait_until_found(&hash, node, SocketAddr::from(([127, 0, 0, 1], port)));

    let out = tmp.path().join("out").display().to_string();
    let magnet = format!("magnet:?xt=urn:btih:{hash}");
    let (mut leecher, _) = lt_on(
        [127, 0, 5, 1],
        &node.to_string(),
        &["leech", &magnet, &out, "--timeout", "100"],
    );
    leecher.process.expect_line("DONE", LIMIT);
    assert_eq!(
        sha256(&tmp.path().join("out/film.bin")),
        sha256(&data),
        "libtorrent got the file from the seeder it found on the DHT"
    );
    assert!(
        seeder.interrupt(LIMIT).success(),
        "the seeder stops cleanly"
    );
}
