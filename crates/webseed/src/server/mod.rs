//! BEP 19 web seed server: an axum router that answers GET and HEAD for a torrent's files with
//! exact byte ranges, reading through a [`WebSeedSource`].
//!
//! Each request is resolved from its raw path (never a decoded one, so an encoded slash stays
//! visible): the path is decoded and checked by [`decode_path`], the source names the torrent
//! ([`UrlLayout`] says which segment is the key), and the rest must be exactly the path of one
//! file of that torrent; anything else is 404. Then:
//!
//! - `If-None-Match` matching the file's strong ETag (`"<info-hash hex>-<file index>"`, fixed by
//!   the torrent, whose piece hashes fix the bytes) is 304, before any read.
//! - `Range` is answered as [`parse_range`] decides: 206 with `Content-Range`, 416 with
//!   `Content-Range: bytes */LEN`, or 200 with the whole file. `If-Range` with another tag
//!   turns a range request into a 200. Every answer carries `Accept-Ranges: bytes`.
//! - Bytes are read in chunks of [`ServerConfig::chunk_size`] (1 MiB by default) on tokio's
//!   blocking pool, one chunk ahead of the socket, so a 1 GiB answer holds two chunks of memory
//!   at most and disk reads never stall the async workers (with
//!   [`ServerConfig::inline_reads`], the open and the first chunk are on the async worker).
//!
//! Sources return [`Bytes`], so a source with a piece cache can hand out cached pieces without a
//! copy, and one over memory-mapped files hands out the page cache itself.

mod body;
mod disk;

use std::future::Future;
use std::io;
use std::ops::Range;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use swarmgate_metainfo::Torrent;
use tokio::net::TcpListener;

use crate::range::{
    RangeRequest, content_range, if_none_match, if_range, parse_range, unsatisfied_range,
};
use crate::url::{decode_path, find_file};
use body::FileBody;
pub use disk::{DirectorySource, DiskFile};

/// Where a web seed server finds the torrents it serves. Implement it over any store: the
/// gateway over its content store and piece cache, `swarm webseed` over files on disk
/// ([`DirectorySource`]).
///
/// [`Self::torrent`] is called on the async workers and must not block; [`Self::open`] and
/// [`WebSeedFile::read`] are called on tokio's blocking pool and may.
pub trait WebSeedSource: Send + Sync + 'static {
    /// An open file of a torrent, read in chunks while one answer is sent.
    type File: WebSeedFile;

    /// The torrent that the key segment of a request names (see [`UrlLayout`]); `None` is 404.
    fn torrent(&self, key: &str) -> Option<Arc<Torrent>>;

    /// Opens file `index` of `torrent` (an index of [`Torrent::files`], never a pad file).
    /// `Ok(None)` or an error of kind `NotFound` is a 404; any other error a 500.
    fn open(&self, torrent: &Torrent, index: usize) -> io::Result<Option<Self::File>>;
}

/// One open file of a [`WebSeedSource`].
pub trait WebSeedFile: Send + Sync + 'static {
    /// The file's length in bytes. A length other than the torrent's is answered with 500: the
    /// source does not hold the torrent's data.
    fn len(&self) -> u64;

    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Exactly `length` bytes from `offset` (the caller keeps within [`Self::len`]).
    fn read(&self, offset: u64, length: usize) -> io::Result<Bytes>;

    /// The file's media type for `Content-Type`, when the source knows it; `None` (the
    /// default) answers `application/octet-stream`, what BitTorrent clients expect anyway.
    fn content_type(&self) -> Option<&str> {
        None
    }
}

/// Which segment of a request path names the torrent for [`WebSeedSource::torrent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlLayout {
    /// `url-list` is `http://host/prefix/`: requests are `/NAME` or `/NAME/PATH...` (BEP 19),
    /// and the key is the torrent's name. For a runner serving a few torrents of distinct names.
    #[default]
    ByName,
    /// `url-list` is `http://host/prefix/KEY/` (or `.../KEY` for a single-file torrent):
    /// requests are `/KEY/NAME[/PATH...]` (or `/KEY`), and the key is whatever the source chose
    /// (a sha256, an info-hash). For a gateway serving many torrents whose names may clash.
    ByKey,
}

