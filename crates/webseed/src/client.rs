//! BEP 19 web seed client: fetch one piece of a torrent from a web seed URL and verify it.
//!
//! [`WebSeed::fetch_piece`] plans the piece across files ([`plan_piece`]), sends one GET with
//! `Range: bytes=a-b` per file, in order, assembles the bytes (pad files stay zeros) and checks
//! the piece's SHA-1 against the torrent. It is one more peer source for the engine: the engine
//! asks it for pieces it wants, and reads [`WebSeedError`] to decide what next.
//!
//! Answers are taken strictly: a 206 must carry exactly the asked range (`Content-Range` and
//! length); a 200 is taken only when the request covers the whole file (as libtorrent does, for
//! servers without range support), since anything else would mean downloading a whole file for
//! a piece of it. A body is never buffered past the length asked for.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE, RETRY_AFTER};
use sha1::{Digest, Sha1};
use swarmgate_core::PieceIndex;
use swarmgate_metainfo::Torrent;

use crate::plan::{FileRequest, plan_piece};
use crate::range::parse_content_range;
use crate::url::file_url;

/// How long one request may take, connect to last byte, with [`WebSeed::new`]'s client.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a piece could not be fetched, shaped by what the caller does next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebSeedError {
    /// The piece index is past the torrent's last piece: a caller bug, nothing to retry.
    #[error("piece {piece} does not exist (the torrent has {count} pieces)")]
    NoSuchPiece {
        /// The index asked for.
        piece: u32,
        /// How many pieces the torrent has.
        count: u32,
    },
    /// The torrent has no v1 piece hashes (v2 only), so a piece cannot be verified here: fetch
    /// it from peers instead.
    #[error("the torrent has no v1 piece hashes to verify against")]
    NoV1Hashes,
    /// The seed could not answer now (connection refused or reset, timeout, a 5xx, 408 or 429,
    /// a body cut short): try this seed again later, after `retry_after` when the server said.
    #[error("{url}: unavailable: {reason}")]
    Unavailable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        reason: String,
        /// The server's `Retry-After`, in seconds form, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The seed cannot serve this torrent (404 or another 4xx, no range support, a wrong
    /// `Content-Range` or length, a URL that is not http or https): give up on this seed.
    #[error("{url}: unusable: {reason}")]
    Unusable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The seed sent the right number of bytes but they fail the piece's SHA-1: count it
    /// against the seed (a seed that keeps doing it serves another version of the files).
    #[error("piece {piece} failed its SHA-1 check")]
    PieceCorrupt {
        /// The piece.
        piece: u32,
    },
}

impl WebSeedError {
    /// Whether asking the same seed again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A BEP 19 web seed of one torrent: fetches verified pieces over HTTP.
///
/// ```no_run
/// use std::sync::Arc;
/// use swarmgate_core::PieceIndex;
/// use swarmgate_metainfo::Torrent;
/// use swarmgate_webseed::WebSeed;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let torrent = Arc::new(Torrent::from_bytes(&std::fs::read("album.torrent")?)?);
/// let seed = WebSeed::new("http://127.0.0.1:8080/", torrent);
/// let piece = seed.fetch_piece(PieceIndex(0)).await?; // verified against the torrent
/// # drop(piece);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct WebSeed {
    url: String,
    torrent: Arc<Torrent>,
    http: reqwest::Client,
    file_urls: Vec<Option<String>>,
}

impl WebSeed {
    /// A web seed at `url` (an entry of the torrent's `url-list`, or any base URL laid out as
    /// BEP 19 says) for `torrent`, with its own HTTP client ([`REQUEST_TIMEOUT`] per request).
    pub fn new(url: impl Into<String>, torrent: Arc<Torrent>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self::with_client(url, torrent, http)
    }

    /// As [`Self::new`], sharing `http` (its connection pool, timeouts and proxy settings).
    pub fn with_client(
        url: impl Into<String>,
        torrent: Arc<Torrent>,
        http: reqwest::Client,
    ) -> Self {
        let url = url.into();
        let file_urls = (0..torrent.files().len())
            .map(|index| file_url(&url, &torrent, index))
            .collect();
        Self {
            url,
            torrent,
            http,
            file_urls,
        }
    }

    /// The web seed's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The torrent it serves.
    pub fn torrent(&self) -> &Arc<Torrent> {
        &self.torrent
    }

    /// Fetches piece `index`, verified against the torrent's SHA-1.
    pub async fn fetch_piece(&self, index: PieceIndex) -> Result<Bytes, WebSeedError> {
        let count = self.torrent.piece_count();
        let plan = plan_piece(self.torrent.layout(), index).ok_or(WebSeedError::NoSuchPiece {
            piece: index.0,
            count,
        })?;
        let expected = self
            .torrent
            .piece_hash(index)
            .ok_or(WebSeedError::NoV1Hashes)?;
        let mut piece = BytesMut::zeroed(plan.length as usize);
        for request in &plan.requests {
            let range = request.piece_range();
            let (Ok(start), Ok(end)) = (usize::try_from(range.start), usize::try_from(range.end))
            else {
                return Err(self.unusable(&self.url, "piece larger than memory"));
            };
            let slot = piece
                .get_mut(start..end)
                .ok_or_else(|| self.unusable(&self.url, "the plan does not fit the piece"))?;
            self.fetch_range(request, slot).await?;
        }
        if Sha1::digest(&piece).as_slice() != expected {
            return Err(WebSeedError::PieceCorrupt { piece: index.0 });
        }
        Ok(piece.freeze())
    }

