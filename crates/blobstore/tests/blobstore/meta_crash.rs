//! Crash test of the metadata database alone: a child process commits uploads in a loop,
//! printing each sha256 once its commit has returned, and is killed with SIGKILL; the reopened
//! database passes its integrity check and holds every printed upload whole.
//!
//! The child is this test binary run again ([`spawn_child`]: `current_exe()` with the child's
//! test name, `--exact`, and [`CHILD_ENV`] set), so no extra binary is needed; the child's test
//! is `#[ignore]`d and returns at once unless [`child_arg`] finds its role in the environment.
//! [`kill_after`] reads the child's lines, kills it, and checks that SIGKILL is what ended it.
//! These helpers are for any crash test of this crate (the content store's too).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use swarmgate_blobstore::conformance::{normalized, sample_key, sample_upload};
use swarmgate_blobstore::{MetadataStore, SqliteStore, Upload};

/// The environment variable that tells a child which role it plays: `role=argument`.
pub(crate) const CHILD_ENV: &str = "SWARMGATE_STORAGE_TEST_CHILD";

/// The argument of `role` when this process is a child started for it, else `None`.
pub(crate) fn child_arg(role: &str) -> Option<String> {
    let value = std::env::var(CHILD_ENV).ok()?;
    let (found, argument) = value.split_once('=')?;
    (found == role).then(|| argument.to_owned())
}

/// The libtest name of `function` in the module whose `module_path!()` is `module` (the path
/// without the test crate's own name).
pub(crate) fn test_name(module: &str, function: &str) -> String {
    let path = module.split_once("::").map_or("", |(_, rest)| rest);
    format!("{path}::{function}")
}

/// Starts this test binary again, running only the (ignored) test `test`, as `role` with
/// `argument`; its stdout is piped, its stderr inherited.
pub(crate) fn spawn_child(test: &str, role: &str, argument: &str) -> Child {
    Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([test, "--exact", "--include-ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, format!("{role}={argument}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child")
}

/// What follows `marker` in `line`. Not only at the start: libtest writes `test NAME ... `
/// without a newline before the test runs and may flush it just before the child's first line.
fn after(line: &str, marker: &str) -> Option<String> {
    line.find(marker)
        .map(|at| line[at + marker.len()..].to_owned())
}

/// Reads `child`'s stdout; once `count` lines holding `marker` have come, kills it with
/// SIGKILL (what `Child::kill` sends on Unix), then reads what was already in the pipe. Returns
/// what follows the marker in every such line. Panics when the child ended before the kill.
pub(crate) fn kill_after(mut child: Child, marker: &str, count: usize) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut found = Vec::new();
    for line in lines.by_ref() {
        found.extend(after(&line.expect("a line of the child"), marker));
        if found.len() == count {
            break;
        }
    }
    child.kill().expect("kill the child");
    for line in lines {
        found.extend(after(&line.expect("a line of the child"), marker));
    }
    let status = child.wait().expect("reap the child");
    assert_eq!(
        status.signal(),
        Some(9),
        "the child ended by itself ({status}) after {} lines",
        found.len()
    );
    found
}

const ROLE: &str = "meta-commit-loop";
const CHUNKS: u32 = 64;

/// The upload the child commits as number `n`.
fn upload(n: u32) -> Upload {
    let mut upload = sample_upload(n, CHUNKS);
    upload.owners = vec![sample_key((n % 5) as u8)];
    upload
}

/// The child: commits uploads `start, start + 1, ...` to the database at `path` and prints
/// `committed <n> <sha256>` after each commit returns, for at most 30 s.
#[test]
#[ignore = "the child of sigkill_during_commits_loses_no_acknowledged_upload"]
fn commit_loop_child() {
    let Some(argument) = child_arg(ROLE) else {
        return;
    };
    let (path, start) = argument.rsplit_once('|').expect("path|start");
    let start: u32 = start.parse().expect("start");
    let store = SqliteStore::open(path).expect("open");
    let deadline = Instant::now() + Duration::from_secs(30);
    for n in start..start + 100_000 {
        if Instant::now() > deadline {
            break;
        }
        let upload = upload(n);
        store.put(&upload).expect("put");
        store.add_to_counter("uploads", 1).expect("count");
        println!("committed {n} {}", upload.file.sha256);
    }
}

#[test]
fn sigkill_during_commits_loses_no_acknowledged_upload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    let child_test = test_name(module_path!(), "commit_loop_child");
    let mut acknowledged = BTreeMap::new();
    let started = Instant::now();
    for round in 0..3u32 {
        let start = round * 10_000;
        let child = spawn_child(&child_test, ROLE, &format!("{}|{start}", path.display()));
        let kill_at = 30 + 25 * round as usize;
        let lines = kill_after(child, "committed ", kill_at);
        assert!(lines.len() >= kill_at);
        for line in lines {
            let (n, sha256) = line.split_once(' ').expect("n sha256");
            let n: u32 = n.parse().unwrap();
            assert_eq!(sha256, upload(n).file.sha256.to_hex());
            acknowledged.insert(n, round);
        }

        let store = SqliteStore::open(&path).unwrap();
        assert!(store.migrated().is_empty());
        store.integrity_check().unwrap();
        for &n in acknowledged.keys() {
            let expected = normalized(&upload(n));
            let stored = store.upload(&expected.file.sha256).unwrap();
            assert_eq!(
                stored.as_ref(),
                Some(&expected),
                "upload {n} is lost or partial"
            );
        }
        // Anything else stored (committed, killed before printing) is whole too.
        let candidates: BTreeMap<_, _> = (0..=round)
            .flat_map(|r| (r * 10_000..r * 10_000 + 1_000).map(upload))
            .map(|u| (u.file.sha256, u))
            .collect();
        let files = store.list(0, u32::MAX).unwrap();
        assert!(files.len() >= acknowledged.len());
        let extra: Vec<_> = files
            .iter()
            .filter_map(|f| candidates.get(&f.sha256))
            .map(|u| u.file.created - 1_700_000_000)
            .filter(|n| !acknowledged.contains_key(&(*n as u32)))
            .collect();
        assert!(
            files.len() <= acknowledged.len() + round as usize + 1,
            "round {round}: {} files, {} acknowledged, not acknowledged: {extra:?}",
            files.len(),
            acknowledged.len()
        );
        for file in files {
            let expected = candidates
                .get(&file.sha256)
                .expect("a file the child wrote");
            let stored = store.upload(&file.sha256).unwrap();
            assert_eq!(stored, Some(normalized(expected)));
        }
        assert!(store.counter("uploads").unwrap() >= acknowledged.len() as u64);
    }
    eprintln!(
        "3 SIGKILLs after {} acknowledged uploads: {:?}",
        acknowledged.len(),
        started.elapsed()
    );
}
