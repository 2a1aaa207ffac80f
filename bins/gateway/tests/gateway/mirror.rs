//! The mirror of followed gateways' files, driven as the Nostr followers drive it: through
//! `Gateway::mirror()` of a gateway started in this process (the follower, B), fed requests
//! built from another gateway's upload answer (the origin, A, the `gateway` binary).
//!
//! B fetches A's file over BitTorrent (A's tracker and peer), or from the .torrent URL of A's
//! magnet (`xs=`) and A's web seed, verifies its sha256, publishes it, serves it byte-exact
//! (download API and Blossom GET) and seeds it (to aria2c after A is stopped, when
//! aria2c is installed). A forged request (A's magnet and info-hash, another sha256) never lands
//! a file in B and counts a verification failure; an unreachable file is tried again, a bounded
//! number of times; a flood is refused once the queue is full; a fetch cut by the shutdown, or
//! left by a crash, leaves no temporary file. Every wait is bounded.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::Value;
use swarmgate_core::{InfoHashV1, Pubkey, Sha256};
use swarmgate_gateway::{Config, Gateway as Follower, MirrorRequest};
use swarmgate_testkit::programs::{aria2_tracked, hex_encode, sha256, sha256_reader};

use super::support::{Gateway, big, client, entries, json_of, small, workspace};
use super::uploads::{Stored, upload};

/// The longest a mirror of the 5 MiB file may take on loopback.
const MIRROR_LIMIT: Duration = Duration::from_secs(90);

/// A gateway in this process, with its own runtime, stopped when dropped.
struct InProcess {
    runtime: tokio::runtime::Runtime,
    gateway: Option<Follower>,
    url: String,
    /// Its Blossom server's base URL.
    blossom: String,
    data: PathBuf,
    http: Client,
}

impl InProcess {
    /// Starts a loopback gateway on `data` with quick retries, after `tweak`.
    fn start(data: &Path, tweak: impl FnOnce(&mut Config)) -> InProcess {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let mut config = Config::loopback(data);
        config.dht.enabled = false;
        config.mirror.fetch_timeout = Duration::from_secs(60);
        config.mirror.retry_delay = Duration::from_millis(100);
        config.mirror.max_attempts = 3;
        tweak(&mut config);
        let gateway = runtime
            .block_on(Follower::start(config))
            .expect("the follower starts");
        let url = gateway.public_url().to_owned();
        let blossom = format!(
            "http://{}",
            gateway.bound().blossom.expect("a Blossom server")
        );
        InProcess {
            runtime,
            gateway: Some(gateway),
            url,
            blossom,
            data: data.to_path_buf(),
            http: client(),
        }
    }

    fn submit(&self, request: MirrorRequest) -> bool {
        self.gateway
            .as_ref()
            .expect("running")
            .mirror()
            .submit(request)
    }

    fn get_json(&self, path: &str, status: StatusCode) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        json_of(response, status, &format!("GET {path}"))
    }

    /// `/api/p2p/stats`'s `mirror`.
    fn mirror_stats(&self) -> Value {
        self.get_json("/api/p2p/stats", StatusCode::OK)["mirror"].clone()
    }

    /// Waits (at most `limit`) until `done` holds of the mirror's figures; returns them.
    fn wait_mirror(&self, limit: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let stats = self.mirror_stats();
            if done(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "{what} within {limit:?}: {stats}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the temporary folder of the mirror is empty.
    fn no_temporary_files(&self) -> bool {
        entries(&self.data.join("mirror-tmp")).is_empty()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            let stopped = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), gateway.shutdown()).await
            });
            if !std::thread::panicking() {
                stopped.expect("stops within 30 s").expect("stops cleanly");
            }
        }
    }
}

/// The request a follower of A makes of `stored`, as the Nostr side builds it from A's
/// announcement.
fn request_for(stored: &Stored) -> MirrorRequest {
    MirrorRequest {
        sha256: Sha256::from_hex(stored.field("sha256")).expect("a sha256"),
        info_hash: InfoHashV1::from_hex_or_base32(stored.field("info_hash")).expect("a hash"),
        size: stored.answer["size"].as_u64().expect("a size"),
        name: stored.field("name").to_owned(),
        magnet: stored.field("magnet").to_owned(),
        webseed: Some(stored.field("webseed_url").to_owned()),
        url: Some(stored.field("download_url").to_owned()),
        source: Pubkey([0xa0; 32]),
    }
}

