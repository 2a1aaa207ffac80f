//! Interop with libtorrent 2.0 (python3-libtorrent): fetch the metadata of a torrent it seeds,
//! then download piece 0 block by block and check its SHA-1. Ignored unless the program exists.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use swarmgate_core::{Bitfield, Geometry, InfoHashV1, PeerId, PieceIndex};
use swarmgate_peer::{PeerConnection, PeerEvent, SessionConfig, fetch_metadata};

/// Kills the seeder however the test ends.
struct Seeder(Child);

impl Drop for Seeder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the seeder script and waits (at most 60 s) for its "READY port hash" line.
fn start_seeder(work: &std::path::Path) -> (Seeder, SocketAddr, InfoHashV1) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peer/support/lt_seed.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(work)
        .arg((3 * 262_144 + 1000).to_string())
        .arg("262144")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start /usr/bin/python3");
    let stdout = child.stdout.take().expect("stdout");
    let seeder = Seeder(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("seeder ready within 60 s");
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("READY"), "seeder said {line:?}");
    let port: u16 = words.next().and_then(|p| p.parse().ok()).expect("port");
    let hash: InfoHashV1 = words.next().and_then(|h| h.parse().ok()).expect("hash");
    (seeder, SocketAddr::from(([127, 0, 0, 1], port)), hash)
}

#[tokio::test]
#[ignore = "needs python3-libtorrent"]
async fn libtorrent_seeder_serves_metadata_and_piece_zero() {
    let work = std::env::temp_dir().join(format!("swarmgate-peer-interop-{}", std::process::id()));
    let (_seeder, addr, hash) = start_seeder(&work);
    let limit = Duration::from_secs(30);

    let info = fetch_metadata(addr, hash, PeerId::swarmgate([1; 12]), 1 << 20, limit)
        .await
        .expect("metadata from libtorrent");
    assert_eq!(InfoHashV1(Sha1::digest(&info).into()), hash);

    let doc = swarmgate_bencode::decode(&info).unwrap();
    let dict = doc.root().as_dict().unwrap();
    let int = |k: &[u8]| dict.get(k).and_then(|v| v.as_int()).unwrap() as u64;
    let geometry = Geometry::new(int(b"length"), int(b"piece length")).unwrap();
    let pieces = dict.get(b"pieces").and_then(|v| v.as_bytes()).unwrap();
    assert_eq!(pieces.len(), 20 * geometry.piece_count() as usize);

    let mut config = SessionConfig::new(hash, PeerId::swarmgate([2; 12]));
    config.geometry = Some(geometry);
    let mut conn = PeerConnection::connect(addr, config, limit).await.unwrap();
    let piece = PieceIndex(0);
    let size = geometry.piece_size(piece).unwrap() as usize;
    let download = async {
        let mut buf = vec![0u8; size];
        let mut missing = geometry.blocks_in_piece(piece);
        let mut requested = false;
        loop {
            match conn.next_event().await.expect("session runs") {
                PeerEvent::Handshake { .. } => {
                    let s = conn.session_mut();
                    s.send_bitfield(&Bitfield::new(geometry.piece_count()));
                    s.set_interested(true);
                }
                PeerEvent::Block { block, data } => {
                    let at = block.offset as usize;
                    buf[at..at + data.len()].copy_from_slice(&data);
                    missing -= 1;
                    if missing == 0 {
                        return buf;
                    }
                }
                PeerEvent::Choked { dropped } => assert!(dropped.is_empty(), "{dropped:?}"),
                _ => {}
            }
            let s = conn.session_mut();
            let can = !s.peer_choking() && s.peer_pieces().is_some_and(|p| p.get(piece));
            if can && !requested {
                for block in geometry.blocks(piece) {
                    s.request(Instant::now(), block).unwrap();
                }
                requested = true;
            }
        }
    };
    let data = tokio::time::timeout(limit, download)
        .await
        .expect("piece 0 within 30 s");
    assert_eq!(Sha1::digest(&data).as_slice(), &pieces[..20]);
    let _ = std::fs::remove_dir_all(&work);
}