/// How the server reads and resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Which segment names the torrent.
    pub layout: UrlLayout,
    /// Bytes read per chunk (and per blocking-pool call). Default 1 MiB.
    pub chunk_size: usize,
    /// Open the file and read the first chunk on the async worker itself rather than on tokio's
    /// blocking pool, as nginx reads without `aio threads` (later chunks still come from the
    /// pool, read ahead). It saves a thread hand-off per answer, about a third of the CPU time
    /// of a 16-256 KiB answer, and is the faster choice when the files sit in the page cache or
    /// on a fast local disk; on a slow or cold disk that read stalls every answer the worker
    /// carries. Default off.
    pub inline_reads: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            layout: UrlLayout::ByName,
            chunk_size: 1 << 20,
            inline_reads: false,
        }
    }
}

impl ServerConfig {
    /// The default configuration with `layout`.
    pub fn with_layout(layout: UrlLayout) -> Self {
        Self {
            layout,
            ..Self::default()
        }
    }
}

struct Shared<S> {
    source: Arc<S>,
    config: ServerConfig,
}

/// The web seed router over `source`: mount it with `Router::nest("/prefix", ..)` or serve it
/// at the root. GET and HEAD answer; other methods get 405.
pub fn router<S: WebSeedSource>(source: Arc<S>, config: ServerConfig) -> Router {
    let config = ServerConfig {
        chunk_size: config.chunk_size.max(1),
        ..config
    };
    let shared = Arc::new(Shared { source, config });
    Router::new()
        .route("/", axum::routing::get(handle::<S>))
        .route("/{*path}", axum::routing::get(handle::<S>))
        .with_state(shared)
}

/// Serves `router` on `listener` (TCP_NODELAY on every connection) until `shutdown` resolves,
/// then lets answers in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|stream| {
        // Without it a small answer may wait for a delayed ACK; failing to set it is harmless.
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn handle<S: WebSeedSource>(
    State(shared): State<Arc<Shared<S>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some((torrent, index)) = resolve(&shared, uri.path()) else {
        return status(StatusCode::NOT_FOUND, "no such file");
    };
    let Some(entry) = torrent.files().get(index) else {
        return status(StatusCode::NOT_FOUND, "no such file");
    };
    let length = entry.length();
    let etag = format!("\"{}-{index}\"", torrent.info_hash().wire().to_hex());
    let mut base = Response::builder()
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, &etag);

    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|h| if_none_match(h.as_bytes(), &etag))
    {
        return finish(base.status(StatusCode::NOT_MODIFIED), Body::empty());
    }
    let range_applies = headers
        .get(header::IF_RANGE)
        .is_none_or(|h| if_range(h.as_bytes(), &etag));
    let request = match headers.get(header::RANGE) {
        Some(value) if range_applies => parse_range(value.as_bytes(), length),
        _ => RangeRequest::Whole,
    };
    let (code, bytes) = match request {
        RangeRequest::Unsatisfiable => {
            return finish(
                base.status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, unsatisfied_range(length)),
                Body::empty(),
            );
        }
        RangeRequest::Whole => (StatusCode::OK, 0..length),
        RangeRequest::Partial(range) => {
            base = base.header(header::CONTENT_RANGE, content_range(&range, length));
            (StatusCode::PARTIAL_CONTENT, range)
        }
    };
    base = base
        .status(code)
        .header(header::CONTENT_LENGTH, bytes.end - bytes.start);

    let first = if method == Method::HEAD {
        0
    } else {
        (bytes.end - bytes.start).min(shared.config.chunk_size as u64)
    };
    let inline = shared.config.inline_reads;
    let opened = if inline {
        open(&*shared.source, &torrent, index, length, first, bytes.start)
    } else {
        let source = Arc::clone(&shared.source);
        tokio::task::spawn_blocking(move || {
            open(&*source, &torrent, index, length, first, bytes.start)
        })
        .await
        .unwrap_or_else(|join| Err(io::Error::other(join)))
    };
    let (file, head) = match opened {
        Ok(Some(opened)) => opened,
        Ok(None) => return status(StatusCode::NOT_FOUND, "no such file"),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return status(StatusCode::NOT_FOUND, "no such file");
        }
        Err(_) => return status(StatusCode::INTERNAL_SERVER_ERROR, "the file cannot be read"),
    };
    let media_type = file
        .content_type()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    base = base.header(header::CONTENT_TYPE, media_type);
    if method == Method::HEAD {
        return finish(base, Body::empty());
    }
    let rest = bytes.start + first..bytes.end;
    let body = if rest.is_empty() {
        Body::from(head)
    } else {
        Body::new(FileBody::new(
            Arc::new(file),
            head,
            rest,
            shared.config.chunk_size,
        ))
    };
    finish(base, body)
}

