//! The seeder's admission policy on real sockets: a flood of idle sockets from one address
//! holds only its per-address share, a full half-open table makes room by evicting its
//! oldest idle socket for a peer, and sockets admitted under pressure get the short
//! handshake timeout; every refusal is counted by reason.

use swarmgate_peer::{Handshake, Reserved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use super::*;

/// A socket from `from` (any 127/8 address works on Linux loopback) to `addr`.
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_holds_its_share_and_a_peer_still_gets_in() {
    let fixture = fixture(37, 32 * 1024, 100_000);
    let seeder = seeder(|c| {
        c.max_connections = 40;
        c.max_connections_per_ip = 4;
        c.max_connections_per_subnet = 16;
        c.max_half_open = 8;
        c.pressure_half_open = 4;
        c.pressure_handshake_timeout = Duration::from_secs(2);
        c.evict_half_open_after = Duration::from_millis(200);
    })
    .await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    seed_from_memory(&seeder, &fixture, &cache);
    let addr = seeder.local_addr();
    let hash = info_hash(&fixture);

    // 50 idle sockets from one address: 4 are let in, 46 closed at once.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(connect_from("127.0.0.2", addr).await);
    }
    until(&seeder, "46 refused per address", |s| {
        s.refusals.per_ip == 46 && s.half_open == 4
    })
    .await;

    // Four more addresses fill the half-open table, under pressure (2 s handshakes).
    for host in 3..=6 {
        idle.push(connect_from(&format!("127.0.0.{host}"), addr).await);
    }
    until(&seeder, "the half-open table full", |s| s.half_open == 8).await;

    // A peer arrives once the oldest idle socket has waited 200 ms: that one makes room.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut peer = TcpStream::connect(addr).await.unwrap();
    let ours = Handshake {
        reserved: Reserved::SWARMGATE,
        info_hash: hash,
        peer_id: PeerId::swarmgate([1; 12]),
    };
    peer.write_all(&ours.encode()).await.unwrap();
    let mut theirs = [0u8; 68];
    let read = tokio::time::timeout(Duration::from_secs(5), peer.read_exact(&mut theirs));
    read.await.expect("an answer in time").expect("a handshake");
    let stats = until(&seeder, "one evicted", |s| {
        s.refusals.half_open_evicted == 1
    })
    .await;
    assert_eq!(stats.refusals.half_open_full, 0);

    // The four admitted under pressure time out after 2 s; the peer stays.
    let stats = until(&seeder, "four handshake timeouts", |s| {
        s.refusals.handshake_timeout == 4
    })
    .await;
    assert_eq!((stats.half_open, stats.peers), (3, 1), "{stats:?}");
    assert_eq!(stats.refusals.per_subnet, 0);
    drop(idle);
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_is_capped_and_a_full_table_of_young_sockets_refuses() {
    let seeder = seeder(|c| {
        c.max_connections_per_ip = 2;
        c.max_connections_per_subnet = 3;
        c.max_half_open = 4;
        c.evict_half_open_after = Duration::from_secs(60);
    })
    .await;
    let addr = seeder.local_addr();
    let mut idle = Vec::new();
    for host in ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        idle.push(connect_from(host, addr).await);
    }
    until(&seeder, "one refused per subnet", |s| {
        s.refusals.per_subnet == 1 && s.half_open == 3
    })
    .await;
    for host in ["127.0.1.2", "127.0.2.2"] {
        idle.push(connect_from(host, addr).await);
    }
    until(&seeder, "one refused: half-open full", |s| {
        s.refusals.half_open_full == 1 && s.half_open == 4
    })
    .await;
    drop(idle);
    until(&seeder, "all released", |s| s.half_open == 0).await;
    // Their room came back: the address is let in again.
    let _again = connect_from("127.0.0.2", addr).await;
    until(&seeder, "let in again", |s| s.half_open == 1).await;
    seeder.shutdown().await;
}
