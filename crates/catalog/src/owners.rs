//! Blossom ownership of stored files: who claims a file, what each owner has, and leaving.
//!
//! An owner is the Nostr key that uploaded (or mirrored) a file through Blossom. Owners are a
//! set per file, kept by the metadata store and mirrored in each served [`Entry`]. A file's
//! bytes go when its last owner leaves ([`Catalog::disown`]), but only for a file that had
//! owners: a file uploaded without a key (the HTTP API) is not anybody's to delete through
//! Blossom. Every change runs under the commit lock, so a disown racing a publish of the same
//! bytes either keeps the new owner or deletes before the publish, never half of each.

use std::sync::Arc;

use swarmgate_core::{Pubkey, Sha256};

use crate::error::CatalogError;
use crate::{Catalog, Entry};

/// What [`Catalog::disown`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disowned {
    /// The key does not own the file: nothing changed.
    NotOwner,
    /// The key's claim is gone; other owners keep the file.
    Removed,
    /// The key was the last owner: the file is deleted.
    Deleted,
}

impl Catalog {
    /// Makes `owner` an owner of a stored file and answers the changed entry;
    /// [`CatalogError::NotFound`] when it is not stored.
    pub fn add_owner_of(&self, sha256: &Sha256, owner: Pubkey) -> Result<Arc<Entry>, CatalogError> {
        let commit = self.begin();
        let entry = self
            .get(sha256)
            .ok_or(CatalogError::NotFound { sha256: *sha256 })?;
        self.add_owner(&commit, entry, Some(owner))
    }

    /// Removes `owner`'s claim on a stored file; when no owner is left, deletes the file (see
    /// the module docs). [`CatalogError::NotFound`] when it is not stored.
    pub fn disown(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Disowned, CatalogError> {
        let commit = self.begin();
        let entry = self
            .get(sha256)
            .ok_or(CatalogError::NotFound { sha256: *sha256 })?;
        if !entry.owners.contains(owner) {
            return Ok(Disowned::NotOwner);
        }
        let owners: Vec<Pubkey> = entry
            .owners
            .iter()
            .filter(|o| *o != owner)
            .copied()
            .collect();
        if owners.is_empty() {
            self.delete_under(&commit, sha256)?;
            return Ok(Disowned::Deleted);
        }
        self.meta.remove_owner(sha256, owner)?;
        commit.replace(Arc::new(entry.with_owners(owners)));
        Ok(Disowned::Removed)
    }

    /// The served files `owner` owns, newest first (ties by sha256, a stable order to page in).
    pub fn owned_by(&self, owner: &Pubkey) -> Result<Vec<Arc<Entry>>, CatalogError> {
        let mut files: Vec<Arc<Entry>> = self
            .meta
            .files_of_owner(owner)?
            .iter()
            .filter_map(|file| self.get(&file.sha256))
            .collect();
        files.sort_by_key(|entry| std::cmp::Reverse((entry.file.created, entry.sha256().0)));
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Links, PublishRequest};
    use swarmgate_blobstore::{ContentOptions, MemoryContentStore, MemoryStore};
    use swarmgate_storage::PieceCache;

    fn catalog() -> Catalog {
        Catalog::open(
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryContentStore::new(ContentOptions::default())),
            Arc::new(PieceCache::new(1 << 20)),
            Links::new("http://127.0.0.1:1", None),
        )
        .unwrap()
        .0
    }

    fn publish(catalog: &Catalog, bytes: &[u8], owner: Option<Pubkey>) -> Sha256 {
        let request = PublishRequest {
            name: "f".into(),
            owner,
            max_size: 1 << 20,
            ..PublishRequest::default()
        };
        *catalog
            .publish(&mut &bytes[..], &request)
            .unwrap()
            .entry
            .sha256()
    }

    #[test]
    fn the_bytes_go_with_the_last_owner() {
        let catalog = catalog();
        let (a, b) = (Pubkey([1; 32]), Pubkey([2; 32]));
        let sha = publish(&catalog, b"shared", Some(a));
        assert_eq!(catalog.add_owner_of(&sha, b).unwrap().owners, [a, b]);
        assert_eq!(catalog.owned_by(&b).unwrap().len(), 1);
        assert_eq!(
            catalog.disown(&sha, &Pubkey([3; 32])).unwrap(),
            Disowned::NotOwner
        );
        assert_eq!(catalog.disown(&sha, &a).unwrap(), Disowned::Removed);
        assert_eq!(catalog.get(&sha).unwrap().owners, [b]);
        assert!(catalog.owned_by(&a).unwrap().is_empty());
        assert_eq!(catalog.disown(&sha, &b).unwrap(), Disowned::Deleted);
        assert!(catalog.get(&sha).is_none());
        assert!(matches!(
            catalog.disown(&sha, &b),
            Err(CatalogError::NotFound { .. })
        ));
    }

    #[test]
    fn a_file_without_owners_is_nobody_s_to_delete() {
        let catalog = catalog();
        let sha = publish(&catalog, b"anonymous", None);
        assert_eq!(
            catalog.disown(&sha, &Pubkey([1; 32])).unwrap(),
            Disowned::NotOwner
        );
        assert!(catalog.get(&sha).is_some());
    }

    #[test]
    fn an_upload_that_is_not_what_it_was_announced_as_keeps_nothing() {
        let catalog = catalog();
        let request = PublishRequest {
            name: "f".into(),
            owner: Some(Pubkey([1; 32])),
            max_size: 1 << 20,
            expected_sha256: vec![Sha256([9; 32])],
            ..PublishRequest::default()
        };
        let error = catalog
            .publish(&mut &b"other bytes"[..], &request)
            .unwrap_err();
        assert!(
            matches!(error, CatalogError::HashMismatch { .. }),
            "{error}"
        );
        assert!(catalog.all().is_empty());
        assert!(catalog.owned_by(&Pubkey([1; 32])).unwrap().is_empty());
        // Bytes already stored keep their owners: a mismatching re-upload adds nobody.
        let sha = publish(&catalog, b"other bytes", None);
        assert!(catalog.publish(&mut &b"other bytes"[..], &request).is_err());
        assert!(catalog.get(&sha).unwrap().owners.is_empty());
    }
}
