//! The one way in (`publish`) and the one way out (`delete`) of the catalog.
//!
//! Order is what makes "acknowledged means kept" true. A publish streams the upload into the
//! content store, which makes it durable and visible by a rename before it returns; then, under
//! the commit lock, the file's metadata is committed, and only then is it indexed, served and
//! answered. A crash in between leaves content with no record, which the next
//! [`Catalog::open`] sweeps (it was never acknowledged). A publish that fails after its content
//! was stored (the database refused, the torrent could not be made) removes that content again
//! before it returns, unless a record for the same bytes exists: a failed publish leaves
//! nothing. A delete takes the file out of the index and tells the observers first (no new
//! reads), then removes its metadata, then its content and cached pieces.

use std::io::Read;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use swarmgate_blobstore::{
    FileRecord, IngestOptions, Ingested, MetaError, PIECE_LENGTH, TorrentRecord, Upload,
};
use swarmgate_core::{Pubkey, Sha256};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::CacheId;

use crate::catalog::{Commit, bad};
use crate::error::CatalogError;
use crate::links::{info_dictionary, sanitize_name};
use crate::media::{Sniffer, detect_media_type};
use crate::{Catalog, Entry};

/// What is known of an upload besides its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishRequest {
    /// The name it was uploaded under (sanitised into the torrent's name; the sha256 when
    /// nothing usable is left).
    pub name: String,
    /// The media type its uploader declared, if any (see [`detect_media_type`]).
    pub declared_type: Option<String>,
    /// Who uploads it (Blossom: the signer of the upload's authorization): made an owner.
    pub owner: Option<Pubkey>,
    /// The largest upload accepted, in bytes; a longer one is [`CatalogError::TooLarge`].
    pub max_size: u64,
    /// The length the upload announced (`Content-Length`), checked against what arrives.
    pub expected_size: Option<u64>,
    /// When not empty, the upload's sha256 must be one of these (Blossom's `X-SHA-256` header
    /// or the authorization's `x` tags, a mirror's announced hash): otherwise it is
    /// [`CatalogError::HashMismatch`] and nothing is kept, no bytes and no owner.
    pub expected_sha256: Vec<Sha256>,
}

/// What a publish produced.
#[derive(Debug, Clone)]
pub struct Published {
    /// The file, now stored and served.
    pub entry: Arc<Entry>,
    /// It was stored before: nothing new was kept (an owner may have been added).
    pub existing: bool,
}

impl Catalog {
    /// Stores the upload read from `reader`, commits its record and serves it; see the module
    /// docs for the order. The same bytes uploaded again answer the stored file, with the
    /// request's owner added. Blocks for as long as the upload streams.
    pub fn publish(
        &self,
        reader: &mut dyn Read,
        request: &PublishRequest,
    ) -> Result<Published, CatalogError> {
        let options = IngestOptions {
            max_size: request.max_size,
            expected_size: request.expected_size,
            piece_hashes: true,
            ..IngestOptions::default()
        };
        let mut sniffer = Sniffer::new(reader);
        let ingested = self.content.ingest(&mut sniffer, &options)?;
        let media_type = detect_media_type(
            sniffer.head(),
            &request.name,
            request.declared_type.as_deref(),
        );
        let commit = self.begin();
        if !request.expected_sha256.is_empty()
            && !request.expected_sha256.contains(&ingested.sha256)
        {
            self.remove_unrecorded(&ingested.sha256);
            return Err(CatalogError::HashMismatch {
                actual: ingested.sha256,
            });
        }
        if let Some(entry) = self.get(&ingested.sha256) {
            let entry = self.add_owner(&commit, entry, request.owner)?;
            return Ok(Published {
                entry,
                existing: true,
            });
        }
        let sha256 = ingested.sha256;
        let result = if ingested.size == 0 {
            Err(CatalogError::Empty)
        } else if self.file_count() >= self.max_files {
            Err(CatalogError::TooManyFiles {
                max: self.max_files,
            })
        } else {
            self.commit_new(&commit, ingested, request, media_type)
        };
        if result.is_err() {
            self.remove_unrecorded(&sha256);
        }
        result
    }

    /// Deletes a stored file; `false` when it was not stored. See the module docs for the order.
    /// A metadata failure leaves the file served as before.
    pub fn delete(&self, sha256: &Sha256) -> Result<bool, CatalogError> {
        self.delete_under(&self.begin(), sha256)
    }

