//! A data folder that runs out of space (issue 15): uploads past the space answer 507
//! `disk_full` (Blossom: 507 with `X-Reason`), leave nothing partial (no bytes under `tmp/`, no
//! blob, chunk or manifest, no record in `/api/files`), the files stored before still download
//! byte for byte, and uploads succeed again once space returns, in the same process.
//!
//! Another fills the disk between the upload's bytes and its metadata: SQLite's WAL cannot
//! grow (`SQLITE_FULL`), the answer is 507 all the same, the pool is not wedged. And a disk that
//! fails otherwise answers 500 `io_error` (no server path in the answer), with the same
//! recovery.
//!
//! Two ways to make the space small, each a test:
//! - a tmpfs of 8 MiB mounted on the data folder (needs `CAP_SYS_ADMIN`; where the mount is
//!   refused the test says so and runs with the file size limit instead). Space returns by
//!   deleting stored files through the admin API.
//! - `RLIMIT_FSIZE` set on the gateway process before exec, `SIGXFSZ` ignored, so a write past
//!   the limit fails with `EFBIG`, which the content store treats as a full disk (the limit is
//!   a space limit). Runs on any Linux; space returns by raising the limit with `prlimit(2)`.

use std::path::{Path, PathBuf};
use std::process::Command;

use nostr::Keys;
use reqwest::StatusCode;
use reqwest::blocking::Response;
use swarmgate_testkit::programs::random_bytes;

use crate::blossom::{blossom_url, hex, sha2_256, token};
use crate::support::{Gateway, MIB, assert_error, bytes_under, json_of, workspace};

const TOKEN: &str = "disk-full-admin-token-0123456789ab";
/// Files of at least this size are stored as 2 MiB chunks (`--blob-threshold`).
const THRESHOLD: u64 = 5 * MIB;

/// How the data folder was made small, and how space is given back.
enum SmallSpace {
    /// A tmpfs mounted on the data folder; unmounted when dropped.
    Tmpfs(PathBuf),
    /// `RLIMIT_FSIZE` of this many bytes on the gateway.
    FileSizeLimit(u64),
}

impl Drop for SmallSpace {
    fn drop(&mut self) {
        if let SmallSpace::Tmpfs(dir) = self {
            let status = Command::new("umount").arg(&*dir).status();
            if !status.is_ok_and(|s| s.success()) {
                // Lazily, so that the temporary folder's removal does not fail the next test.
                let _ = Command::new("umount").arg("-l").arg(&*dir).status();
            }
        }
    }
}

