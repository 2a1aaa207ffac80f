//! The `swarm` binary end to end: create, show (text and JSON), one clear line with exit code 1
//! for bad input, the DHT (a node, lookups, and a magnet downloaded through it), a download
//! that runs out of space and resumes (`disk_full`), and (ignored
//! without the programs) downloads and seeding against python3-libtorrent, aria2c and
//! opentracker.

mod dht;
mod dht_interop;
#[cfg(target_os = "linux")]
mod disk_full;
mod interop;
mod support;
mod tracker_interop;
mod tracker_support;
mod webseed_interop;

use std::path::Path;
use std::process::{Command, Output};

fn swarm(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarm"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run swarm")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("valid JSON")
}

#[test]
fn create_then_show_describes_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("album");
    std::fs::create_dir_all(folder.join("disc 1")).unwrap();
    std::fs::write(folder.join("disc 1/track.flac"), vec![7u8; 70_000]).unwrap();
    std::fs::write(folder.join("cover.jpg"), vec![9u8; 1_000]).unwrap();

    let created = swarm(
        &[
            "create",
            "album",
            "--hybrid",
            "-t",
            "http://127.0.0.1:9877/announce",
            "-w",
            "http://127.0.0.1:9877/webseed/",
            "-l",
            "16K",
            "--private",
            "--no-date",
            "-q",
        ],
        tmp.path(),
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let stdout = String::from_utf8(created.stdout).unwrap();
    assert!(stdout.starts_with("album.torrent\n"), "{stdout}");
    assert!(stdout.contains("magnet:?xt=urn:btih:"));

    let report = json(&swarm(&["show", "album.torrent", "--json"], tmp.path()));
    assert_eq!(report["name"], "album");
    assert_eq!(report["total_size"], 71_000);
    assert_eq!(report["piece_length"], 16384);
    assert_eq!(report["private"], true);
    assert_eq!(report["trackers"][0][0], "http://127.0.0.1:9877/announce");
    assert_eq!(report["web_seeds"][0], "http://127.0.0.1:9877/webseed/");
    let paths: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["album/cover.jpg", "album/disc 1/track.flac"]);
    assert_eq!(report["info_hash_v1"].as_str().unwrap().len(), 40);
    assert_eq!(report["info_hash_v2"].as_str().unwrap().len(), 64);

    // The magnet it prints shows the same hashes.
    let magnet = report["magnet"].as_str().unwrap();
    let from_magnet = json(&swarm(&["show", magnet, "--json"], tmp.path()));
    assert_eq!(from_magnet["info_hash_v1"], report["info_hash_v1"]);
    assert_eq!(from_magnet["info_hash_v2"], report["info_hash_v2"]);

    // Reproducible with --no-date, and no silent overwrite.
    let again = swarm(
        &[
            "create",
            "album",
            "--hybrid",
            "-l",
            "16K",
            "-o",
            "again.torrent",
            "-t",
            "http://127.0.0.1:9877/announce",
            "-w",
            "http://127.0.0.1:9877/webseed/",
            "--private",
            "--no-date",
            "-q",
        ],
        tmp.path(),
    );
    assert!(again.status.success());
    assert_eq!(
        std::fs::read(tmp.path().join("again.torrent")).unwrap(),
        std::fs::read(tmp.path().join("album.torrent")).unwrap()
    );
    let clash = swarm(&["create", "album", "-q"], tmp.path());
    assert_eq!(clash.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&clash.stderr).contains("already exists"));

    let text = swarm(&["show", "album.torrent"], tmp.path());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("name:         album") && text.contains("files (2):"),
        "{text}"
    );
}

#[test]
fn bad_input_gets_one_line_and_exit_code_1() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("garbage.torrent"), b"d4:infod4:name").unwrap();
    std::fs::write(
        tmp.path().join("negative.torrent"),
        b"d4:infod6:lengthi-5e4:name1:a12:piece lengthi16384e6:pieces0:ee",
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["show", "garbage.torrent"],
            "garbage.torrent: not a torrent: invalid bencode at byte",
        ),
        (&["show", "negative.torrent"], "negative length -5"),
        (&["show", "missing.torrent"], "missing.torrent"),
        (
            &["show", "magnet:?xt=urn:btih:nothex"],
            "invalid magnet link",
        ),
        (&["create", "missing-dir"], "missing-dir"),
        (
            &["create", "garbage.torrent", "-l", "1000", "-q"],
            "piece length 1000",
        ),
    ];
    for (args, needle) in cases {
        let out = swarm(args, tmp.path());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("swarm: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
    }
}
