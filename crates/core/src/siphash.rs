//! SipHash-2-4 (Aumasson and Bernstein, 2012): the keyed hash behind values that must be
//! unforgeable without being stored: the tracker's BEP 15 connection ids and the DHT's announce
//! tokens.
//!
//! Written out (about 40 lines, checked against the reference vectors) rather than taken from
//! `std`, whose keyed `SipHasher` is deprecated, or from a crate, for one function.

/// SipHash-2-4 of `message` under the 128-bit `key` (the reference's byte order: the key's
/// first 8 bytes are `k0` as a little-endian word).
///
/// ```
/// // The SipHash paper's Appendix A: key 00 01 .. 0f, message 00 01 .. 0e.
/// let key: [u8; 16] = std::array::from_fn(|i| i as u8);
/// let message: Vec<u8> = (0..15).collect();
/// assert_eq!(swarmgate_core::siphash24(&key, &message), 0xa129_ca61_49be_45e5);
/// ```
#[inline]
pub fn siphash24(key: &[u8; 16], message: &[u8]) -> u64 {
    let (k0, k1) = key.split_at(8);
    let k0 = u64::from_le_bytes(k0.try_into().expect("8 bytes"));
    let k1 = u64::from_le_bytes(k1.try_into().expect("8 bytes"));
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut words = message.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let m = u64::from_le_bytes(bytes);
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let mut last = [0u8; 8];
    let tail = words.remainder();
    last[..tail.len()].copy_from_slice(tail);
    last[7] = message.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    round(&mut v);
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key 00 01 .. 0f of the SipHash paper.
    const PAPER_KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    #[test]
    fn siphash_matches_the_reference_vectors() {
        // Appendix A of the paper: the message 00 01 .. 0e.
        let message: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(&PAPER_KEY, &message), 0xa129_ca61_49be_45e5);
        // vectors.h of the reference implementation: the empty message and 00..07.
        assert_eq!(siphash24(&PAPER_KEY, &[]), 0x726f_db47_dd0e_0e31);
        let eight: Vec<u8> = (0..8).collect();
        assert_eq!(siphash24(&PAPER_KEY, &eight), 0x93f5_f579_9a93_2462);
    }
}
