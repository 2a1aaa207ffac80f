//! The tracker under test (`swarm tracker`) and raw HTTP and UDP requests to it; the clients the
//! tracker interop tests drive through it (aria2c with UDP trackers, transmission-cli,
//! python3-libtorrent) come from `swarmgate_testkit::programs`. Every wait is bounded.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use swarmgate_testkit::programs::{Running, free_port};
pub(crate) use swarmgate_testkit::programs::{
    aria2_tracked, lt_leech_with, transmission, url_encode,
};

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
