//! A Blossom server on loopback over a store, tokens signed on the spot, and a raw HTTP/1.1
//! request for what reqwest will not send.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nostr::{EventBuilder, JsonUtil, Keys, Kind, Tag, Timestamp};
use swarmgate_blossom::{BlobStore, BlossomConfig, MemoryBlobStore, router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running server; stops when dropped.
pub(crate) struct Server<S = MemoryBlobStore> {
    pub(crate) base: String,
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<S>,
    task: tokio::task::JoinHandle<()>,
}

impl<S> Drop for Server<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<S> Server<S> {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Serves `router(store, config)` on 127.0.0.1:0, `configure` applied to the defaults.
pub(crate) async fn serve_store<S: BlobStore>(
    store: Arc<S>,
    configure: impl FnOnce(&mut BlossomConfig),
) -> Server<S> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let mut config = BlossomConfig::new(base.clone());
    configure(&mut config);
    let app = router(Arc::clone(&store), config);
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await.unwrap();
    });
    Server {
        base,
        addr,
        store,
        task,
    }
}

pub(crate) async fn serve(configure: impl FnOnce(&mut BlossomConfig)) -> Server {
    serve_store(Arc::new(MemoryBlobStore::new()), configure).await
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) use swarmgate_blossom::TokenEncoding as Encoding;

/// A kind `kind` event made with `keys`, `created_at` = now + `created`, tags as given.
pub(crate) fn event_json(
    keys: &Keys,
    kind: u16,
    created: i64,
    content: &str,
    tags: &[Vec<String>],
) -> String {
    let tags = tags
        .iter()
        .map(|tag| Tag::parse(tag.iter().map(String::as_str)).unwrap());
    let created_at = now().checked_add_signed(created).unwrap();
    EventBuilder::new(Kind::Custom(kind), content)
        .tags(tags)
        .custom_created_at(Timestamp::from(created_at))
        .sign_with_keys(keys)
        .unwrap()
        .as_json()
}

pub(crate) fn header(json: &str, encoding: Encoding) -> String {
    swarmgate_blossom::authorization_header(json, encoding)
}

pub(crate) fn tag(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// A valid kind 24242 token for `verb` (expiring in a minute) with these `x` tags.
pub(crate) fn token(keys: &Keys, verb: &str, x: &[&str]) -> String {
    let expiration = (now() + 60).to_string();
    let mut tags = vec![tag(&["t", verb]), tag(&["expiration", &expiration])];
    tags.extend(x.iter().map(|x| tag(&["x", x])));
    header(
        &event_json(keys, 24242, 0, "test", &tags),
        Encoding::UrlSafe,
    )
}

/// Sends raw bytes on a fresh connection and reads the answer's status code.
pub(crate) async fn raw_status(addr: SocketAddr, request: &[u8]) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

/// The `X-Reason` of an answer (panics when there is none).
pub(crate) fn reason(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-reason")
        .unwrap_or_else(|| panic!("no X-Reason on {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Asserts the CORS header every answer carries.
pub(crate) fn assert_cors(response: &reqwest::Response) {
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("*"),
        "no CORS on {}",
        response.status()
    );
}
