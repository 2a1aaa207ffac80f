//! `POST /api/upload`: a multipart `file` field or a raw body (name in `X-Filename`), streamed
//! into the content store while it is hashed, never held in memory whole.
//!
//! The body is pumped here, on the async side, into a small bounded channel; the ingest runs on
//! a blocking thread and reads the channel as a `Read`. So a slow disk slows the client down
//! (TCP back-pressure) rather than filling memory, and a client that stops sending for
//! `request_timeout` or disconnects ends the ingest with an error, which leaves nothing behind.
//! The answer is sent only after the file's metadata is committed: an acknowledged upload is
//! kept.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::body::BodyDataStream;
use axum::extract::multipart::Field;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use swarmgate_blobstore::{ContentError, IngestOptions, Layout, MetaError};
use tokio::sync::mpsc;

use super::{ApiError, blocking};
use crate::catalog::{CatalogError, Entry, Published};
use crate::metrics::add;
use crate::state::Shared;

/// Fields of a multipart upload other than `file` are skipped, up to this many bytes in all.
const MAX_SKIPPED: usize = 1 << 20;

/// What an upload answers (201 for a new file, 200 for one already stored).
#[derive(Debug, Serialize)]
pub(super) struct FileAnswer {
    /// The file's SHA-256, hex: its address.
    pub sha256: String,
    /// Its name in the torrent.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Its media type, as uploaded.
    pub mime: String,
    /// `blob` or `chunked`.
    pub storage: &'static str,
    /// Unix seconds of the first upload.
    pub created: u64,
    /// The torrent's v1 info-hash, hex.
    pub info_hash: String,
    /// The magnet link.
    pub magnet: String,
    /// The .torrent.
    pub torrent_url: String,
    /// The BEP 19 web seed URL.
    pub webseed_url: String,
    /// The HTTP download URL.
    pub download_url: String,
}

impl FileAnswer {
    /// The answer for a stored file.
    pub(super) fn of(state: &Shared, entry: &Entry) -> FileAnswer {
        let file = &entry.file;
        FileAnswer {
            sha256: file.sha256.to_hex(),
            name: file.name.clone(),
            size: file.size,
            mime: file.mime.clone(),
            storage: match file.layout {
                Layout::Blob => "blob",
                Layout::Chunked { .. } => "chunked",
            },
            created: file.created,
            info_hash: entry.info_hash.to_string(),
            magnet: state
                .links
                .magnet(&file.sha256, entry.info_hash, &file.name),
            torrent_url: state.links.torrent(&file.sha256),
            webseed_url: state.links.webseed(&file.sha256),
            download_url: state.links.download(&file.sha256),
        }
    }
}

/// The handler.
pub(super) async fn upload(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<(StatusCode, Json<FileAnswer>), ApiError> {
    let result = accept(&state, peer, request).await;
    match &result {
        Ok(published) if published.existing => add(&state.metrics.duplicate_uploads, 1),
        Ok(published) => {
            add(&state.metrics.uploads, 1);
            add(&state.metrics.upload_bytes, published.entry.file.size);
        }
        Err(_) => add(&state.metrics.failed_uploads, 1),
    }
    let published = result?;
    if !published.existing {
        crate::serving::serve(&state, &published.entry);
    }
    let status = if published.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(FileAnswer::of(&state, &published.entry))))
}

