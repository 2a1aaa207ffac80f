//! The manifest of a chunked file (BEP 3 pieces = 2 MiB chunks): the file's sha256 and size,
//! and each chunk's sha256 (and SHA-1) in order, with a checksum.
//!
//! A chunked file exists in the store exactly when its manifest stands at
//! `manifests/ab/cd/<sha256>`: the manifest is renamed there last, after every chunk is in place,
//! so a reader never finds a file with a missing chunk. It also keeps the content store whole
//! without the metadata database (reads, chunk reference counts, recovery after a crash).
//!
//! Binary, little-endian, fixed header of 64 bytes:
//!
//! ```text
//! 0   magic "SGMANIF1"          8   file sha256 (32)     40  size (u64)
//! 48  chunk size (u32)          52  chunk count (u32)    56  flags (bit 0: SHA-1s follow)
//! 57  zero (7)                  64  count x chunk sha256 (32 each)
//!     [count x piece SHA-1 (20 each)]                     then SHA-256 of all the above (32)
//! ```

use sha2::Digest;

use swarmgate_core::Sha256;

const MAGIC: &[u8; 8] = b"SGMANIF1";
const HEADER: usize = 64;
const CHECKSUM: usize = 32;
const FLAG_SHA1: u8 = 1;

/// The most chunks a manifest may list when read from disk (2^24 chunks of 2 MiB: 32 TiB).
pub(crate) const MAX_CHUNKS: u32 = 1 << 24;

/// Why bytes are not a manifest.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ManifestError {
    /// The bytes do not start with the manifest magic.
    #[error("not a manifest (bad magic)")]
    Magic,
    /// The header's numbers disagree with each other or with the limit.
    #[error("inconsistent header: {0}")]
    Header(&'static str),
    /// The checksum does not match the bytes.
    #[error("checksum mismatch")]
    Checksum,
}

/// The chunk list of one chunked file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// The whole file's sha256.
    pub(crate) sha256: Sha256,
    /// The file's length.
    pub(crate) size: u64,
    /// The length of every chunk but the last.
    pub(crate) chunk_size: u32,
    /// The chunks' sha256, in order.
    pub(crate) chunks: Vec<Sha256>,
    /// The chunks' SHA-1, in order, when computed at ingest.
    pub(crate) piece_sha1: Option<Vec<[u8; 20]>>,
}

