//! `swarm tracker` between real clients: python3-libtorrent and aria2c find each other only
//! through it (the torrent's one announce URL, no peer hints, DHT/LPD/PEX off) over HTTP and over
//! UDP, in both directions; its HTTP and UDP scrapes count a held seeder and leecher and then the
//! finished download; transmission-cli announces to it and is given the seeder. Each test starts
//! its own tracker on free loopback ports and stops it with SIGINT, which must exit 0.
//! Ignored unless those programs are installed (`.ci/run` installs them and runs these), except
//! the runner's own checks, which need nothing.
//!
//! Client quirks these tests live with (aria2 1.36, libtorrent 2.0.8, Transmission 3.00):
//! - aria2c sends UDP tracker packets from its DHT socket and skips UDP trackers when DHT is off
//!   ("Download aborted. URI=udp://…"), so the UDP runs turn DHT on with `--dht-listen-port`, a
//!   fresh `--dht-file-path` and no entry point: an empty routing table, no DHT message sent.
//! - aria2c with `--seed-time=0` sends `started` and then `stopped`, never `completed`.
//! - transmission-cli first announces `stopped` (numwant=0: the torrent is added paused; once,
//!   on a loaded machine, not before its first peers) and then
//!   `started`; it drops loopback peers a tracker gives it (martian addresses), so it never
//!   connects to the seeder; and it never sends its final `stopped`: on SIGINT it closes its
//!   session before the request reaches libcurl, and SIGTERM kills it outright.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use swarmgate_tracker::ScrapeStats;

use crate::support::{
    Running, hex_decode, lt_create, lt_leech, lt_seed, sha256, swarm, write_random,
};
use crate::tracker_support::{Tracker, aria2_tracked, lt_leech_with, transmission};

const MIB: usize = 1024 * 1024;
/// The longest a transfer may take.
const LIMIT: Duration = Duration::from_secs(120);
/// The longest the tracker may take to see what a client did.
const SOON: Duration = Duration::from_secs(30);

fn counts(complete: u32, incomplete: u32, downloaded: u32) -> ScrapeStats {
    ScrapeStats {
        complete,
        downloaded,
        incomplete,
    }
}

