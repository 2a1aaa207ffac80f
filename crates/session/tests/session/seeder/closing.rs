//! The seeder closing what it must: handshakes for torrents it does not seed, sockets past its
//! caps, peers asking for blocks it cannot read or verify (nothing is sent), a removed
//! torrent's peers, and everything at shutdown.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use swarmgate_core::BlockRef;
use swarmgate_peer::{Handshake, Reserved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A bare peer: connects and sends a handshake for `info_hash`.
async fn handshake(addr: SocketAddr, info_hash: InfoHashV1, id: u8) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let ours = Handshake {
        reserved: Reserved::SWARMGATE,
        info_hash,
        peer_id: PeerId::swarmgate([id; 12]),
    };
    stream.write_all(&ours.encode()).await.unwrap();
    stream
}

/// Reads the seeder's handshake back: the peer was accepted.
async fn answered(stream: &mut TcpStream, info_hash: InfoHashV1) {
    let mut theirs = [0u8; 68];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut theirs));
    read.await.expect("an answer in time").expect("a handshake");
    let (handshake, _) = Handshake::decode(&theirs).unwrap().unwrap();
    assert_eq!(handshake.info_hash, info_hash);
}

/// True when the other side closes `stream` (EOF or reset) within `within`; what it sends
/// before is skipped.
async fn closed(stream: &mut TcpStream, within: Duration) -> bool {
    let drain = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, drain).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_torrents_and_sockets_past_the_caps_are_closed() {
    let fixture = fixture(35, 32 * 1024, 100_000);
    let seeder = seeder(|c| {
        c.max_connections = 2;
        c.max_peers_per_torrent = 1;
    })
    .await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    seed_from_memory(&seeder, &fixture, &cache);
    let addr = seeder.local_addr();
    let hash = info_hash(&fixture);

    let mut stranger = handshake(addr, InfoHashV1([0xee; 20]), 1).await;
    assert!(
        closed(&mut stranger, Duration::from_secs(5)).await,
        "unknown torrent"
    );
    until(&seeder, "counted", |s| s.unknown_torrent == 1).await;

    let mut first = handshake(addr, hash, 2).await;
    answered(&mut first, hash).await;
    let mut second = handshake(addr, hash, 3).await;
    assert!(
        closed(&mut second, Duration::from_secs(5)).await,
        "one peer a torrent"
    );
    until(&seeder, "the second peer refused", |s| {
        s.refused == 1 && s.connections == 1
    })
    .await;

    // One socket open (the peer): one more fits, a third is closed at once.
    let _quiet = TcpStream::connect(addr).await.unwrap();
    until(&seeder, "the quiet socket holds a slot", |s| {
        s.connections == 2
    })
    .await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed(&mut third, Duration::from_secs(5)).await,
        "max_connections"
    );
    let stats = until(&seeder, "refused", |s| s.refused == 2).await;
    assert_eq!(stats.peers, 1);
    assert!(
        !closed(&mut first, Duration::from_millis(200)).await,
        "the peer stays"
    );
    seeder.shutdown().await;
}

/// A source that cannot read piece 1 and returns a short block of piece 2.
struct Failing(Arc<Fixture>);

impl BlockSource for Failing {
    fn read_block(&self, block: BlockRef) -> io::Result<Bytes> {
        let data = self.0.block(block).ok_or(io::ErrorKind::InvalidInput)?;
        match block.piece.0 {
            1 => Err(io::Error::other("the disk is gone")),
            2 => Ok(Bytes::copy_from_slice(&data[1..])),
            _ => Ok(Bytes::copy_from_slice(data)),
        }
    }
}

/// The blob file holding `fixture`'s bytes under a content store's folder.
fn blob_file(dir: &Path) -> PathBuf {
    let mut pending = vec![dir.join("blobs")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                return path;
            }
        }
    }
    panic!("no blob under {dir:?}");
}

