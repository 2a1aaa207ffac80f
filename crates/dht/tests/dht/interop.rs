//! Our node among real python3-libtorrent nodes on loopback (ignored unless python3-libtorrent
//! is installed; `.ci/run` installs it). libtorrent keeps one DHT node per IP, so each session
//! has its own 127.0.N.1 (addresses 127.0.11.1 to 127.0.13.1 are this binary's), bootstraps
//! only from our node, and keeps its default DHT settings apart from raised rate limits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use swarmgate_dht::{Dht, DhtConfig, NodeConfig};
use swarmgate_testkit::programs::{LtPeer, Running, lt_command, sha256, started, write_random};

/// Every wait in these tests ends by this.
const PATIENCE: Duration = Duration::from_secs(60);

fn config(seed: u64) -> DhtConfig {
    DhtConfig {
        node: NodeConfig::local_network(),
        bootstrap: Vec::new(),
        seed: Some(seed),
        ..DhtConfig::default()
    }
}

/// A v1 torrent of `size` random bytes in `dir`/seed: (the .torrent, the v1 info-hash in hex,
/// the payload's SHA-256).
fn torrent(dir: &Path, size: usize, seed: u64) -> (PathBuf, String, [u8; 32]) {
    let data = dir.join("seed");
    std::fs::create_dir_all(&data).expect("seed folder");
    let file = data.join("payload.bin");
    write_random(&file, size, seed);
    let out = dir.join("payload.torrent");
    let created = lt_command(&["create"])
        .arg(&file)
        .arg(&out)
        .arg("--v1-only")
        .output()
        .expect("run lt_peer.py create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let info_hash = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert_eq!(info_hash.len(), 40, "a v1 info-hash: {info_hash:?}");
    (out, info_hash, sha256(&file))
}

/// A libtorrent seeder of `torrent` from `save` on `ip`, with our node as its only DHT contact.
fn lt_dht_seed(torrent: &Path, save: &Path, ip: &str, node: &str) -> LtPeer {
    let mut command: Command = lt_command(&["seed"]);
    command
        .arg(torrent)
        .arg(save)
        .args(["--listen", ip, "--dht", node]);
    started(Running::spawn(command))
}

fn lt_dht_leech(source: &str, save: &Path, ip: &str, node: &str) -> LtPeer {
    let mut command: Command = lt_command(&["leech", source]);
    command
        .arg(save)
        .args(["--listen", ip, "--dht", node, "--timeout", "90"]);
    started(Running::spawn(command))
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn libtorrent_sessions_whose_only_contact_is_our_node_meet_and_complete_a_magnet() {
    let runtime = runtime();
    let ours = runtime
        .block_on(Dht::bind(
            "127.0.0.1:0".parse().expect("address"),
            config(11),
        ))
        .expect("bind");
    let node = ours.local_addr().to_string();
    let work = tempfile::tempdir().expect("temporary folder");
    let (torrent, info_hash, digest) = torrent(work.path(), 3 << 20, 11);
    let mut seeder = lt_dht_seed(&torrent, &work.path().join("seed"), "127.0.11.1", &node);
    let save = work.path().join("leech");
    let magnet = format!("magnet:?xt=urn:btih:{info_hash}");
    let mut leecher = lt_dht_leech(&magnet, &save, "127.0.12.1", &node);
    let line = leecher
        .process
        .expect_line("DONE", Duration::from_secs(100));
    assert!(line.starts_with("DONE"), "{line}");
    assert_eq!(
        sha256(&save.join("payload.bin")),
        digest,
        "the leecher's file differs"
    );
    let stats = ours.stats();
    assert!(
        stats.queries_received >= 2,
        "both sessions asked our node: {stats:?}"
    );
    assert!(
        stats.table4.good + stats.table4.questionable >= 2,
        "{stats:?}"
    );
    seeder.process.kill();
    runtime.block_on(ours.shutdown()).expect("shutdown");
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn a_node_restarted_on_its_address_keeps_its_id_and_rejoins_from_its_saved_table_alone() {
    let runtime = runtime();
    let work = tempfile::tempdir().expect("temporary folder");
    let state = work.path().join("dht.dat");
    let router = runtime
        .block_on(Dht::bind(
            "127.0.0.1:0".parse().expect("address"),
            config(12),
        ))
        .expect("bind");
    // A libtorrent node that knows our router only.
    let mut libtorrent = lt_dht_leech(
        "magnet:?xt=urn:btih:5555555555555555555555555555555555555555",
        &work.path().join("idle"),
        "127.0.13.1",
        &router.local_addr().to_string(),
    );
    // Our node meets it through the router, then stops and saves its table.
    let mut first_config = config(13);
    first_config.bootstrap = vec![router.local_addr().to_string()];
    first_config.state_file = Some(state.clone());
    let first = runtime
        .block_on(Dht::bind(
            "127.0.0.1:0".parse().expect("address"),
            first_config.clone(),
        ))
        .expect("bind");
    let addr = first.local_addr();
    let met = wait(|| first.stats().table4.good >= 2);
    assert!(met, "never met libtorrent's node: {:?}", first.stats());
    let id = first.id();
    runtime.block_on(first.shutdown()).expect("shutdown");
    runtime
        .block_on(router.shutdown())
        .expect("the router is gone");

    // Same address, no router: the id and the libtorrent node come from the file.
    first_config.bootstrap.clear();
    first_config.seed = Some(14);
    let second = runtime
        .block_on(Dht::bind(addr, first_config))
        .expect("rebind");
    assert_eq!(second.id(), id, "libtorrent evicts a node whose id changes");
    let info_hash = swarmgate_core::InfoHashV1([0x31; 20]);
    let (_, report) = runtime
        .block_on(second.get_peers(info_hash).finish())
        .expect("runs");
    assert!(
        report.stats.answers >= 1,
        "libtorrent's node answered: {report:?}"
    );
    libtorrent.process.kill();
    runtime.block_on(second.shutdown()).expect("shutdown");
}

/// A runtime whose worker drives our nodes between calls.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Polls `done` every 50 ms for at most [`PATIENCE`].
fn wait(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}