/// `size` pseudo-random bytes at `tmp`/seed/`name` and a v1 torrent of them announcing only to
/// `announce`: the torrent's path and its raw info-hash.
fn shared_file(
    tmp: &Path,
    name: &str,
    size: usize,
    seed: u64,
    announce: &str,
) -> (PathBuf, Vec<u8>) {
    let data = tmp.join("seed").join(name);
    write_random(&data, size, seed);
    let torrent = tmp.join(format!("{name}.torrent"));
    lt_create(&data, &torrent, &[announce.to_string()], true);
    let output = swarm(
        &[
            "show".to_string(),
            torrent.display().to_string(),
            "--json".to_string(),
        ],
        LIMIT,
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("show --json");
    let hash = hex_decode(json["info_hash_v1"].as_str().expect("a v1 hash"));
    (torrent, hash)
}

/// The last lines of a client's log file, for a failure message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Panics at once, with aria2's log, if aria2 logged a tracker error (a `failure reason`, a
/// refused or aborted announce): otherwise it would only wait for peers until the deadline.
fn assert_no_tracker_error(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    if let Some(line) = text.lines().find(|line| {
        line.contains("[ERROR]")
            && (line.contains("Tracker") || line.contains("UDPT") || line.contains("udp://"))
    }) {
        panic!(
            "aria2c: {line}
{}",
            tail(log)
        );
    }
}

/// Waits (at most [`LIMIT`]) for aria2c to exit, failing fast on a tracker error.
fn wait_aria2(aria: &mut Running, log: &Path) -> ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = aria.exited() {
            return status;
        }
        assert_no_tracker_error(log);
        assert!(
            Instant::now() < deadline,
            "aria2c still running after {LIMIT:?}
{}",
            tail(log)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asserts the tracker exits 0 on SIGINT having refused nothing.
fn stop_cleanly(tracker: Tracker) {
    let closing = tracker.stop();
    assert!(closing.contains("(0 refused)"), "{closing}");
}

/// libtorrent seeds, aria2c downloads; the torrent names the tracker by `url(tracker)`.
fn libtorrent_to_aria2(udp: bool) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let tracker = Tracker::start();
    let url = tracker.url(udp);
    let (torrent, hash) = shared_file(tmp.path(), "movie.bin", 12 * MIB + 333, 21, &url);
    let _seeder = lt_seed(&torrent, &tmp.path().join("seed"), None);
    assert_eq!(
        tracker.wait_scrapes(&hash, SOON, |s| s.complete == 1),
        counts(1, 0, 0),
        "the seeder announced"
    );

    let out = tmp.path().join("out");
    let (mut aria, log) = aria2_tracked(&torrent, &out, &tmp.path().join("aria2"), false, udp);
    let status = wait_aria2(&mut aria, &log);
    assert!(status.success(), "aria2c: {status}\n{}", tail(&log));
    assert_eq!(
        sha256(&out.join("movie.bin")),
        sha256(&tmp.path().join("seed/movie.bin"))
    );
    // aria2c announced `stopped` on its way out: the seeder is alone again.
    let after = tracker.wait_scrapes(&hash, SOON, |s| s.incomplete == 0);
    assert_eq!(after.complete, 1, "{after:?}");
    stop_cleanly(tracker);
    eprintln!("libtorrent -> aria2c (udp: {udp}): {:?}", started.elapsed());
}

/// aria2c seeds, libtorrent downloads, through the tracker at `url(tracker)`.
fn aria2_to_libtorrent(udp: bool) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let tracker = Tracker::start();
    let url = tracker.url(udp);
    let (torrent, hash) = shared_file(tmp.path(), "album.bin", 10 * MIB + 77, 22, &url);
    let seed_dir = tmp.path().join("seed");
    let (_aria, log) = aria2_tracked(&torrent, &seed_dir, &tmp.path().join("aria2"), true, udp);
    let seen = Instant::now();
    let mut last = ScrapeStats::default();
    while last.complete != 1 {
        assert_no_tracker_error(&log);
        assert!(
            seen.elapsed() < SOON,
            "aria2c never announced as a seeder: {last:?}\n{}",
            tail(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
        last = tracker.scrape_http(&hash);
    }
    assert_eq!(last, counts(1, 0, 0));

    let out = tmp.path().join("out");
    let mut leecher = lt_leech(&torrent.display().to_string(), &out, &[]);
    leecher.process.expect_line("DONE", LIMIT);
    assert_eq!(
        sha256(&out.join("album.bin")),
        sha256(&seed_dir.join("album.bin"))
    );
    stop_cleanly(tracker);
    eprintln!("aria2c -> libtorrent (udp: {udp}): {:?}", started.elapsed());
}

#[test]
#[ignore = "needs python3-libtorrent and aria2c"]
fn libtorrent_seeds_to_aria2_through_our_http_tracker() {
    libtorrent_to_aria2(false);
}

#[test]
#[ignore = "needs python3-libtorrent and aria2c"]
fn libtorrent_seeds_to_aria2_through_our_udp_tracker() {
    libtorrent_to_aria2(true);
}

#[test]
#[ignore = "needs python3-libtorrent and aria2c"]
fn aria2_seeds_to_libtorrent_through_our_http_tracker() {
    aria2_to_libtorrent(false);
}

#[test]
#[ignore = "needs python3-libtorrent and aria2c"]
fn aria2_seeds_to_libtorrent_through_our_udp_tracker() {
    aria2_to_libtorrent(true);
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn scrapes_count_a_seeder_a_held_leecher_and_the_finished_download() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let tracker = Tracker::start();
    let (torrent, hash) = shared_file(tmp.path(), "doc.bin", 8 * MIB + 5, 23, &tracker.http_url());
    let _seeder = lt_seed(&torrent, &tmp.path().join("seed"), None);
    assert_eq!(
        tracker.wait_scrapes(&hash, SOON, |s| s.complete == 1),
        counts(1, 0, 0)
    );

    // Held at 32 KiB/s (over four minutes for the whole), the leecher stays a leecher while
    // both scrapes look; then the limit is lifted and it finishes, announcing `completed`.
    let out = tmp.path().join("out");
    let mut leecher = lt_leech_with(
        &torrent.display().to_string(),
        &out,
        &["--download-limit", "32768", "--linger"],
    );
    assert_eq!(
        tracker.wait_scrapes(&hash, SOON, |s| s.incomplete == 1),
        counts(1, 1, 0),
        "one seeder, one leecher, nothing finished yet"
    );
    leecher.process.write_line("unlimit");
    leecher.process.expect_line("DONE", LIMIT);
    assert_eq!(
        tracker.wait_scrapes(&hash, SOON, |s| s.downloaded == 1),
        counts(2, 0, 1),
        "the leecher finished: two seeders, one download"
    );
    assert_eq!(
        sha256(&out.join("doc.bin")),
        sha256(&tmp.path().join("seed/doc.bin"))
    );
    let closing = tracker.stop();
    assert!(
        closing.contains("(0 refused)") && closing.contains("2 seeders, 0 leechers"),
        "{closing}"
    );
    eprintln!("scrapes: {:?}", started.elapsed());
}

/// The URL inside a transmission debug line `… Sending announce to libcurl: "URL" (…)`.
fn sent_url(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("Sending announce to libcurl: \"")?;
    rest.split('"').next()
}

#[test]
#[ignore = "needs python3-libtorrent and transmission-cli"]
fn transmission_announces_and_is_given_the_seeder() {
    assert!(
        Path::new("/usr/bin/transmission-cli").exists(),
        "transmission-cli is not installed (apt-get install transmission-cli)"
    );
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let tracker = Tracker::start();
    let (torrent, hash) = shared_file(tmp.path(), "show.bin", 4 * MIB + 9, 24, &tracker.http_url());
    let seeder = lt_seed(&torrent, &tmp.path().join("seed"), None);
    assert_eq!(
        tracker.wait_scrapes(&hash, SOON, |s| s.complete == 1),
        counts(1, 0, 0)
    );

    // Transmission's own log: what it sent, what our tracker answered, what it took from that.
    let (mut client, client_port) = transmission(&torrent, &tmp.path().join("transmission"));
    let lines = client.lines_until("peers from tracker", SOON);
    let sent: Vec<&str> = lines.iter().filter_map(|l| sent_url(l)).collect();
    assert!(
        sent.iter().any(|url| url.contains("event=started")),
        "a started announce: {sent:?}"
    );
    let answers: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("Got announce response:"))
        .collect();
    assert_eq!(answers.len(), sent.len(), "an answer to each announce");
    for answer in &answers {
        assert!(
            answer.contains("err:none") && answer.contains("warn:none"),
            "{answer}"
        );
    }
    let last = answers.last().expect("an answer");
    assert!(last.contains("seeders:1 leechers:1"), "{last}");
    let given: usize = lines
        .last()
        .and_then(|l| l.split(" Got ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a peer count in {:?}", lines.last()));
    assert!(
        (1..=2).contains(&given),
        "the seeder (and perhaps itself): {given}"
    );

    // The tracker's side: transmission is its leecher, on the port it was given with -p, and a
    // third peer is handed both.
    assert_eq!(
        tracker.wait_scrapes(&hash, SOON, |s| s.incomplete == 1),
        counts(1, 1, 0)
    );
    let probe = *b"-SG0001-trkinterop01";
    let answer = tracker.announce_http(&hash, &probe, 9, 1, "started");
    let client_addr = SocketAddr::from(([127, 0, 0, 1], client_port));
    assert!(
        answer.peers.contains(&seeder.addr) && answer.peers.contains(&client_addr),
        "peers {:?}: want the seeder {} and transmission {client_addr}",
        answer.peers,
        seeder.addr
    );
    assert_eq!(
        (answer.complete, answer.incomplete),
        (Some(1), Some(2)),
        "{answer:?}"
    );
    tracker.announce_http(&hash, &probe, 9, 1, "stopped");
    assert_eq!(tracker.scrape_http(&hash), counts(1, 1, 0));

    // Ctrl-C: it exits, but its last `stopped` never leaves (see the module doc); send the one
    // it sent at start, byte for byte, as it would have: then it is gone from the swarm.
    let status = client.interrupt(SOON);
    assert!(status.success(), "transmission-cli: {status}");
    // Its first `stopped` (the torrent added paused) was once missing from the lines read up to
    // its first peers, on a loaded machine: then its `started` with the event changed stands
    // for it (the same peer id, key and port, which is what the tracker removes by).
    let stopped = sent
        .iter()
        .find(|url| url.contains("event=stopped"))
        .map(|url| url.to_string())
        .unwrap_or_else(|| {
            let started = sent
                .iter()
                .find(|url| url.contains("event=started"))
                .expect("a started announce");
            started.replace("event=started", "event=stopped")
        });
    let path = &stopped[stopped.find("/announce").expect("an announce path")..];
    let body = tracker.http_get(path);
    swarmgate_tracker::decode_announce_response(&body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&body)));
    assert_eq!(tracker.scrape_http(&hash), counts(1, 0, 0));
    assert_eq!(tracker.scrape_udp(&hash), counts(1, 0, 0));
    stop_cleanly(tracker);
    eprintln!(
        "transmission (given {given} peers): {:?}",
        started.elapsed()
    );
}

