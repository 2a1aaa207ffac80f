//! BUD-04 `PUT /mirror`: fetch a blob from another server, verify it against the token's `x`
//! tags, store it.
//!
//! A mirror makes this server fetch a URL a client chose, so it is a server-side request
//! forgery waiting to happen. The guard: only `http`/`https`; the host is resolved here and
//! every address checked ([`forbidden`]: loopback, private, link-local, unspecified, multicast,
//! shared and mapped forms) unless `mirror_allow_private`; the connection is pinned to the
//! checked address (no second lookup a rebinding DNS could answer differently); redirects are
//! not followed by the client but here, each target checked the same way, at most
//! `mirror_max_redirects`. The transfer is bounded by the upload limit (and the quota) and the
//! whole mirror by `mirror_timeout`. A blob already here under one of the `x` tags answers 200
//! without any fetch (conformance suites mirror from the server under test itself).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use http_body_util::BodyExt;
use reqwest::Url;

use super::body::Ingest;
use super::upload::{descriptor_response, verified};
use super::{Failure, Shared, State, client_ip, over_quota};
use crate::auth::{AuthRequest, Verb, XRule};
use crate::store::{BlobStore, PutBlob, StoreError, Stored};

/// The largest `PUT /mirror` body.
const MAX_REQUEST_LEN: usize = 16 * 1024;

/// Whether a mirror may not connect to `ip` (unless private targets are allowed).
pub(crate) fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped().or_else(|| v6.to_ipv4()) {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_multicast()
        || v4.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

fn bad_gateway(reason: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_GATEWAY, reason)
}

pub(crate) async fn mirror<S: BlobStore>(
    state: Shared<S>,
    request: Request,
) -> Result<Response, Failure> {
    let state = state.0;
    let ip = client_ip(request.extensions());
    let (parts, body) = request.into_parts();
    let required = state.config.auth.mirror;
    let ask = AuthRequest {
        verb: Verb::Upload,
        x: XRule::Any,
    };
    let auth = state.authorize(&parts.headers, ip, required, true, ask)?;
    let url = parse_request(body).await?;
    let owner = auth.as_ref().map(|auth| auth.pubkey);
    let expected = auth.map(|auth| auth.x).unwrap_or_default();
    for &sha256 in &expected {
        let found = state
            .blocking(move |store| match owner {
                Some(owner) => match store.add_owner(&sha256, &owner) {
                    Ok(blob) => Ok(Some(blob)),
                    Err(StoreError::NotFound) => Ok(None),
                    Err(error) => Err(error),
                },
                None => store.stat(&sha256),
            })
            .await?;
        if let Some(blob) = found {
            let stored = Stored {
                blob,
                existed: true,
            };
            return Ok(descriptor_response(&state, &stored));
        }
    }
    let _slot = state.upload_slot()?;
    let left = state.quota_left(owner).await?;
    let max_size = left.min(state.config.max_upload);
    let fetch = fetch(&state, url, max_size, owner, expected.clone());
    let result = tokio::time::timeout(state.config.mirror_timeout, fetch)
        .await
        .map_err(|_| bad_gateway("the origin timed out"))??;
    match verified(&state, result, &expected, owner.as_ref()).await {
        Ok(stored) => Ok(descriptor_response(&state, &stored)),
        Err(StoreError::HashMismatch { actual }) => Err(Failure::new(
            StatusCode::CONFLICT,
            format!("the mirrored blob hashes to {actual}, not to the authorization's x tag"),
        )),
        Err(StoreError::TooLarge { .. }) if left < state.config.max_upload => {
            Err(over_quota(state.config.quota_bytes))
        }
        Err(StoreError::BodyRead(error)) => {
            Err(bad_gateway(format!("the origin broke off: {error}")))
        }
        Err(error) => Err(error.into()),
    }
}

/// The URL of a `{"url": ...}` body.
async fn parse_request(body: axum::body::Body) -> Result<Url, Failure> {
    let bad = |reason: String| Failure::new(StatusCode::BAD_REQUEST, reason);
    let bytes = http_body_util::Limited::new(body, MAX_REQUEST_LEN)
        .collect()
        .await
        .map_err(|e| bad(format!("unreadable mirror request: {e}")))?
        .to_bytes();
    #[derive(serde::Deserialize)]
    struct MirrorRequest {
        url: String,
    }
    let request: MirrorRequest = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("expected {{\"url\": ...}}: {e}")))?;
    let url = Url::parse(&request.url).map_err(|e| bad(format!("invalid url: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            "the mirror url must be http or https with a host".into()
        ));
    }
    Ok(url)
}

/// Resolves the URL's host and picks an address the guard allows.
async fn resolve(url: &Url, allow_private: bool) -> Result<SocketAddr, Failure> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| bad_gateway(format!("cannot resolve the origin {host}: {e}")))?
            .collect(),
    };
    if !allow_private && addrs.iter().any(|addr| forbidden(addr.ip())) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("refusing to mirror from {host}: it resolves to a private or local address"),
        ));
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| bad_gateway(format!("the origin {host} has no address")))
}

/// Fetches `url` (following checked redirects) into the store.
async fn fetch<S: BlobStore>(
    state: &Arc<State<S>>,
    mut url: Url,
    max_size: u64,
    owner: Option<swarmgate_core::Pubkey>,
    expected_sha256: Vec<swarmgate_core::Sha256>,
) -> Result<Result<Stored, StoreError>, Failure> {
    let config = &state.config;
    let mut redirects = 0;
    let mut response = loop {
        let addr = resolve(&url, config.mirror_allow_private).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, addr)
            .build()
            .map_err(|e| bad_gateway(format!("cannot make an HTTP client: {e}")))?;
        let response = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| bad_gateway(format!("the origin failed: {e}")))?;
        if !response.status().is_redirection() {
            break response;
        }
        redirects += 1;
        if redirects > config.mirror_max_redirects {
            return Err(bad_gateway("the origin redirects too often"));
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| bad_gateway("the origin redirects without a Location"))?;
        url = url
            .join(location)
            .ok()
            .filter(|next| matches!(next.scheme(), "http" | "https"))
            .ok_or_else(|| bad_gateway("the origin redirects to an unusable URL"))?;
    };
    if !response.status().is_success() {
        return Err(bad_gateway(format!(
            "the origin answered {}",
            response.status()
        )));
    }
    let expected_size = response.content_length();
    if expected_size.is_some_and(|size| size > max_size) {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the origin's blob is larger than {max_size} bytes"),
        ));
    }
    let declared_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let name_hint = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    let put = PutBlob {
        declared_type,
        expected_size,
        max_size,
        expected_sha256,
        owner,
        name_hint,
    };
    let ingest = Ingest::start(state, put);
    loop {
        let chunk: std::io::Result<Option<Bytes>> =
            response.chunk().await.map_err(std::io::Error::other);
        let chunk = match chunk {
            Ok(Some(chunk)) => Ok(chunk),
            Ok(None) => break,
            Err(error) => Err(error),
        };
        let failed = chunk.is_err();
        if !ingest.send(chunk).await || failed {
            break;
        }
    }
    Ok(ingest.finish().await)
}

#[cfg(test)]
mod tests {
    use super::forbidden;

    #[test]
    fn the_guard_refuses_local_and_private_targets() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "172.32.0.1", "2606:4700::1111", "1.1.1.1"] {
            assert!(!forbidden(ip.parse().unwrap()), "{ip}");
        }
    }
}
