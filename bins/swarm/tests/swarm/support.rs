//! Third-party programs for the interop tests: python3-libtorrent peers (tests/support/lt_peer.py),
//! opentracker and aria2c, each started on 127.0.0.1 and killed when dropped. Every wait is
//! bounded.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub(crate) const LT_PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/lt_peer.py");

/// A child process killed on drop.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) lines: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub(crate) fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        let stdin = child.stdin.take();
        let stdout: ChildStdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// The next line starting with `prefix`, within `timeout`.
    pub(crate) fn expect_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => assert!(!line.starts_with("TIMEOUT"), "peer gave up: {line}"),
                Err(_) => panic!("no `{prefix}` line within {timeout:?}"),
            }
        }
    }

    /// Kills the process at once (SIGKILL).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A python3-libtorrent peer with its listening port.
pub(crate) struct LtPeer {
    pub(crate) process: Running,
    pub(crate) addr: SocketAddr,
}

pub(crate) fn lt_command(args: &[&str]) -> Command {
    let mut command = Command::new("/usr/bin/python3");
    command.arg(LT_PEER).args(args);
    command
}

/// Makes a torrent of `path` with libtorrent (hybrid with pad files unless `v1_only`).
pub(crate) fn lt_create(path: &Path, out: &Path, trackers: &[String], v1_only: bool) {
    let mut command = lt_command(&["create"]);
    command.arg(path).arg(out);
    for tracker in trackers {
        command.arg("--tracker").arg(tracker);
    }
    if v1_only {
        command.arg("--v1-only");
    }
    let output = command.output().expect("run lt_peer.py create");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A libtorrent seeder of `torrent` from `save`.
pub(crate) fn lt_seed(torrent: &Path, save: &Path, upload_limit: Option<u64>) -> LtPeer {
    let mut command = lt_command(&["seed"]);
    command.arg(torrent).arg(save);
    if let Some(limit) = upload_limit {
        command.arg("--upload-limit").arg(limit.to_string());
    }
    started(Running::spawn(command))
}

/// A libtorrent leecher of `source` (a .torrent path or a magnet link) into `save`.
pub(crate) fn lt_leech(source: &str, save: &Path, peers: &[SocketAddr]) -> LtPeer {
    let mut command = lt_command(&["leech", source]);
    command.arg(save);
    for peer in peers {
        command.arg("--peer").arg(peer.to_string());
    }
    started(Running::spawn(command))
}

pub(crate) fn started(mut process: Running) -> LtPeer {
    let line = process.expect_line("READY", Duration::from_secs(60));
    let port: u16 = line[6..].trim().parse().expect("READY <port>");
    LtPeer {
        process,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    }
}

/// aria2c seeding `torrent` from `dir` at 8 MiB/s at most, off every network but loopback.
pub(crate) fn aria2_seed(torrent: &Path, dir: &Path) -> (Running, SocketAddr) {
    let port = free_port();
    let mut command = Command::new("aria2c");
    command
        .arg("--check-integrity=true")
        .arg("--seed-ratio=0.0")
        .arg("--seed-time=10")
        .arg("--max-upload-limit=8M")
        .arg("--enable-dht=false")
        .arg("--enable-dht6=false")
        .arg("--bt-enable-lpd=false")
        .arg("--enable-peer-exchange=false")
        .arg(format!("--listen-port={port}"))
        .arg("--summary-interval=0")
        .arg("--console-log-level=warn")
        .arg("-d")
        .arg(dir)
        .arg(torrent);
    (
        Running::spawn(command),
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
}

/// opentracker on a free port, HTTP and UDP, with `hashes` (hex) whitelisted.
pub(crate) struct Opentracker {
    _process: Running,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Opentracker {
    pub(crate) fn start(hashes: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let whitelist = dir.path().join("whitelist");
        std::fs::write(&whitelist, hashes.join("\n") + "\n").unwrap();
        let config = dir.path().join("opentracker.conf");
        std::fs::write(
            &config,
            format!(
                "listen.tcp_udp 127.0.0.1:{port}\naccess.whitelist {}\n",
                whitelist.display()
            ),
        )
        .unwrap();
        let mut command = Command::new("opentracker");
        command.arg("-f").arg(&config);
        let process = Running::spawn(command);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "opentracker did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            _process: process,
            port,
            _dir: dir,
        }
    }

    pub(crate) fn http(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    pub(crate) fn udp(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }
}

/// A port free for both TCP and UDP on 127.0.0.1, right now.
pub(crate) fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port")
}

/// Deterministic pseudo-random bytes.
pub(crate) fn write_random(path: &Path, length: usize, seed: u64) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut bytes = Vec::with_capacity(length + 8);
    while bytes.len() < length {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(length);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

pub(crate) fn sha256(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).into()
}

/// Every regular file under `root`, relative, with its sha256, sorted.
pub(crate) fn tree_digest(root: &Path) -> Vec<(PathBuf, [u8; 32])> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    sha256(&path),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Runs `swarm` with `args`, killing it after `timeout`.
pub(crate) fn swarm(args: &[String], timeout: Duration) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_swarm"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start swarm");
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => output.expect("swarm ran"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("swarm {args:?} took longer than {timeout:?}");
        }
    }
}

/// Spawns `swarm` with `args` without waiting.
pub(crate) fn spawn_swarm(args: &[String]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_swarm"));
    command.args(args);
    Running::spawn(command)
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Bytes from hex text.
pub(crate) fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Whether a BitTorrent peer on 127.0.0.1:`port` answers a handshake for `info_hash`.
pub(crate) fn answers_handshake(port: u16, info_hash: &[u8]) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut hello = b"\x13BitTorrent protocol".to_vec();
    hello.extend_from_slice(&[0; 8]);
    hello.extend_from_slice(info_hash);
    hello.extend_from_slice(b"-TE0001-readinessprb");
    let mut answer = [0u8; 68];
    stream.write_all(&hello).is_ok() && stream.read_exact(&mut answer).is_ok()
}
