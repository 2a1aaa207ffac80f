//! `swarm download` and seeding against real clients: python3-libtorrent, aria2c, opentracker.
//! Ignored unless those programs are installed (`.ci/run` installs them and runs these).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{
    Opentracker, aria2_seed, lt_create, lt_leech, lt_seed, sha256, spawn_swarm, stderr, swarm,
    tree_digest, write_random,
};

const MIB: usize = 1024 * 1024;
const LIMIT: Duration = Duration::from_secs(120);

fn s(text: impl ToString) -> String {
    text.to_string()
}

fn info_hash(torrent: &Path) -> String {
    let output = swarm(&[s("show"), s(torrent.display()), s("--json")], LIMIT);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("show --json");
    json["info_hash_v1"]
        .as_str()
        .expect("a v1 hash")
        .to_string()
}

/// Downloads `source` into `out`; asserts success and returns the summary line.
fn download(source: &str, out: &Path, extra: &[String]) -> String {
    let mut args = vec![
        s("download"),
        s(source),
        s("-o"),
        s(out.display()),
        s("-q"),
        s("--no-dht"),
    ];
    args.extend_from_slice(extra);
    let output = swarm(&args, LIMIT);
    let text = stderr(&output);
    assert!(output.status.success(), "swarm download failed:\n{text}");
    text
}

/// The number after `label` in a summary line ("512 of 512 pieces fetched", "2 peers used").
fn figure(summary: &str, label: &str) -> u64 {
    let before = &summary[..summary
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {summary}"))];
    before
        .split(|c: char| !c.is_ascii_digit())
        .rfind(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("a number before {label} in {summary}"))
}

#[test]
#[ignore = "needs python3-libtorrent and opentracker"]
fn single_file_from_libtorrent_through_opentracker_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    write_random(&seed_dir.join("movie.bin"), 24 * MIB + 1234, 1);
    let torrent = tmp.path().join("movie.torrent");
    let hash_probe = tmp.path().join("probe.torrent");
    lt_create(&seed_dir.join("movie.bin"), &hash_probe, &[], true);
    let tracker = Opentracker::start(&[info_hash(&hash_probe)]);
    lt_create(
        &seed_dir.join("movie.bin"),
        &torrent,
        &[tracker.http()],
        true,
    );
    let _seeder = lt_seed(&torrent, &seed_dir, None);

    let out = tmp.path().join("out");
    let summary = download(&s(torrent.display()), &out, &[]);
    assert_eq!(
        sha256(&out.join("movie.bin")),
        sha256(&seed_dir.join("movie.bin"))
    );
    assert_eq!(figure(&summary, "peers used"), 1, "{summary}");
}

#[test]
#[ignore = "needs python3-libtorrent and opentracker"]
fn multi_file_from_libtorrent_through_a_udp_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let album = tmp.path().join("seed/album");
    write_random(&album.join("01 intro.flac"), 3 * MIB + 17, 2);
    write_random(&album.join("02 song.flac"), 9 * MIB + 5, 3);
    write_random(&album.join("art/cover.jpg"), 300_001, 4);
    let probe = tmp.path().join("probe.torrent");
    lt_create(&album, &probe, &[], true);
    let tracker = Opentracker::start(&[info_hash(&probe)]);
    let torrent = tmp.path().join("album.torrent");
    lt_create(&album, &torrent, &[tracker.udp()], true);
    let _seeder = lt_seed(&torrent, &tmp.path().join("seed"), None);

    let out = tmp.path().join("out");
    download(&s(torrent.display()), &out, &[]);
    assert_eq!(tree_digest(&out.join("album")), tree_digest(&album));
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn hybrid_torrent_with_pad_files_made_by_libtorrent() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("seed/set");
    write_random(&folder.join("a.bin"), 5 * MIB + 333, 5);
    write_random(&folder.join("b.bin"), 70_000, 6);
    write_random(&folder.join("c/d.bin"), 2 * MIB + 1, 7);
    let torrent = tmp.path().join("set.torrent");
    lt_create(&folder, &torrent, &[], false);
    let shown = swarm(&[s("show"), s(torrent.display()), s("--json")], LIMIT);
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(
        json["info_hash_v2"].is_string(),
        "libtorrent made a hybrid: {json}"
    );
    let seeder = lt_seed(&torrent, &tmp.path().join("seed"), None);

    let out = tmp.path().join("out");
    download(
        &s(torrent.display()),
        &out,
        &[s("--no-trackers"), s("--peer"), s(seeder.addr)],
    );
    assert_eq!(
        tree_digest(&out.join("set")),
        tree_digest(&folder),
        "no pad file on disk"
    );
}

