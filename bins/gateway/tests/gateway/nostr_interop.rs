//! The gateway's announcements read by other implementations: nostr-tools (Node) reads them
//! back from the in-process relay and verifies ids, signatures and tags as NIP-35 and NIP-94
//! clients would; PyPI's nostr-relay, a relay process in another language, carries them to
//! nostr-tools and to a following gateway. Ignored unless `npm ci` ran in tests/node (and, for
//! the relay process, `NOSTR_RELAY_PROGRAM` names its program): `.ci/run` sets up both.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nostr::{Keys, PublicKey};
use reqwest::StatusCode;
use serde_json::Value;
use swarmgate_testkit::programs::{Running, free_port};

use super::nostr::{pubkey, upload, wait_stats};
use super::relay::{PATIENCE, Relay};
use super::support::{Gateway, workspace};

/// The Node folder of the real clients, if `npm ci` ran there.
fn nostr_tools() -> Option<&'static Path> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node"));
    dir.join("node_modules/nostr-tools").exists().then_some(dir)
}

/// Runs the nostr-tools subscriber against `relay_url` for `answer`'s upload by `author`;
/// asserts it succeeded and returns its summary (both events, the magnet a NIP-35 client
/// builds).
fn nostr_tools_reads_back(relay_url: &str, author: &PublicKey, answer: &Value) -> Value {
    let dir = nostr_tools().expect("run `npm ci` in bins/gateway/tests/node first");
    let field = |key: &str| answer[key].as_str().expect("a field of the upload answer");
    let output = Command::new("node")
        .arg(dir.join("nostr_subscriber.mjs"))
        .args([
            relay_url,
            &author.to_hex(),
            field("sha256"),
            field("info_hash"),
        ])
        .current_dir(dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the nostr-tools subscriber failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().expect("a summary line")).expect("JSON")
}

#[test]
#[ignore = "needs node and `npm ci` in bins/gateway/tests/node"]
fn nostr_tools_reads_the_announcements_back_and_verifies_them() {
    let relay = Relay::start();
    let (_tmp, data) = workspace();
    let gateway = Gateway::start(&data, &["--nostr-relay", &relay.url]);
    let author = pubkey(&gateway);
    let answer = upload(&gateway, "film.mp4", vec![0x42; 90_000]);
    let summary = nostr_tools_reads_back(&relay.url, &author, &answer);
    assert_eq!(summary["torrent"]["pubkey"], author.to_hex());
    assert_eq!(summary["file"]["content"], "film.mp4");
    let built = summary["built"].as_str().unwrap();
    assert!(
        built.contains(answer["info_hash"].as_str().unwrap()),
        "{built}"
    );
}

/// PyPI's nostr-relay (Python) as a separate process on a free loopback port, its database in
/// `dir`; the program is `$NOSTR_RELAY_PROGRAM` (CI installs it in a venv). Killed when
/// dropped.
fn python_relay(dir: &Path) -> (Running, String) {
    let program = std::env::var_os("NOSTR_RELAY_PROGRAM")
        .expect("NOSTR_RELAY_PROGRAM names the nostr-relay program (see .ci/run)");
    let port = free_port();
    let config = dir.join("relay.yaml");
    let database = dir.join("relay.sqlite3");
    std::fs::write(
        &config,
        format!(
            "DEBUG: false\nrelay_name: swarmgate test relay\nstorage:\n  sqlalchemy.url: \
             sqlite+aiosqlite:///{}\n  validators:\n    - nostr_relay.validators.is_signed\n    \
             - nostr_relay.validators.is_recent\ngunicorn:\n  bind: 127.0.0.1:{port}\n  \
             workers: 1\n  loglevel: warning\nauthentication:\n  enabled: false\n",
            database.display()
        ),
    )
    .expect("write the relay's config");
    let mut command = Command::new(program);
    command
        .arg("-c")
        .arg(&config)
        .args(["serve", "--use-uvicorn"]);
    let relay = Running::spawn_stderr(command);
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nostr-relay did not listen within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (relay, format!("ws://127.0.0.1:{port}"))
}

#[test]
#[ignore = "needs PyPI nostr-relay (NOSTR_RELAY_PROGRAM), node and `npm ci` in bins/gateway/tests/node"]
fn a_separate_relay_process_carries_the_announcements_to_nostr_tools_and_to_a_follower() {
    let (tmp, data_a) = workspace();
    let (_relay, url) = python_relay(tmp.path());
    let key = Keys::generate();
    let a = Gateway::start(
        &data_a,
        &[
            "--nostr-relay",
            &url,
            "--nostr-key",
            &key.secret_key().to_secret_hex(),
        ],
    );
    let (_tmp_b, data_b) = workspace();
    let follow = key.public_key().to_hex();
    let b = Gateway::start(&data_b, &["--nostr-relay", &url, "--nostr-follow", &follow]);
    let answer = upload(&a, "far.bin", vec![0x17; 40_000]);
    let stats = wait_stats(&a, "both acknowledged", |s| {
        s["relays"][0]["acknowledged"] == 2
    });
    assert_eq!(stats["relays"][0]["rejected"], 0, "{stats:#}");
    nostr_tools_reads_back(&url, &key.public_key(), &answer);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = b.get_json("/api/discovered", StatusCode::OK);
        if page["discovered"][0]["sha256"] == answer["sha256"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "listed by B within 5 s: {page:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