/// Mounts a tmpfs of `size` bytes on `dir` (made first); `None` when mounting is refused.
fn mount_tmpfs(dir: &Path, size: u64) -> Option<SmallSpace> {
    std::fs::create_dir_all(dir).expect("create the data folder");
    let output = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output();
    match output {
        Ok(output) if output.status.success() => Some(SmallSpace::Tmpfs(dir.to_path_buf())),
        Ok(output) => {
            eprintln!(
                "mounting a tmpfs was refused ({}): using RLIMIT_FSIZE",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            None
        }
        Err(error) => {
            eprintln!("no mount program ({error}): using RLIMIT_FSIZE");
            None
        }
    }
}

/// The gateway with `space` applied: `RLIMIT_FSIZE` set on the running process (soft; the
/// hard limit stays unlimited so that it can be raised again). The gateway survives `SIGXFSZ`
/// by itself (`survive_file_size_limit`), so a write past the limit fails with `EFBIG`.
fn start(data: &Path, space: Option<&SmallSpace>) -> Gateway {
    let flags = ["--admin-token", TOKEN, "--no-dht", "--blob-threshold", "5M"];
    let gateway = Gateway::start(data, &flags);
    if let Some(SmallSpace::FileSizeLimit(limit)) = space {
        set_file_size_limit(&gateway, Some(*limit));
    }
    gateway
}

/// Sets the gateway's `RLIMIT_FSIZE` soft limit (`None`: unlimited) with `prlimit(2)`.
fn set_file_size_limit(gateway: &Gateway, limit: Option<u64>) {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let pid = gateway
        .pid()
        .and_then(|pid| Pid::from_raw(i32::try_from(pid).ok()?))
        .expect("the gateway runs");
    let rlimit = Rlimit {
        current: limit,
        maximum: None,
    };
    prlimit(Some(pid), Resource::Fsize, rlimit).expect("prlimit RLIMIT_FSIZE on the gateway");
}

/// `size` bytes that differ for each `seed`.
fn bytes(size: u64, seed: u64) -> Vec<u8> {
    random_bytes(usize::try_from(size).expect("a small file"), seed)
}

fn upload(gateway: &Gateway, name: &str, body: &[u8]) -> Response {
    gateway
        .http
        .post(gateway.at("/api/upload"))
        .header("X-Filename", name)
        .header("Content-Type", "application/octet-stream")
        .body(body.to_vec())
        .send()
        .unwrap_or_else(|e| panic!("upload of {name}: {e}\n{}", gateway.tail()))
}

fn put_blob(gateway: &Gateway, keys: &Keys, body: &[u8]) -> Response {
    let sha = hex(&sha2_256(body));
    gateway
        .http
        .put(blossom_url(gateway, "/upload"))
        .header("authorization", token(keys, "upload", &sha))
        .header("content-type", "application/octet-stream")
        .header("x-sha-256", &sha)
        .body(body.to_vec())
        .send()
        .expect("PUT /upload")
}

/// Asserts that what the data folder holds is exactly `stored` (the acknowledged files):
/// `tmp/` empty, the blobs and the chunks add up to the files' sizes (random bytes share no
/// chunk), one manifest per chunked file, `/api/files` lists them and each downloads
/// byte-exact.
fn assert_only(gateway: &Gateway, data: &Path, stored: &[Vec<u8>]) {
    assert_eq!(bytes_under(&data.join("tmp")), 0, "tmp/ is empty");
    let (chunked, whole): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
        stored.iter().partition(|b| b.len() as u64 >= THRESHOLD);
    let sum = |files: &[&Vec<u8>]| files.iter().map(|b| b.len() as u64).sum::<u64>();
    let blobs = bytes_under(&data.join("blobs"));
    assert_eq!(blobs, sum(&whole), "blobs/ holds the whole files");
    let chunks = bytes_under(&data.join("chunks"));
    assert_eq!(chunks, sum(&chunked), "chunks/ holds the chunked files");
    let manifests = files_under(&data.join("manifests"));
    assert_eq!(manifests, chunked.len(), "one manifest per chunked file");
    let list = gateway.get_json("/api/files?limit=100", StatusCode::OK);
    let mut listed: Vec<String> = list["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["sha256"].as_str().expect("sha256").to_owned())
        .collect();
    let mut expected: Vec<String> = stored.iter().map(|b| hex(&sha2_256(b))).collect();
    listed.sort();
    expected.sort();
    assert_eq!(
        listed, expected,
        "/api/files lists the acknowledged files only"
    );
    for body in stored {
        let sha = hex(&sha2_256(body));
        let path = format!("/api/download/{sha}");
        assert_eq!(gateway.download_sha256(&path, body.len() as u64), sha);
    }
}

/// Regular files under `dir` (0 when it does not exist).
fn files_under(dir: &Path) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                count += 1;
            }
        }
    }
    count
}

/// Fills the space with uploads, the `n`th (from 0) of `size(n)` bytes, until one answers
/// 507 (at most 12); returns the acknowledged ones and the refused one.
fn fill(gateway: &Gateway, size: impl Fn(u64) -> u64) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut stored = Vec::new();
    for seed in 1..=12 {
        let size = size(seed - 1);
        let body = bytes(size, seed);
        let response = upload(gateway, &format!("filler-{seed}.bin"), &body);
        if response.status() == StatusCode::INSUFFICIENT_STORAGE {
            let message = assert_error(
                response,
                StatusCode::INSUFFICIENT_STORAGE,
                "disk_full",
                "full",
            );
            eprintln!("upload {seed} of {size} bytes: 507 disk_full: {message}");
            return (stored, body);
        }
        json_of(response, StatusCode::CREATED, "an upload that fits");
        stored.push(body);
    }
    panic!("12 uploads and no 507:\n{}", gateway.tail());
}

