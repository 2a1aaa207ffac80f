//! [`MemoryBlobStore`]: the [`BlobStore`] in memory, for tests, examples and small servers.
//!
//! It keeps every rule of the trait (hash before keeping, expected hashes checked before the
//! blob becomes visible, bytes dropped with their last owner) so the router's tests exercise the
//! same contract a real store signs. An optional capacity makes it answer
//! [`StoreError::Full`], as a full disk would.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sha2::Digest;
use swarmgate_core::{Pubkey, Sha256};

use crate::report::Report;
use crate::store::{Blob, BlobStore, Disowned, PutBlob, StoreError, Stored};

/// The largest read of one `read` call is what the caller asks; uploads are read in pieces of
/// this many bytes.
const READ_PIECE: usize = 64 * 1024;

/// An in-memory [`BlobStore`].
#[derive(Debug, Default)]
pub struct MemoryBlobStore {
    state: Mutex<State>,
    capacity: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    blobs: HashMap<Sha256, (Blob, Bytes)>,
    /// Bumped on every new blob: orders blobs uploaded in the same second.
    sequence: u64,
    order: HashMap<Sha256, u64>,
    reports: Vec<Report>,
    used: u64,
}

impl MemoryBlobStore {
    /// An empty store without a capacity limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that holds at most `bytes` bytes of blobs; beyond that, `put` answers
    /// [`StoreError::Full`].
    pub fn with_capacity(bytes: u64) -> Self {
        MemoryBlobStore {
            capacity: Some(bytes),
            ..Self::default()
        }
    }

    /// Bytes of blobs held.
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    /// Number of blobs held.
    pub fn len(&self) -> usize {
        self.lock().blobs.len()
    }

