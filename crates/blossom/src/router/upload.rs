//! BUD-02 `PUT /upload`, BUD-06 `HEAD /upload`, and BUD-05 `PUT`/`HEAD /media` (stored as
//! sent: this server does not transcode, which BUD-05 allows).
//!
//! Everything that can be refused from the headers is refused before a body byte is read:
//! a missing `Content-Length` (411: a chunked body cannot be checked against the limit up
//! front), a length over the limit or the quota (413), a malformed `X-SHA-256` (400), the token
//! (401/403). The body's hash is known only at its end; the store checks it against
//! `X-SHA-256` (409 on mismatch) or, without that header, against the token's `x` tags (403),
//! before the blob becomes visible, so nothing unverified stays.

use std::sync::Arc;

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use swarmgate_core::Sha256;

use super::body::Ingest;
use super::{Failure, Shared, State, client_ip, over_quota, sha256_header};
use crate::auth::{AuthError, AuthRequest, Authorization, Verb, XRule};
use crate::descriptor::BlobDescriptor;
use crate::store::{BlobStore, PutBlob, StoreError, Stored};

pub(crate) async fn upload<S: BlobStore>(state: Shared<S>, request: Request) -> Response {
    let required = state.config.auth.upload;
    respond(store(&state.0, Verb::Upload, required, request).await)
}

pub(crate) async fn media<S: BlobStore>(state: Shared<S>, request: Request) -> Response {
    let required = state.config.auth.media;
    respond(store(&state.0, Verb::Media, required, request).await)
}

pub(crate) async fn upload_check<S: BlobStore>(
    state: Shared<S>,
    request: Request,
) -> Result<StatusCode, Failure> {
    let required = state.config.auth.upload;
    check(&state.0, Verb::Upload, required, request).await
}

pub(crate) async fn media_check<S: BlobStore>(
    state: Shared<S>,
    request: Request,
) -> Result<StatusCode, Failure> {
    let required = state.config.auth.media;
    check(&state.0, Verb::Media, required, request).await
}

/// A stored blob as the answer of an upload or a mirror: 201 new, 200 existing, with BUD-08
/// tags.
pub(crate) fn descriptor_response<S>(state: &State<S>, stored: &Stored) -> Response {
    let descriptor = BlobDescriptor::from_blob(&stored.blob, &state.config.public_base)
        .with_nip94(&stored.blob.nip94);
    let status = if stored.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(descriptor)).into_response()
}

fn respond(result: Result<Response, Failure>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A length header as bytes: `None` when absent, 400 when not a number.
fn length(headers: &HeaderMap, name: &str) -> Result<Option<u64>, Failure> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| Failure::new(StatusCode::BAD_REQUEST, format!("invalid {name} header")))
}

fn too_large(max: u64) -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("file too large: the maximum is {max} bytes"),
    )
}

/// The checks an upload and its preflight share, in order: hash header, length, size limit,
/// token, quota. Answers the token and how many bytes the uploader may still store.
async fn admit<S: BlobStore>(
    state: &Arc<State<S>>,
    verb: Verb,
    required: bool,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
    hash: Option<Sha256>,
    size: u64,
) -> Result<(Option<Authorization>, u64), Failure> {
    let max = state.config.max_upload;
    if size > max {
        return Err(too_large(max));
    }
    let ask = AuthRequest {
        verb,
        x: hash.map_or(XRule::Any, XRule::Required),
    };
    let auth = state.authorize(headers, ip, required, true, ask)?;
    let left = state.quota_left(auth.as_ref().map(|a| a.pubkey)).await?;
    if size > left {
        return Err(over_quota(state.config.quota_bytes));
    }
    Ok((auth, left.min(max)))
}

/// BUD-06 / BUD-05 preflight: the verdict on `X-SHA-256`, `X-Content-Length` and the token.
async fn check<S: BlobStore>(
    state: &Arc<State<S>>,
    verb: Verb,
    required: bool,
    request: Request,
) -> Result<StatusCode, Failure> {
    let (parts, _body) = request.into_parts();
    let headers = &parts.headers;
    let hash = sha256_header(headers, "x-sha-256")?
        .ok_or_else(|| Failure::new(StatusCode::BAD_REQUEST, "missing X-SHA-256 header"))?;
    let size = length(headers, "x-content-length")?.ok_or_else(|| {
        Failure::new(
            StatusCode::LENGTH_REQUIRED,
            "missing X-Content-Length header",
        )
    })?;
    let ip = client_ip(&parts.extensions);
    admit(state, verb, required, headers, ip, Some(hash), size).await?;
    Ok(StatusCode::OK)
}

/// `PUT /upload` and `PUT /media`.
async fn store<S: BlobStore>(
    state: &Arc<State<S>>,
    verb: Verb,
    required: bool,
    request: Request,
) -> Result<Response, Failure> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let hash = sha256_header(headers, "x-sha-256")?;
    let size = length(headers, header::CONTENT_LENGTH.as_str())?.ok_or_else(|| {
        Failure::new(StatusCode::LENGTH_REQUIRED, "missing Content-Length header")
    })?;
    let ip = client_ip(&parts.extensions);
    let (auth, max_size) = admit(state, verb, required, headers, ip, hash, size).await?;
    let _slot = state.upload_slot()?;
    let expected_sha256 = match (hash, &auth) {
        (Some(hash), _) => vec![hash],
        (None, Some(auth)) => auth.x.clone(),
        (None, None) => Vec::new(),
    };
    let declared_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let owner = auth.as_ref().map(|auth| auth.pubkey);
    let put = PutBlob {
        declared_type,
        expected_size: Some(size),
        max_size,
        expected_sha256: expected_sha256.clone(),
        owner,
        name_hint: None,
    };
    let idle = state.config.upload_idle_timeout;
    let result = Ingest::start(state, put).pump(body, idle).await;
    let stored = verified(state, result, &expected_sha256, owner.as_ref()).await;
    match stored {
        Err(StoreError::HashMismatch { .. }) if hash.is_none() => Err(AuthError::WrongX.into()),
        Err(StoreError::HashMismatch { actual }) => Err(Failure::new(
            StatusCode::CONFLICT,
            format!("X-SHA-256 does not match the body's sha256 {actual}"),
        )),
        Err(StoreError::TooLarge { .. }) if max_size < state.config.max_upload => {
            Err(over_quota(state.config.quota_bytes))
        }
        Err(error) => Err(error.into()),
        Ok(stored) => Ok(descriptor_response(state, &stored)),
    }
}

/// A store's answer, held to the trait's promise: a blob that is not among the expected hashes
/// is a mismatch, and its new ownership is undone (a store that kept it broke its contract).
pub(crate) async fn verified<S: BlobStore>(
    state: &Arc<State<S>>,
    result: Result<Stored, StoreError>,
    expected: &[Sha256],
    owner: Option<&swarmgate_core::Pubkey>,
) -> Result<Stored, StoreError> {
    let stored = result?;
    let actual = stored.blob.sha256;
    if expected.is_empty() || expected.contains(&actual) {
        return Ok(stored);
    }
    if let Some(owner) = owner.copied().filter(|_| !stored.existed) {
        let _ = state
            .blocking(move |store| store.disown(&actual, &owner))
            .await;
    }
    Err(StoreError::HashMismatch { actual })
}