/// `magnet` with only the parameters named `keep`.
pub(crate) fn only_params(magnet: &str, keep: &[&str]) -> String {
    let (head, query) = magnet.split_once('?').expect("a magnet query");
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| keep.iter().any(|k| p.split('=').next() == Some(*k)))
        .collect();
    let magnet = format!("{head}?{}", kept.join("&"));
    assert!(
        swarmgate_metainfo::Magnet::parse(&magnet).is_ok(),
        "{magnet}"
    );
    magnet
}

/// A's peer and web seed byte counters.
fn sent(origin: &Gateway) -> (u64, u64) {
    let stats = origin.stats();
    (
        stats["peer_bytes"].as_u64().expect("peer_bytes"),
        stats["webseed_bytes"].as_u64().expect("webseed_bytes"),
    )
}

/// Asserts `follower` serves `stored`'s file byte-exact through /api/download and its Blossom
/// GET, under A's info-hash.
fn assert_serves(follower: &InProcess, stored: &Stored) {
    let sha = stored.field("sha256");
    let download = format!("{}/api/download/{sha}", follower.url);
    for url in [download, format!("{}/{sha}", follower.blossom)] {
        let mut response = follower.http.get(&url).send().expect("GET the file");
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        let digest = sha256_reader(&mut response).expect("the body");
        assert_eq!(hex_encode(&digest), sha, "GET {url}: other bytes");
    }
    let file = follower.get_json(&format!("/api/files/{sha}"), StatusCode::OK);
    assert_eq!(file["info_hash"], stored.answer["info_hash"], "{file}");
    assert_eq!(file["size"], stored.answer["size"], "{file}");
}

#[test]
fn a_followed_file_is_fetched_verified_published_and_served() {
    let (tmp, data) = workspace();
    let origin = Gateway::start(&data, &[]);
    let stored = upload(&origin, small(), "small.bin", false, StatusCode::CREATED);
    let size = stored.fixture.size;

    // From the swarm alone: the metadata (BEP 9) and the pieces from A's tracker and peer.
    let swarm_only = InProcess::start(&tmp.path().join("swarm-only"), |_| {});
    let mut request = request_for(&stored);
    request.magnet = only_params(stored.field("magnet"), &["xt", "dn", "tr"]);
    (request.webseed, request.url) = (None, None);
    assert!(swarm_only.submit(request));
    let stats = swarm_only.wait_mirror(MIRROR_LIMIT, "mirrored", |s| s["mirrored"] == 1);
    assert_eq!(stats["mirrored_bytes"], size, "{stats}");
    assert_serves(&swarm_only, &stored);
    let (peer_bytes, webseed_bytes) = sent(&origin);
    assert!(peer_bytes >= size, "over the peer wire: {peer_bytes}");
    assert_eq!(webseed_bytes, 0);
    assert!(swarm_only.no_temporary_files());

    // A magnet with no tracker: the metadata can only come from its .torrent URL (`xs=`); the
    // pieces from the web seeds and whatever peers that .torrent's tracker hands out.
    let follower = InProcess::start(&tmp.path().join("follower"), |_| {});
    let mut request = request_for(&stored);
    request.magnet = only_params(stored.field("magnet"), &["xt", "xs"]);
    assert!(follower.submit(request));
    let stats = follower.wait_mirror(MIRROR_LIMIT, "mirrored", |s| s["mirrored"] == 1);
    assert_eq!(stats["mirrored_bytes"], size, "{stats}");
    assert_eq!(stats["failed"]["verify"], 0, "{stats}");
    assert_serves(&follower, &stored);
    assert!(follower.no_temporary_files());

    // Announced again (both Nostr kinds name it): already stored, nothing fetched.
    assert!(follower.submit(request_for(&stored)));
    let stats = follower.wait_mirror(Duration::from_secs(10), "skipped", |s| {
        s["already_stored"] == 1
    });
    assert_eq!(stats["mirrored"], 1, "{stats}");
    let metrics = follower
        .http
        .get(format!("{}/metrics", follower.url))
        .send()
        .and_then(|r| r.text())
        .expect("GET /metrics");
    for line in [
        "swarmgate_mirror_mirrored_total 1".to_owned(),
        format!("swarmgate_mirror_mirrored_bytes_total {size}"),
        "swarmgate_mirror_verify_failures_total 0".to_owned(),
        "swarmgate_mirror_in_flight 0".to_owned(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line:?} in\n{metrics}");
    }
}