/// The scenario on `space`: fill, check nothing partial, Blossom refused too, give space back,
/// upload again through both ways in.
fn uploads_past_the_space(space: SmallSpace, data: &Path, size: impl Fn(u64) -> u64) {
    let gateway = start(data, Some(&space));
    let (mut stored, refused) = fill(&gateway, size);
    assert!(!stored.is_empty(), "at least one upload fitted");
    assert_only(&gateway, data, &stored);

    let keys = Keys::generate();
    let blob = bytes(refused.len() as u64, 100);
    let response = put_blob(&gateway, &keys, &blob);
    assert_eq!(response.status(), StatusCode::INSUFFICIENT_STORAGE);
    let reason = response
        .headers()
        .get("x-reason")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        reason.as_deref().is_some_and(|r| !r.is_empty()),
        "X-Reason: {reason:?}"
    );
    eprintln!(
        "Blossom PUT /upload: 507, X-Reason: {}",
        reason.unwrap_or_default()
    );
    assert_only(&gateway, data, &stored);

    match &space {
        SmallSpace::Tmpfs(_) => {
            // Two files out: room for the refused upload and the blob.
            for _ in 0..2 {
                let gone = stored.remove(0);
                let path = format!("/api/files/{}", hex(&sha2_256(&gone)));
                let response = gateway
                    .http
                    .delete(gateway.at(&path))
                    .header("Authorization", format!("Bearer {TOKEN}"))
                    .send()
                    .expect("DELETE");
                assert_eq!(response.status(), StatusCode::NO_CONTENT, "DELETE {path}");
            }
        }
        SmallSpace::FileSizeLimit(_) => set_file_size_limit(&gateway, None),
    }
    json_of(
        upload(&gateway, "refused.bin", &refused),
        StatusCode::CREATED,
        "after space returns",
    );
    stored.push(refused);
    let response = put_blob(&gateway, &keys, &blob);
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "Blossom after space returns"
    );
    stored.push(blob);
    assert_only(&gateway, data, &stored);
}

#[test]
fn uploads_past_a_full_tmpfs_get_507_and_succeed_once_files_are_deleted() {
    let (_dir, data) = workspace();
    match mount_tmpfs(&data, 8 * MIB) {
        Some(space) => {
            eprintln!("mechanism: a tmpfs of 8 MiB on {}", data.display());
            uploads_past_the_space(space, &data, |_| 3 * MIB / 2);
        }
        None => {
            eprintln!("mechanism: RLIMIT_FSIZE of 3 MiB (a tmpfs could not be mounted)");
            uploads_past_the_space(SmallSpace::FileSizeLimit(3 * MIB), &data, |n| MIB << n);
        }
    }
}

/// The same with files stored as 2 MiB chunks (6 MiB each, 3 chunks, on 16 MiB): a chunked
/// upload cut short leaves no chunk and no manifest, and deleting chunked files frees room.
#[test]
fn chunked_uploads_past_a_full_tmpfs_get_507_and_succeed_once_files_are_deleted() {
    let (_dir, data) = workspace();
    let Some(space) = mount_tmpfs(&data, 16 * MIB) else {
        eprintln!("not run: chunks are at most 2 MiB, under any file size limit that matters");
        return;
    };
    eprintln!("mechanism: a tmpfs of 16 MiB on {}", data.display());
    uploads_past_the_space(space, &data, |_| 6 * MIB);
}

#[test]
fn uploads_past_the_file_size_limit_get_507_and_succeed_once_it_is_raised() {
    let (_dir, data) = workspace();
    eprintln!("mechanism: RLIMIT_FSIZE of 3 MiB");
    // Every upload is one blob file: 1 and 2 MiB fit under the limit, 4 MiB does not.
    uploads_past_the_space(SmallSpace::FileSizeLimit(3 * MIB), &data, |n| MIB << n);
}

/// Bytes free on the file system of `dir`.
fn free_bytes(dir: &Path) -> u64 {
    let stat = rustix::fs::statvfs(dir).expect("statvfs");
    stat.f_bavail * stat.f_frsize
}

