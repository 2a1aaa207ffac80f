//! Crashes and stops: a gateway SIGKILLed after acknowledging its uploads serves them again
//! after a restart on the same folder (new ports: the kernel may still hold the old ones), to
//! the download API and to aria2c by .torrent and by magnet; one SIGKILLed while a 300 MiB
//! upload is still streaming comes back with no trace of it (not listed, 404, nothing in tmp/,
//! chunks/ or manifests/) and the earlier file intact; SIGTERM ends it with exit code 0 within
//! seconds; a second gateway on a folder in use refuses to start.

use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::clients::{Program, download_all, saved_torrents};
use super::support::{Gateway, MIB, assert_error, big, bytes_under, entries, small, workspace};
use super::uploads::{Stored, check_answer, upload, upload_both};

/// The files `gateway` lists, by SHA-256.
fn listed(gateway: &Gateway) -> Vec<String> {
    let list = gateway.get_json("/api/files", StatusCode::OK);
    let files = list["files"].as_array().expect("files").clone();
    assert_eq!(list["total"], files.len(), "{list}");
    let mut shas: Vec<String> = files
        .iter()
        .map(|f| f["sha256"].as_str().expect("sha256").to_owned())
        .collect();
    shas.sort();
    shas
}

/// The `key=value` of the start line "loaded the stored files files=… broken=… swept=…".
fn loaded(gateway: &Gateway, key: &str) -> u64 {
    let line = gateway.wait_log("loaded the stored files");
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{key}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{key}= in {line:?}"))
}

#[test]
#[ignore = "needs aria2c"]
fn acknowledged_files_survive_sigkill_and_aria2c_downloads_them_after_restart() {
    let started = Instant::now();
    let (tmp, data) = workspace();
    let mut first = Gateway::start(&data, &[]);
    let before = upload_both(&first);
    first.kill();

    let gateway = first.restart();
    assert_eq!(loaded(&gateway, "files"), 2);
    assert_eq!(loaded(&gateway, "broken"), 0);
    let mut want = vec![small().sha256.clone(), big().sha256.clone()];
    want.sort();
    assert_eq!(listed(&gateway), want);
    // The same files and info-hashes, their links now on the new ports.
    let after: Vec<Stored> = before
        .iter()
        .map(|old| {
            let path = format!("/api/files/{}", old.fixture.sha256);
            let answer: Value = gateway.get_json(&path, StatusCode::OK);
            assert_eq!(answer["info_hash"], old.answer["info_hash"]);
            assert_eq!(answer["created"], old.answer["created"]);
            let stored = Stored {
                fixture: old.fixture,
                name: old.name,
                answer,
            };
            check_answer(&gateway, &stored);
            gateway.assert_serves(stored.fixture);
            stored
        })
        .collect();

    let work = tmp.path().join("aria2");
    let torrents = saved_torrents(&gateway, &after, tmp.path());
    download_all(Program::Aria2, &gateway, &torrents, &work, "torrent");
    let magnets: Vec<(&Stored, String)> = after
        .iter()
        .map(|file| (file, file.field("magnet").to_owned()))
        .collect();
    download_all(Program::Aria2, &gateway, &magnets, &work, "magnet");
    eprintln!("restart and aria2c: {:?}", started.elapsed());
}

/// A file read that slows to a crawl (64 KiB per 20 ms) after `fast` bytes and fails once
/// `stop` is set: an upload still streaming when the gateway dies.
struct Stalling {
    file: File,
    sent: Arc<AtomicU64>,
    fast: u64,
    stop: Arc<AtomicBool>,
}

