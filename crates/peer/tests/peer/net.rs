//! tokio: a `PeerConnection` pair on 127.0.0.1 exchanging a block, and `fetch_metadata` against
//! a connection that serves metadata. Every wait is bounded.

use std::time::Duration;

use bytes::Bytes;
use sha1::{Digest, Sha1};
use swarmgate_core::{Bitfield, InfoHashV1, PeerId, PieceIndex};
use swarmgate_peer::{
    FetchError, PeerConnection, PeerError, PeerEvent, SessionConfig, fetch_metadata, read_handshake,
};
use tokio::net::TcpListener;

use crate::harness::{HASH, config, geometry};

const LIMIT: Duration = Duration::from_secs(10);

/// Accepts one connection and serves it from `config` until the peer goes away: every piece,
/// unchoked, blocks filled with the piece index.
async fn serve(listener: TcpListener, config: SessionConfig) -> Result<u64, PeerError> {
    let (mut stream, _) = listener.accept().await?;
    let theirs = read_handshake(&mut stream, LIMIT).await?;
    let pieces = config.geometry.map_or(0, |g| g.piece_count());
    let mut conn = PeerConnection::accept(stream, config, theirs);
    assert!(conn.peer_addr().ip().is_loopback());
    loop {
        match conn.next_event().await {
            Ok(PeerEvent::Handshake { .. }) => {
                let session = conn.session_mut();
                session.send_bitfield(&Bitfield::full(pieces));
                session.set_choking(false);
            }
            Ok(PeerEvent::Request(block)) => {
                let data = Bytes::from(vec![block.piece.0 as u8; block.length as usize]);
                assert!(conn.session_mut().send_block(block, data));
            }
            Ok(_) => {}
            Err(PeerError::Closed) => return Ok(conn.session().uploaded_payload()),
            Err(e) => return Err(e),
        }
    }
}

#[tokio::test]
async fn connection_pair_exchanges_a_block() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seeder = tokio::spawn(serve(listener, config(2, Some(geometry()))));

    let run = async {
        let mut conn = PeerConnection::connect(addr, config(1, Some(geometry())), LIMIT)
            .await
            .unwrap();
        let wanted = geometry().block(PieceIndex(2), 1).unwrap();
        let mut requested = false;
        loop {
            match conn.next_event().await.unwrap() {
                PeerEvent::Handshake { .. } => conn.session_mut().set_interested(true),
                PeerEvent::Block { block, data } => {
                    assert_eq!(block, wanted);
                    assert!(data.iter().all(|&b| b == 2));
                    return conn.session().downloaded_payload();
                }
                _ => {}
            }
            let s = conn.session_mut();
            if !requested && !s.peer_choking() && s.is_seed() {
                s.request(std::time::Instant::now(), wanted).unwrap();
                requested = true;
            }
        }
    };
    let downloaded = tokio::time::timeout(LIMIT, run).await.expect("in time");
    assert_eq!(downloaded, 16_384);
    let uploaded = tokio::time::timeout(LIMIT, seeder)
        .await
        .expect("seeder ends")
        .unwrap()
        .unwrap();
    assert_eq!(uploaded, 16_384);
}

#[tokio::test]
async fn fetch_metadata_from_a_serving_connection() {
    let info: Vec<u8> = [
        &b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:"[..],
        &[9; 20],
        b"7:comment30000:",
        &[b'c'; 30_000],
        b"e",
    ]
    .concat();
    let hash = InfoHashV1(Sha1::digest(&info).into());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = SessionConfig::new(hash, PeerId([2; 20]));
    cfg.metadata = Some(Bytes::from(info.clone()));
    let seeder = tokio::spawn(serve(listener, cfg));

    let got = fetch_metadata(addr, hash, PeerId([1; 20]), 1 << 20, LIMIT)
        .await
        .unwrap();
    assert_eq!(&got[..], &info[..]);
    tokio::time::timeout(LIMIT, seeder)
        .await
        .expect("seeder ends")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn fetch_metadata_refuses_oversized_and_wrong_peers() {
    // A peer that serves metadata larger than our cap.
    let info = vec![b'x'; 40_000];
    let hash = InfoHashV1(Sha1::digest(&info).into());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = SessionConfig::new(hash, PeerId([2; 20]));
    cfg.metadata = Some(Bytes::from(info));
    let seeder = tokio::spawn(serve(listener, cfg));
    let err = fetch_metadata(addr, hash, PeerId([1; 20]), 10_000, LIMIT)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        FetchError::Metadata(swarmgate_peer::MetadataError::BadSize { .. })
    ));
    let _ = tokio::time::timeout(LIMIT, seeder)
        .await
        .expect("seeder ends");

    // A peer for another torrent.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seeder = tokio::spawn(serve(listener, config(2, None)));
    let other = InfoHashV1([0x77; 20]);
    assert_ne!(other, HASH);
    let err = fetch_metadata(addr, other, PeerId([1; 20]), 1 << 20, LIMIT)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Peer(_)), "{err:?}");
    seeder.abort();
}