/// The torrent and file index a raw request path names.
fn resolve<S: WebSeedSource>(shared: &Shared<S>, path: &str) -> Option<(Arc<Torrent>, usize)> {
    let segments = decode_path(path).ok()?;
    let key = segments.first()?;
    let torrent = shared.source.torrent(key)?;
    let file_path = match shared.config.layout {
        UrlLayout::ByName => &segments[..],
        UrlLayout::ByKey => &segments[1..],
    };
    let index = find_file(&torrent, file_path)?;
    Some((torrent, index))
}

/// Opens the file, checks its length, and reads the first `first` bytes from `offset`.
fn open<S: WebSeedSource>(
    source: &S,
    torrent: &Torrent,
    index: usize,
    length: u64,
    first: u64,
    offset: u64,
) -> io::Result<Option<(S::File, Bytes)>> {
    let Some(file) = source.open(torrent, index)? else {
        return Ok(None);
    };
    if file.len() != length {
        return Err(io::Error::other(format!(
            "file {index} holds {} bytes, the torrent says {length}",
            file.len()
        )));
    }
    let head = if first == 0 {
        Bytes::new()
    } else {
        read_checked(&file, offset..offset + first)?
    };
    Ok(Some((file, head)))
}

/// Reads `range` and checks the source kept its promise of exactly that many bytes.
pub(crate) fn read_checked<F: WebSeedFile>(file: &F, range: Range<u64>) -> io::Result<Bytes> {
    let wanted = usize::try_from(range.end - range.start).map_err(io::Error::other)?;
    let bytes = file.read(range.start, wanted)?;
    if bytes.len() != wanted {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("read {} bytes of {wanted}", bytes.len()),
        ));
    }
    Ok(bytes)
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        text,
    )
        .into_response()
}

fn finish(builder: axum::http::response::Builder, body: Body) -> Response {
    builder.body(body).unwrap_or_else(|_| {
        status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answer could not be built",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that promises `len` bytes and returns fewer.
    struct Short(u64);

    impl WebSeedFile for Short {
        fn len(&self) -> u64 {
            self.0
        }

        fn read(&self, _offset: u64, length: usize) -> io::Result<Bytes> {
            Ok(Bytes::from(vec![0; length / 2]))
        }
    }

    #[test]
    fn a_short_read_is_an_error_not_a_short_answer() {
        let error = read_checked(&Short(100), 0..10).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(read_checked(&Short(100), 5..5).unwrap().is_empty());
        assert!(!Short(1).is_empty() && Short(0).is_empty());
    }

    #[test]
    fn config_defaults() {
        let config = ServerConfig::default();
        assert_eq!(config.layout, UrlLayout::ByName);
        assert_eq!(config.chunk_size, 1 << 20);
        assert!(!config.inline_reads);
        assert_eq!(
            ServerConfig::with_layout(UrlLayout::ByKey).layout,
            UrlLayout::ByKey
        );
    }
}