#[test]
fn a_forged_request_never_lands_a_file_and_counts_a_verify_failure() {
    let (tmp, data) = workspace();
    let origin = Gateway::start(&data, &[]);
    let stored = upload(&origin, small(), "small.bin", false, StatusCode::CREATED);
    let follower = InProcess::start(&tmp.path().join("follower"), |_| {});

    // A's magnet, info-hash and size, but another sha256: a valid event about other bytes.
    let mut forged = request_for(&stored);
    forged.sha256.0[0] ^= 0xff;
    assert!(follower.submit(forged.clone()));
    let stats = follower.wait_mirror(MIRROR_LIMIT, "a verify failure", |s| {
        s["failed"]["verify"] == 1 || s["failed"]["late_mismatch"] != 0
    });
    assert_eq!(stats["failed"]["verify"], 1, "{stats}");
    assert_eq!(stats["mirrored"], 0, "{stats}");
    assert_eq!(
        stats["failed"]["late_mismatch"], 0,
        "refused before its publish: {stats}"
    );
    assert_eq!(stats["retries"], 0, "a forgery is final: {stats}");
    assert_eq!(stats["in_flight"], 0, "{stats}");
    for sha in [forged.sha256.to_hex(), stored.field("sha256").to_owned()] {
        follower.get_json(&format!("/api/files/{sha}"), StatusCode::NOT_FOUND);
    }
    let files = follower.get_json("/api/stats", StatusCode::OK);
    assert_eq!(files["files"], 0, "{files}");
    assert!(follower.no_temporary_files());

    // The same forgery again is not fetched again: A sends nothing more.
    let before = sent(&origin);
    assert!(follower.submit(forged));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sent(&origin), before);
    let stats = follower.mirror_stats();
    assert_eq!(stats["failed"]["verify"], 1, "{stats}");
    assert_eq!(stats["in_flight"], 0, "{stats}");
}

/// A magnet link whose only tracker is a loopback port nobody listens on.
fn unreachable_request(seed: u8, size: u64) -> MirrorRequest {
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let info_hash = InfoHashV1([seed; 20]);
    MirrorRequest {
        sha256: Sha256([seed; 32]),
        info_hash,
        size,
        name: format!("gone-{seed}.bin"),
        magnet: format!(
            "magnet:?xt=urn:btih:{}&tr=http%3A%2F%2F{closed}%2Fannounce",
            info_hash.to_hex()
        ),
        webseed: Some(format!("http://{closed}/webseed/gone")),
        url: None,
        source: Pubkey([0xb0; 32]),
    }
}

#[test]
fn an_unreachable_file_is_retried_a_bounded_number_of_times_and_a_large_one_refused() {
    let (tmp, _data) = workspace();
    let follower = InProcess::start(&tmp.path().join("follower"), |config| {
        config.mirror.fetch_timeout = Duration::from_secs(1);
        config.mirror.max_attempts = 3;
        config.api.max_upload_size = 4 << 20;
    });
    assert!(follower.submit(unreachable_request(1, 1 << 20)));
    assert!(follower.submit(unreachable_request(2, 5 << 20)));
    let stats = follower.wait_mirror(Duration::from_secs(30), "given up", |s| {
        s["failed"]["fetch"] == 1
    });
    assert_eq!(stats["retries"], 2, "three attempts in all: {stats}");
    assert_eq!(stats["failed"]["too_large"], 1, "{stats}");
    assert_eq!(stats["waiting_retry"], 0, "{stats}");
    assert_eq!(stats["in_flight"], 0, "{stats}");
    assert_eq!(stats["mirrored"], 0, "{stats}");
    assert!(follower.no_temporary_files());
}

