//! The tokio clients against responders written here, on 127.0.0.1 only: canned HTTP replies
//! (answers, a failure, a 500, bodies too big or never ending) and a small BEP 15 tracker.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AddressFamily, AnnounceEvent, AnnounceRequest, AnnounceResponse, Announcer, AnnouncerConfig,
    HttpTracker, MAX_BODY, Progress, ScrapeStats, TrackerError, UdpClientConfig, UdpRequest,
    UdpResponse, UdpTracker, encode_announce_response, encode_failure, encode_scrape_response,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// Every test finishes well within this, or fails.
const TEST_BOUND: Duration = Duration::from_secs(20);

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_BOUND, f)
        .await
        .expect("the test finished within its bound")
}

/// What the HTTP responder does for one request.
#[derive(Clone)]
enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// This status, empty body.
    Status(u16),
    /// 200, a Content-Length it never fulfils, then silence.
    Hang,
    /// 200 with a Content-Length over the limit, and no body.
    HugeLength,
    /// 200 without Content-Length, streaming more than the limit.
    HugeStream,
}

/// Aborts a server task when the test is done with it.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve_one(
    mut stream: TcpStream,
    reply: impl Fn(&str) -> Reply,
    seen: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
    seen.lock().unwrap().push(target.clone());
    let (status, headers, body): (u16, String, Vec<u8>) = match reply(&target) {
        Reply::Body(body) => (200, format!("Content-Length: {}\r\n", body.len()), body),
        Reply::Status(status) => (status, "Content-Length: 0\r\n".into(), vec![]),
        Reply::Hang => (200, "Content-Length: 100\r\n".into(), b"d8:inter".to_vec()),
        Reply::HugeLength => (200, format!("Content-Length: {}\r\n", 3 * MAX_BODY), vec![]),
        Reply::HugeStream => (200, String::new(), vec![b'x'; MAX_BODY + 4096]),
    };
    let head = format!("HTTP/1.1 {status} Whatever\r\n{headers}Connection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    // Leave the connection open a while so a missing body is a stall, not an EOF.
    tokio::time::sleep(Duration::from_secs(10)).await;
}

async fn http_responder(reply: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reply = Arc::new(reply);
    let task_seen = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let reply = reply.clone();
            let seen = task_seen.clone();
            tokio::spawn(async move { serve_one(stream, |t| reply(t), &seen).await });
        }
    });
    Server { addr, seen, task }
}

fn peers() -> Vec<SocketAddr> {
    vec![
        "10.0.0.1:6881".parse().unwrap(),
        "10.0.0.2:6882".parse().unwrap(),
    ]
}

fn answer(interval: u64, tracker_id: Option<&[u8]>) -> Vec<u8> {
    let mut r = AnnounceResponse::new(Duration::from_secs(interval));
    r.min_interval = Some(Duration::from_secs(60));
    r.peers = peers();
    r.tracker_id = tracker_id.map(<[u8]>::to_vec);
    encode_announce_response(&r, true)
}

fn hash() -> InfoHashV1 {
    InfoHashV1([0x42; 20])
}

fn request() -> AnnounceRequest {
    AnnounceRequest::new(hash(), PeerId::swarmgate([1; 12]), 6881)
}

const SHORT: Duration = Duration::from_millis(800);

#[tokio::test]
async fn http_announce_and_scrape() {
    bounded(async {
        let server = http_responder(|target| {
            if target.starts_with("/scrape") {
                let stats = ScrapeStats {
                    complete: 3,
                    downloaded: 9,
                    incomplete: 4,
                };
                Reply::Body(encode_scrape_response(&[(hash(), stats)]))
            } else {
                Reply::Body(answer(900, None))
            }
        })
        .await;
        let url = format!("http://{}/announce", server.addr);
        let tracker = HttpTracker::new(&url, Duration::from_secs(5)).unwrap();
        let response = tracker.announce(&request()).await.unwrap();
        assert_eq!(response.peers, peers());
        assert_eq!(response.interval, Duration::from_secs(900));

        let other = InfoHashV1([7; 20]);
        let stats = tracker.scrape(&[other, hash()]).await.unwrap();
        assert_eq!(stats[0], ScrapeStats::default(), "left out: zero counts");
        assert_eq!(stats[1].downloaded, 9);

        let seen = server.seen();
        assert!(seen[0].starts_with("/announce?info_hash=BBBBBBBBBBBBBBBBBBBB&peer_id=-SG0001-"));
        assert_eq!(seen[1], "/scrape?info_hash=%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07%07&info_hash=BBBBBBBBBBBBBBBBBBBB");
    })
    .await;
}

