//! The tracker under test (`swarm tracker`), raw HTTP and UDP requests to it, and the clients the
//! tracker interop tests drive through it (aria2c with UDP trackers, transmission-cli). Every
//! wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::support::{LtPeer, Running, free_port, lt_command, started};

/// Lines from `reader`, one message each, until it ends or the receiver is gone.
fn read_lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

impl Running {
    /// Starts `command` reading its stderr lines (stdout and stdin are /dev/null).
    fn spawn_stderr(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        let lines = read_lines(child.stderr.take().expect("piped"));
        Self {
            child,
            stdin: None,
            lines,
        }
    }

    /// Every line up to and including the first that contains `needle`, within `timeout`.
    pub(crate) fn lines_until(&mut self, needle: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => panic!(
                    "no line with `{needle}` within {timeout:?}; the last lines:\n{}",
                    seen[seen.len().saturating_sub(20)..].join("\n")
                ),
            }
        }
    }

    /// Writes one line to the process's stdin.
    pub(crate) fn write_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("write to the peer's stdin");
    }

    /// Waits for the process to exit, at most `timeout` (then kills it and panics).
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!("still running after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The exit status if the process has exited, without waiting.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Sends SIGINT (as Ctrl-C would) and waits for the exit, at most `timeout`.
    pub(crate) fn interrupt(&mut self, timeout: Duration) -> std::process::ExitStatus {
        self.signal("-INT", timeout)
    }

    /// Sends `signal` (`-INT`, `-TERM`) and waits for the exit, at most `timeout`.
    pub(crate) fn signal(&mut self, signal: &str, timeout: Duration) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal} failed");
        self.wait_exit(timeout)
    }
}

/// `swarm tracker` (the program under test) on free loopback ports, HTTP and UDP, killed when
/// dropped ([`Tracker::stop`] ends it as Ctrl-C would).
pub(crate) struct Tracker {
    process: Running,
    /// Its HTTP listener: GET /announce and /scrape.
    pub(crate) http: SocketAddr,
    /// Its UDP (BEP 15) socket.
    pub(crate) udp: SocketAddr,
}

impl Tracker {
    /// Starts `swarm tracker --http 127.0.0.1:P --udp 127.0.0.1:Q` and waits for both of its
    /// "tracker: HTTP on" / "tracker: UDP on" lines (a port taken meanwhile: new ports, 3 tries).
    pub(crate) fn start() -> Self {
        for _ in 0..3 {
            let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let udp = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let mut command = Command::new(env!("CARGO_BIN_EXE_swarm"));
            command
                .arg("tracker")
                .arg("--http")
                .arg(http.to_string())
                .arg("--udp")
                .arg(udp.to_string());
            let mut process = Running::spawn_stderr(command);
            let want = [
                format!("tracker: HTTP on http://{http}/announce"),
                format!("tracker: UDP on udp://{udp}"),
            ];
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            while seen.len() < want.len() && Instant::now() < deadline {
                match process.lines.recv_timeout(Duration::from_millis(100)) {
                    Ok(line) => {
                        assert!(want.contains(&line), "unexpected tracker output: {line}");
                        seen.push(line);
                    }
                    Err(_) => {
                        if process.child.try_wait().expect("try_wait").is_some() {
                            break;
                        }
                    }
                }
            }
            if seen.len() == want.len() {
                return Self { process, http, udp };
            }
        }
        panic!("swarm tracker did not start listening (3 tries)")
    }

    /// The announce URL over HTTP, as the tracker logs it.
    /// The announce URL over UDP or HTTP.
    pub(crate) fn url(&self, udp: bool) -> String {
        if udp { self.udp_url() } else { self.http_url() }
    }

    pub(crate) fn http_url(&self) -> String {
        format!("http://{}/announce", self.http)
    }

    /// The announce URL over UDP, as the tracker logs it.
    pub(crate) fn udp_url(&self) -> String {
        format!("udp://{}", self.udp)
    }