#[test]
fn a_flood_is_refused_once_the_queue_is_full() {
    let (tmp, _data) = workspace();
    let follower = InProcess::start(&tmp.path().join("follower"), |config| {
        config.mirror.concurrency = 1;
        config.mirror.fetch_timeout = Duration::from_secs(30);
    });
    let refused = (0..1100u32)
        .map(|n| {
            let mut request = unreachable_request((n % 250) as u8, 1 << 20);
            request.sha256.0[..4].copy_from_slice(&n.to_be_bytes());
            follower.submit(request)
        })
        .filter(|queued| !queued)
        .count();
    assert!(refused >= 1100 - 1024 - 1, "{refused} refused");
    let stats = follower.mirror_stats();
    assert_eq!(stats["failed"]["queue_full"], refused as u64, "{stats}");
    assert!(stats["queued"].as_u64().expect("queued") >= 1000, "{stats}");
}

#[test]
fn leftovers_are_swept_at_start_and_a_fetch_cut_by_the_shutdown_leaves_nothing() {
    let (tmp, data) = workspace();
    let origin = Gateway::start(&data, &[]);
    let stored = upload(&origin, big(), "big.bin", true, StatusCode::CREATED);
    let follower_data = tmp.path().join("follower");
    let leftover = follower_data.join("mirror-tmp").join("0000-crashed");
    std::fs::create_dir_all(&leftover).expect("a leftover folder");
    std::fs::write(leftover.join("big.bin"), b"half a file").expect("a leftover file");

    let follower = InProcess::start(&follower_data, |_| {});
    let deadline = Instant::now() + Duration::from_secs(10);
    while leftover.exists() {
        assert!(Instant::now() < deadline, "the leftover is swept at start");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(follower.submit(request_for(&stored)));
    // Stopped as soon as its folder appears (or, on a fast machine, once it is done).
    let deadline = Instant::now() + MIRROR_LIMIT;
    while follower.no_temporary_files() && follower.mirror_stats()["mirrored"] == 0 {
        assert!(Instant::now() < deadline, "the fetch starts");
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    drop(follower);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(entries(&follower_data.join("mirror-tmp")).is_empty());
}

#[test]
#[ignore = "needs aria2c"]
fn a_mirrored_file_is_seeded_to_aria2c_after_the_origin_stops() {
    let (tmp, data) = workspace();
    let mut origin = Gateway::start(&data, &[]);
    let stored = upload(&origin, small(), "small.bin", false, StatusCode::CREATED);
    let follower = InProcess::start(&tmp.path().join("follower"), |_| {});
    assert!(follower.submit(request_for(&stored)));
    follower.wait_mirror(MIRROR_LIMIT, "mirrored", |s| s["mirrored"] == 1);
    origin.kill();

    // B's magnet without its web seed: only B's tracker and B's peer can deliver.
    let sha = stored.field("sha256");
    let magnet = follower.get_json(&format!("/api/magnet/{sha}"), StatusCode::OK)["magnet"]
        .as_str()
        .expect("a magnet")
        .to_owned();
    let peer_only = only_params(&magnet, &["xt", "dn", "tr"]);
    let work = tmp.path().join("aria2");
    let dir = work.join("download");
    let (mut aria2, log) = aria2_tracked(&peer_only, &dir, &work, false, false);
    let status = aria2.wait_exit(Duration::from_secs(120));
    assert!(
        status.success(),
        "aria2c exited {status}:\n{}",
        super::support::tail(&log)
    );
    let file = dir.join(stored.field("name"));
    assert_eq!(hex_encode(&sha256(&file)), sha, "other bytes");
    let p2p = follower.get_json("/api/p2p/stats", StatusCode::OK);
    assert!(
        p2p["seeder"]["uploaded"].as_u64().expect("uploaded") >= stored.fixture.size,
        "{p2p}"
    );
    let stats = follower.get_json("/api/stats", StatusCode::OK);
    assert_eq!(stats["webseed_bytes"], 0, "{stats}");
}