#[tokio::test]
async fn http_failures_are_told_apart() {
    bounded(async {
        let server = http_responder(|target| match target.split('?').next() {
            Some("/failure") => Reply::Body(encode_failure("unregistered torrent")),
            Some("/status") => Reply::Status(500),
            Some("/garbage") => Reply::Body(b"<html>nope</html>".to_vec()),
            Some("/huge-length") => Reply::HugeLength,
            Some("/huge-stream") => Reply::HugeStream,
            _ => Reply::Hang,
        })
        .await;
        let at = |path: &str| HttpTracker::new(&format!("http://{}{path}", server.addr), SHORT).unwrap();

        let e = at("/failure").announce(&request()).await.unwrap_err();
        assert!(matches!(&e, TrackerError::Failure(r) if r == "unregistered torrent"), "{e}");
        let e = at("/status").announce(&request()).await.unwrap_err();
        assert!(matches!(e, TrackerError::Http { status: 500 }), "{e}");
        let e = at("/garbage").announce(&request()).await.unwrap_err();
        assert!(matches!(&e, TrackerError::InvalidResponse { context } if context.contains("not bencode")), "{e}");
        for path in ["/huge-length", "/huge-stream"] {
            let e = at(path).announce(&request()).await.unwrap_err();
            assert!(matches!(&e, TrackerError::InvalidResponse { context } if context.contains("larger than")), "{path}: {e}");
        }
        let started = std::time::Instant::now();
        let e = at("/hang").announce(&request()).await.unwrap_err();
        assert!(matches!(e, TrackerError::Timeout), "{e}");
        assert!(started.elapsed() < SHORT * 3);
        let e = at("/no-scrape-here").scrape(&[hash()]).await.unwrap_err();
        assert!(matches!(e, TrackerError::UnsupportedUrl { .. }), "{e}");
    })
    .await;
}

/// A small BEP 15 tracker: counts connects, answers announces with two peers and scrapes with
/// the hash's first byte as seeders.
struct UdpServer {
    addr: SocketAddr,
    connects: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for UdpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn udp_responder() -> UdpServer {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let connects = Arc::new(AtomicUsize::new(0));
    let counter = connects.clone();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(request) = UdpRequest::decode(&buf[..n]) else {
                continue;
            };
            let transaction_id = request.transaction_id();
            let reply = match request {
                UdpRequest::Connect { .. } => {
                    counter.fetch_add(1, Ordering::SeqCst);
                    UdpResponse::Connect {
                        transaction_id,
                        connection_id: 0x5eed,
                    }
                }
                UdpRequest::Announce {
                    connection_id: 0x5eed,
                    request,
                    ..
                } => {
                    let mut response = AnnounceResponse::new(Duration::from_secs(600));
                    response.complete = Some(1);
                    response.incomplete = Some(u32::from(request.port));
                    response.peers = peers();
                    UdpResponse::Announce {
                        transaction_id,
                        response,
                    }
                }
                UdpRequest::Scrape { info_hashes, .. } => UdpResponse::Scrape {
                    transaction_id,
                    stats: info_hashes
                        .iter()
                        .map(|h| ScrapeStats {
                            complete: u32::from(h.0[0]),
                            ..ScrapeStats::default()
                        })
                        .collect(),
                },
                UdpRequest::Announce { .. } => UdpResponse::Error {
                    transaction_id,
                    message: "bad connection id".into(),
                },
            };
            let mut packet = Vec::new();
            reply.encode(AddressFamily::of(&from), &mut packet);
            let _ = socket.send_to(&packet, from).await;
        }
    });
    UdpServer {
        addr,
        connects,
        task,
    }
}

fn fast_udp() -> UdpClientConfig {
    UdpClientConfig {
        retransmit_base: Duration::from_millis(200),
        max_retransmits: 2,
        ..UdpClientConfig::default()
    }
}

#[tokio::test]
async fn udp_announce_and_scrape_reuse_the_connection() {
    bounded(async {
        let server = udp_responder().await;
        let tracker =
            UdpTracker::new(&format!("udp://{}/announce", server.addr), fast_udp(), 1).unwrap();
        let response = tracker.announce(&request()).await.unwrap();
        assert_eq!(response.peers, peers());
        assert_eq!(
            (response.complete, response.incomplete),
            (Some(1), Some(6881))
        );
        let stats = tracker
            .scrape(&[InfoHashV1([5; 20]), InfoHashV1([6; 20])])
            .await
            .unwrap();
        assert_eq!(stats.iter().map(|s| s.complete).collect::<Vec<_>>(), [5, 6]);
        tracker.announce(&request()).await.unwrap();
        assert_eq!(
            server.connects.load(Ordering::SeqCst),
            1,
            "one connect for three requests"
        );
    })
    .await;
}

