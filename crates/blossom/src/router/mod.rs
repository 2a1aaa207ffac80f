//! The axum router of a Blossom server: routes, the shared state, and what every handler
//! shares (answering errors with `X-Reason`, checking tokens through the bad-auth limiter,
//! the per-client request limit and the upload slots of [`limit`](crate::limit), running the
//! blocking store on tokio's blocking threads).
//!
//! Handlers never call the store on the async threads: `stat`, `list` and friends run on
//! `spawn_blocking`, an upload's body is pumped through a bounded channel into a blocking
//! `put` ([`body`]), and a GET is read in `read_chunk` pieces by one blocking task per response.
//! Each BUD has its module: [`get`] (BUD-01), [`upload`] (BUD-02, BUD-05, BUD-06), [`mirror`]
//! (BUD-04), [`list`] (BUD-12), [`report`] (BUD-09); [`cors`] wraps them all.

mod body;
mod cors;
mod get;
mod list;
mod mirror;
mod report;
mod upload;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get as get_route, put};
use swarmgate_core::{Pubkey, Sha256};

use crate::auth::{AuthError, AuthRequest, AuthRules, Authorization, authorize};
use crate::config::BlossomConfig;
use crate::descriptor::PathError;
use crate::limit::{BadAuthLimiter, RequestLimiter, UploadSlot, UploadSlots};
use crate::store::{BlobStore, StoreError};

/// The router of a Blossom server over `store`: `GET`/`HEAD`/`DELETE /<sha256>[.ext]`,
/// `PUT`/`HEAD /upload`, `PUT`/`HEAD /media`, `PUT /mirror`, `GET /list/<pubkey>`,
/// `PUT /report`, `GET /reports` (with [`BlossomConfig::admin_token`]), CORS on every answer.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so the bad-auth limiter
/// counts per client; without it every client shares one count.
pub fn router<S: BlobStore>(store: Arc<S>, config: BlossomConfig) -> Router {
    let state = Arc::new(State {
        rules: config.auth_rules(),
        limiter: BadAuthLimiter::new(config.bad_auth_limit, config.bad_auth_window),
        requests: RequestLimiter::new(config.requests_per_second, Instant::now()),
        uploads: UploadSlots::new(config.max_concurrent_uploads),
        store,
        config,
    });
    Router::new()
        .route("/upload", put(upload::upload).head(upload::upload_check))
        .route("/media", put(upload::media).head(upload::media_check))
        .route("/mirror", put(mirror::mirror))
        .route("/report", put(report::report))
        .route("/reports", get_route(report::reports))
        .route("/list/{pubkey}", get_route(list::list))
        .route(
            "/{blob}",
            get_route(get::blob).head(get::blob).delete(list::delete),
        )
        .fallback(not_found)
        .with_state(Arc::clone(&state))
        .layer(axum::middleware::from_fn_with_state(state, rate_limit))
        .layer(axum::middleware::from_fn(cors::cors))
}

/// What every handler reads.
pub(crate) struct State<S> {
    pub(crate) store: Arc<S>,
    pub(crate) config: BlossomConfig,
    pub(crate) rules: AuthRules,
    pub(crate) limiter: BadAuthLimiter,
    pub(crate) requests: RequestLimiter,
    pub(crate) uploads: UploadSlots,
}

/// The per-client request limit ([`BlossomConfig::requests_per_second`]), inside the CORS
/// layer so that a browser can read the 429. Preflights are not counted.
async fn rate_limit<S: BlobStore>(
    axum::extract::State(state): axum::extract::State<Arc<State<S>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() != axum::http::Method::OPTIONS {
        let ip = client_ip(request.extensions());
        if let Err(wait) = state.requests.check(ip, Instant::now()) {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut failure = Failure::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many requests from your address: retry in {seconds} s"),
            );
            failure.retry_after = Some(seconds.max(1));
            return failure.into_response();
        }
    }
    next.run(request).await
}

pub(crate) type Shared<S> = axum::extract::State<Arc<State<S>>>;

/// An error answer: a status and the `X-Reason` text (also the JSON body's `error`).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) reason: String,
    pub(crate) retry_after: Option<u64>,
}