async fn accept(state: &Shared, peer: SocketAddr, request: Request) -> Result<Published, ApiError> {
    if let Err(wait) = state.limits.upload(peer.ip()) {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::rate_limited(wait));
    }
    let Ok(_permit) = state.uploads.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many uploads in progress: retry shortly",
        )
        .retry_after(5));
    };
    let max = state.config.max_upload_size;
    let declared = content_length(request.headers());
    if declared.is_some_and(|length| length > max) {
        return Err(too_large(max));
    }
    let idle = state.config.request_timeout;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if is_multipart {
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request("bad_multipart", e.body_text()))?;
        let mut skipped = 0usize;
        loop {
            let field = next(idle, multipart.next_field()).await?.ok_or_else(|| {
                ApiError::bad_request("no_file", "the multipart body has no `file` field")
            })?;
            if field.name() != Some("file") {
                let mut field = field;
                while let Some(chunk) = next(idle, field.chunk()).await? {
                    skipped += chunk.len();
                    if skipped > MAX_SKIPPED {
                        return Err(ApiError::bad_request(
                            "bad_multipart",
                            "fields other than `file` are too large",
                        ));
                    }
                }
                continue;
            }
            let name = field.file_name().unwrap_or("").to_owned();
            let mime = mime_or_default(field.content_type());
            let options = IngestOptions {
                max_size: max,
                ..IngestOptions::default()
            };
            let body = Body::Field(Box::new(field));
            return ingest(state, body, idle, name, mime, options).await;
        }
    }
    let headers = request.headers().clone();
    let name = headers
        .get("x-filename")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    let mime = mime_or_default(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let options = IngestOptions {
        max_size: max,
        expected_size: declared,
        ..IngestOptions::default()
    };
    let body = Body::Raw(request.into_body().into_data_stream());
    ingest(state, body, idle, name, mime, options).await
}

/// The bytes of an upload: a multipart field or a raw body.
enum Body<'a> {
    Field(Box<Field<'a>>),
    Raw(BodyDataStream),
}

impl Body<'_> {
    /// The next chunk, `None` at the end, or why the body broke off.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        match self {
            Body::Field(field) => field.chunk().await.map_err(|e| e.body_text()),
            Body::Raw(stream) => match stream.next().await {
                None => Ok(None),
                Some(Ok(bytes)) => Ok(Some(bytes)),
                Some(Err(e)) => Err(e.to_string()),
            },
        }
    }
}

/// Awaits one multipart step under the idle limit.
async fn next<T>(
    idle: Duration,
    step: impl Future<Output = Result<T, axum::extract::multipart::MultipartError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(idle, step).await {
        Err(_) => Err(idle_error(idle)),
        Ok(Err(e)) => Err(ApiError::bad_request("bad_multipart", e.body_text())),
        Ok(Ok(value)) => Ok(value),
    }
}

/// Pumps `body` into a blocking ingest and waits for its result.
async fn ingest(
    state: &Shared,
    mut body: Body<'_>,
    idle: Duration,
    name: String,
    mime: String,
    options: IngestOptions,
) -> Result<Published, ApiError> {
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(16);
    let catalog = state.catalog.clone();
    let links = state.links.clone();
    let max = options.max_size;
    let work = blocking(move || {
        let mut reader = ChannelReader::new(receiver);
        catalog.publish(&mut reader, &name, &mime, &options, &links)
    });
    let pump = async move {
        loop {
            let chunk = match tokio::time::timeout(idle, body.next_chunk()).await {
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "upload idle")),
                Ok(Err(reason)) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, reason)),
                // The end of the body, said out loud: a channel that merely closes (this
                // future dropped at shutdown) is a cut-off upload, never a complete one.
                Ok(Ok(None)) => Ok(Bytes::new()),
                Ok(Ok(Some(bytes))) if bytes.is_empty() => continue,
                Ok(Ok(Some(bytes))) => Ok(bytes),
            };
            let last = chunk.as_ref().map_or(true, Bytes::is_empty);
            // A closed channel means the ingest already stopped (with its own error).
            if sender.send(chunk).await.is_err() || last {
                break;
            }
        }
    };
    let (result, ()) = tokio::join!(work, pump);
    result?.map_err(|error| upload_error(error, max, idle))
}