    /// [`Catalog::delete`] under a commit already taken.
    pub(crate) fn delete_under(
        &self,
        commit: &Commit<'_>,
        sha256: &Sha256,
    ) -> Result<bool, CatalogError> {
        let served = commit.unpublish(sha256);
        let recorded = match self.meta.delete(sha256) {
            Ok(_) => true,
            Err(MetaError::NotFound { .. }) => false,
            Err(error) => {
                if let Some(entry) = served {
                    commit.publish(entry);
                }
                return Err(error.into());
            }
        };
        self.content.remove(sha256)?;
        self.cache.remove_all(&CacheId::File {
            sha256: *sha256,
            piece_length: PIECE_LENGTH,
        });
        Ok(recorded || served.is_some())
    }

    /// Commits a new file's record and serves it.
    fn commit_new(
        &self,
        commit: &Commit<'_>,
        ingested: Ingested,
        request: &PublishRequest,
        media_type: String,
    ) -> Result<Published, CatalogError> {
        let sha256 = ingested.sha256;
        if self.content.stat(&sha256)?.is_none() {
            // A delete (or a failed publish of the same bytes) removed it after our ingest
            // found it present: nothing to record; the client sends it again.
            return Err(CatalogError::Busy);
        }
        let name = sanitize_name(&request.name, &sha256.to_hex());
        let info = info_dictionary(&name, ingested.size, PIECE_LENGTH, &ingested.piece_sha1)
            .map_err(|e| bad(&sha256, &e.to_string()))?;
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let bytes = self.links.torrent_file(&sha256, &info, created);
        let torrent = Torrent::from_bytes(&bytes).map_err(|e| bad(&sha256, &e.to_string()))?;
        let info_hash = torrent.info_hash();
        let v1 = info_hash
            .v1()
            .ok_or_else(|| bad(&sha256, "it has no v1 info-hash"))?;
        let upload = Upload {
            file: FileRecord {
                sha256,
                name: name.clone(),
                size: ingested.size,
                mime: media_type,
                layout: ingested.layout,
                created,
                owner: None,
            },
            torrent: TorrentRecord {
                info_hash,
                piece_length: u64::from(PIECE_LENGTH),
                piece_count: torrent.piece_count(),
                magnet: self.links.magnet(&sha256, v1, &name),
                torrent: bytes,
            },
            chunks: ingested.chunks,
            owners: request.owner.into_iter().collect(),
        };
        // Everything that can fail without a store is checked before the commit.
        let entry = Arc::new(self.entry(upload.clone(), torrent)?);
        match self.meta.put(&upload) {
            Ok(()) => {}
            // The same bytes, committed by another gateway sharing this database.
            Err(MetaError::Conflict { .. }) if self.meta.file(&sha256)?.is_some() => {
                let file = self.meta.file(&sha256)?.ok_or(CatalogError::Busy)?;
                let stored = Arc::new(self.load(file)?);
                commit.publish(Arc::clone(&stored));
                let entry = self.add_owner(commit, stored, request.owner)?;
                return Ok(Published {
                    entry,
                    existing: true,
                });
            }
            Err(error) => return Err(error.into()),
        }
        commit.publish(Arc::clone(&entry));
        Ok(Published {
            entry,
            existing: false,
        })
    }

    /// `entry` with `owner` among its owners (recorded first).
    pub(crate) fn add_owner(
        &self,
        commit: &Commit<'_>,
        entry: Arc<Entry>,
        owner: Option<Pubkey>,
    ) -> Result<Arc<Entry>, CatalogError> {
        let Some(owner) = owner.filter(|o| !entry.owners.contains(o)) else {
            return Ok(entry);
        };
        self.meta.add_owner(entry.sha256(), &owner)?;
        let mut owners = entry.owners.clone();
        owners.push(owner);
        let changed = Arc::new(entry.with_owners(owners));
        commit.replace(Arc::clone(&changed));
        Ok(changed)
    }

    /// Removes content that a failed publish stored, if no record claims it (when the database
    /// cannot say, it stays, and the next start sweeps it).
    fn remove_unrecorded(&self, sha256: &Sha256) {
        if !matches!(self.meta.file(sha256), Ok(None)) {
            return;
        }
        if let Err(error) = self.content.remove(sha256) {
            tracing::warn!(%error, %sha256, "could not remove a failed upload's content");
        }
    }
}