impl Read for Stalling {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("the test is over"));
        }
        if self.sent.load(Ordering::Relaxed) >= self.fast {
            std::thread::sleep(Duration::from_millis(20));
        }
        let room = buf.len().min(64 * 1024);
        let n = self.file.read(&mut buf[..room])?;
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn a_sigkill_during_an_upload_leaves_no_trace_and_the_earlier_file_intact() {
    let (_tmp, data) = workspace();
    let mut first = Gateway::start(&data, &[]);
    upload(&first, small(), "small.bin", false, StatusCode::CREATED);

    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let body = Stalling {
        file: File::open(&big().path).expect("open the fixture"),
        sent: Arc::clone(&sent),
        fast: 64 * MIB,
        stop: Arc::clone(&stop),
    };
    let url = first.at("/api/upload");
    let client = first.http.clone();
    let uploading = std::thread::spawn(move || {
        client
            .post(url)
            .header("X-Filename", "cut.bin")
            .body(reqwest::blocking::Body::sized(body, big().size))
            .send()
            .map(|r| r.status())
    });
    // Kill once 64 MiB went out and the gateway is writing them down.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent.load(Ordering::Relaxed) < 64 * MIB || bytes_under(&data.join("tmp")) < 16 * MIB {
        assert!(
            Instant::now() < deadline,
            "the upload did not get going: {} bytes sent, {} in tmp/\n{}",
            sent.load(Ordering::Relaxed),
            bytes_under(&data.join("tmp")),
            first.tail()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let partial = bytes_under(&data.join("tmp"));
    first.kill();
    stop.store(true, Ordering::Relaxed);
    let outcome = uploading.join().expect("the upload thread");
    assert!(
        outcome.is_err(),
        "an answer from a killed gateway: {outcome:?}"
    );
    assert!(
        sent.load(Ordering::Relaxed) < big().size,
        "the body was still streaming"
    );

    let gateway = first.restart();
    assert_eq!(loaded(&gateway, "files"), 1);
    assert!(
        entries(&data.join("tmp")).is_empty(),
        "tmp/ after start ({partial} bytes were there before): {:?}",
        entries(&data.join("tmp"))
    );
    assert_eq!(
        bytes_under(&data.join("chunks")),
        0,
        "chunks of the cut upload"
    );
    assert_eq!(bytes_under(&data.join("manifests")), 0, "its manifest");
    assert_eq!(bytes_under(&data.join("blobs")), small().size);
    assert_eq!(listed(&gateway), [small().sha256.clone()]);
    let cut = &big().sha256;
    for path in [
        format!("/api/files/{cut}"),
        format!("/api/download/{cut}"),
        format!("/api/torrent/{cut}.torrent"),
        format!("/webseed/{cut}"),
    ] {
        let response = gateway.get(&path);
        if path.starts_with("/webseed/") {
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        } else {
            assert_error(response, StatusCode::NOT_FOUND, "not_found", &path);
        }
    }
    gateway.assert_serves(small());
    // Nothing of the cut upload stands in the way of the whole one.
    upload(&gateway, big(), "big.bin", false, StatusCode::CREATED);
    gateway.assert_serves(big());
    assert!(entries(&data.join("tmp")).is_empty());
}

#[test]
fn sigterm_stops_the_gateway_with_exit_code_0_within_seconds() {
    let (_tmp, data) = workspace();
    let mut gateway = Gateway::start(&data, &[]);
    upload(&gateway, small(), "small.bin", false, StatusCode::CREATED);
    // An idle keep-alive connection in the client's pool must not hold the shutdown up.
    gateway.assert_serves(small());
    let asked = Instant::now();
    let status = gateway.terminate(Duration::from_secs(10));
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(0), "{}", gateway.tail());
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    gateway.wait_log("stopped");

    let again = gateway.restart();
    assert_eq!(loaded(&again, "files"), 1);
    again.assert_serves(small());
}

/// A second gateway on a folder another gateway is using refuses to start, naming the holder;
/// the first goes on serving, and once it stops the folder is free again.
#[test]
fn a_second_gateway_on_the_same_folder_refuses_to_start() {
    let (_tmp, data) = workspace();
    let mut first = Gateway::start(&data, &[]);
    upload(&first, small(), "small.bin", false, StatusCode::CREATED);
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("--data-dir")
        .arg(&data)
        .args(["--http-addr", "127.0.0.1:0"])
        .args(["--udp-tracker-addr", "127.0.0.1:0"])
        .args(["--peer-addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn a second gateway");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second gateway did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is in use by process"), "{stderr}");
    first.assert_serves(small());
    let status = first.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    let again = first.restart();
    again.assert_serves(small());
}
