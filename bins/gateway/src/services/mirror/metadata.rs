//! The mirrored torrent's metadata: first from the magnet's exact sources (`xs=`, the .torrent
//! file over HTTP, as the gateways' magnets carry it), then from peers (BEP 9 `ut_metadata`
//! through the magnet's trackers and `x.pe`). Either way the info dictionary must hash to the
//! announced info-hash.
//!
//! Why the .torrent first: a gateway behind a reverse proxy is often reachable over HTTPS only;
//! its .torrent (one small GET) and its web seed then deliver the whole file where the peer
//! wire cannot, and where the peer wire can, one GET is still quicker than a metadata exchange.

use std::time::Duration;

use swarmgate_metainfo::{Magnet, Torrent};
use swarmgate_service::Shutdown;
use swarmgate_session::{MagnetError, MagnetOptions, resolve_magnet};

use super::MirrorRequest;
use super::fetch::MirrorError;

/// The largest .torrent accepted from an exact source (a 10 GiB file in 2 MiB pieces needs
/// about 100 KiB).
const MAX_TORRENT: usize = 8 << 20;
/// How long one exact source may take.
const EXACT_SOURCE_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client for exact sources.
pub(super) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(EXACT_SOURCE_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap_or_default()
}

/// The announced torrent: from an exact source, else from peers (within `options.timeout`),
/// unless `shutdown` comes first.
pub(super) async fn metadata(
    http: &reqwest::Client,
    magnet: &Magnet,
    request: &MirrorRequest,
    options: &MagnetOptions,
    shutdown: &Shutdown,
) -> Result<Torrent, MirrorError> {
    let mut stopping = shutdown.clone();
    tokio::select! {
        found = from_sources(http, magnet, request, options) => found,
        () = stopping.wait() => Err(MirrorError::Stopped),
    }
}

async fn from_sources(
    http: &reqwest::Client,
    magnet: &Magnet,
    request: &MirrorRequest,
    options: &MagnetOptions,
) -> Result<Torrent, MirrorError> {
    let mut failures = Vec::new();
    for url in magnet.exact_sources.iter().filter(|url| is_web(url)) {
        match exact_source(http, url).await {
            Ok(torrent) if torrent.info_hash().v1() == Some(request.info_hash) => {
                return Ok(torrent);
            }
            Ok(torrent) => failures.push(format!("{url}: the torrent of {}", torrent.info_hash())),
            Err(error) => failures.push(format!("{url}: {error}")),
        }
    }
    resolve_magnet(magnet, options).await.map_err(|error| {
        let exact = match failures.is_empty() {
            true => String::new(),
            false => format!(" (exact sources: {})", failures.join("; ")),
        };
        match error {
            MagnetError::V2Only | MagnetError::Invalid(_) => {
                MirrorError::Unusable(format!("the metadata: {error}{exact}"))
            }
            other => MirrorError::Unavailable(format!("the metadata: {other}{exact}")),
        }
    })
}

/// The .torrent at `url`, at most [`MAX_TORRENT`] bytes.
async fn exact_source(http: &reqwest::Client, url: &str) -> Result<Torrent, String> {
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .error_for_status()
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if bytes.len() + chunk.len() > MAX_TORRENT {
            return Err(format!("more than {MAX_TORRENT} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Torrent::from_bytes(&bytes).map_err(|e| format!("not a torrent: {e}"))
}

/// Whether `url` is http or https.
pub(super) fn is_web(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}
