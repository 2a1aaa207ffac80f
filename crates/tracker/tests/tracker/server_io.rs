//! The tracker's socket drivers on 127.0.0.1, spoken to by this crate's own tokio clients: what
//! `serve_http` and `serve_udp` carry is what the handlers answer, keep-alive holds, and both
//! stop when told.

use std::future::Future;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use swarmgate_core::{InfoHashV1, PeerId};
use swarmgate_tracker::{
    AnnounceEvent, AnnounceRequest, HttpTracker, Tracker, TrackerError, UdpClientConfig,
    UdpTracker, serve_http, serve_udp,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::server::{SECRET, config};

const TEST_BOUND: Duration = Duration::from_secs(20);

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_BOUND, f)
        .await
        .expect("the test finished within its bound")
}

fn request(n: u8, left: u64) -> AnnounceRequest {
    let mut request =
        AnnounceRequest::new(InfoHashV1([9; 20]), PeerId([n; 20]), 7000 + u16::from(n));
    request.left = left;
    request.event = AnnounceEvent::Started;
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_udp_serve_the_same_swarms_and_stop_on_shutdown() {
    bounded(async {
        let tracker = Arc::new(Tracker::new(config(), Instant::now(), SECRET).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_addr = listener.local_addr().unwrap();
        let socket = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_addr = socket.local_addr().unwrap();
        let (stop_http, http_stopped) = oneshot::channel::<()>();
        let (stop_udp, udp_stopped) = oneshot::channel::<()>();
        let http_task = tokio::spawn(serve_http(listener, Arc::clone(&tracker), async {
            let _ = http_stopped.await;
        }));
        let udp_task = tokio::spawn(serve_udp(socket, Arc::clone(&tracker), 2, async {
            let _ = udp_stopped.await;
        }));

        let http = HttpTracker::new(
            &format!("http://{http_addr}/announce"),
            Duration::from_secs(5),
        )
        .unwrap();
        let seeded = http.announce(&request(1, 0)).await.unwrap();
        assert!(seeded.peers.is_empty());
        let fast = UdpClientConfig {
            retransmit_base: Duration::from_millis(300),
            max_retransmits: 3,
            ..UdpClientConfig::default()
        };
        let udp = UdpTracker::new(&format!("udp://{udp_addr}/announce"), fast, 7).unwrap();
        let leeching = udp.announce(&request(2, 100)).await.unwrap();
        assert_eq!(
            leeching.peers,
            ["127.0.0.1:7001".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!((leeching.complete, leeching.incomplete), (Some(1), Some(1)));
        let over_http = http.scrape(&[InfoHashV1([9; 20])]).await.unwrap();
        let over_udp = udp.scrape(&[InfoHashV1([9; 20])]).await.unwrap();
        assert_eq!(over_http, over_udp);
        assert_eq!((over_udp[0].complete, over_udp[0].incomplete), (1, 1));
        let mut no_port = request(3, 1);
        no_port.port = 0;
        let refused = http.announce(&no_port).await;
        assert!(matches!(refused, Err(TrackerError::Failure(text)) if text.contains("port 0")));

        stop_http.send(()).unwrap();
        stop_udp.send(()).unwrap();
        http_task.await.unwrap().unwrap();
        udp_task.await.unwrap().unwrap();
        assert!(
            TcpStream::connect(http_addr).await.is_err(),
            "the listener is closed"
        );
        let stats = tracker.stats();
        assert_eq!((stats.announces, stats.refused), (2, 1));
    })
    .await;
}

#[tokio::test]
async fn http_keeps_the_connection_alive_and_refuses_other_methods() {
    bounded(async {
        let tracker = Arc::new(Tracker::new(config(), Instant::now(), SECRET).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve_http(listener, tracker, async {
            let _ = stopped.await;
        }));
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let query = "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&left=0";
        let requests = format!(
            "GET /announce?{query} HTTP/1.1\r\nHost: t\r\n\r\n\
             GET /scrape?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: t\r\n\r\n\
             POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(requests.as_bytes()).await.unwrap();
        let mut replies = String::new();
        stream.read_to_string(&mut replies).await.unwrap();
        // Bodies end without a newline: split on the status lines themselves.
        let statuses: Vec<&str> = replies
            .match_indices("HTTP/1.1 ")
            .map(|(at, _)| replies[at..].lines().next().unwrap_or(""))
            .collect();
        assert_eq!(
            statuses,
            [
                "HTTP/1.1 200 OK",
                "HTTP/1.1 200 OK",
                "HTTP/1.1 405 Method Not Allowed"
            ]
        );
        assert!(replies.contains("d8:completei1e"));
        assert!(replies.contains("d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e"));
    })
    .await;
}
