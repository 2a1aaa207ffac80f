//! aria2c, transmission-cli and python3-libtorrent each download both stored files from one
//! gateway of their own: (a) through the gateway's .torrent (its tracker, its peer and its web
//! seed), (b) through the magnet link as the upload answered it (the 5 MiB file), and (c)
//! through the magnet link without its `ws=` parameter (both files), where only the tracker and
//! the peer wire protocol can deliver: the gateway's counters must show the bytes went out over
//! the peer listener and none over the web seed. Every file is checked by SHA-256. The two files
//! of a step download at once, each by its own client process.
//!
//! Off every network but loopback: no DHT, LPD, PEX; the clients find the gateway only through
//! the tracker URLs in the .torrent or magnet. Transmission 3.00 ignores loopback peers a tracker
//! hands it: it is reached because the gateway dials every leecher that announces.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use swarmgate_testkit::programs::{
    Running, aria2_tracked, hex_encode, lt_leech_with, sha256, transmission_leech,
};

use super::support::{Gateway, workspace};
use super::uploads::{Stored, upload_both};

/// The longest one download may take (transmission-cli is the slowest: ~17 MB/s, 15 s to start).
const LIMIT: Duration = Duration::from_secs(240);

/// The client under test.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Program {
    Aria2,
    Transmission,
    Libtorrent,
}

/// One client process downloading one file.
struct Download {
    program: Program,
    process: Running,
    /// Where the finished file will be.
    file: PathBuf,
    /// aria2's log file (the others' logs are their output lines).
    log: Option<PathBuf>,
    what: String,
}

impl Download {
    /// Starts `program` on `source` (a .torrent path or a magnet link) in `work`.
    fn start(program: Program, source: &str, work: &Path, name: &str, what: String) -> Download {
        std::fs::create_dir_all(work).expect("create the client's folder");
        let (process, file, log) = match program {
            Program::Aria2 => {
                let dir = work.join("download");
                let (process, log) = aria2_tracked(source, &dir, work, false, false);
                (process, dir.join(name), Some(log))
            }
            Program::Transmission => {
                let (process, _port) = transmission_leech(source, work);
                (process, work.join("download").join(name), None)
            }
            Program::Libtorrent => {
                let dir = work.join("download");
                let timeout = LIMIT.as_secs().to_string();
                let peer = lt_leech_with(source, &dir, &["--timeout", &timeout]);
                (peer.process, dir.join(name), None)
            }
        };
        Download {
            program,
            process,
            file,
            log,
            what,
        }
    }

