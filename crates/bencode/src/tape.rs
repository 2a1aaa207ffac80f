//! The token tape: one flat `Vec` of 16-byte tokens describing a decoded document.
//!
//! This is libtorrent's `bdecode` layout. Every value, leaf or container, is one [`Token`] in
//! document order, so a subtree is a contiguous run of tokens and skipping it is one jump through
//! [`Token::next`]. Each token knows its exact raw byte span, which is what lets a caller hash the
//! `info` dictionary as it stands in the file. Four `u32`s keep the token small (inputs are capped
//! at 4 GiB for that reason): the tape for a typical torrent fits in a few cache lines.

/// Kind tag of an integer token.
pub(crate) const INT: u32 = 0;
/// Kind tag of a byte-string token.
pub(crate) const BYTES: u32 = 1;
/// Kind tag of a list token.
pub(crate) const LIST: u32 = 2;
/// Kind tag of a dictionary token.
pub(crate) const DICT: u32 = 3;

const KIND_MASK: u32 = 0b11;
/// Set on a dictionary token whose keys are not in strictly ascending order.
pub(crate) const UNSORTED: u32 = 0b100;
const AUX_SHIFT: u32 = 3;
/// Largest auxiliary value; a container count at this value means "count by walking".
pub(crate) const AUX_MAX: u32 = u32::MAX >> AUX_SHIFT;

/// One value of a decoded document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// Offset of the first raw byte (`i`, `l`, `d` or the first length digit).
    pub(crate) start: u32,
    /// Offset one past the last raw byte.
    pub(crate) end: u32,
    /// Index of the token after this value's subtree.
    pub(crate) next: u32,
    /// Kind in bits 0-1, the unsorted flag in bit 2, and above that an auxiliary number: the
    /// header length for integers and strings (payload = start + aux), the child count for lists
    /// and the pair count for dictionaries (saturating at [`AUX_MAX`]).
    pub(crate) meta: u32,
}

impl Token {
    #[inline]
    pub(crate) fn leaf(kind: u32, start: usize, header: usize, end: usize, next: usize) -> Token {
        Token {
            start: start as u32,
            end: end as u32,
            next: next as u32,
            meta: kind | ((header as u32) << AUX_SHIFT),
        }
    }

    #[inline]
    pub(crate) fn kind(&self) -> u32 {
        self.meta & KIND_MASK
    }

    #[inline]
    pub(crate) fn aux(&self) -> u32 {
        self.meta >> AUX_SHIFT
    }

    /// Stores a container's child count (saturating) and flags.
    #[inline]
    pub(crate) fn close(&mut self, end: usize, next: usize, count: u32, flags: u32) {
        self.end = end as u32;
        self.next = next as u32;
        self.meta = (self.meta & KIND_MASK) | flags | (count.min(AUX_MAX) << AUX_SHIFT);
    }

    /// Offset of the payload of a string or integer (after `<len>:` or `i`).
    #[inline]
    pub(crate) fn payload(&self) -> usize {
        self.start as usize + self.aux() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Token>(), 16);
    }

    #[test]
    fn meta_round_trips() {
        let mut t = Token::leaf(DICT, 5, 1, 5, 0);
        assert_eq!(t.kind(), DICT);
        t.close(9, 4, 7, UNSORTED);
        assert_eq!(
            (t.kind(), t.aux(), t.meta & UNSORTED, t.end, t.next),
            (DICT, 7, UNSORTED, 9, 4)
        );
        t.close(9, 4, u32::MAX, 0);
        assert_eq!(t.aux(), AUX_MAX);
        let s = Token::leaf(BYTES, 10, 3, 25, 1);
        assert_eq!((s.payload(), s.kind()), (13, BYTES));
    }
}