#[test]
fn the_runner_serves_then_stops_cleanly_on_sigterm() {
    let tracker = Tracker::start();
    let info_hash = [0x5a; 20];
    let query = format!(
        "/announce?info_hash={}&peer_id=-qB4520-abcdefghijkl&port=6881&left=0&compact=1",
        crate::tracker_support::url_encode(&info_hash)
    );
    let body = tracker.http_get(&query);
    assert!(
        body.starts_with(b"d8:completei1e"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(tracker.scrape_udp(&info_hash).complete, 1);
    let closing = tracker.stop_with("-TERM");
    assert!(
        closing.contains("1 announces") && closing.contains("1 seeders"),
        "{closing}"
    );
}

#[test]
fn the_runner_refuses_bad_flags_in_one_line() {
    let bare = swarm(&["tracker".to_owned()], Duration::from_secs(20));
    assert_eq!(bare.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bare.stderr);
    assert_eq!(
        text.trim(),
        "swarm: nothing to serve: give --http ADDR, --udp ADDR or both"
    );
    let bad_hash = ["tracker", "--udp", "127.0.0.1:0", "--allow", "not-a-hash"].map(str::to_owned);
    let refused = swarm(&bad_hash, Duration::from_secs(20));
    assert_eq!(refused.status.code(), Some(2), "clap rejects the value");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not an info-hash"));
}