impl Manifest {
    /// The bytes on disk.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let count = self.chunks.len();
        let mut out = Vec::with_capacity(HEADER + count * 52 + CHECKSUM);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.sha256.0);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.chunk_size.to_le_bytes());
        out.extend_from_slice(&(count as u32).to_le_bytes());
        out.push(if self.piece_sha1.is_some() {
            FLAG_SHA1
        } else {
            0
        });
        out.extend_from_slice(&[0; 7]);
        for chunk in &self.chunks {
            out.extend_from_slice(&chunk.0);
        }
        for hash in self.piece_sha1.iter().flatten() {
            out.extend_from_slice(hash);
        }
        let checksum = sha2::Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        out
    }

    /// Decodes a manifest from the start of `bytes`: `None` when more bytes are needed, else
    /// the manifest and the bytes it took. At most `max_chunks` chunks.
    pub(crate) fn decode(
        bytes: &[u8],
        max_chunks: u32,
    ) -> Result<Option<(Self, usize)>, ManifestError> {
        let magic_len = bytes.len().min(MAGIC.len());
        if bytes[..magic_len] != MAGIC[..magic_len] {
            return Err(ManifestError::Magic);
        }
        let Some(header) = bytes.get(..HEADER) else {
            return Ok(None);
        };
        let u64_at = |at: usize| {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(raw)
        };
        let u32_at = |at: usize| {
            let mut raw = [0u8; 4];
            raw.copy_from_slice(&header[at..at + 4]);
            u32::from_le_bytes(raw)
        };
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&header[8..40]);
        let size = u64_at(40);
        let chunk_size = u32_at(48);
        let count = u32_at(52);
        let flags = header[56];
        if header[57..64] != [0; 7] || flags & !FLAG_SHA1 != 0 {
            return Err(ManifestError::Header("unknown flags or reserved bytes"));
        }
        if chunk_size == 0 {
            return Err(ManifestError::Header("chunk size 0"));
        }
        if count > max_chunks {
            return Err(ManifestError::Header("more chunks than the limit"));
        }
        if u64::from(count) != size.div_ceil(u64::from(chunk_size)) {
            return Err(ManifestError::Header("chunk count does not cover the size"));
        }
        let count = count as usize;
        let has_sha1 = flags & FLAG_SHA1 != 0;
        let body = count * 32 + if has_sha1 { count * 20 } else { 0 };
        let total = HEADER + body + CHECKSUM;
        if bytes.len() < total {
            return Ok(None);
        }
        let (covered, checksum) = bytes[..total].split_at(total - CHECKSUM);
        if sha2::Sha256::digest(covered).as_slice() != checksum {
            return Err(ManifestError::Checksum);
        }
        let hashes = &covered[HEADER..HEADER + count * 32];
        let chunks = hashes
            .chunks_exact(32)
            .map(|raw| {
                let mut hash = [0u8; 32];
                hash.copy_from_slice(raw);
                Sha256(hash)
            })
            .collect();
        let piece_sha1 = has_sha1.then(|| {
            covered[HEADER + count * 32..]
                .chunks_exact(20)
                .map(|raw| {
                    let mut hash = [0u8; 20];
                    hash.copy_from_slice(raw);
                    hash
                })
                .collect()
        });
        Ok(Some((
            Self {
                sha256: Sha256(sha256),
                size,
                chunk_size,
                chunks,
                piece_sha1,
            },
            total,
        )))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample(count: usize, sha1: bool) -> Manifest {
        Manifest {
            sha256: Sha256([9; 32]),
            size: if count == 0 {
                0
            } else {
                count as u64 * 100 - 1
            },
            chunk_size: 100,
            chunks: (0..count).map(|i| Sha256([i as u8; 32])).collect(),
            piece_sha1: sha1.then(|| (0..count).map(|i| [i as u8 ^ 0xff; 20]).collect()),
        }
    }

    #[test]
    fn the_layout_is_as_documented() {
        let bytes = sample(2, true).encode();
        assert_eq!(bytes.len(), 64 + 2 * 32 + 2 * 20 + 32);
        assert_eq!(&bytes[..8], b"SGMANIF1");
        assert_eq!(&bytes[8..40], &[9; 32]);
        assert_eq!(&bytes[40..48], &199u64.to_le_bytes());
        assert_eq!(&bytes[48..52], &100u32.to_le_bytes());
        assert_eq!(&bytes[52..56], &2u32.to_le_bytes());
        assert_eq!(bytes[56], 1);
        assert_eq!(&bytes[64..96], &[0; 32]);
        assert_eq!(&bytes[96..128], &[1; 32]);
        assert_eq!(&bytes[128..148], &[0xff; 20]);
        let end = bytes.len() - 32;
        assert_eq!(
            &bytes[end..],
            sha2::Sha256::digest(&bytes[..end]).as_slice()
        );
    }

    #[test]
    fn damage_is_detected() {
        let bytes = sample(3, false).encode();
        let mut flipped = bytes.clone();
        flipped[70] ^= 1;
        assert_eq!(
            Manifest::decode(&flipped, MAX_CHUNKS),
            Err(ManifestError::Checksum)
        );
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert_eq!(
            Manifest::decode(&magic, MAX_CHUNKS),
            Err(ManifestError::Magic)
        );
        let mut count = bytes.clone();
        count[52] = 4;
        assert!(matches!(
            Manifest::decode(&count, MAX_CHUNKS),
            Err(ManifestError::Header(_))
        ));
        let mut flags = bytes.clone();
        flags[56] = 2;
        assert!(matches!(
            Manifest::decode(&flags, MAX_CHUNKS),
            Err(ManifestError::Header(_))
        ));
        assert!(matches!(
            Manifest::decode(&bytes, 2),
            Err(ManifestError::Header(_))
        ));
    }

    #[test]
    fn every_truncation_needs_more_bytes() {
        let bytes = sample(3, true).encode();
        for end in 0..bytes.len() {
            assert_eq!(
                Manifest::decode(&bytes[..end], MAX_CHUNKS),
                Ok(None),
                "{end}"
            );
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"tail");
        let (_, used) = Manifest::decode(&longer, MAX_CHUNKS).unwrap().unwrap();
        assert_eq!(used, bytes.len());
    }

    proptest! {
        #[test]
        fn round_trips(count in 0usize..40, sha1 in any::<bool>(), seed in any::<u8>()) {
            let mut manifest = sample(count, sha1);
            manifest.sha256 = Sha256([seed; 32]);
            let bytes = manifest.encode();
            let (decoded, used) = Manifest::decode(&bytes, MAX_CHUNKS).unwrap().unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(decoded, manifest);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Manifest::decode(&bytes, MAX_CHUNKS);
            let mut prefixed = b"SGMANIF1".to_vec();
            prefixed.extend_from_slice(&bytes);
            let _ = Manifest::decode(&prefixed, MAX_CHUNKS);
        }
    }
}