    /// GET `path_and_query` over HTTP/1.1: the body of a 200 answer (any other status panics).
    pub(crate) fn http_get(&self, path_and_query: &str) -> Vec<u8> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.http).expect("connect to the tracker");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nUser-Agent: swarmgate-interop\r\nConnection: close\r\n\r\n",
            self.http
        )
        .expect("send the request");
        let mut response = Vec::new();
        let mut buf = [0u8; 8192];
        let body_at = loop {
            if let Some(at) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut buf).expect("read the answer head");
            assert!(
                n > 0,
                "connection closed before the answer head: {response:?}"
            );
            response.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&response[..body_at]).to_ascii_lowercase();
        assert!(
            head.starts_with("http/1.1 200"),
            "GET {path_and_query}: {head}"
        );
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_string())
        };
        let length = header("content-length:").map(|v| v.parse::<usize>().expect("length"));
        assert!(
            header("transfer-encoding:").is_none(),
            "GET {path_and_query}: a chunked answer: {head}"
        );
        let mut body = response[body_at..].to_vec();
        loop {
            if length.is_some_and(|length| body.len() >= length) {
                break;
            }
            let n = stream.read(&mut buf).expect("read the answer body");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        if let Some(length) = length {
            assert_eq!(body.len(), length, "GET {path_and_query}: body length");
        }
        body
    }

    /// An HTTP announce (compact) of the peer `peer_id` on `port`: the tracker's answer.
    pub(crate) fn announce_http(
        &self,
        info_hash: &[u8],
        peer_id: &[u8; 20],
        port: u16,
        left: u64,
        event: &str,
    ) -> swarmgate_tracker::AnnounceResponse {
        let query = format!(
            "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}&compact=1&numwant=50&event={event}",
            url_encode(info_hash),
            url_encode(peer_id)
        );
        let body = self.http_get(&query);
        swarmgate_tracker::decode_announce_response(&body)
            .unwrap_or_else(|e| panic!("announce answer {:?}: {e}", String::from_utf8_lossy(&body)))
    }

    /// GET /scrape?info_hash=…: the counts for `info_hash` (zero when the answer omits it).
    pub(crate) fn scrape_http(&self, info_hash: &[u8]) -> swarmgate_tracker::ScrapeStats {
        let body = self.http_get(&format!("/scrape?info_hash={}", url_encode(info_hash)));
        let files = swarmgate_tracker::decode_scrape_response(&body)
            .unwrap_or_else(|e| panic!("scrape answer {:?}: {e}", String::from_utf8_lossy(&body)));
        files
            .iter()
            .find(|(hash, _)| hash.as_bytes() == info_hash)
            .map(|(_, stats)| *stats)
            .unwrap_or_default()
    }

    /// A BEP 15 scrape in raw packets from a fresh socket: connect, then scrape `info_hash`.
    pub(crate) fn scrape_udp(&self, info_hash: &[u8]) -> swarmgate_tracker::ScrapeStats {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(self.udp).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut connect = 0x0417_2710_1980_u64.to_be_bytes().to_vec();
        connect.extend_from_slice(&0u32.to_be_bytes());
        connect.extend_from_slice(&0x5eed_0001_u32.to_be_bytes());
        let answer = udp_exchange(&socket, &connect, 0, 0x5eed_0001);
        assert_eq!(answer.len(), 16, "connect answer: {answer:?}");
        let mut scrape = answer[8..16].to_vec();
        scrape.extend_from_slice(&2u32.to_be_bytes());
        scrape.extend_from_slice(&0x5eed_0002_u32.to_be_bytes());
        scrape.extend_from_slice(info_hash);
        let answer = udp_exchange(&socket, &scrape, 2, 0x5eed_0002);
        assert_eq!(answer.len(), 20, "scrape answer for one hash: {answer:?}");
        let word = |at: usize| u32::from_be_bytes(answer[at..at + 4].try_into().unwrap());
        swarmgate_tracker::ScrapeStats {
            complete: word(8),
            downloaded: word(12),
            incomplete: word(16),
        }
    }

    /// Polls both scrapes (every 100 ms, at most `timeout`) until `done` holds for both; panics
    /// with the last counts otherwise.
    pub(crate) fn wait_scrapes(
        &self,
        info_hash: &[u8],
        timeout: Duration,
        done: impl Fn(&swarmgate_tracker::ScrapeStats) -> bool,
    ) -> swarmgate_tracker::ScrapeStats {
        let deadline = Instant::now() + timeout;
        loop {
            let http = self.scrape_http(info_hash);
            let udp = self.scrape_udp(info_hash);
            if done(&http) && done(&udp) {
                assert_eq!(http, udp, "HTTP and UDP scrapes of one swarm differ");
                return http;
            }
            assert!(
                Instant::now() < deadline,
                "scrapes after {timeout:?}: HTTP {http:?}, UDP {udp:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends the tracker with SIGINT; asserts it exits 0 and returns its closing line.
    pub(crate) fn stop(self) -> String {
        self.stop_with("-INT")
    }

    /// Ends the tracker with `signal` (`-INT`, `-TERM`); asserts it exits 0 and returns its
    /// closing line.
    pub(crate) fn stop_with(mut self, signal: &str) -> String {
        let status = self.process.signal(signal, Duration::from_secs(10));
        assert!(status.success(), "swarm tracker exited with {status}");
        let lines = self
            .process
            .lines_until("tracker: stopped", Duration::from_secs(5));
        lines.last().cloned().unwrap_or_default()
    }
}

/// Sends `packet` (up to 3 times, 2 s apart) and returns the answer whose action and
/// transaction id match; a BEP 15 error answer panics with its text.
fn udp_exchange(socket: &UdpSocket, packet: &[u8], action: u32, transaction: u32) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    for _ in 0..3 {
        socket.send(packet).expect("send to the tracker");
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        let answer = &buf[..n];
        assert!(n >= 8, "short UDP answer: {answer:?}");
        let got_action = u32::from_be_bytes(answer[0..4].try_into().unwrap());
        let got_transaction = u32::from_be_bytes(answer[4..8].try_into().unwrap());
        assert_eq!(got_transaction, transaction, "transaction id echoed");
        assert_ne!(
            got_action,
            3,
            "UDP tracker error: {}",
            String::from_utf8_lossy(&answer[8..])
        );
        assert_eq!(got_action, action, "UDP answer action");
        return answer.to_vec();
    }
    panic!("no UDP answer (action {action}) after 3 tries")
}

/// Every byte percent-encoded (what the query string of a raw hash or peer id needs).
pub(crate) fn url_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// A libtorrent leecher of `source` into `save` with more `lt_peer.py leech` options (no peer
/// hints: it finds peers through the torrent's trackers).
pub(crate) fn lt_leech_with(source: &str, save: &Path, options: &[&str]) -> LtPeer {
    let mut command = lt_command(&["leech", source]);
    command.arg(save).args(options);
    started(Running::spawn(command))
}

/// aria2c on `torrent` in `dir`, finding peers only through the torrent's trackers: seeding
/// (check the data, then stay) or downloading (exit once complete). Off every network but
/// loopback: no LPD, no PEX, no config file. aria2 sends UDP tracker packets from its DHT socket
/// and skips UDP trackers when DHT is off, so `udp_trackers` turns DHT on with a fresh node file
/// and no entry point: an empty routing table, so it sends no DHT message at all. Returns the
/// process and aria2's log file (info level), which is kept with the node file in `work`.
pub(crate) fn aria2_tracked(
    torrent: &Path,
    dir: &Path,
    work: &Path,
    seed: bool,
    udp_trackers: bool,
) -> (Running, PathBuf) {
    std::fs::create_dir_all(work).unwrap();
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
    command.arg(torrent);
    (Running::spawn(command), log)
}

/// transmission-cli downloading `torrent` into `dir`/download from a settings file in
/// `dir`/config that keeps it on loopback (no DHT, LPD, PEX, uTP, port mapping, RPC or
/// blocklist), with its debug log (`TR_DEBUG_FD=2`, message level 3) as the lines read.
/// Returns the process and its peer port.
pub(crate) fn transmission(torrent: &Path, dir: &Path) -> (Running, u16) {
    let config = dir.join("config");
    let download = dir.join("download");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(&download).unwrap();
    let port = free_port();
    let settings = serde_json::json!({
        "dht-enabled": false,
        "lpd-enabled": false,
        "pex-enabled": false,
        "utp-enabled": false,
        "port-forwarding-enabled": false,
        "rpc-enabled": false,
        "blocklist-enabled": false,
        "bind-address-ipv4": "127.0.0.1",
        "bind-address-ipv6": "::1",
        "encryption": 0,
        "message-level": 3,
        "peer-port": port,
        "download-dir": download,
    });
    std::fs::write(config.join("settings.json"), settings.to_string()).unwrap();
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
        .arg(torrent);
    (Running::spawn_stderr(command), port)
}