/// Leeches `torrent` from `addr` until the seeder has counted `errors` read errors (and a
/// moment more), then stops the leecher.
async fn leech_until_errors(
    torrent: &Torrent,
    root: &Path,
    seeder: &Seeder,
    errors: u64,
) -> Summary {
    let config = leecher_config(root, vec![seeder.local_addr()]);
    let probe = seeder.clone();
    let stop = async move {
        until(&probe, "read errors", |s| s.read_errors >= errors).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let download = run(Arc::new(torrent.clone()), config, |_| {}, stop);
    tokio::time::timeout(LIMIT, download)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_that_cannot_be_read_or_verified_is_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let seeder = seeder(|_| {}).await;

    // Stored bytes altered on disk behind the store's back: piece 3 no longer matches.
    let corrupt = fixture(38, 32 * 1024, 200_000);
    let store: Arc<dyn ContentStore> =
        Arc::new(FsContentStore::open(dir.path().join("data")).unwrap());
    let cache = Arc::new(PieceCache::new(4 << 20));
    let source = stored(store, &corrupt, &cache);
    let blob = blob_file(&dir.path().join("data"));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[3 * 32 * 1024 + 100] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    seeder
        .add(Arc::new(corrupt.torrent.clone()), source)
        .unwrap();

    let summary = leech_until_errors(&corrupt.torrent, &dir.path().join("a"), &seeder, 1).await;
    assert!(!summary.complete, "{summary:?}");
    assert_eq!(summary.stats.hash_failures, 0, "no bad piece arrived");
    assert!(summary.stats.pieces_have < corrupt.piece_count());

    // A source that fails (an error, a short block): nothing of those pieces is sent.
    let failing = Arc::new(fixture(39, 32 * 1024, 200_000));
    let source = Arc::new(Failing(Arc::clone(&failing)));
    seeder
        .add(Arc::new(failing.torrent.clone()), source)
        .unwrap();
    let before = seeder.stats().read_errors;
    let summary =
        leech_until_errors(&failing.torrent, &dir.path().join("b"), &seeder, before + 1).await;
    assert!(!summary.complete, "{summary:?}");
    assert_eq!(summary.stats.hash_failures, 0, "no bad piece arrived");
    let stats = seeder.stats();
    assert!(stats.read_errors > before, "{stats:?}");
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_closes_that_torrents_peers_and_shutdown_closes_the_rest_promptly() {
    let one = fixture(40, 32 * 1024, 100_000);
    let two = fixture(41, 32 * 1024, 120_000);
    let seeder = seeder(|_| {}).await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    for fixture in [&one, &two] {
        let source = stored(memory_store(), fixture, &cache);
        seeder
            .add(Arc::new(fixture.torrent.clone()), source)
            .unwrap();
    }
    let addr = seeder.local_addr();
    let (first, second) = (info_hash(&one), info_hash(&two));
    let mut peers_of_one = Vec::new();
    for id in 1..3 {
        let mut peer = handshake(addr, first, id).await;
        answered(&mut peer, first).await;
        peers_of_one.push(peer);
    }
    let mut peer_of_two = handshake(addr, second, 3).await;
    answered(&mut peer_of_two, second).await;
    until(&seeder, "three peers", |s| {
        s.peers == 3 && s.active_torrents == 2
    })
    .await;

    assert!(seeder.remove(&first));
    assert!(!seeder.remove(&first), "already removed");
    for peer in &mut peers_of_one {
        assert!(
            closed(peer, Duration::from_secs(5)).await,
            "removed torrent's peer"
        );
    }
    let stats = until(&seeder, "one peer left", |s| s.peers == 1).await;
    assert_eq!(stats.torrents, 1);
    assert!(seeder.torrent_stats(&first).is_none());
    assert!(!closed(&mut peer_of_two, Duration::from_millis(200)).await);

    let started = Instant::now();
    let probe = seeder.clone();
    tokio::time::timeout(Duration::from_secs(5), seeder.shutdown())
        .await
        .expect("shutdown returns promptly with a peer connected");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(closed(&mut peer_of_two, Duration::from_secs(5)).await);
    let stats = probe.stats();
    assert_eq!(
        (stats.peers, stats.connections, stats.active_torrents),
        (0, 0, 0)
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

/// An announce-driven dial waits, and is not made when the announcing peer connected to us
/// meanwhile (libtorrent closes both connections of a head-on meeting as duplicates); a peer
/// that did not connect is dialled once the delay is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_peer_that_dialled_us_is_not_dialled_back() {
    let fixture = fixture(41, 32 * 1024, 100_000);
    let seeder = seeder(|c| c.announce_dial_delay = Duration::from_millis(300)).await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    let hash = info_hash(&fixture);
    seed_from_memory(&seeder, &fixture, &cache);
    // The peer dials us first, as libtorrent does with the peers its tracker hands it.
    let mut connected = handshake(seeder.local_addr(), hash, 7).await;
    answered(&mut connected, hash).await;
    let listening = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listening.local_addr().unwrap();
    seeder.connect_announced(&hash, addr, PeerId::swarmgate([7; 12]));
    let stats = until(&seeder, "the dial is skipped", |s| s.dials_skipped == 1).await;
    assert_eq!(stats.dial_failures, 0);
    let accepted = tokio::time::timeout(Duration::from_millis(200), listening.accept()).await;
    assert!(accepted.is_err(), "no dial reached the peer");

    // Another peer id at the same address has not connected: dialled after the delay.
    let started = Instant::now();
    seeder.connect_announced(&hash, addr, PeerId::swarmgate([8; 12]));
    let (_dialled, _) = tokio::time::timeout(Duration::from_secs(5), listening.accept())
        .await
        .expect("dialled")
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "not before the delay"
    );
    drop(connected);
    seeder.shutdown().await;
}

/// A peer that asks for one block of piece 0 gets it, and piece 1 is read into the cache before
/// anyone asks for it (the read-ahead of a missed piece's successor).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_piece_reads_the_next_one_ahead() {
    use swarmgate_peer::{Limits, Message, decode, encode};

    let fixture = fixture(43, 32 * 1024, 4 * 32 * 1024);
    let seeder = seeder(|_| {}).await;
    let cache = Arc::new(PieceCache::new(1 << 20));
    let hash = info_hash(&fixture);
    seed_from_memory(&seeder, &fixture, &cache);
    let mut peer = handshake(seeder.local_addr(), hash, 9).await;
    answered(&mut peer, hash).await;
    let mut out = bytes::BytesMut::new();
    encode(&Message::Interested, &mut out);
    peer.write_all(&out).await.unwrap();
    // Read until unchoked, then ask for the first block of piece 0 only.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buffer = bytes::BytesMut::new();
    let mut unchoked = false;
    while !unchoked {
        assert!(Instant::now() < deadline, "never unchoked");
        let read = tokio::time::timeout(Duration::from_secs(5), peer.read_buf(&mut buffer));
        let n = read.await.expect("the seeder talks").unwrap();
        assert!(n > 0, "closed");
        while let Some(message) = decode(&mut buffer, &Limits::default()).unwrap() {
            unchoked |= message == Message::Unchoke;
        }
    }
    let mut out = bytes::BytesMut::new();
    encode(
        &Message::Request(BlockRef {
            piece: PieceIndex(0),
            offset: 0,
            length: 16 * 1024,
        }),
        &mut out,
    );
    peer.write_all(&out).await.unwrap();
    loop {
        let stats = cache.stats();
        if stats.entries == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "piece 1 not read ahead: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seeder.shutdown().await;
}
