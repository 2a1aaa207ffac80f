//! aria2c, transmission-cli and opentracker for interop tests (BEP 3 peers and trackers, BEP 9
//! magnets, BEP 19 web seeds through the clients), each kept off every network but loopback and
//! killed when dropped.
//!
//! Facts these helpers live with (aria2 1.36, Transmission 3.00): aria2c sends UDP tracker
//! packets from its DHT socket and skips UDP trackers when DHT is off, so a UDP run turns DHT on
//! with a fresh node file and no entry point (an empty routing table sends no DHT message);
//! `--seed-time=0` makes it exit at completion. transmission-cli exits at completion only when
//! its settings set a seed ratio limit of 0, and it ignores loopback peers a tracker hands it.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::Running;
use super::util::{free_port, json_string};

/// aria2c seeding `torrent` from `dir` at 8 MiB/s at most, off every network but loopback;
/// peers must dial it on the returned address.
pub fn aria2_seed(torrent: &Path, dir: &Path) -> (Running, SocketAddr) {
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

/// aria2c on `source` (a .torrent path or a magnet link) in `dir`, finding peers only through
/// the trackers it names: seeding (check the data, then stay 10 s) or downloading (exit once
/// complete, `--seed-time=0`). No LPD, no PEX, no config file; DHT only when `udp_trackers`
/// (see the module doc). Returns the process and aria2's log file (info level), kept with the
/// node file in `work`.
pub fn aria2_tracked(
    source: impl AsRef<OsStr>,
    dir: &Path,
    work: &Path,
    seed: bool,
    udp_trackers: bool,
) -> (Running, PathBuf) {
    std::fs::create_dir_all(work).expect("create aria2's work folder");
    let log = work.join("aria2.log");
    let mut command = Command::new("aria2c");
    command
        .arg("--no-conf=true")
        .arg(format!("--listen-port={}", free_port()))
        .arg("--enable-peer-exchange=false")
        .arg("--bt-enable-lpd=false")
        .arg("--enable-dht6=false")
        .arg("--summary-interval=0")
        .arg("--console-log-level=warn")
        .arg("--log-level=info")
        .arg("-l")
        .arg(&log)
        .arg("-d")
        .arg(dir);
    if udp_trackers {
        command
            .arg("--enable-dht=true")
            .arg(format!("--dht-listen-port={}", free_port()))
            .arg(format!(
                "--dht-file-path={}",
                work.join("dht.dat").display()
            ));
    } else {
        command.arg("--enable-dht=false");
    }
    if seed {
        command
            .arg("--check-integrity=true")
            .arg("--seed-ratio=0.0")
            .arg("--seed-time=10");
    } else {
        command.arg("--seed-time=0");
    }
    command.arg(source);
    (Running::spawn(command), log)
}

/// transmission-cli downloading `source` (a .torrent path or a magnet link) into
/// `dir`/download, from a settings file in `dir`/config that keeps it on loopback (no DHT, LPD,
/// PEX, uTP, port mapping, RPC or blocklist), with its debug log (`TR_DEBUG_FD=2`, message
/// level 3) as the lines read. It keeps seeding after completion. Returns the process and its
/// peer port.
pub fn transmission(source: impl AsRef<OsStr>, dir: &Path) -> (Running, u16) {
    transmission_with(source.as_ref(), dir, false)
}

/// [`transmission`] with a seed ratio limit of 0, so that it exits (0) once complete.
pub fn transmission_leech(source: impl AsRef<OsStr>, dir: &Path) -> (Running, u16) {
    transmission_with(source.as_ref(), dir, true)
}

fn transmission_with(source: &OsStr, dir: &Path, exit_when_done: bool) -> (Running, u16) {
    let config = dir.join("config");
    let download = dir.join("download");
    std::fs::create_dir_all(&config).expect("create transmission's config folder");
    std::fs::create_dir_all(&download).expect("create transmission's download folder");
    let port = free_port();
    let settings = format!(
        "{{\"dht-enabled\": false, \"lpd-enabled\": false, \"pex-enabled\": false, \
         \"utp-enabled\": false, \"port-forwarding-enabled\": false, \"rpc-enabled\": false, \
         \"blocklist-enabled\": false, \"bind-address-ipv4\": \"127.0.0.1\", \
         \"bind-address-ipv6\": \"::1\", \"encryption\": 0, \"message-level\": 3, \
         \"peer-port\": {port}, \"ratio-limit-enabled\": {exit_when_done}, \
         \"ratio-limit\": 0, \"download-dir\": {}}}",
        json_string(&download.to_string_lossy())
    );
    std::fs::write(config.join("settings.json"), settings).expect("write settings.json");
    let mut command = Command::new("transmission-cli");
    command
        .env("TR_DEBUG_FD", "2")
        .arg("-g")
        .arg(&config)
        .arg("-w")
        .arg(&download)
        .arg("-p")
        .arg(port.to_string())
        .arg("-M")
        .arg("-B")
        .arg(source);
    (Running::spawn_stderr(command), port)
}

/// opentracker on a free port, HTTP and UDP, with `hashes` (hex) whitelisted; killed on drop.
#[derive(Debug)]
pub struct Opentracker {
    _process: Running,
    /// Its TCP and UDP port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Opentracker {
    /// Starts it (its config and whitelist in a temporary folder) and waits until it accepts
    /// connections.
    ///
    /// # Panics
    /// If it does not start within 10 s.
    pub fn start(hashes: &[String]) -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let dir = folder.path();
        let port = free_port();
        let whitelist = dir.join("whitelist");
        std::fs::write(&whitelist, hashes.join("\n") + "\n").expect("write the whitelist");
        let config = dir.join("opentracker.conf");
        std::fs::write(
            &config,
            format!(
                "listen.tcp_udp 127.0.0.1:{port}\naccess.whitelist {}\n",
                whitelist.display()
            ),
        )
        .expect("write opentracker.conf");
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
            _dir: folder,
        }
    }

    /// Its HTTP announce URL.
    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    /// Its UDP announce URL.
    pub fn udp(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }
}
