//! The database verdict of `/api/diagnostics`: SQLite's `PRAGMA integrity_check` reads the
//! whole database and holds one of the pool's connections while it does, so it runs at most
//! once per [`CHECK_EVERY`], and requests that arrive while it runs wait for its answer
//! instead of starting checks of their own. Without this, each diagnostics request (no token
//! needed) would queue a full scan on the blocking pool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use swarmgate_catalog::Catalog;
use tokio::sync::Mutex;

use crate::http::{ApiError, blocking};

/// How long a verdict is reused.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(60);

/// The last verdict and when it was reached; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct DatabaseCheck {
    last: Mutex<Option<(Instant, String)>>,
}

impl DatabaseCheck {
    /// "ok" or what the check found, at most [`CHECK_EVERY`] old.
    pub(crate) async fn verdict(&self, catalog: &Arc<Catalog>) -> Result<String, ApiError> {
        let mut last = self.last.lock().await;
        if let Some((at, verdict)) = last.as_ref() {
            if at.elapsed() < CHECK_EVERY {
                return Ok(verdict.clone());
            }
        }
        let catalog = Arc::clone(catalog);
        let verdict = match blocking(move || catalog.integrity_check()).await? {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        *last = Some((Instant::now(), verdict.clone()));
        Ok(verdict)
    }
}