#[test]
#[ignore = "needs python3-libtorrent and aria2c"]
fn two_seeders_at_once_libtorrent_and_aria2() {
    let tmp = tempfile::tempdir().unwrap();
    let lt_dir = tmp.path().join("lt");
    write_random(&lt_dir.join("big.bin"), 48 * MIB, 8);
    let aria_dir = tmp.path().join("aria");
    std::fs::create_dir_all(&aria_dir).unwrap();
    std::fs::copy(lt_dir.join("big.bin"), aria_dir.join("big.bin")).unwrap();
    let torrent = tmp.path().join("big.torrent");
    lt_create(&lt_dir.join("big.bin"), &torrent, &[], true);
    // Both limited (8 MB/s) so that neither can serve it all before the other is asked.
    let lt = lt_seed(&torrent, &lt_dir, Some(8_000_000));
    let (_aria, aria_addr) = aria2_seed(&torrent, &aria_dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(aria_addr).is_err() {
        assert!(Instant::now() < deadline, "aria2c did not start seeding");
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = tmp.path().join("out");
    let summary = download(
        &s(torrent.display()),
        &out,
        &[
            s("--no-trackers"),
            s("--peer"),
            s(lt.addr),
            s("--peer"),
            s(aria_addr),
        ],
    );
    assert_eq!(
        sha256(&out.join("big.bin")),
        sha256(&lt_dir.join("big.bin"))
    );
    assert_eq!(
        figure(&summary, "peers used"),
        2,
        "both seeders served blocks: {summary}"
    );
}

#[test]
#[ignore = "needs python3-libtorrent and opentracker"]
fn magnet_link_with_a_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    write_random(&seed_dir.join("doc.pdf"), 6 * MIB + 99, 9);
    let probe = tmp.path().join("probe.torrent");
    lt_create(&seed_dir.join("doc.pdf"), &probe, &[], true);
    let hash = info_hash(&probe);
    let tracker = Opentracker::start(std::slice::from_ref(&hash));
    let torrent = tmp.path().join("doc.torrent");
    lt_create(&seed_dir.join("doc.pdf"), &torrent, &[tracker.http()], true);
    let _seeder = lt_seed(&torrent, &seed_dir, None);

    let magnet = format!(
        "magnet:?xt=urn:btih:{hash}&dn=doc.pdf&tr={}",
        tracker.http()
    );
    let out = tmp.path().join("out");
    download(&magnet, &out, &[]);
    assert_eq!(
        sha256(&out.join("doc.pdf")),
        sha256(&seed_dir.join("doc.pdf"))
    );
}

/// Seeds `torrent` from `data_parent` with `swarm download --seed` on a known port.
fn swarm_seeder(torrent: &Path, data_parent: &Path) -> (crate::support::Running, String) {
    let port = crate::support::free_port();
    let seeder = spawn_swarm(&[
        s("download"),
        s(torrent.display()),
        s("-o"),
        s(data_parent.display()),
        s("--seed"),
        s("--no-trackers"),
        s("--no-dht"),
        s("--bind"),
        s("127.0.0.1"),
        s("--port"),
        s(port),
        s("-q"),
    ]);
    // Ready means answering a handshake: the port accepts connections during the resume check
    // already, and libtorrent does not retry a peer it gave up on for a minute.
    let hash = crate::support::hex_decode(&info_hash(torrent));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !crate::support::answers_handshake(port, &hash) {
        assert!(Instant::now() < deadline, "swarm did not start seeding");
        std::thread::sleep(Duration::from_millis(100));
    }
    (seeder, format!("127.0.0.1:{port}"))
}

/// `swarm download --seed` serves `size` bytes to a libtorrent leecher given `source(torrent)`.
fn seed_to_libtorrent(size: usize, seed: u64, source: impl FnOnce(&Path) -> String) {
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours");
    write_random(&ours.join("share.bin"), size, seed);
    let torrent = tmp.path().join("share.torrent");
    lt_create(&ours.join("share.bin"), &torrent, &[], true);
    let (_seeder, addr) = swarm_seeder(&torrent, &ours);

    let theirs = tmp.path().join("theirs");
    let mut leecher = lt_leech(&source(&torrent), &theirs, &[addr.parse().unwrap()]);
    leecher.process.expect_line("DONE", LIMIT);
    assert_eq!(
        sha256(&theirs.join("share.bin")),
        sha256(&ours.join("share.bin"))
    );
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn seeds_to_a_libtorrent_leecher_from_a_torrent() {
    seed_to_libtorrent(20 * MIB + 7, 10, |torrent| s(torrent.display()));
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn seeds_to_a_libtorrent_leecher_from_a_magnet_link() {
    // The leecher has only the hash: it fetches the info dictionary from us (BEP 9).
    seed_to_libtorrent(12 * MIB + 3, 11, |torrent| {
        format!("magnet:?xt=urn:btih:{}", info_hash(torrent))
    });
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn killed_at_half_then_restarted_fetches_only_the_missing_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    write_random(&seed_dir.join("iso.bin"), 64 * MIB, 12);
    let torrent = tmp.path().join("iso.torrent");
    lt_create(&seed_dir.join("iso.bin"), &torrent, &[], true);
    let seeder = lt_seed(&torrent, &seed_dir, Some(8_000_000));
    let out = tmp.path().join("out");
    let args = [
        s("download"),
        s(torrent.display()),
        s("-o"),
        s(out.display()),
        s("--no-trackers"),
        s("--peer"),
        s(seeder.addr),
        s("-q"),
        s("--no-dht"),
    ];

    // Kill -9 once half the file is on disk and verified.
    let original = std::fs::read(seed_dir.join("iso.bin")).unwrap();
    let mut first = spawn_swarm(&args);
    let deadline = Instant::now() + LIMIT;
    let piece = 256 * 1024;
    loop {
        assert!(Instant::now() < deadline, "never reached half");
        let on_disk = std::fs::read(out.join("iso.bin")).unwrap_or_default();
        let good = on_disk
            .chunks(piece)
            .zip(original.chunks(piece))
            .filter(|(a, b)| a == b)
            .count();
        if good * piece >= original.len() / 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    first.kill();

    let summary = download(&s(torrent.display()), &out, &args[4..7]);
    assert_eq!(
        sha256(&out.join("iso.bin")),
        sha256(&seed_dir.join("iso.bin"))
    );
    let total = figure(&summary, "pieces fetched");
    let on_disk = figure(&summary, "were on disk");
    let fetched = figure(&summary, " of ");
    assert!(
        on_disk * 2 >= total * 2 / 5,
        "about half was kept: {summary}"
    );
    assert!(on_disk < total, "{summary}");
    assert_eq!(
        fetched + on_disk,
        total,
        "only the missing pieces were fetched: {summary}"
    );
}
