//! `swarm download` into a folder that runs out of space (issue 15): the first run stops with
//! one line that names the file and says what to do, and a non-zero exit code; once space
//! returns, the same command completes byte for byte and fetches only the pieces the runs
//! before had not verified (its summary: "N of M pieces fetched (K were on disk)", K > 0 and N + K = M).
//!
//! The seeder is `swarm download --seed` on loopback. Two ways to make the space small:
//! - a tmpfs of 4 MiB mounted on the output folder for a 6 MiB file (needs `CAP_SYS_ADMIN`;
//!   where the mount is refused the test says so and uses the file size limit); space returns
//!   with `mount -o remount,size=16m`, which keeps the files.
//! - `ulimit -f` (`RLIMIT_FSIZE`) on the first two runs through `sh`, one piece short of the file's
//!   length; the output file is laid out at full length first (as a run that created it left
//!   it: sparse), so the writes below the limit land and the first one past it fails with
//!   `EFBIG`, which swarm survives (`SIGXFSZ` handled) and reports as a full disk. Runs on any
//!   Linux; space returns by running without the limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{
    answers_handshake, free_port, hex_decode, sha256, spawn_swarm, stderr, swarm, write_random,
};

const LIMIT: Duration = Duration::from_secs(120);
const PIECE: u64 = 16 * 1024;

fn s(text: impl ToString) -> String {
    text.to_string()
}

/// A tmpfs mounted on a folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let status = Command::new("umount").arg(&self.0).status();
        if !status.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn mount_tmpfs(dir: &Path, options: &str) -> Result<(), String> {
    let output = Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Runs `sh -c 'ulimit -f BLOCKS; exec swarm ARGS'`, killed after [`LIMIT`].
fn swarm_with_file_size_limit(limit: u64, args: &[String]) -> Output {
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -f {} && exec \"$0\" \"$@\"", limit / 512))
        .arg(env!("CARGO_BIN_EXE_swarm"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sh");
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(output) => output.expect("swarm ran"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("swarm {args:?} took longer than {LIMIT:?}");
        }
    }
}

/// The number before `label` in the summary ("12 of 384 pieces fetched (372 were on disk)").
fn figure(summary: &str, before: &str) -> u64 {
    let at = summary
        .find(before)
        .unwrap_or_else(|| panic!("no {before:?} in {summary}"));
    let digits: String = summary[..at]
        .trim_end()
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().unwrap()
}

/// How space was made small for the first run.
enum Small {
    Tmpfs(Tmpfs),
    FileSizeLimit(u64),
}

/// Seeds a file of `size` bytes, downloads it into `out` (first run in `small`, second run
/// after space returns) and checks the message, the exit codes, the resume and the bytes.
fn download_past_the_space(tmp: &Path, out: &Path, size: u64, small: Small) {
    let data = tmp.join("seed/clip.bin");
    write_random(&data, usize::try_from(size).unwrap(), 41);
    let torrent = tmp.join("clip.torrent");
    let created = swarm(
        &[
            s("create"),
            s(data.display()),
            s("-o"),
            s(torrent.display()),
            s("-l"),
            s("16K"),
            s("-q"),
        ],
        LIMIT,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let printed = String::from_utf8_lossy(&created.stdout).into_owned();
    let at = printed.find("urn:btih:").expect("a magnet link") + "urn:btih:".len();
    let info_hash = hex_decode(&printed[at..at + 40]);

    let port = free_port();
    let _seeder = spawn_swarm(&[
        s("download"),
        s(torrent.display()),
        s("-o"),
        s(tmp.join("seed").display()),
        s("--seed"),
        s("--no-trackers"),
        s("--no-dht"),
        s("--bind"),
        s("127.0.0.1"),
        s("--port"),
        s(port),
        s("-q"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers_handshake(port, &info_hash) {
        assert!(Instant::now() < deadline, "the seeder never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let leech = [
        s("download"),
        s(torrent.display()),
        s("-o"),
        s(out.display()),
        s("--no-trackers"),
        s("--no-dht"),
        s("--no-web-seeds"),
        s("--bind"),
        s("127.0.0.1"),
        s("--port"),
        s(0),
        s("--peer"),
        s(format!("127.0.0.1:{port}")),
        s("-q"),
    ];

    let written = out.join("clip.bin");
    let expected = format!(
        "swarm: no space left on device writing {}: free space and run the same command \
         again; verified pieces are kept",
        written.display()
    );
    // A tmpfs fills the same way every time; under the file size limit a run whose piece scan
    // starts at the last piece keeps nothing, so two runs there (the second resumes the first).
    let runs = match &small {
        Small::Tmpfs(_) => 1,
        Small::FileSizeLimit(_) => 2,
    };
    for run in 1..=runs {
        let limited = match &small {
            Small::Tmpfs(_) => swarm(&leech, LIMIT),
            Small::FileSizeLimit(limit) => swarm_with_file_size_limit(*limit, &leech),
        };
        let message = stderr(&limited);
        eprintln!("run {run} without space: {:?}\n{message}", limited.status);
        assert!(!limited.status.success(), "run {run} fails: {message}");
        assert!(
            message.lines().any(|line| line == expected),
            "one clear line:\n{message}"
        );
    }

    if let Small::Tmpfs(mount) = &small {
        mount_tmpfs(&mount.0, "remount,size=16m").expect("grow the tmpfs");
    }
    let second = swarm(&leech, LIMIT);
    let summary = stderr(&second);
    eprintln!("run with space: {:?}\n{summary}", second.status);
    assert!(second.status.success(), "{summary}");
    assert_eq!(sha256(&written), sha256(&data), "the file is byte-exact");
    let total = size.div_ceil(PIECE);
    let fetched = figure(&summary, &format!("of {total} pieces fetched"));
    let kept = figure(&summary, "were on disk)");
    assert!(
        kept > 0,
        "pieces verified by the first run are kept: {summary}"
    );
    assert_eq!(
        fetched + kept,
        total,
        "only the missing pieces are fetched: {summary}"
    );
    drop(small);
}

#[test]
fn a_download_onto_a_full_tmpfs_stops_with_one_line_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    match mount_tmpfs(&out, "size=4m") {
        Ok(()) => {
            eprintln!("mechanism: a tmpfs of 4 MiB on {}", out.display());
            let small = Small::Tmpfs(Tmpfs(out.clone()));
            download_past_the_space(tmp.path(), &out, 6 << 20, small);
        }
        Err(refused) => {
            eprintln!("mechanism: RLIMIT_FSIZE (a tmpfs could not be mounted: {refused})");
            a_download_past_the_file_size_limit(tmp.path(), &out);
        }
    }
}

#[test]
fn a_download_past_the_file_size_limit_stops_with_one_line_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    eprintln!("mechanism: RLIMIT_FSIZE");
    a_download_past_the_file_size_limit(tmp.path(), &out);
}

/// An 8 MiB file in 512 pieces, the limit one piece short of its end: a run that starts its
/// scan at the last piece or two keeps none (about 1 in 200); two runs both doing so, 1 in
/// 40,000.
fn a_download_past_the_file_size_limit(tmp: &Path, out: &Path) {
    let size = 8 << 20;
    std::fs::create_dir_all(out).unwrap();
    let file = std::fs::File::create(out.join("clip.bin")).unwrap();
    file.set_len(size).unwrap();
    download_past_the_space(tmp, out, size, Small::FileSizeLimit(size - PIECE));
}