/// The disk fills between the content and the metadata commit: the upload's bytes fit, the
/// database's WAL cannot grow (SQLite's `SQLITE_FULL`). The answer is 507, the stored bytes
/// are removed again, the pool is not wedged (lists and downloads go on while full), and the
/// same upload succeeds once the filler is gone. Needs a tmpfs (the file size limit cannot
/// aim at the WAL): where the mount is refused it says so and checks nothing.
#[test]
fn a_full_disk_at_the_metadata_commit_answers_507_and_the_database_recovers() {
    let (_dir, data) = workspace();
    let Some(space) = mount_tmpfs(&data, 8 * MIB) else {
        eprintln!("not run: the SQLITE_FULL case needs a tmpfs, and mounting one was refused");
        return;
    };
    eprintln!("mechanism: a tmpfs of 8 MiB on {}", data.display());
    let gateway = start(&data, Some(&space));
    let first = bytes(MIB, 1);
    json_of(
        upload(&gateway, "first.bin", &first),
        StatusCode::CREATED,
        "first",
    );
    // Page-aligned, so that its temporary file takes exactly its own pages on the tmpfs.
    let body = bytes(64 * 1024, 2);
    let slack = 8 * 1024;
    let filler = data.join("filler.bin");
    let room = free_bytes(&data);
    std::fs::write(
        &filler,
        vec![1u8; (room - body.len() as u64 - slack) as usize],
    )
    .expect("write the filler");
    let left = free_bytes(&data);
    eprintln!("{left} bytes free for an upload of {}", body.len());
    assert!(
        left >= body.len() as u64 && left < body.len() as u64 + 4 * 4096,
        "{left}"
    );

    assert_error(
        upload(&gateway, "second.bin", &body),
        StatusCode::INSUFFICIENT_STORAGE,
        "disk_full",
        "the metadata commit on a full disk",
    );
    gateway.wait_log("disk full: committing the upload's metadata");
    // Still full: the pool answers reads, nothing of the refused upload is kept.
    assert_only(&gateway, &data, std::slice::from_ref(&first));
    let refused = upload(&gateway, "second.bin", &body);
    assert_eq!(
        refused.status(),
        StatusCode::INSUFFICIENT_STORAGE,
        "still full"
    );
    std::fs::remove_file(&filler).expect("remove the filler");
    json_of(
        upload(&gateway, "second.bin", &body),
        StatusCode::CREATED,
        "after space returns",
    );
    assert_only(&gateway, &data, &[first, body]);
}

/// A disk that fails otherwise than by filling up (here `tmp/` replaced by a file, so that
/// every ingest fails with `ENOTDIR`, standing in for `EIO`, which a test cannot provoke
/// without a faulty device): 500 with the code `io_error`, nothing kept, the stored files
/// still served, and uploads succeed again once the folder is back, without a restart.
#[test]
fn a_failing_disk_answers_500_io_error_and_recovers_without_a_restart() {
    let (_dir, data) = workspace();
    let gateway = start(&data, None);
    let first = bytes(MIB, 1);
    json_of(
        upload(&gateway, "first.bin", &first),
        StatusCode::CREATED,
        "first",
    );
    let tmp = data.join("tmp");
    std::fs::remove_dir(&tmp).expect("tmp/ is empty");
    std::fs::write(&tmp, b"not a folder").expect("a file in the way");
    let message = assert_error(
        upload(&gateway, "second.bin", &bytes(MIB, 2)),
        StatusCode::INTERNAL_SERVER_ERROR,
        "io_error",
        "an upload on a failing disk",
    );
    eprintln!("500 io_error: {message}");
    assert!(
        !message.contains("/tmp"),
        "no server path in the answer: {message}"
    );
    gateway.wait_log("Not a directory");
    let response = put_blob(&gateway, &Keys::generate(), &bytes(MIB, 3));
    assert_eq!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "Blossom"
    );
    let reason = response
        .headers()
        .get("x-reason")
        .map(|v| v.to_str().unwrap().to_owned());
    let reason = reason.unwrap_or_default();
    assert!(
        reason.contains("disk failed") && !reason.contains("/tmp"),
        "X-Reason: {reason}"
    );
    std::fs::remove_file(&tmp).expect("remove the file");
    std::fs::create_dir(&tmp).expect("tmp/ back");
    assert_only(&gateway, &data, std::slice::from_ref(&first));
    let second = bytes(MIB, 2);
    json_of(
        upload(&gateway, "second.bin", &second),
        StatusCode::CREATED,
        "after the fix",
    );
    assert_only(&gateway, &data, &[first, second]);
}