    /// Fetches `request` into `slot` (exactly `request.length` bytes).
    async fn fetch_range(
        &self,
        request: &FileRequest,
        slot: &mut [u8],
    ) -> Result<(), WebSeedError> {
        let url = self
            .file_urls
            .get(request.file)
            .and_then(Option::as_deref)
            .ok_or_else(|| self.unusable(&self.url, "no URL for a file of the plan"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(self.unusable(url, "not an http or https URL"));
        }
        let file_length = self
            .torrent
            .files()
            .get(request.file)
            .map_or(0, |f| f.length());
        let range = request.file_range();
        let mut response = self
            .http
            .get(url)
            .header(RANGE, format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await
            .map_err(|e| unavailable(url, e, None))?;
        let status = response.status();
        match status {
            StatusCode::PARTIAL_CONTENT => {
                let carried = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|h| parse_content_range(h.as_bytes()));
                match carried {
                    Some((got, total))
                        if got == range && total.is_none_or(|t| t == file_length) => {}
                    _ => return Err(self.unusable(url, "206 without the Content-Range asked for")),
                }
            }
            StatusCode::OK if range.start == 0 && range.end == file_length => {}
            StatusCode::OK => {
                return Err(self.unusable(url, "200 for a range: the server ignores Range"));
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                return Err(unavailable(url, status, retry_after(&response)));
            }
            s if s.is_server_error() => {
                return Err(unavailable(url, status, retry_after(&response)));
            }
            s => return Err(self.unusable(url, s)),
        }
        if response
            .content_length()
            .is_some_and(|n| n != request.length)
        {
            return Err(self.unusable(url, "Content-Length differs from the range asked for"));
        }
        let mut filled = 0usize;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(url, e, None))?
        {
            let end = filled + chunk.len();
            let Some(target) = slot.get_mut(filled..end) else {
                return Err(self.unusable(url, "the body is longer than the range asked for"));
            };
            target.copy_from_slice(&chunk);
            filled = end;
        }
        if filled != slot.len() {
            return Err(unavailable(
                url,
                format!("the body ended after {filled} of {} bytes", slot.len()),
                None,
            ));
        }
        Ok(())
    }

    fn unusable(&self, url: &str, reason: impl std::fmt::Display) -> WebSeedError {
        WebSeedError::Unusable {
            url: url.to_owned(),
            reason: reason.to_string(),
        }
    }
}

fn unavailable(
    url: &str,
    reason: impl std::fmt::Display,
    retry_after: Option<Duration>,
) -> WebSeedError {
    WebSeedError::Unavailable {
        url: url.to_owned(),
        reason: reason.to_string(),
        retry_after,
    }
}

/// `Retry-After` in its seconds form (an HTTP-date is ignored).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let text = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn album() -> (tempfile::TempDir, Arc<Torrent>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("my album")).unwrap();
        std::fs::write(dir.path().join("my album/a b.bin"), vec![1; 20_000]).unwrap();
        std::fs::write(dir.path().join("my album/c.bin"), vec![2; 20_000]).unwrap();
        let built = swarmgate_metainfo::TorrentBuilder::new(dir.path().join("my album"))
            .piece_length(16384)
            .build()
            .unwrap();
        (dir, Arc::new(built.torrent))
    }

    #[test]
    fn file_urls_follow_bep_19() {
        let (_dir, torrent) = album();
        let seed = WebSeed::new("http://127.0.0.1:1/ws", Arc::clone(&torrent));
        assert_eq!(seed.url(), "http://127.0.0.1:1/ws");
        assert_eq!(
            seed.file_urls,
            [
                Some("http://127.0.0.1:1/ws/my%20album/a%20b.bin".to_string()),
                Some("http://127.0.0.1:1/ws/my%20album/c.bin".to_string()),
            ]
        );
        assert!(Arc::ptr_eq(seed.torrent(), &torrent));
    }

    #[test]
    fn only_unavailable_is_retryable() {
        let unavailable = WebSeedError::Unavailable {
            url: "u".into(),
            reason: "r".into(),
            retry_after: None,
        };
        assert!(unavailable.is_retryable());
        for other in [
            WebSeedError::Unusable {
                url: "u".into(),
                reason: "r".into(),
            },
            WebSeedError::PieceCorrupt { piece: 1 },
            WebSeedError::NoV1Hashes,
            WebSeedError::NoSuchPiece { piece: 9, count: 3 },
        ] {
            assert!(!other.is_retryable(), "{other}");
        }
    }
}
