//! `swarm webseed`: port 0, its log lines and its torrent, exact ranges, exit 0 on SIGTERM; and
//! (ignored unless the programs are installed) aria2c and python3-libtorrent completing a
//! single-file and a multi-file torrent from the web seed alone: no peer, no tracker, no DHT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{free_port, lt_leech, sha256, swarm, tree_digest, write_random};

const LIMIT: Duration = Duration::from_secs(120);

/// A running `swarm webseed`, its stderr read line by line; SIGKILLed if still running on drop.
struct Webseed {
    child: Child,
    lines: mpsc::Receiver<String>,
    url: String,
    addr: SocketAddr,
    torrent: PathBuf,
}

impl Webseed {
    fn start(path: &Path, torrent: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_swarm"))
            .arg("webseed")
            .arg(path)
            .args(["--addr", "127.0.0.1:0", "--torrent-out"])
            .arg(torrent)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start swarm webseed");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut webseed = Self {
            child,
            lines,
            url: String::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            torrent: torrent.to_path_buf(),
        };
        let wrote = webseed.line("webseed: wrote ");
        assert!(wrote.contains(&torrent.display().to_string()), "{wrote}");
        let serving = webseed.line("webseed: serving ");
        let url = serving.rsplit(" on ").next().expect("`on URL`").to_string();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("{serving}: {e}"));
        webseed.url = url;
        webseed.addr = addr;
        webseed
    }

    /// The next stderr line starting with `prefix`, within the limit.
    fn line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!("no `{prefix}` line from swarm webseed"),
            }
        }
    }

    /// SIGTERM, then the exit code (killed after 20 s).
    fn terminate(&mut self) -> Option<i32> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                return exit.code();
            }
            assert!(Instant::now() < deadline, "swarm webseed ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Webseed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status line, headers (lower-case names) and body of one raw HTTP/1.1 request.
fn http_get(
    addr: SocketAddr,
    target: &str,
    range: &str,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nRange: {range}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn web_seeds(torrent: &Path) -> Vec<String> {
    let output = swarm(
        &[
            "show".into(),
            torrent.display().to_string(),
            "--json".into(),
        ],
        LIMIT,
    );
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("show --json");
    json["web_seeds"]
        .as_array()
        .expect("web_seeds")
        .iter()
        .map(|v| v.as_str().expect("a URL").to_string())
        .collect()
}

#[test]
fn webseed_binds_port_0_names_it_in_the_torrent_serves_ranges_and_exits_0_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("my album");
    write_random(&folder.join("disc 1/track.flac"), 70_000, 3);
    write_random(&folder.join("cover.jpg"), 1_000, 4);
    let out = tmp.path().join("album.torrent");
    let mut webseed = Webseed::start(&folder, &out, &["--piece-length", "16K"]);
    assert_ne!(webseed.addr.port(), 0);
    assert_eq!(webseed.url, format!("http://{}/", webseed.addr));
    assert_eq!(web_seeds(&webseed.torrent), [webseed.url.clone()]);

    let track = std::fs::read(folder.join("disc 1/track.flac")).unwrap();
    let (status, headers, body) = http_get(
        webseed.addr,
        "/my%20album/disc%201/track.flac",
        "bytes=69990-",
    );
    assert!(status.starts_with("HTTP/1.1 206"), "{status}");
    assert_eq!(
        header(&headers, "content-range"),
        Some("bytes 69990-69999/70000")
    );
    assert_eq!(body, track[69_990..]);
    let (status, headers, _) = http_get(webseed.addr, "/my%20album/cover.jpg", "bytes=1000-");
    assert!(status.starts_with("HTTP/1.1 416"), "{status}");
    assert_eq!(header(&headers, "content-range"), Some("bytes */1000"));
    let (status, _, _) = http_get(webseed.addr, "/my%20album/../album.torrent", "bytes=0-");
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");

    assert_eq!(webseed.terminate(), Some(0));
    webseed.line("webseed: stopped");
}

#[test]
fn webseed_bad_input_is_one_line_and_exit_code_1() {
    let tmp = tempfile::tempdir().unwrap();
    let output = swarm(
        &[
            "webseed".into(),
            tmp.path().join("missing").display().to_string(),
            "--addr".into(),
            "127.0.0.1:0".into(),
            "--torrent-out".into(),
            tmp.path().join("t.torrent").display().to_string(),
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("swarm: ") && stderr.contains("missing"),
        "{stderr}"
    );
}

/// A single file (8 MiB and a bit: many pieces, a short last one) and a folder (files crossing
/// piece boundaries, a nested folder, a space in a name, a zero-length file).
fn fixtures(root: &Path) -> (PathBuf, PathBuf) {
    let single = root.join("seed/movie.bin");
    write_random(&single, 8 * 1024 * 1024 + 1234, 11);
    let folder = root.join("seed/the album");
    write_random(&folder.join("a.bin"), 3 * 1024 * 1024 + 17, 12);
    write_random(&folder.join("disc 2/b c.bin"), 700_001, 13);
    write_random(&folder.join("disc 2/small.txt"), 5, 14);
    std::fs::write(folder.join("empty"), b"").unwrap();
    (single, folder)
}

fn same_content(source: &Path, downloaded: &Path) {
    if source.is_dir() {
        assert_eq!(tree_digest(downloaded), tree_digest(source));
    } else {
        assert_eq!(sha256(downloaded), sha256(source));
    }
}

/// aria2c downloading `torrent` into `out` with the web seed as its only source.
fn aria2_download(torrent: &Path, out: &Path) {
    let mut child = Command::new("aria2c")
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--seed-time=0",
            "--summary-interval=0",
            "--console-log-level=warn",
            "--allow-overwrite=true",
            "--download-result=hide",
        ])
        .arg(format!("--listen-port={}", free_port()))
        .arg("-d")
        .arg(out)
        .arg(torrent)
        .stdin(Stdio::null())
        .spawn()
        .expect("start aria2c");
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for aria2c") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("aria2c did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "aria2c exited with {status}");
}

