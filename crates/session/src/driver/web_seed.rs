//! Whole-piece sources for the driver (BEP 19 web seeds): what the engine's
//! [`EngineEvent::FetchPiece`](crate::EngineEvent::FetchPiece) asks for is fetched on a task of
//! its own and handed back through the inbound queue, like bytes from a peer.
//!
//! The driver knows a source only as a [`PieceFetcher`]: swarmgate-webseed's HTTP client is one
//! (the torrent's `url-list` entries become fetchers unless [`RunConfig::use_web_seeds`] is off),
//! a test's in-memory source another. Whatever a fetcher checks itself (the HTTP client verifies
//! SHA-1, so a lying server shows up as failed fetches), the bytes go through the same
//! write-then-hash path as blocks from peers.
//!
//! [`RunConfig::use_web_seeds`]: super::RunConfig::use_web_seeds

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use swarmgate_core::PieceIndex;
use tokio::sync::mpsc;

use super::net::Inbound;
use crate::engine::WebSeedFailure;
use crate::picker::PeerKey;

/// Why a fetch gave nothing: what it means for the seed, and the text for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// Whether to rest and retry, or give the seed up.
    pub failure: WebSeedFailure,
    /// What went wrong.
    pub message: String,
}

impl FetchError {
    /// A failure that may pass: rest `retry_after` (or a few seconds) and try again.
    pub fn retry(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            failure: WebSeedFailure::Retry { retry_after },
            message: message.into(),
        }
    }

    /// A failure that will not pass: drop the seed.
    pub fn give_up(message: impl Into<String>) -> Self {
        Self {
            failure: WebSeedFailure::GiveUp,
            message: message.into(),
        }
    }
}

/// The future a fetch returns.
pub type FetchFuture = Pin<Box<dyn Future<Output = Result<Bytes, FetchError>> + Send>>;

/// A source that delivers whole pieces by index (a web seed).
pub trait PieceFetcher: Send + Sync + fmt::Debug + 'static {
    /// Fetches the exact bytes of `piece`.
    fn fetch(self: Arc<Self>, piece: PieceIndex) -> FetchFuture;
}

impl PieceFetcher for swarmgate_webseed::WebSeed {
    fn fetch(self: Arc<Self>, piece: PieceIndex) -> FetchFuture {
        Box::pin(async move {
            self.fetch_piece(piece).await.map_err(|error| match &error {
                swarmgate_webseed::WebSeedError::Unavailable { retry_after, .. } => {
                    FetchError::retry(error.to_string(), *retry_after)
                }
                // Unusable, a corrupt piece (verified here already), a torrent it cannot serve.
                _ => FetchError::give_up(error.to_string()),
            })
        })
    }
}

/// Starts fetching `piece` from `fetcher` for web seed `key`; the result arrives as
/// [`Inbound::WebSeedPiece`].
pub(super) fn start_fetch(
    key: PeerKey,
    piece: PieceIndex,
    fetcher: Arc<dyn PieceFetcher>,
    inbound: mpsc::Sender<Inbound>,
) {
    tokio::spawn(async move {
        let result = fetcher.fetch(piece).await;
        // A closed queue means the run is over: nobody wants the piece.
        let _ = inbound
            .send(Inbound::WebSeedPiece { key, piece, result })
            .await;
    });
}
