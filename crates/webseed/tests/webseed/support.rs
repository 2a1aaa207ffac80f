//! Fixtures: files on disk with their torrent, a web seed server on 127.0.0.1:0, raw requests.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use swarmgate_metainfo::{Torrent, TorrentBuilder};
use swarmgate_webseed::{DirectorySource, ServerConfig, UrlLayout, router, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Deterministic bytes, different for each seed.
pub(crate) fn bytes(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// An album folder: `a.bin` (20,000 bytes), `empty` (0), `sub/b c.txt` (30,000), and its v1
/// torrent with 16 KiB pieces; piece 1 spans a.bin and `sub/b c.txt`.
pub(crate) struct Album {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) torrent: Arc<Torrent>,
    pub(crate) a: Vec<u8>,
    pub(crate) b: Vec<u8>,
}

impl Album {
    pub(crate) fn new() -> Self {
        Self::with(false)
    }

    pub(crate) fn with(hybrid: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let album = dir.path().join("album");
        std::fs::create_dir_all(album.join("sub")).unwrap();
        let (a, b) = (bytes(20_000, 1), bytes(30_000, 2));
        std::fs::write(album.join("a.bin"), &a).unwrap();
        std::fs::write(album.join("empty"), b"").unwrap();
        std::fs::write(album.join("sub/b c.txt"), &b).unwrap();
        let torrent = TorrentBuilder::new(&album)
            .piece_length(16384)
            .hybrid(hybrid)
            .build()
            .unwrap()
            .torrent;
        Self {
            dir,
            torrent: Arc::new(torrent),
            a,
            b,
        }
    }

    /// The album's bytes as the torrent lays them out (pad files as zeros).
    pub(crate) fn torrent_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for file in self.torrent.files() {
            if file.is_pad() {
                out.resize(out.len() + file.length() as usize, 0);
            } else if file.length() > 0 {
                out.extend(std::fs::read(self.dir.path().join(file.path_buf())).unwrap());
            }
        }
        out
    }

    pub(crate) fn source(&self) -> DirectorySource {
        DirectorySource::new().with("album", Arc::clone(&self.torrent), self.dir.path())
    }
}

/// One file `name` of `length` bytes and its v1 torrent.
pub(crate) fn single(dir: &Path, name: &str, length: usize) -> (Arc<Torrent>, Vec<u8>) {
    let data = bytes(length, length as u64);
    std::fs::write(dir.join(name), &data).unwrap();
    let torrent = TorrentBuilder::new(dir.join(name))
        .piece_length(16384)
        .build()
        .unwrap()
        .torrent;
    (Arc::new(torrent), data)
}

/// A server on 127.0.0.1:0, stopped when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Server {
    pub(crate) async fn start(source: DirectorySource, config: ServerConfig) -> Self {
        Self::start_router(router(Arc::new(source), config)).await
    }

    pub(crate) async fn by_name(source: DirectorySource) -> Self {
        Self::start(source, ServerConfig::with_layout(UrlLayout::ByName)).await
    }

    pub(crate) async fn start_router(app: axum::Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Self { addr, _stop: stop }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// The status code of a request sent byte for byte as given (reqwest would normalise `..`).
pub(crate) async fn raw_status(addr: SocketAddr, method: &str, target: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}