#[test]
#[ignore = "needs aria2c and python3-libtorrent"]
fn aria2c_completes_a_single_and_a_multi_file_torrent_from_the_web_seed_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (single, folder) = fixtures(tmp.path());
    for (source, name) in [(&single, "movie.bin"), (&folder, "the album")] {
        let torrent = tmp.path().join(format!("{name}.torrent"));
        let _webseed = Webseed::start(source, &torrent, &["--piece-length", "32K"]);
        let out = tmp.path().join(format!("aria2-{name}"));
        aria2_download(&torrent, &out);
        same_content(source, &out.join(name));
    }
}

#[test]
#[ignore = "needs aria2c and python3-libtorrent"]
fn libtorrent_completes_a_single_and_a_multi_file_torrent_from_the_web_seed_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (single, folder) = fixtures(tmp.path());
    for (source, name) in [(&single, "movie.bin"), (&folder, "the album")] {
        let torrent = tmp.path().join(format!("{name}.torrent"));
        let _webseed = Webseed::start(source, &torrent, &["--piece-length", "32K"]);
        let out = tmp.path().join(format!("lt-{name}"));
        // No peers, no tracker in the torrent, DHT and LSD off: the url-list is all it has.
        let mut leecher = lt_leech(&torrent.display().to_string(), &out, &[]);
        leecher.process.expect_line("DONE", LIMIT);
        same_content(source, &out.join(name));
    }
}

#[test]
fn swarm_download_completes_a_single_and_a_multi_file_torrent_from_the_web_seed_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (single, folder) = fixtures(tmp.path());
    for (source, name) in [(&single, "movie.bin"), (&folder, "the album")] {
        let torrent = tmp.path().join(format!("{name}.torrent"));
        let mut webseed = Webseed::start(source, &torrent, &["--piece-length", "32K"]);
        // Twice: the second download is answered from the web seed's piece cache.
        for round in 0..2 {
            let out = tmp.path().join(format!("swarm-{round}-{name}"));
            // No peer, no tracker: the torrent's url-list is the only source.
            let args = [
                "download".to_owned(),
                torrent.display().to_string(),
                "-o".to_owned(),
                out.display().to_string(),
                "--no-trackers".to_owned(),
                "--no-dht".to_owned(),
                "-q".to_owned(),
            ];
            let output = swarm(&args, LIMIT);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{stderr}");
            assert!(stderr.contains("0 peers used"), "{stderr}");
            same_content(source, &out.join(name));
        }
        assert_eq!(webseed.terminate(), Some(0));
        let stopped = webseed.line("webseed: stopped");
        let count = |word: &str| -> u64 {
            let before = stopped.split(&format!(" {word}")).next().unwrap_or("");
            before
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        if name == "movie.bin" {
            // 8 MiB + 1234 bytes in 32 KiB pieces: 257 pieces, each read from disk once.
            let pieces = 257;
            assert_eq!(count("misses"), pieces, "{stopped}");
            assert!(count("hits") >= pieces, "{stopped}");
        } else {
            assert!(count("hits") > 0 && count("misses") > 0, "{stopped}");
        }
    }
}
