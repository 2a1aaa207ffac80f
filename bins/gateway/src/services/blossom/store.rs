//! The catalog as a Blossom blob store: every stored file is a blob, and every blob uploaded
//! through Blossom is a stored file (a torrent, seeded, tracked, web-seeded, announced).
//!
//! The adapter only translates: a `PUT /upload` or a mirror is a [`Catalog::publish`] (so the
//! catalog's rules hold: acknowledged means kept, nothing unverified is served, a failed upload
//! leaves nothing), a `DELETE` is [`Catalog::disown`], a list is [`Catalog::owned_by`]. Each
//! blob's descriptor carries what a BitTorrent client needs beside the BUD-02 fields (`magnet`,
//! `infohash`, `torrent`, `webseed`), and its NIP-94 tags the web seed as a `fallback`.
//! Reports (BUD-09) are kept by [`Reports`](super::reports::Reports).

use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{Map, Value};
use swarmgate_blobstore::ContentError;
use swarmgate_blossom::{
    Blob, BlobStore, Disowned, PutBlob, Report, StoreError, Stored, extension_for,
};
use swarmgate_catalog::{Catalog, CatalogError, Entry, PublishRequest};
use swarmgate_core::{Pubkey, Sha256};

use super::reports::{MAX_REPORTS, Reports};

/// The gateway's catalog seen as a [`BlobStore`].
pub(crate) struct CatalogBlobs {
    catalog: Arc<Catalog>,
    reports: Mutex<Reports>,
}

impl CatalogBlobs {
    /// The store over `catalog`, with the reports kept in `data_dir` read back (see
    /// [`Reports`]).
    pub(crate) fn open(catalog: Arc<Catalog>, data_dir: &Path) -> io::Result<CatalogBlobs> {
        Ok(CatalogBlobs {
            catalog,
            reports: Mutex::new(Reports::open(data_dir, MAX_REPORTS)?),
        })
    }

    /// The reports kept so far.
    pub(crate) fn report_count(&self) -> usize {
        self.lock_reports().all().len()
    }

    fn lock_reports(&self) -> std::sync::MutexGuard<'_, Reports> {
        self.reports.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn served(&self, sha256: &Sha256) -> Result<Arc<Entry>, StoreError> {
        self.catalog.get(sha256).ok_or(StoreError::NotFound)
    }
}

/// A stored file as a blob.
pub(crate) fn blob_of(catalog: &Catalog, entry: &Entry) -> Blob {
    let links = catalog.links();
    let sha256 = entry.sha256();
    let webseed = links.webseed(sha256);
    let mut extra = Map::new();
    let magnet = links.magnet(sha256, entry.info_hash, &entry.file.name);
    extra.insert("magnet".into(), Value::String(magnet));
    extra.insert("infohash".into(), Value::String(entry.info_hash.to_hex()));
    extra.insert("torrent".into(), Value::String(links.torrent(sha256)));
    extra.insert("webseed".into(), Value::String(webseed.clone()));
    Blob {
        sha256: *sha256,
        size: entry.size(),
        mime: entry.file.mime.clone(),
        uploaded: entry.file.created,
        owners: entry.owners.clone(),
        extra,
        nip94: vec![vec!["fallback".into(), webseed]],
    }
}

/// A catalog failure as the Blossom router answers it.
fn store_error(error: CatalogError) -> StoreError {
    match error {
        CatalogError::TooLarge { limit } => StoreError::TooLarge { max: limit },
        CatalogError::Truncated { detail } => {
            StoreError::BodyRead(io::Error::new(io::ErrorKind::UnexpectedEof, detail))
        }
        CatalogError::Idle { idle } => StoreError::BodyRead(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the upload sent nothing for {} s", idle.as_secs()),
        )),
        CatalogError::Interrupted { source } => StoreError::BodyRead(source),
        CatalogError::Empty => StoreError::Empty,
        CatalogError::Busy => StoreError::Busy,
        CatalogError::DiskFull | CatalogError::TooManyFiles { .. } => StoreError::Full,
        CatalogError::HashMismatch { actual } => StoreError::HashMismatch { actual },
        CatalogError::NotFound { .. } => StoreError::NotFound,
        // A failing disk: the detail (a path on the server) goes to the log, not to X-Reason.
        CatalogError::Content(error @ ContentError::Io { .. }) => {
            tracing::error!(%error, "Blossom store failure: the disk");
            StoreError::Io(
                "the server's disk failed while storing the blob; nothing was kept".into(),
            )
        }
        other => {
            tracing::error!(error = %other, "Blossom store failure");
            StoreError::Io(other.to_string())
        }
    }
}

impl BlobStore for CatalogBlobs {
    fn stat(&self, sha256: &Sha256) -> Result<Option<Blob>, StoreError> {
        Ok(self
            .catalog
            .get(sha256)
            .map(|entry| blob_of(&self.catalog, &entry)))
    }

    fn read(&self, sha256: &Sha256, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        let entry = self.served(sha256)?;
        let left = entry.size().saturating_sub(offset);
        let len = len.min(usize::try_from(left).unwrap_or(usize::MAX));
        if len == 0 {
            return Ok(Bytes::new());
        }
        entry.read(offset, len).map_err(|error| {
            tracing::error!(%error, %sha256, "a stored blob could not be read");
            StoreError::Io(error.to_string())
        })
    }

    fn put(&self, body: &mut dyn Read, put: &PutBlob) -> Result<Stored, StoreError> {
        // Without a name, the torrent is named after the announced hash (and the declared type's
        // extension), which is what a BitTorrent client then saves the file as.
        let name = match (&put.name_hint, put.expected_sha256.as_slice()) {
            (Some(hint), _) => hint.clone(),
            (None, [sha256]) => match put.declared_type.as_deref().map(extension_for) {
                Some(ext) if ext != "bin" => format!("{}.{ext}", sha256.to_hex()),
                _ => sha256.to_hex(),
            },
            (None, _) => String::new(),
        };
        let request = PublishRequest {
            name,
            declared_type: put.declared_type.clone(),
            owner: put.owner,
            max_size: put.max_size,
            expected_size: put.expected_size,
            expected_sha256: put.expected_sha256.clone(),
        };
        let published = self.catalog.publish(body, &request).map_err(store_error)?;
        Ok(Stored {
            blob: blob_of(&self.catalog, &published.entry),
            existed: published.existing,
        })
    }

    fn add_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Blob, StoreError> {
        let entry = self
            .catalog
            .add_owner_of(sha256, *owner)
            .map_err(store_error)?;
        Ok(blob_of(&self.catalog, &entry))
    }

    fn disown(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Disowned, StoreError> {
        Ok(
            match self.catalog.disown(sha256, owner).map_err(store_error)? {
                swarmgate_catalog::Disowned::NotOwner => Disowned::NotOwner,
                swarmgate_catalog::Disowned::Removed => Disowned::Removed,
                swarmgate_catalog::Disowned::Deleted => Disowned::Deleted,
            },
        )
    }

    fn list(&self, owner: &Pubkey) -> Result<Vec<Blob>, StoreError> {
        Ok(self
            .catalog
            .owned_by(owner)
            .map_err(store_error)?
            .iter()
            .map(|entry| blob_of(&self.catalog, entry))
            .collect())
    }

    fn report(&self, report: &Report) -> Result<(), StoreError> {
        self.lock_reports().add(report)
    }

    fn reports(&self) -> Result<Vec<Report>, StoreError> {
        Ok(self.lock_reports().all().to_vec())
    }
}