#[tokio::test]
async fn udp_silence_is_a_timeout() {
    bounded(async {
        // A bound socket that never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let url = format!("udp://{}", silent.local_addr().unwrap());
        let tracker = UdpTracker::new(&url, fast_udp(), 1).unwrap();
        let started = std::time::Instant::now();
        let e = tracker.announce(&request()).await.unwrap_err();
        assert!(matches!(e, TrackerError::Timeout), "{e}");
        // 200 + 400 + 800 ms.
        assert!(started.elapsed() >= Duration::from_millis(1400));
    })
    .await;
}

/// A port nothing listens on, TCP and UDP.
async fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn config() -> AnnouncerConfig {
    AnnouncerConfig {
        timeout: Duration::from_secs(3),
        udp: fast_udp(),
        ..AnnouncerConfig::new(PeerId::swarmgate([9; 12]), 7000)
    }
}

#[tokio::test]
async fn announcer_falls_through_a_dead_tier_to_a_live_one() {
    bounded(async {
        let live = http_responder(|_| Reply::Body(answer(1200, Some(b"tid7")))).await;
        let dead = dead_port().await;
        let live_url = format!("http://{}/announce", live.addr);
        let tiers = vec![
            vec![
                format!("http://127.0.0.1:{dead}/announce"),
                format!("udp://127.0.0.1:{dead}"),
                "wss://tracker.example/announce".to_owned(),
            ],
            vec![format!("http://127.0.0.1:{dead}/second"), live_url.clone()],
        ];
        let mut announcer = Announcer::new(tiers, config());
        assert_eq!(announcer.next_announce_in(), Duration::from_secs(1800));
        let progress = Progress {
            uploaded: 1,
            downloaded: 2,
            left: 3,
        };
        let response = announcer
            .announce(hash(), AnnounceEvent::Started, progress)
            .await
            .unwrap();
        assert_eq!(response.peers, peers());
        assert_eq!(
            announcer.tiers().tiers()[1][0],
            live_url,
            "promoted in its tier"
        );
        assert_eq!(announcer.next_announce_in(), Duration::from_secs(1200));

        announcer
            .announce(hash(), AnnounceEvent::None, progress)
            .await
            .unwrap();
        let seen = live.seen();
        assert_eq!(
            seen.len(),
            2,
            "the live tracker is asked first the second time"
        );
        assert!(seen[0].contains("&event=started") && !seen[0].contains("trackerid"));
        assert!(seen[0].contains("&port=7000&uploaded=1&downloaded=2&left=3&compact=1"));
        assert!(seen[1].contains("&trackerid=tid7") && !seen[1].contains("event="));
    })
    .await;
}

#[tokio::test]
async fn announcer_over_udp_and_when_everything_fails() {
    bounded(async {
        let udp = udp_responder().await;
        let mut announcer = Announcer::new(vec![vec![format!("udp://{}", udp.addr)]], config());
        let response = announcer
            .announce(hash(), AnnounceEvent::Started, Progress::default())
            .await
            .unwrap();
        assert_eq!(response.incomplete, Some(7000));
        let stats = announcer.scrape(&[InfoHashV1([8; 20])]).await.unwrap();
        assert_eq!(stats[0].complete, 8);

        let dead = dead_port().await;
        let tiers = vec![
            vec![format!("http://127.0.0.1:{dead}/announce")],
            vec!["ftp://x/announce".into()],
        ];
        let mut announcer = Announcer::new(tiers, config());
        let e = announcer
            .announce(hash(), AnnounceEvent::Started, Progress::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, TrackerError::UnsupportedUrl { url, .. } if url == "ftp://x/announce"),
            "the last error: {e}"
        );
        assert_eq!(announcer.next_announce_in(), Duration::from_secs(60));
        let e = announcer
            .announce(hash(), AnnounceEvent::None, Progress::default())
            .await
            .unwrap_err();
        assert!(matches!(e, TrackerError::UnsupportedUrl { .. }));
        assert_eq!(announcer.next_announce_in(), Duration::from_secs(120));
    })
    .await;
}
