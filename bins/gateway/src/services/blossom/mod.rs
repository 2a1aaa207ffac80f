//! The Blossom service: a Blossom server (swarmgate-blossom's router) on its own port, over
//! the catalog, so that every stored file is a blob and every blob a torrent.
//!
//! Blossom clients expect the server at the root of its own origin (`GET /<sha256>`, `PUT
//! /upload`), which would collide with the API's paths, hence the second port (8082 by
//! default). The router keeps the protocol (BUD-11 authorization, CORS, `X-Reason`, ranges, the
//! mirror's SSRF guard, the bad-authorization limiter); [`store::CatalogBlobs`] turns its calls
//! into catalog operations, so a Blossom upload is a publish like any other: seeded, tracked,
//! web-seeded, announced on the DHT and to Nostr relays by the observers that watch the catalog.

mod reports;
pub(crate) mod store;

use std::net::SocketAddr;

use anyhow::Context;
use std::sync::{Arc, Mutex};

use axum::Router;
use prometheus_client::registry::Registry;
use swarmgate_blossom::{BlossomConfig as RouterConfig, router};
use swarmgate_catalog::Catalog;
use swarmgate_service::Supervisor;
use tokio::net::TcpListener;

use crate::http;
use crate::http::ConnectionGuard;
use crate::http::metrics::Snapshot;
use crate::services::Service;
use crate::settings::Config;
use store::CatalogBlobs;

/// The Blossom server; see the module docs.
pub(crate) struct BlossomService {
    listener: Mutex<Option<TcpListener>>,
    router: Router,
    connections: ConnectionGuard,
}

impl BlossomService {
    /// The server for `listener`, serving `catalog` under the rules of `[blossom]` (the upload
    /// size limit, the uploads at once and the admin token are the API's, the requests per
    /// second per IP the HTTP port's), its reports kept in the data folder, its connections
    /// held to `connections` (the HTTP port's limits and counters).
    pub(crate) fn new(
        listener: TcpListener,
        catalog: Arc<Catalog>,
        settings: &Config,
        connections: ConnectionGuard,
        registry: &mut Registry,
    ) -> anyhow::Result<BlossomService> {
        let (config, api) = (&settings.blossom, &settings.api);
        // The one base URL every link uses (set by `Gateway::start` from `--blossom-public-url`
        // or the bound port), so descriptors and upload answers cannot disagree.
        let public_url = catalog
            .links()
            .blossom_base()
            .context("the catalog's links name no Blossom base URL")?
            .to_owned();
        let mut rules = RouterConfig::new(public_url);
        rules.max_upload = api.max_upload_size;
        rules.max_concurrent_uploads = api.max_concurrent_uploads;
        rules.requests_per_second = settings.http.requests_per_second;
        rules.upload_idle_timeout = settings.http.request_timeout;
        rules.admin_token = api.admin_token.clone();
        rules.mirror_allow_private = config.mirror_private;
        rules.quota_bytes = config.quota;
        rules.allowed_pubkeys = config
            .allowed_pubkeys
            .as_ref()
            .map(|keys| keys.iter().copied().collect());
        let blobs = Arc::new(CatalogBlobs::open(catalog, &settings.storage.data_dir)?);
        let reports = Arc::clone(&blobs);
        Snapshot::register(registry, "blossom", move |samples| {
            samples.gauge(
                "reports",
                "BUD-09 reports kept.",
                reports.report_count() as u64,
            );
        });
        Ok(BlossomService {
            listener: Mutex::new(Some(listener)),
            router: router(blobs, rules),
            connections,
        })
    }
}

impl Service for BlossomService {
    fn name(&self) -> &'static str {
        "blossom"
    }

    fn start(&self, services: &mut Supervisor) {
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(listener) = listener {
            services.spawn(
                "blossom",
                http::serve(
                    listener,
                    self.router.clone(),
                    self.connections.clone(),
                    services.shutdown(),
                ),
            );
        }
    }
}

/// `scheme://host` of the gateway's public URL with the Blossom port.
pub(crate) fn default_blossom_url(public_url: &str, bound: SocketAddr) -> String {
    let (scheme, rest) = public_url.split_once("://").unwrap_or(("http", public_url));
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = if authority.starts_with('[') {
        authority
            .split_once(']')
            .map_or(authority, |(h, _)| h)
            .to_owned()
            + "]"
    } else {
        authority.split(':').next().unwrap_or(authority).to_owned()
    };
    format!("{scheme}://{host}:{}", bound.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blossom_url_is_the_public_host_with_the_blossom_port() {
        let bound: SocketAddr = "0.0.0.0:8082".parse().unwrap();
        assert_eq!(
            default_blossom_url("http://127.0.0.1:9877", bound),
            "http://127.0.0.1:8082"
        );
        assert_eq!(
            default_blossom_url("https://files.example/prefix", bound),
            "https://files.example:8082"
        );
        assert_eq!(
            default_blossom_url("http://[::1]:9877", bound),
            "http://[::1]:8082"
        );
    }
}