    /// Whether it holds no blob.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Reads the whole body under the limits of `put`.
fn read_body(body: &mut dyn Read, put: &PutBlob) -> Result<Vec<u8>, StoreError> {
    let mut data = Vec::new();
    let mut piece = vec![0; READ_PIECE];
    loop {
        let n = match body.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StoreError::BodyRead(e)),
        };
        data.extend_from_slice(&piece[..n]);
        let received = data.len() as u64;
        if received > put.max_size {
            return Err(StoreError::TooLarge { max: put.max_size });
        }
        if let Some(expected) = put.expected_size.filter(|&expected| received > expected) {
            return Err(StoreError::LengthMismatch {
                expected,
                actual: received,
            });
        }
    }
    if let Some(expected) = put.expected_size.filter(|&e| e != data.len() as u64) {
        return Err(StoreError::LengthMismatch {
            expected,
            actual: data.len() as u64,
        });
    }
    Ok(data)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl BlobStore for MemoryBlobStore {
    fn stat(&self, sha256: &Sha256) -> Result<Option<Blob>, StoreError> {
        Ok(self.lock().blobs.get(sha256).map(|(blob, _)| blob.clone()))
    }

    fn read(&self, sha256: &Sha256, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        let state = self.lock();
        let (_, bytes) = state.blobs.get(sha256).ok_or(StoreError::NotFound)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start.saturating_add(len).min(bytes.len());
        Ok(bytes.slice(start..end))
    }

    fn put(&self, body: &mut dyn Read, put: &PutBlob) -> Result<Stored, StoreError> {
        let data = read_body(body, put)?;
        if data.is_empty() {
            return Err(StoreError::Empty);
        }
        let sha256 = Sha256(sha2::Sha256::digest(&data).into());
        if !put.expected_sha256.is_empty() && !put.expected_sha256.contains(&sha256) {
            return Err(StoreError::HashMismatch { actual: sha256 });
        }
        let mut state = self.lock();
        if let Some((blob, _)) = state.blobs.get_mut(&sha256) {
            if let Some(owner) = put.owner.filter(|owner| !blob.owners.contains(owner)) {
                blob.owners.push(owner);
            }
            return Ok(Stored {
                blob: blob.clone(),
                existed: true,
            });
        }
        let size = data.len() as u64;
        if self
            .capacity
            .is_some_and(|capacity| state.used.saturating_add(size) > capacity)
        {
            return Err(StoreError::Full);
        }
        let blob = Blob {
            sha256,
            size,
            mime: put
                .declared_type
                .clone()
                .filter(|mime| !mime.is_empty())
                .unwrap_or_else(|| "application/octet-stream".into()),
            uploaded: now(),
            owners: put.owner.into_iter().collect(),
            extra: Default::default(),
            nip94: Vec::new(),
        };
        state.used += size;
        state.sequence += 1;
        let sequence = state.sequence;
        state.order.insert(sha256, sequence);
        state
            .blobs
            .insert(sha256, (blob.clone(), Bytes::from(data)));
        Ok(Stored {
            blob,
            existed: false,
        })
    }

    fn add_owner(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Blob, StoreError> {
        let mut state = self.lock();
        let (blob, _) = state.blobs.get_mut(sha256).ok_or(StoreError::NotFound)?;
        if !blob.owners.contains(owner) {
            blob.owners.push(*owner);
        }
        Ok(blob.clone())
    }

    fn disown(&self, sha256: &Sha256, owner: &Pubkey) -> Result<Disowned, StoreError> {
        let mut state = self.lock();
        let (blob, _) = state.blobs.get_mut(sha256).ok_or(StoreError::NotFound)?;
        let Some(at) = blob.owners.iter().position(|o| o == owner) else {
            return Ok(Disowned::NotOwner);
        };
        blob.owners.remove(at);
        if !blob.owners.is_empty() {
            return Ok(Disowned::Removed);
        }
        let size = blob.size;
        state.blobs.remove(sha256);
        state.order.remove(sha256);
        state.used -= size;
        Ok(Disowned::Deleted)
    }

    fn list(&self, owner: &Pubkey) -> Result<Vec<Blob>, StoreError> {
        let state = self.lock();
        let mut blobs: Vec<(&Blob, u64)> = state
            .blobs
            .values()
            .filter(|(blob, _)| blob.owners.contains(owner))
            .map(|(blob, _)| (blob, state.order.get(&blob.sha256).copied().unwrap_or(0)))
            .collect();
        blobs.sort_by(|(a, a_seq), (b, b_seq)| (b.uploaded, b_seq).cmp(&(a.uploaded, a_seq)));
        Ok(blobs.into_iter().map(|(blob, _)| blob.clone()).collect())
    }

    fn report(&self, report: &Report) -> Result<(), StoreError> {
        let mut state = self.lock();
        if !state.reports.iter().any(|r| r.event_id == report.event_id) {
            state.reports.push(report.clone());
        }
        Ok(())
    }

    fn reports(&self) -> Result<Vec<Report>, StoreError> {
        Ok(self.lock().reports.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(owner: u8) -> PutBlob {
        PutBlob {
            max_size: 100,
            owner: Some(Pubkey([owner; 32])),
            ..PutBlob::default()
        }
    }

    #[test]
    fn a_blob_stays_until_its_last_owner_disowns_it() {
        let store = MemoryBlobStore::new();
        let first = store.put(&mut &b"hello"[..], &put(1)).unwrap();
        assert!(!first.existed);
        let again = store.put(&mut &b"hello"[..], &put(2)).unwrap();
        assert!(again.existed);
        let sha = first.blob.sha256;
        assert_eq!(&store.read(&sha, 1, 3).unwrap()[..], b"ell");
        assert_eq!(&store.read(&sha, 4, 30).unwrap()[..], b"o");
        assert_eq!(
            store.disown(&sha, &Pubkey([3; 32])).unwrap(),
            Disowned::NotOwner
        );
        assert_eq!(
            store.disown(&sha, &Pubkey([1; 32])).unwrap(),
            Disowned::Removed
        );
        assert_eq!(
            store.disown(&sha, &Pubkey([2; 32])).unwrap(),
            Disowned::Deleted
        );
        assert!(store.stat(&sha).unwrap().is_none());
        assert_eq!(store.used(), 0);
    }

    #[test]
    fn nothing_unverified_or_oversized_is_kept() {
        let store = MemoryBlobStore::with_capacity(8);
        let wrong = PutBlob {
            expected_sha256: vec![Sha256([0; 32])],
            ..put(1)
        };
        assert!(matches!(
            store.put(&mut &b"hello"[..], &wrong),
            Err(StoreError::HashMismatch { .. })
        ));
        let short = PutBlob {
            expected_size: Some(6),
            ..put(1)
        };
        assert!(matches!(
            store.put(&mut &b"hello"[..], &short),
            Err(StoreError::LengthMismatch {
                expected: 6,
                actual: 5
            })
        ));
        let tiny = PutBlob {
            max_size: 3,
            ..put(1)
        };
        assert!(matches!(
            store.put(&mut &b"hello"[..], &tiny),
            Err(StoreError::TooLarge { max: 3 })
        ));
        assert!(matches!(
            store.put(&mut &b""[..], &put(1)),
            Err(StoreError::Empty)
        ));
        assert!(store.is_empty());
        store.put(&mut &b"hello"[..], &put(1)).unwrap();
        assert!(matches!(
            store.put(&mut &b"world"[..], &put(1)),
            Err(StoreError::Full)
        ));
        assert_eq!(store.list(&Pubkey([1; 32])).unwrap().len(), 1);
    }
}