    /// Waits for the download to complete (at most [`LIMIT`]) and returns the file.
    fn finish(mut self, gateway: &Gateway) -> PathBuf {
        let deadline = Instant::now() + LIMIT;
        let mut last = VecDeque::new();
        loop {
            let mut done = false;
            for line in self.process.drain_lines() {
                if matches!(self.program, Program::Libtorrent) {
                    done |= line.starts_with("DONE");
                    if line.starts_with("TIMEOUT") {
                        self.fail(&format!("libtorrent gave up: {line}"), &last, gateway);
                    }
                }
                if last.len() == 40 {
                    last.pop_front();
                }
                last.push_back(line);
            }
            if let Some(status) = self.process.exited() {
                if !status.success() {
                    self.fail(&format!("exited with {status}"), &last, gateway);
                }
                return self.file;
            }
            if done {
                let status = self.process.wait_exit(Duration::from_secs(20));
                assert!(
                    status.success(),
                    "{}: libtorrent exited {status}",
                    self.what
                );
                return self.file;
            }
            if Instant::now() > deadline {
                self.process.kill();
                self.fail(&format!("not done after {LIMIT:?}"), &last, gateway);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn fail(&self, why: &str, last: &VecDeque<String>, gateway: &Gateway) -> ! {
        let log = match &self.log {
            Some(log) => super::support::tail(log),
            None => last.iter().cloned().collect::<Vec<_>>().join("\n"),
        };
        panic!(
            "{}: {why}\n--- the client:\n{log}\n--- the gateway:\n{}\n--- its stats: {}",
            self.what,
            gateway.tail(),
            gateway.stats()
        )
    }
}

/// Downloads every `(file, source)` at once with `program`, each in its own folder under
/// `work`, and checks each by SHA-256 (then deletes it: 300 MiB copies add up).
pub(crate) fn download_all(
    program: Program,
    gateway: &Gateway,
    jobs: &[(&Stored, String)],
    work: &Path,
    step: &str,
) {
    let started = Instant::now();
    let downloads: Vec<(Download, &Stored)> = jobs
        .iter()
        .map(|(stored, source)| {
            let what = format!("{program:?} {step} {}", stored.name);
            let folder = work.join(format!("{step}-{}", stored.name));
            (
                Download::start(program, source, &folder, stored.name, what),
                *stored,
            )
        })
        .collect();
    for (download, stored) in downloads {
        let what = download.what.clone();
        let file = download.finish(gateway);
        assert_eq!(
            hex_encode(&sha256(&file)),
            stored.fixture.sha256,
            "{what}: other bytes"
        );
        std::fs::remove_file(&file).expect("remove the downloaded copy");
    }
    eprintln!("{program:?} {step}: {:?}", started.elapsed());
}

/// Each file's .torrent from `gateway`, saved in `dir`: the jobs for [`download_all`].
pub(crate) fn saved_torrents<'a>(
    gateway: &Gateway,
    stored: &'a [Stored],
    dir: &Path,
) -> Vec<(&'a Stored, String)> {
    stored
        .iter()
        .map(|file| {
            let bytes = gateway
                .get(&format!("/api/torrent/{}.torrent", file.fixture.sha256))
                .bytes()
                .expect("the .torrent");
            let path = dir.join(format!("{}.torrent", file.name));
            std::fs::write(&path, bytes).expect("save the .torrent");
            (file, path.display().to_string())
        })
        .collect()
}

/// The gateway's peer and web seed byte counters.
fn sent(gateway: &Gateway) -> (u64, u64) {
    let stats = gateway.stats();
    let peer = stats["peer_bytes"].as_u64().expect("peer_bytes");
    let webseed = stats["webseed_bytes"].as_u64().expect("webseed_bytes");
    (peer, webseed)
}

/// Both files by .torrent, the small one by its magnet, both by the magnet without `ws=`.
fn downloads_both_files_by_torrent_and_by_magnet(program: Program) {
    let started = Instant::now();
    let (tmp, data) = workspace();
    let gateway = Gateway::start(&data, &[]);
    let stored = upload_both(&gateway);
    let work = tmp.path().join("clients");

    let torrents = saved_torrents(&gateway, &stored, tmp.path());
    download_all(program, &gateway, &torrents, &work, "torrent");

    let magnet = [(&stored[0], stored[0].field("magnet").to_owned())];
    download_all(program, &gateway, &magnet, &work, "magnet");

    let (peer_before, webseed_before) = sent(&gateway);
    let peer_only: Vec<(&Stored, String)> = stored
        .iter()
        .map(|file| (file, file.magnet_without_web_seed()))
        .collect();
    download_all(program, &gateway, &peer_only, &work, "peer-only-magnet");
    let (peer_after, webseed_after) = sent(&gateway);
    assert_eq!(
        webseed_after, webseed_before,
        "{program:?}: the web seed sent bytes for magnets without ws="
    );
    let files: u64 = stored.iter().map(|s| s.fixture.size).sum();
    assert!(
        peer_after - peer_before >= files,
        "{program:?}: the peer listener sent {} bytes for {files} bytes of files",
        peer_after - peer_before
    );
    eprintln!("{program:?}: all {:?}", started.elapsed());
}

#[test]
#[ignore = "needs aria2c"]
fn aria2c_downloads_both_files_by_torrent_and_by_magnet() {
    downloads_both_files_by_torrent_and_by_magnet(Program::Aria2);
}

#[test]
#[ignore = "needs transmission-cli"]
fn transmission_downloads_both_files_by_torrent_and_by_magnet() {
    downloads_both_files_by_torrent_and_by_magnet(Program::Transmission);
}

#[test]
#[ignore = "needs python3-libtorrent"]
fn libtorrent_downloads_both_files_by_torrent_and_by_magnet() {
    downloads_both_files_by_torrent_and_by_magnet(Program::Libtorrent);
}
