//! The client: pieces across files and pad files, and what each kind of failing seed gives.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use swarmgate_core::PieceIndex;
use swarmgate_metainfo::Torrent;
use swarmgate_webseed::{DirectorySource, WebSeed, WebSeedError};

use crate::support::{Album, Server, single};

#[tokio::test]
async fn every_piece_of_a_multi_file_torrent_verifies() {
    for hybrid in [false, true] {
        let album = Album::with(hybrid);
        let server = Server::by_name(album.source()).await;
        let seed = WebSeed::new(server.url("/"), Arc::clone(&album.torrent));
        let all = album.torrent_bytes();
        let piece_length = album.torrent.piece_length() as usize;
        for index in 0..album.torrent.piece_count() {
            let piece = seed.fetch_piece(PieceIndex(index)).await.unwrap();
            let start = index as usize * piece_length;
            let end = (start + piece_length).min(all.len());
            assert!(piece == all[start..end], "hybrid {hybrid}, piece {index}");
        }
        let past = seed
            .fetch_piece(PieceIndex(album.torrent.piece_count()))
            .await;
        assert!(
            matches!(past, Err(WebSeedError::NoSuchPiece { .. })),
            "{past:?}"
        );
    }
}

#[tokio::test]
async fn a_seed_that_serves_other_bytes_gives_a_corrupt_piece() {
    let album = Album::new();
    // Same names and lengths, other content.
    std::fs::write(
        album.dir.path().join("album/sub/b c.txt"),
        vec![0xAA; 30_000],
    )
    .unwrap();
    let server = Server::by_name(album.source()).await;
    let seed = WebSeed::new(server.url("/"), Arc::clone(&album.torrent));
    assert!(
        seed.fetch_piece(PieceIndex(0)).await.is_ok(),
        "piece 0 is all a.bin"
    );
    let error = seed.fetch_piece(PieceIndex(1)).await.unwrap_err();
    assert!(
        matches!(error, WebSeedError::PieceCorrupt { piece: 1 }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_404_makes_the_seed_unusable_and_a_refused_connection_retryable() {
    let album = Album::new();
    let server = Server::by_name(album.source()).await;
    let wrong = WebSeed::new(server.url("/elsewhere/"), Arc::clone(&album.torrent));
    let error = wrong.fetch_piece(PieceIndex(0)).await.unwrap_err();
    match &error {
        WebSeedError::Unusable { url, reason } => {
            assert!(url.ends_with("/elsewhere/album/a.bin"), "{url}");
            assert!(reason.contains("404"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!error.is_retryable());

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let gone = WebSeed::new(format!("http://{closed}/"), Arc::clone(&album.torrent));
    let error = gone.fetch_piece(PieceIndex(0)).await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");

    let ftp = WebSeed::new("ftp://127.0.0.1/", Arc::clone(&album.torrent));
    let error = ftp.fetch_piece(PieceIndex(0)).await.unwrap_err();
    assert!(matches!(error, WebSeedError::Unusable { .. }), "{error:?}");
}

/// A server that ignores Range and always sends the whole file with 200, or a fixed status.
async fn plain_server(data: Vec<u8>, status: StatusCode) -> Server {
    let data = Arc::new(data);
    let app = axum::Router::new().fallback(move |_headers: HeaderMap| {
        let data = Arc::clone(&data);
        async move {
            if status == StatusCode::OK {
                (StatusCode::OK, data.to_vec()).into_response()
            } else {
                (status, [(header::RETRY_AFTER, "7")], "busy").into_response()
            }
        }
    });
    Server::start_router(app).await
}

#[tokio::test]
async fn a_whole_file_200_is_taken_only_when_the_request_is_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    // 10,000 bytes: one piece, and the request is the whole file.
    let (small, data) = single(dir.path(), "small.bin", 10_000);
    let server = plain_server(data.clone(), StatusCode::OK).await;
    let seed = WebSeed::new(server.url("/small.bin"), small);
    assert!(seed.fetch_piece(PieceIndex(0)).await.unwrap() == data);

    // 40,000 bytes: a piece is a part of the file, and a 200 would be the whole of it.
    let (large, data) = single(dir.path(), "large.bin", 40_000);
    let server = plain_server(data, StatusCode::OK).await;
    let seed = WebSeed::new(server.url("/large.bin"), large);
    let error = seed.fetch_piece(PieceIndex(1)).await.unwrap_err();
    assert!(matches!(error, WebSeedError::Unusable { .. }), "{error:?}");
}

#[tokio::test]
async fn busy_servers_are_retryable_with_their_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, _) = single(dir.path(), "f.bin", 10_000);
    for status in [
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let server = plain_server(Vec::new(), status).await;
        let seed = WebSeed::new(server.url("/f.bin"), Arc::clone(&torrent));
        match seed.fetch_piece(PieceIndex(0)).await.unwrap_err() {
            WebSeedError::Unavailable { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)), "{status}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    let server = plain_server(Vec::new(), StatusCode::FORBIDDEN).await;
    let seed = WebSeed::new(server.url("/f.bin"), torrent);
    let error = seed.fetch_piece(PieceIndex(0)).await.unwrap_err();
    assert!(matches!(error, WebSeedError::Unusable { .. }), "{error:?}");
}

#[tokio::test]
async fn a_206_with_the_wrong_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data) = single(dir.path(), "f.bin", 40_000);
    let app = axum::Router::new().fallback(move || {
        let data = data.clone();
        async move {
            // Always bytes 0-16383, whatever was asked.
            (
                StatusCode::PARTIAL_CONTENT,
                [(header::CONTENT_RANGE, "bytes 0-16383/40000")],
                data[..16384].to_vec(),
            )
        }
    });
    let server = Server::start_router(app).await;
    let seed = WebSeed::new(server.url("/f.bin"), torrent);
    assert!(seed.fetch_piece(PieceIndex(0)).await.is_ok());
    let error = seed.fetch_piece(PieceIndex(1)).await.unwrap_err();
    assert!(matches!(error, WebSeedError::Unusable { .. }), "{error:?}");
}

#[tokio::test]
async fn a_v2_only_torrent_cannot_be_verified_here() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x"), vec![1u8; 100]).unwrap();
    let v2_only = v2_only_torrent(&dir.path().join("x"));
    let source = DirectorySource::new().with("x", Arc::clone(&v2_only), dir.path());
    let server = Server::by_name(source).await;
    let seed = WebSeed::new(server.url("/"), v2_only);
    let error = seed.fetch_piece(PieceIndex(0)).await.unwrap_err();
    assert!(matches!(error, WebSeedError::NoV1Hashes), "{error:?}");
}

/// A v2-only torrent of one file of at most 16 KiB, written by hand (the builder makes v1 or
/// hybrid); its merkle root is the SHA-256 of its one block.
fn v2_only_torrent(path: &std::path::Path) -> Arc<Torrent> {
    use sha2::{Digest, Sha256};
    let data = std::fs::read(path).unwrap();
    let root: [u8; 32] = Sha256::digest(&data).into();
    let mut e = swarmgate_bencode::Encoder::new();
    e.begin_dict().key(b"info").begin_dict();
    e.key(b"file tree")
        .begin_dict()
        .key(b"x")
        .begin_dict()
        .key(b"")
        .begin_dict();
    e.key(b"length").int(data.len() as i64);
    e.key(b"pieces root").bytes(&root).end().end().end();
    e.key(b"meta version").int(2).key(b"name").str("x");
    e.key(b"piece length").int(16384).end().end();
    Arc::new(Torrent::from_bytes(&e.finish().unwrap()).unwrap())
}
