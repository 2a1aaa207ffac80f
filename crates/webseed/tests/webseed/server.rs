//! The server: every range edge case, HEAD, ETag and If-Range, path tricks, layouts, sources that
//! lack a file or hold the wrong one, and a large file streamed in small chunks.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, IF_RANGE,
    RANGE,
};
use swarmgate_webseed::{DirectorySource, ServerConfig, UrlLayout, file_url};

use crate::support::{Album, Server, raw_status, single};

struct Answer {
    status: StatusCode,
    content_range: Option<String>,
    length: Option<u64>,
    body: Vec<u8>,
}

async fn get(url: &str, range: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().get(url);
    if let Some(range) = range {
        request = request.header(RANGE, range);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.headers()[ACCEPT_RANGES], "bytes", "{url}");
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let content_range = header(CONTENT_RANGE);
    let length = header(CONTENT_LENGTH).map(|v| v.parse().unwrap());
    Answer {
        status: response.status(),
        content_range,
        length,
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn partial(url: &str, range: &str, expected: &[u8], content_range: &str) {
    let answer = get(url, Some(range)).await;
    assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT, "{range}");
    assert_eq!(
        answer.content_range.as_deref(),
        Some(content_range),
        "{range}"
    );
    assert_eq!(answer.length, Some(expected.len() as u64), "{range}");
    assert!(answer.body == expected, "{range}: wrong bytes");
}

#[tokio::test]
async fn range_edge_cases() {
    for inline in [false, true] {
        range_edge_cases_with(inline).await;
    }
}

async fn range_edge_cases_with(inline_reads: bool) {
    let album = Album::new();
    let mut config = ServerConfig::default();
    config.inline_reads = inline_reads;
    let server = Server::start(album.source(), config).await;
    let a = server.url("/album/a.bin");
    let (n, data) = (album.a.len(), &album.a);
    partial(&a, "bytes=0-0", &data[..1], "bytes 0-0/20000").await;
    partial(
        &a,
        "bytes=19999-19999",
        &data[n - 1..],
        "bytes 19999-19999/20000",
    )
    .await;
    partial(
        &a,
        "bytes=19999-",
        &data[n - 1..],
        "bytes 19999-19999/20000",
    )
    .await;
    partial(&a, "bytes=100-", &data[100..], "bytes 100-19999/20000").await;
    partial(&a, "bytes=-1", &data[n - 1..], "bytes 19999-19999/20000").await;
    partial(
        &a,
        "bytes=-500",
        &data[n - 500..],
        "bytes 19500-19999/20000",
    )
    .await;
    partial(&a, "bytes=-30000", data, "bytes 0-19999/20000").await;
    partial(
        &a,
        "bytes=16384-99999",
        &data[16384..],
        "bytes 16384-19999/20000",
    )
    .await;
    for unsatisfiable in [
        "bytes=20000-",
        "bytes=20000-20001",
        "bytes=-0",
        "bytes=99999999999999999999-",
    ] {
        let answer = get(&a, Some(unsatisfiable)).await;
        assert_eq!(
            answer.status,
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{unsatisfiable}"
        );
        assert_eq!(answer.content_range.as_deref(), Some("bytes */20000"));
        assert!(answer.body.is_empty());
    }
    // Invalid syntax and several ranges: Range is ignored, the whole file is sent.
    for ignored in ["bytes=5-2", "bytes=x-1", "lines=0-1", "bytes=0-0,-1"] {
        let answer = get(&a, Some(ignored)).await;
        assert_eq!(answer.status, StatusCode::OK, "{ignored}");
        assert_eq!(answer.content_range, None);
        assert!(answer.body == *data, "{ignored}");
    }
    let whole = get(&a, None).await;
    assert_eq!((whole.status, whole.length), (StatusCode::OK, Some(20_000)));
    assert!(whole.body == *data);
}

#[tokio::test]
async fn a_piece_across_a_file_boundary_is_one_ranged_request_per_file() {
    let album = Album::new();
    let server = Server::by_name(album.source()).await;
    let base = server.url("/");
    // Piece 1 is torrent bytes 16384..32768: the end of a.bin, then the start of b c.txt.
    let plan = swarmgate_webseed::plan_piece(album.torrent.layout(), swarmgate_core::PieceIndex(1))
        .unwrap();
    let expected = &album.torrent_bytes()[16384..32768];
    let mut piece = Vec::new();
    for request in &plan.requests {
        let url = file_url(&base, &album.torrent, request.file).unwrap();
        let range = request.file_range();
        let answer = get(
            &url,
            Some(&format!("bytes={}-{}", range.start, range.end - 1)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
        piece.extend(answer.body);
    }
    assert_eq!(plan.requests.len(), 2);
    assert!(piece == expected);
    // A range running past a file's end stops there: it never continues into the next file.
    let tail = get(&server.url("/album/a.bin"), Some("bytes=19990-20100")).await;
    assert_eq!(
        tail.content_range.as_deref(),
        Some("bytes 19990-19999/20000")
    );
    assert!(tail.body == album.a[19990..]);
}

#[tokio::test]
async fn zero_length_files() {
    let album = Album::new();
    let server = Server::by_name(album.source()).await;
    let empty = server.url("/album/empty");
    let whole = get(&empty, None).await;
    assert_eq!((whole.status, whole.length), (StatusCode::OK, Some(0)));
    for unsatisfiable in ["bytes=0-", "bytes=0-0"] {
        let answer = get(&empty, Some(unsatisfiable)).await;
        assert_eq!(answer.status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(answer.content_range.as_deref(), Some("bytes */0"));
    }
    let suffix = get(&empty, Some("bytes=-10")).await;
    assert_eq!((suffix.status, suffix.length), (StatusCode::OK, Some(0)));
}

#[tokio::test]
async fn head_and_conditional_requests() {
    let album = Album::new();
    let server = Server::by_name(album.source()).await;
    let url = server.url("/album/sub/b%20c.txt");
    let client = reqwest::Client::new();
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[CONTENT_LENGTH], "30000");
    assert_eq!(head.headers()[CONTENT_TYPE], "application/octet-stream");
    let etag = head.headers()[ETAG].to_str().unwrap().to_owned();
    let wire = album.torrent.info_hash().wire().to_hex();
    assert_eq!(etag, format!("\"{wire}-2\""));
    assert!(head.bytes().await.unwrap().is_empty());

    let head_range = client
        .head(&url)
        .header(RANGE, "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(head_range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(head_range.headers()[CONTENT_RANGE], "bytes 10-19/30000");
    assert_eq!(head_range.headers()[CONTENT_LENGTH], "10");

    for matching in [etag.clone(), format!("\"x\", W/{etag}"), "*".into()] {
        let answer = client
            .get(&url)
            .header(IF_NONE_MATCH, &matching)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_MODIFIED, "{matching}");
        assert_eq!(answer.headers()[ETAG], etag.as_str());
        assert!(answer.bytes().await.unwrap().is_empty());
    }
    let changed = client
        .get(&url)
        .header(IF_NONE_MATCH, "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);

    let same = client
        .get(&url)
        .header(RANGE, "bytes=0-9")
        .header(IF_RANGE, &etag);
    assert_eq!(
        same.send().await.unwrap().status(),
        StatusCode::PARTIAL_CONTENT
    );
    let stale = client
        .get(&url)
        .header(RANGE, "bytes=0-9")
        .header(IF_RANGE, "\"old\"");
    let stale = stale.send().await.unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
    assert!(stale.bytes().await.unwrap() == album.b);

    let post = client.post(&url).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn path_tricks_and_anything_but_a_file_are_404() {
    let album = Album::with(true); // hybrid: with pad files
    assert!(album.torrent.files().iter().any(|f| f.is_pad()));
    let pad = album.torrent.files().iter().find(|f| f.is_pad()).unwrap();
    let pad_path = format!("/{}", pad.path().join("/"));
    let server = Server::by_name(album.source()).await;
    std::fs::write(album.dir.path().join("secret"), b"no").unwrap();
    for target in [
        "/",
        "/album",
        "/album/",
        "/album/sub",
        "/album/../secret",
        "/album/%2e%2e/secret",
        "/album/sub%2fb%20c.txt",
        "/album/sub%5cb%20c.txt",
        "/album//a.bin",
        "//album/a.bin",
        "/album/a.bin%00",
        "/album/./a.bin",
        "/album/a.bin/",
        "/album/A.BIN",
        "/album/a.bi%",
        "/album/%ff",
        "/other/a.bin",
        "/secret",
        pad_path.as_str(),
    ] {
        assert_eq!(
            raw_status(server.addr, "GET", target).await,
            404,
            "{target}"
        );
    }
    assert_eq!(raw_status(server.addr, "GET", "/album/a.bin").await, 200);
    assert_eq!(raw_status(server.addr, "GET", "/album/a%2Ebin").await, 200);
    assert_eq!(
        raw_status(server.addr, "HEAD", "/album/../secret").await,
        404
    );
}

#[tokio::test]
async fn keyed_layout_and_single_file_urls() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data) = single(dir.path(), "movie file.bin", 40_000);
    let source = DirectorySource::new().with("abc123", Arc::clone(&torrent), dir.path());
    let server = Server::start(source, ServerConfig::with_layout(UrlLayout::ByKey)).await;
    // url-list `http://host/abc123/`: the client appends the name.
    let with_slash = file_url(&server.url("/abc123/"), &torrent, 0).unwrap();
    assert!(with_slash.ends_with("/abc123/movie%20file.bin"));
    // url-list `http://host/abc123`: the URL is the file's own.
    let without = file_url(&server.url("/abc123"), &torrent, 0).unwrap();
    for url in [with_slash, without] {
        let answer = get(&url, Some("bytes=39990-")).await;
        assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT, "{url}");
        assert!(answer.body == data[39_990..]);
    }
    assert_eq!(
        raw_status(server.addr, "GET", "/movie%20file.bin").await,
        404
    );
    assert_eq!(raw_status(server.addr, "GET", "/abc123/other").await, 404);
}

#[tokio::test]
async fn a_missing_file_is_404_and_a_wrong_length_500() {
    let album = Album::new();
    let server = Server::by_name(album.source()).await;
    std::fs::remove_file(album.dir.path().join("album/a.bin")).unwrap();
    assert_eq!(raw_status(server.addr, "GET", "/album/a.bin").await, 404);
    std::fs::write(album.dir.path().join("album/sub/b c.txt"), b"short").unwrap();
    assert_eq!(
        raw_status(server.addr, "GET", "/album/sub/b%20c.txt").await,
        500
    );
    assert_eq!(
        raw_status(server.addr, "HEAD", "/album/sub/b%20c.txt").await,
        500
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_streams_in_bounded_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data) = single(dir.path(), "big.bin", 5 * 1024 * 1024 + 77);
    for inline_reads in [false, true] {
        let source = DirectorySource::new().with("big.bin", Arc::clone(&torrent), dir.path());
        let mut config = ServerConfig::default();
        config.chunk_size = 64 * 1024;
        config.inline_reads = inline_reads;
        let server = Server::start(source, config).await;
        streams(&server, &data).await;
    }
}

async fn streams(server: &Server, data: &[u8]) {
    let data = data.to_vec();
    let url = server.url("/big.bin");
    let whole = get(&url, None).await;
    assert_eq!(whole.length, Some(data.len() as u64));
    assert!(whole.body == data);
    let middle = get(&url, Some("bytes=65535-3000000")).await;
    assert_eq!(middle.status, StatusCode::PARTIAL_CONTENT);
    assert!(middle.body == data[65_535..3_000_001]);
    // Many concurrent ranged requests answer the right bytes.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32u64 {
        let (url, data) = (url.clone(), data.clone());
        tasks.spawn(async move {
            let start = (i * 163_841) % (data.len() as u64 - 600_000);
            let end = start + 16_384 * (i + 1);
            let answer = get(&url, Some(&format!("bytes={start}-{}", end - 1))).await;
            assert!(
                answer.body == data[start as usize..end as usize],
                "request {i}"
            );
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}