impl Failure {
    pub(crate) fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Failure {
            status,
            reason: reason.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let reason: String = self
            .reason
            .chars()
            .take(300)
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        let body = serde_json::json!({ "error": reason }).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(value) = HeaderValue::from_str(&reason) {
            headers.insert("x-reason", value);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Self {
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        Failure::new(status, error.to_string())
    }
}

impl From<PathError> for Failure {
    fn from(error: PathError) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, error.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        let status = match &error {
            StoreError::NotFound => StatusCode::NOT_FOUND,
            StoreError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            StoreError::HashMismatch { .. } => StatusCode::CONFLICT,
            StoreError::LengthMismatch { .. } | StoreError::Empty | StoreError::BodyRead(_) => {
                StatusCode::BAD_REQUEST
            }
            StoreError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Full => StatusCode::INSUFFICIENT_STORAGE,
            StoreError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut failure = Failure::new(status, error.to_string());
        if matches!(error, StoreError::Busy) {
            failure.retry_after = Some(1);
        }
        failure
    }
}

/// Unix seconds now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The client address, when the server was started with connect info.
pub(crate) fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

impl<S: BlobStore> State<S> {
    /// Checks the request's token, through the bad-auth limiter. `required`: answer 401 when
    /// there is none; otherwise a request without a token is anonymous (`Ok(None)`). A token
    /// that fails counts against the client; a signer not on the allow-list is refused with
    /// 403 when `restricted`.
    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        ip: Option<IpAddr>,
        required: bool,
        restricted: bool,
        request: AuthRequest,
    ) -> Result<Option<Authorization>, Failure> {
        let header = headers.get(header::AUTHORIZATION);
        if header.is_none() && !required {
            return Ok(None);
        }
        let now = Instant::now();
        if let Some(wait) = self.limiter.blocked(ip, now) {
            let mut failure = Failure::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed authorizations: retry in {} s",
                    wait.as_secs().max(1)
                ),
            );
            failure.retry_after = Some(wait.as_secs().max(1));
            return Err(failure);
        }
        let Some(header) = header else {
            return Err(AuthError::Missing.into());
        };
        let checked = header
            .to_str()
            .map_err(|_| AuthError::Encoding)
            .and_then(|text| authorize(text, &request, unix_now(), &self.rules));
        let auth = checked.inspect_err(|_| self.limiter.fail(ip, now))?;
        if restricted && !self.allowed(&auth.pubkey) {
            return Err(AuthError::NotAllowed.into());
        }
        Ok(Some(auth))
    }

    /// Whether `pubkey` may write (the allow-list, when there is one).
    pub(crate) fn allowed(&self, pubkey: &Pubkey) -> bool {
        self.config
            .allowed_pubkeys
            .as_ref()
            .is_none_or(|allowed| allowed.contains(pubkey))
    }

    /// A slot for one upload or mirror, or the 503 that refuses it.
    pub(crate) fn upload_slot(&self) -> Result<UploadSlot, Failure> {
        self.uploads.try_take().ok_or_else(|| {
            let mut failure = Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "busy: {} uploads are in progress; retry shortly",
                    self.config.max_concurrent_uploads.max(1)
                ),
            );
            failure.retry_after = Some(1);
            failure
        })
    }

    /// Counts one failed admin token against the client.
    pub(crate) fn fail(&self, ip: Option<IpAddr>) {
        self.limiter.fail(ip, Instant::now());
    }

    /// Runs a store call on a blocking thread.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        call: impl FnOnce(&S) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || call(&state.store))
            .await
            .map_err(|e| StoreError::Io(format!("store task failed: {e}")))?
    }

    /// How many bytes `owner` may still upload under the quota (`u64::MAX` without one).
    pub(crate) async fn quota_left(
        self: &Arc<Self>,
        owner: Option<Pubkey>,
    ) -> Result<u64, Failure> {
        let (Some(quota), Some(owner)) = (self.config.quota_bytes, owner) else {
            return Ok(u64::MAX);
        };
        let blobs = self.blocking(move |store| store.list(&owner)).await?;
        let used: u64 = blobs.iter().map(|blob| blob.size).sum();
        Ok(quota.saturating_sub(used))
    }
}

/// The 413 of an upload beyond the owner's quota.
pub(crate) fn over_quota(quota: Option<u64>) -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "quota exceeded: each pubkey may store {} bytes",
            quota.unwrap_or(0)
        ),
    )
}

/// Parses a request header holding a sha256, if present.
pub(crate) fn sha256_header(headers: &HeaderMap, name: &str) -> Result<Option<Sha256>, Failure> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| Sha256::from_hex(text.trim()).ok())
        .map(Some)
        .ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!("invalid {name} header: expected 64 hex characters"),
            )
        })
}

async fn not_found() -> Failure {
    Failure::new(StatusCode::NOT_FOUND, "not found")
}
