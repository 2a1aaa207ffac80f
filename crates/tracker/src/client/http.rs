//! The HTTP tracker client (BEP 3, 23, 48) on reqwest.
//!
//! One GET per announce or scrape, bounded as a whole by the timeout (connect, headers and body
//! together, so a body that never ends is a [`TrackerError::Timeout`]). A status other than 200
//! is [`TrackerError::Http`]; a body over [`MAX_BODY`] is refused from its `Content-Length`, or
//! as soon as the bytes read pass the limit, without reading more. Proxies from the environment
//! are not used: like libtorrent, the client talks to trackers directly unless configured
//! otherwise (pass your own `reqwest::Client` to [`HttpTracker::with_client`]).

use std::time::Duration;

use swarmgate_core::InfoHashV1;

use super::in_request_order;
use crate::announce::{AnnounceRequest, AnnounceResponse, ScrapeStats};
use crate::error::TrackerError;
use crate::http::{
    announce_url, decode_announce_response, decode_scrape_response, scrape_request_url, scrape_url,
};

/// The largest tracker body read: 2 MiB (about 350,000 compact peers).
pub const MAX_BODY: usize = 2 << 20;

/// One HTTP or HTTPS tracker.
#[derive(Clone, Debug)]
pub struct HttpTracker {
    url: String,
    client: reqwest::Client,
    timeout: Duration,
}

/// The reqwest client every tracker shares unless given another: no environment proxies, the
/// crate's user agent, and no idle connections kept. Announces are minutes apart, and trackers
/// such as opentracker close the connection after every reply: a pooled connection would be
/// reused after the tracker dropped it and the request would fail with a reset.
pub(super) fn default_client() -> Result<reqwest::Client, TrackerError> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .user_agent(concat!("Swarmgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(transport)
}

/// A reqwest error as the caller sees it: a timeout, or a network failure.
fn transport(e: reqwest::Error) -> TrackerError {
    if e.is_timeout() {
        return TrackerError::Timeout;
    }
    let kind = if e.is_connect() {
        std::io::ErrorKind::ConnectionRefused
    } else {
        std::io::ErrorKind::Other
    };
    TrackerError::Io(std::io::Error::new(kind, e))
}

impl HttpTracker {
    /// A tracker at `url` (its announce URL), with a client of its own.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, TrackerError> {
        Self::with_client(default_client()?, url, timeout)
    }

    /// A tracker at `url` using `client` (share one client between trackers to share its
    /// connection pool).
    pub fn with_client(
        client: reqwest::Client,
        url: &str,
        timeout: Duration,
    ) -> Result<Self, TrackerError> {
        let unsupported = |reason| TrackerError::UnsupportedUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = reqwest::Url::parse(url).map_err(|_| unsupported("not a valid URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(unsupported("not an http or https URL"));
        }
        Ok(HttpTracker {
            url: url.to_owned(),
            client,
            timeout,
        })
    }

    /// The announce URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Announces `request`.
    pub async fn announce(
        &self,
        request: &AnnounceRequest,
    ) -> Result<AnnounceResponse, TrackerError> {
        let body = self.get(&announce_url(&self.url, request)).await?;
        decode_announce_response(&body)
    }

    /// Scrapes `info_hashes`: one entry per hash, in order. A tracker whose announce URL has no
    /// BEP 48 scrape form is [`TrackerError::UnsupportedUrl`].
    pub async fn scrape(
        &self,
        info_hashes: &[InfoHashV1],
    ) -> Result<Vec<ScrapeStats>, TrackerError> {
        let scrape = scrape_url(&self.url).ok_or_else(|| TrackerError::UnsupportedUrl {
            url: self.url.clone(),
            reason: "no scrape URL: the last path segment does not start with `announce`",
        })?;
        let body = self.get(&scrape_request_url(&scrape, info_hashes)).await?;
        Ok(in_request_order(
            info_hashes,
            &decode_scrape_response(&body)?,
        ))
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, TrackerError> {
        let exchange = async {
            let mut response = self.client.get(url).send().await.map_err(transport)?;
            let status = response.status().as_u16();
            if status != 200 {
                return Err(TrackerError::Http { status });
            }
            let too_big = || TrackerError::InvalidResponse {
                context: format!("body larger than {MAX_BODY} bytes"),
            };
            let announced = response.content_length().unwrap_or(0);
            if announced > MAX_BODY as u64 {
                return Err(too_big());
            }
            let mut body = Vec::with_capacity(announced as usize);
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(too_big());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| TrackerError::Timeout)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        let t = Duration::from_secs(1);
        assert!(HttpTracker::new("https://t.example/announce", t).is_ok());
        for bad in [
            "udp://t.example:80",
            "wss://t.example/announce",
            "not a url",
        ] {
            assert!(matches!(
                HttpTracker::new(bad, t),
                Err(TrackerError::UnsupportedUrl { .. })
            ));
        }
    }
}
