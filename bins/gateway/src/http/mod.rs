//! The gateway's HTTP port: one axum server for every service's routes (the API, the tracker's
//! `/announce` and `/scrape`, the BEP 19 web seed, the statistics), behind one set of guards,
//! and the error type every handler answers with.
//!
//! Errors are JSON `{"error": "...", "code": "..."}` with the status that tells the client what
//! to do next: 400 fix the request, 401/403 authorise, 404 no such file, 413 too large, 416 bad
//! range, 429/503 come back after `Retry-After`, 500 our fault.

mod extract;
mod guard;
mod limits;
pub(crate) mod metrics;
mod serve;

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use swarmgate_blobstore::ContentError;
use swarmgate_catalog::CatalogError;
use swarmgate_core::Sha256;
use tokio::sync::Semaphore;

pub(crate) use extract::Page;
pub(crate) use guard::{Guard, HttpCounters, HttpStats, security_layers};
pub(crate) use limits::IpRateLimit;
pub(crate) use serve::{ConnectionGuard, ConnectionLimits, bind, serve};

/// An API error: status, machine-readable code, human message, optional `Retry-After`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
}

impl ApiError {
    /// An error with this status, code and message.
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 for a file.
    pub(crate) fn no_file(sha256: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no file {sha256} is stored here"),
        )
    }

    /// 500, logged.
    pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    }

    /// 429 (or another status) with `Retry-After`.
    pub(crate) fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// 429 after `wait`.
    pub(crate) fn rate_limited(wait: Duration) -> ApiError {
        let seconds = limits::retry_after_seconds(wait);
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from your address: retry in {seconds} s"),
        )
        .retry_after(seconds)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            code: self.code,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Parses a sha256 path segment (64 hex digits, either case).
pub(crate) fn parse_sha256(text: &str) -> Result<Sha256, ApiError> {
    Sha256::from_hex(text).map_err(|_| {
        ApiError::bad_request(
            "invalid_hash",
            format!("{text:?} is not a sha256 (64 hex digits)"),
        )
    })
}

/// Blocking jobs of HTTP handlers queued or running at once, at most: half of tokio's pool of
/// 512 threads, the other half left to the seeder's reads, uploads and Blossom.
pub(crate) const MAX_BLOCKING_JOBS: usize = 256;

/// The handlers' share of the blocking pool ([`MAX_BLOCKING_JOBS`]). One for the process,
/// since the pool it guards is one for the process.
static BLOCKING_JOBS: Semaphore = Semaphore::const_new(MAX_BLOCKING_JOBS);

/// Runs blocking work (SQLite, files) on tokio's blocking pool, or answers 503 `busy` when
/// [`MAX_BLOCKING_JOBS`] are queued or running: the request-time limit answers a slow request
/// but cannot take its job back from the pool's queue, so without this bound the queue would
/// grow with the request rate when the disk or the database falls behind.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let Ok(permit) = BLOCKING_JOBS.try_acquire() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is overloaded: retry shortly",
        )
        .retry_after(1));
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(ApiError::internal)
}

impl From<CatalogError> for ApiError {
    /// The answer to a failed publish, lookup or delete.
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                error.to_string(),
            ),
            CatalogError::Truncated { .. } => ApiError::bad_request("truncated", error.to_string()),
            CatalogError::Idle { .. } => {
                ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", error.to_string())
            }
            CatalogError::Interrupted { .. } => {
                ApiError::bad_request("interrupted", error.to_string())
            }
            CatalogError::Empty => ApiError::bad_request("empty", error.to_string()),
            CatalogError::Busy => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", error.to_string())
                    .retry_after(2)
            }
            CatalogError::DiskFull => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "disk_full",
                error.to_string(),
            ),
            CatalogError::TooManyFiles { .. } => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "too_many_files",
                error.to_string(),
            ),
            CatalogError::HashMismatch { .. } => {
                ApiError::new(StatusCode::CONFLICT, "hash_mismatch", error.to_string())
            }
            CatalogError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
            }
            // A failing disk (EIO, a permission changed behind our back): ours, not the
            // client's; the code tells it apart from a bug so that an operator looks at the disk.
            // The detail (a path on the server) goes to the log, not to the client.
            CatalogError::Content(ContentError::Io { .. }) => {
                tracing::error!(%error, "storing an upload failed on the disk");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "io_error",
                    "the server's disk failed while storing the upload: nothing was kept; \
                     retry later",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

/// The fallback of the whole port.
pub(crate) async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_jobs_past_the_cap_are_answered_503_then_admitted_again() {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(std::sync::Mutex::new(hold));
        let mut jobs = Vec::new();
        for _ in 0..MAX_BLOCKING_JOBS {
            let hold = Arc::clone(&hold);
            jobs.push(tokio::spawn(blocking(move || {
                let _ = hold.lock().unwrap().recv();
            })));
        }
        // Every permit is taken once each job has been spawned.
        for _ in 0..100 {
            if BLOCKING_JOBS.available_permits() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let refused = blocking(|| ()).await.expect_err("over the cap");
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.code, "busy");
        assert_eq!(refused.retry_after, Some(1));
        for _ in 0..MAX_BLOCKING_JOBS {
            release.send(()).unwrap();
        }
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(blocking(|| 7).await.unwrap(), 7);
    }

    #[test]
    fn sha256_segments_are_64_hex_digits() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_sha256(&hex).unwrap(), Sha256([0xab; 32]));
        assert_eq!(
            parse_sha256(&hex.to_uppercase()).unwrap(),
            Sha256([0xab; 32])
        );
        assert!(parse_sha256("abc").is_err());
        assert!(parse_sha256(&"zz".repeat(32)).is_err());
        assert!(parse_sha256(&"é".repeat(32)).is_err());
    }

    #[test]
    fn catalog_errors_answer_what_the_client_can_do() {
        let status = |error| ApiError::from(error).status;
        assert_eq!(
            status(CatalogError::TooLarge { limit: 1 }),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            status(CatalogError::Idle {
                idle: Duration::from_secs(1)
            }),
            StatusCode::REQUEST_TIMEOUT
        );
        assert_eq!(status(CatalogError::Busy), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(CatalogError::Empty), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(CatalogError::DiskFull),
            StatusCode::INSUFFICIENT_STORAGE
        );
        let failing = CatalogError::Content(ContentError::Io {
            path: "/data/tmp/x".into(),
            source: std::io::Error::from_raw_os_error(5),
        });
        let answer = ApiError::from(failing);
        assert_eq!(
            (answer.status, answer.code),
            (StatusCode::INTERNAL_SERVER_ERROR, "io_error")
        );
    }
}
