//! Deterministic records for the metadata conformance suite (BEP 3 / BEP 52 torrents of made-up
//! files): every value derives from a number, so a test can rebuild what it stored.

use swarmgate_core::{InfoHash, InfoHashV1, InfoHashV2};

use crate::meta::{ChunkRecord, FileRecord, Layout, TorrentRecord, Upload};
use swarmgate_core::{Pubkey, Sha256};

/// The chunk size of the sample uploads: 2 MiB, as the content store uses.
pub const SAMPLE_CHUNK_SIZE: u64 = 2 * 1024 * 1024;

/// 32 bytes that depend on `tag` and `n` in every byte.
pub fn digest(tag: u8, n: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[0] = tag;
    out[1..5].copy_from_slice(&n.to_le_bytes());
    for (i, byte) in out.iter_mut().enumerate().skip(5) {
        *byte = (i as u8).wrapping_mul(31) ^ tag ^ (n as u8).rotate_left(i as u32 % 8);
    }
    out
}

/// The `i`-th sample Nostr key.
pub fn sample_key(i: u8) -> Pubkey {
    Pubkey(digest(0x4b, u32::from(i)))
}

/// Sample upload number `n`: a blob when `chunk_count` is 0, else chunked in 2 MiB chunks (the
/// last one shorter). Its torrent is v1 when `n % 3 == 0`, v2 when 1 and hybrid when 2; its
/// name is non-ASCII when `n % 4 == 1`; it has an uploader when `n` is even; it has no Blossom
/// owners. Its `created` is `1_700_000_000 + n`.
pub fn sample_upload(n: u32, chunk_count: u32) -> Upload {
    let chunked = chunk_count > 0;
    let last_chunk = 1234 + u64::from(n % 1000);
    let size = if chunked {
        u64::from(chunk_count - 1) * SAMPLE_CHUNK_SIZE + last_chunk
    } else {
        u64::from(n) * 1000 + 17
    };
    let chunks = (0..chunk_count)
        .map(|index| ChunkRecord {
            index,
            sha256: Sha256(digest(0xc4 ^ (index as u8), n.wrapping_mul(7919) ^ index)),
            size: if index + 1 == chunk_count {
                last_chunk
            } else {
                SAMPLE_CHUNK_SIZE
            },
        })
        .collect();
    let v1 = || {
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(&digest(0x11, n)[..20]);
        InfoHashV1(bytes)
    };
    let v2 = || InfoHashV2(digest(0x22, n));
    let info_hash = match n % 3 {
        0 => InfoHash::V1(v1()),
        1 => InfoHash::V2(v2()),
        _ => InfoHash::Hybrid(v1(), v2()),
    };
    let piece_length = if chunked { SAMPLE_CHUNK_SIZE } else { 16_384 };
    let name = if n % 4 == 1 {
        format!("résumé ✓ {n}.txt")
    } else {
        format!("file-{n}.bin")
    };
    Upload {
        file: FileRecord {
            sha256: Sha256(digest(0x5a, n)),
            name: name.clone(),
            size,
            mime: if n % 4 == 1 {
                "text/plain; charset=utf-8".into()
            } else {
                "application/octet-stream".into()
            },
            layout: if chunked {
                Layout::Chunked {
                    chunk_size: SAMPLE_CHUNK_SIZE,
                }
            } else {
                Layout::Blob
            },
            created: 1_700_000_000 + u64::from(n),
            owner: (n % 2 == 0).then(|| format!("uploader-{n}")),
        },
        torrent: TorrentRecord {
            info_hash,
            piece_length,
            piece_count: u32::try_from(size.div_ceil(piece_length)).unwrap_or(u32::MAX),
            magnet: format!(
                "magnet:?xt=urn:btih:{}&dn=file-{n}",
                info_hash.wire().to_hex()
            ),
            torrent: (0..200 + n % 300)
                .map(|i| (i.wrapping_mul(n | 1) % 251) as u8)
                .collect(),
        },
        chunks,
        owners: Vec::new(),
    }
}

/// `upload` as a store gives it back: chunks by index, owners sorted and each once.
pub fn normalized(upload: &Upload) -> Upload {
    let mut out = upload.clone();
    out.chunks.sort_by_key(|chunk| chunk.index);
    out.owners.sort();
    out.owners.dedup();
    out
}