fn upload_error(error: CatalogError, max: u64, idle: Duration) -> ApiError {
    match error {
        CatalogError::Content(ContentError::TooLarge { .. }) => too_large(max),
        CatalogError::Content(ContentError::SizeMismatch { expected, actual }) => {
            ApiError::bad_request(
                "truncated",
                format!("the upload ended after {actual} of the {expected} bytes it announced"),
            )
        }
        CatalogError::Content(ContentError::Read { source }) => {
            if source.kind() == io::ErrorKind::TimedOut {
                idle_error(idle)
            } else if source.kind() == io::ErrorKind::UnexpectedEof {
                // The body broke off before its end (hyper's "error reading a body from
                // connection" when the client closes short of its Content-Length).
                ApiError::bad_request(
                    "truncated",
                    format!("the upload ended before its end: {source}"),
                )
            } else {
                ApiError::bad_request("interrupted", format!("the upload broke off: {source}"))
            }
        }
        CatalogError::Empty => ApiError::bad_request("empty", CatalogError::Empty.to_string()),
        CatalogError::Meta(MetaError::Pool(_)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the database is busy: retry shortly",
        )
        .retry_after(2),
        other => ApiError::internal(other),
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("uploads are limited to {max} bytes"),
    )
}

fn idle_error(idle: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "timeout",
        format!("the upload sent nothing for {} s", idle.as_secs()),
    )
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The uploaded media type, or `application/octet-stream`. curl's `--data-binary` labels every
/// body `application/x-www-form-urlencoded`, which is never what a raw upload holds.
fn mime_or_default(mime: Option<&str>) -> String {
    match mime.map(str::trim) {
        Some(mime) if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") => {
            "application/octet-stream".to_owned()
        }
        Some(mime) if !mime.is_empty() && mime.len() <= 255 && mime.is_ascii() => mime.to_owned(),
        _ => "application/octet-stream".to_owned(),
    }
}

/// `%XX` sequences decoded (as UTF-8, lossy); anything else kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The ingest's view of the body: chunks from the channel. An empty chunk is the body's end;
/// an error chunk, or a channel closed before the end, is a failed upload.
struct ChannelReader {
    receiver: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    ended: bool,
}

impl ChannelReader {
    fn new(receiver: mpsc::Receiver<io::Result<Bytes>>) -> ChannelReader {
        ChannelReader {
            receiver,
            current: Bytes::new(),
            ended: false,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.receiver.blocking_recv() {
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upload was cut off before its end",
                    ));
                }
                Some(Err(error)) => return Err(error),
                Some(Ok(bytes)) if bytes.is_empty() => self.ended = true,
                Some(Ok(bytes)) => self.current = bytes,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%20b.txt"), "a b.txt");
        assert_eq!(percent_decode("%E2%82%AC.bin"), "€.bin");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn the_channel_reader_ends_at_the_channel_end_and_fails_on_an_error_chunk() {
        let (sender, receiver) = mpsc::channel(4);
        sender.try_send(Ok(Bytes::from_static(b"hello "))).unwrap();
        sender.try_send(Ok(Bytes::from_static(b"world"))).unwrap();
        sender.try_send(Ok(Bytes::new())).unwrap();
        drop(sender);
        let mut reader = ChannelReader::new(receiver);
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");

        // Closed without the end marker (the request was dropped): an error, not an end.
        let (sender, receiver) = mpsc::channel(4);
        sender.try_send(Ok(Bytes::from_static(b"half"))).unwrap();
        drop(sender);
        let mut reader = ChannelReader::new(receiver);
        let mut out = Vec::new();
        assert_eq!(
            reader.read_to_end(&mut out).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );

        let (sender, receiver) = mpsc::channel(4);
        sender.try_send(Ok(Bytes::from_static(b"abc"))).unwrap();
        sender
            .try_send(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut")))
            .unwrap();
        let mut reader = ChannelReader::new(receiver);
        let mut out = Vec::new();
        assert_eq!(
            reader.read_to_end(&mut out).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert_eq!(out, b"abc");
    }

    #[test]
    fn media_types_fall_back_to_octet_stream() {
        assert_eq!(mime_or_default(Some("video/mp4")), "video/mp4");
        assert_eq!(mime_or_default(Some("  ")), "application/octet-stream");
        assert_eq!(mime_or_default(None), "application/octet-stream");
        assert_eq!(
            mime_or_default(Some("application/x-www-form-urlencoded")),
            "application/octet-stream"
        );
    }
}
