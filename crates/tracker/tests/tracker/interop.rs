//! Interop with opentracker (Debian's build, at /usr/bin/opentracker): HTTP and UDP announces
//! from two peer ids that must see each other, and scrapes that count them.
//!
//! Debian's opentracker serves only whitelisted hashes (`access.whitelist`), drops privileges
//! to `nobody` when started as root (so its files must be world-readable) and closes the TCP
//! connection after each reply. Each test runs its own instance on a free loopback port and
//! kills it at the end.

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AnnounceEvent, AnnounceRequest, AnnounceResponse, HttpTracker, ScrapeStats, TrackerError,
    UdpClientConfig, UdpTracker,
};
use tokio::process::{Child, Command};

const OPENTRACKER: &str = "/usr/bin/opentracker";

struct OpenTracker {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for OpenTracker {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the interop test finished within 30 s")
}

/// A loopback port free for both TCP and UDP right now.
fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for TCP and UDP in 50 tries");
}

fn world_readable(path: &PathBuf, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn start(hash: InfoHashV1) -> OpenTracker {
    assert!(
        std::path::Path::new(OPENTRACKER).exists(),
        "{OPENTRACKER} is missing: install Debian's opentracker package to run this test"
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "swarmgate-opentracker-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    world_readable(&dir, 0o755);
    let whitelist = dir.join("whitelist");
    std::fs::write(&whitelist, format!("{}\n", hash.to_hex())).unwrap();
    world_readable(&whitelist, 0o644);
    let port = free_port();
    let config = dir.join("opentracker.conf");
    std::fs::write(
        &config,
        format!(
            "listen.tcp_udp 127.0.0.1:{port}\naccess.whitelist {}\n",
            whitelist.display()
        ),
    )
    .unwrap();
    world_readable(&config, 0o644);
    let child = Command::new(OPENTRACKER)
        .arg("-f")
        .arg(&config)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("opentracker starts");
    let tracker = OpenTracker { child, dir, port };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return tracker;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("opentracker did not listen on 127.0.0.1:{port} within 5 s");
}

fn request(
    hash: InfoHashV1,
    peer: u8,
    port: u16,
    event: AnnounceEvent,
    left: u64,
) -> AnnounceRequest {
    let mut r = AnnounceRequest::new(hash, PeerId::swarmgate([peer; 12]), port);
    r.event = event;
    r.left = left;
    r.numwant = Some(50);
    r
}

/// Announces, retrying while opentracker has not loaded its whitelist yet (it reads it on a
/// thread of its own at start).
async fn announce<F, Fut>(mut attempt: F) -> AnnounceResponse
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<AnnounceResponse, TrackerError>>,
{
    for _ in 0..40 {
        match attempt().await {
            Err(TrackerError::Failure(reason)) if reason.contains("not authorized") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other.expect("opentracker answers the announce"),
        }
    }
    panic!("opentracker kept refusing a whitelisted hash for 4 s");
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
#[ignore = "needs opentracker"]
async fn http_peers_see_each_other_and_scrape_counts_them() {
    bounded(async {
        let hash = InfoHashV1([0x5a; 20]);
        let ot = start(hash).await;
        let url = format!("http://127.0.0.1:{}/announce", ot.port);
        let tracker = HttpTracker::new(&url, Duration::from_secs(5)).unwrap();
        let first = request(hash, 1, 7101, AnnounceEvent::Started, 100);
        let second = request(hash, 2, 7102, AnnounceEvent::Started, 100);
        announce(|| tracker.announce(&first)).await;
        let reply = announce(|| tracker.announce(&second)).await;
        assert!(reply.peers.contains(&addr(7101)), "{:?}", reply.peers);
        assert!(reply.interval > Duration::ZERO);
        let mut again = first.clone();
        again.event = AnnounceEvent::None;
        let reply = announce(|| tracker.announce(&again)).await;
        assert!(reply.peers.contains(&addr(7102)), "{:?}", reply.peers);
        assert_eq!(reply.incomplete, Some(2));

        let stats = tracker.scrape(&[hash]).await.unwrap();
        assert_eq!(
            stats,
            [ScrapeStats {
                complete: 0,
                downloaded: 0,
                incomplete: 2
            }]
        );
        let mut done = second.clone();
        done.event = AnnounceEvent::Completed;
        done.left = 0;
        announce(|| tracker.announce(&done)).await;
        let stats = tracker.scrape(&[hash]).await.unwrap();
        assert_eq!(
            stats,
            [ScrapeStats {
                complete: 1,
                downloaded: 1,
                incomplete: 1
            }]
        );
    })
    .await;
}

#[tokio::test]
#[ignore = "needs opentracker"]
async fn udp_peers_see_each_other_and_scrape_counts_them() {
    bounded(async {
        let hash = InfoHashV1([0xa5; 20]);
        let ot = start(hash).await;
        let config = UdpClientConfig {
            retransmit_base: Duration::from_millis(500),
            max_retransmits: 3,
            ..UdpClientConfig::default()
        };
        let tracker =
            UdpTracker::new(&format!("udp://127.0.0.1:{}/announce", ot.port), config, 3).unwrap();
        let first = request(hash, 3, 7201, AnnounceEvent::Started, 100);
        let second = request(hash, 4, 7202, AnnounceEvent::Started, 100);
        announce(|| tracker.announce(&first)).await;
        let reply = announce(|| tracker.announce(&second)).await;
        assert!(reply.peers.contains(&addr(7201)), "{:?}", reply.peers);
        let mut again = first.clone();
        again.event = AnnounceEvent::None;
        let reply = announce(|| tracker.announce(&again)).await;
        assert!(reply.peers.contains(&addr(7202)), "{:?}", reply.peers);
        assert_eq!((reply.complete, reply.incomplete), (Some(0), Some(2)));

        let unknown = InfoHashV1([1; 20]);
        let stats = tracker.scrape(&[hash, unknown]).await.unwrap();
        assert_eq!(
            stats[0],
            ScrapeStats {
                complete: 0,
                downloaded: 0,
                incomplete: 2
            }
        );
        assert_eq!(stats[1], ScrapeStats::default());
    })
    .await;
}
