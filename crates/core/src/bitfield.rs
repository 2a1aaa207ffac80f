//! The piece bitfield of BEP 3: which pieces a peer (or we) have, one bit each, high bit first.
//!
//! The wire form is the storage form, so a received bitfield is checked once (its length must be
//! `ceil(pieces / 8)` and its spare trailing bits zero, as the spec demands) and then used as it
//! stands. The count of set bits is kept up to date, so "is this peer a seed" is O(1) on every
//! `have`.

use crate::geometry::PieceIndex;

/// A fixed-length set of piece indices, stored as BEP 3 sends it.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

/// A received bitfield that does not fit the torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BitfieldError {
    /// The bitfield is not `ceil(pieces / 8)` bytes long.
    #[error("bitfield of {actual} bytes for {pieces} pieces, expected {expected}")]
    Length {
        /// The number of pieces in the torrent.
        pieces: u32,
        /// The byte length that many pieces need.
        expected: usize,
        /// The byte length received.
        actual: usize,
    },
    /// A bit past the last piece is set.
    #[error("bitfield sets spare bits past piece {pieces}")]
    SpareBits {
        /// The number of pieces in the torrent.
        pieces: u32,
    },
}

impl Bitfield {
    /// An empty set over `len` pieces.
    pub fn new(len: u32) -> Self {
        Self {
            bytes: vec![0; len.div_ceil(8) as usize],
            len,
            ones: 0,
        }
    }

    /// The full set over `len` pieces (a seed's bitfield).
    pub fn full(len: u32) -> Self {
        let mut bytes = vec![0xff; len.div_ceil(8) as usize];
        if let Some(last) = bytes.last_mut() {
            *last = spare_mask(len);
        }
        Self {
            bytes,
            len,
            ones: len,
        }
    }

    /// Checks a bitfield received for a torrent of `len` pieces.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let expected = len.div_ceil(8) as usize;
        if bytes.len() != expected {
            return Err(BitfieldError::Length {
                pieces: len,
                expected,
                actual: bytes.len(),
            });
        }
        if let Some(&last) = bytes.last() {
            if last & !spare_mask(len) != 0 {
                return Err(BitfieldError::SpareBits { pieces: len });
            }
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Self {
            bytes: bytes.to_vec(),
            len,
            ones,
        })
    }

    /// The number of pieces the set ranges over.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True when the set ranges over no pieces at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of pieces in the set.
    pub fn count(&self) -> u32 {
        self.ones
    }

    /// True when every piece is in the set.
    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }

    /// True when no piece is in the set.
    pub fn is_clear(&self) -> bool {
        self.ones == 0
    }

    /// Whether `piece` is in the set; false for an index out of range.
    pub fn get(&self, piece: PieceIndex) -> bool {
        piece.0 < self.len && self.bytes[piece.as_usize() / 8] & bit(piece) != 0
    }

    /// Adds `piece`; returns true if it was not there before. An index out of range is ignored
    /// (returns false): callers check indices against the geometry where they come in.
    pub fn set(&mut self, piece: PieceIndex) -> bool {
        if piece.0 >= self.len || self.get(piece) {
            return false;
        }
        self.bytes[piece.as_usize() / 8] |= bit(piece);
        self.ones += 1;
        true
    }

    /// Removes `piece`; returns true if it was there.
    pub fn clear(&mut self, piece: PieceIndex) -> bool {
        if !self.get(piece) {
            return false;
        }
        self.bytes[piece.as_usize() / 8] &= !bit(piece);
        self.ones -= 1;
        true
    }

    /// The wire form: `ceil(len / 8)` bytes, piece 0 in the high bit of the first byte.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The pieces in the set, in ascending order.
    pub fn ones(&self) -> impl Iterator<Item = PieceIndex> + '_ {
        self.scan(false)
    }

    /// The pieces not in the set, in ascending order.
    pub fn zeros(&self) -> impl Iterator<Item = PieceIndex> + '_ {
        self.scan(true)
    }

    fn scan(&self, invert: bool) -> impl Iterator<Item = PieceIndex> + '_ {
        let len = self.len;
        self.bytes.iter().enumerate().flat_map(move |(i, &byte)| {
            let byte = if invert { !byte } else { byte };
            (0..8u32)
                .filter(move |b| byte & (0x80 >> b) != 0)
                .map(move |b| i as u32 * 8 + b)
                .filter(move |&p| p < len)
                .map(PieceIndex)
        })
    }
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{})", self.ones, self.len)
    }
}

fn bit(piece: PieceIndex) -> u8 {
    0x80 >> (piece.0 % 8)
}

/// The bits of the last byte that belong to real pieces.
fn spare_mask(len: u32) -> u8 {
    match len % 8 {
        0 => 0xff,
        used => !(0xff >> used),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_high_bit_first_with_zero_spare_bits() {
        let mut field = Bitfield::new(10);
        assert!(field.set(PieceIndex(0)));
        assert!(field.set(PieceIndex(9)));
        assert!(!field.set(PieceIndex(9)));
        assert!(!field.set(PieceIndex(10)));
        assert_eq!(field.as_bytes(), &[0x80, 0x40]);
        assert_eq!(field.count(), 2);
        assert_eq!(Bitfield::full(10).as_bytes(), &[0xff, 0xc0]);
        assert_eq!(Bitfield::full(16).as_bytes(), &[0xff, 0xff]);
    }

    #[test]
    fn received_bitfields_are_checked() {
        assert_eq!(
            Bitfield::from_bytes(&[0xff, 0xc0], 10).unwrap(),
            Bitfield::full(10)
        );
        assert!(matches!(
            Bitfield::from_bytes(&[0xff, 0xe0], 10),
            Err(BitfieldError::SpareBits { pieces: 10 })
        ));
        assert!(matches!(
            Bitfield::from_bytes(&[0xff], 10),
            Err(BitfieldError::Length { expected: 2, .. })
        ));
        assert!(Bitfield::from_bytes(&[], 0).unwrap().is_full());
    }

    #[test]
    fn ones_and_zeros_partition_the_range() {
        let field = Bitfield::from_bytes(&[0b1010_0000, 0b0100_0000], 11).unwrap();
        let ones: Vec<u32> = field.ones().map(|p| p.0).collect();
        let zeros: Vec<u32> = field.zeros().map(|p| p.0).collect();
        assert_eq!(ones, [0, 2, 9]);
        assert_eq!(zeros, [1, 3, 4, 5, 6, 7, 8, 10]);
        let mut cleared = field.clone();
        assert!(cleared.clear(PieceIndex(2)));
        assert!(!cleared.clear(PieceIndex(2)));
        assert_eq!(cleared.count(), 2);
    }
}
