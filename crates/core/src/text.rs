//! Hex (RFC 4648 §8) and base32 (RFC 4648 §6) forms of fixed-size digests.
//!
//! Info-hashes travel as 40 hex characters in most places and as 32 base32 characters in older
//! magnet links (BEP 9). Both are fixed-size, so these helpers decode straight into an array and
//! never allocate on the parse path. A pulled-in crate would buy nothing here but a dependency.

use crate::error::TextError;

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX_DIGITS[usize::from(b >> 4)] as char);
        out.push(HEX_DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes exactly `N` bytes from `2 * N` hex characters, either case.
pub fn from_hex<const N: usize>(text: &str) -> Result<[u8; N], TextError> {
    let text = text.as_bytes();
    if text.len() != N * 2 {
        return Err(TextError::Length {
            encoding: "hex",
            expected: N * 2,
            actual: text.len(),
        });
    }
    let mut out = [0u8; N];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        let hi = hex_value(pair[0]).ok_or(TextError::Character {
            encoding: "hex",
            offset: i * 2,
        })?;
        let lo = hex_value(pair[1]).ok_or(TextError::Character {
            encoding: "hex",
            offset: i * 2 + 1,
        })?;
        out[i] = hi << 4 | lo;
    }
    Ok(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Upper-case, unpadded base32 of `bytes`.
pub fn to_base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32_ALPHABET[usize::from((buffer >> bits) & 0x1f)] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(BASE32_ALPHABET[usize::from((buffer << (5 - bits)) & 0x1f)] as char);
    }
    out
}

/// Decodes exactly `N` bytes from unpadded base32, either case. `N * 8` must be a multiple of 5
/// bits' worth of characters, which holds for the 20-byte info-hash (32 characters).
pub fn from_base32<const N: usize>(text: &str) -> Result<[u8; N], TextError> {
    let expected = (N * 8).div_ceil(5);
    let text = text.as_bytes();
    if text.len() != expected {
        return Err(TextError::Length {
            encoding: "base32",
            expected,
            actual: text.len(),
        });
    }
    let mut out = [0u8; N];
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    let mut written = 0;
    for (offset, &c) in text.iter().enumerate() {
        let value = base32_value(c).ok_or(TextError::Character {
            encoding: "base32",
            offset,
        })?;
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[written] = (buffer >> bits) as u8;
            written += 1;
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        // Leftover bits must be zero, or two spellings would name one hash.
        return Err(TextError::Character {
            encoding: "base32",
            offset: text.len() - 1,
        });
    }
    Ok(out)
}

fn base32_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a'),
        b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_case() {
        let bytes = [0x00, 0x9f, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "009fabff");
        assert_eq!(from_hex::<4>("009FABff").unwrap(), bytes);
    }

    #[test]
    fn hex_rejects_bad_length_and_characters() {
        assert_eq!(
            from_hex::<2>("abc"),
            Err(TextError::Length {
                encoding: "hex",
                expected: 4,
                actual: 3
            })
        );
        assert_eq!(
            from_hex::<2>("ab g"),
            Err(TextError::Character {
                encoding: "hex",
                offset: 2
            })
        );
    }

    #[test]
    fn base32_rfc4648_vectors() {
        // RFC 4648 §10 without padding.
        assert_eq!(to_base32(b"f"), "MY");
        assert_eq!(to_base32(b"fo"), "MZXQ");
        assert_eq!(to_base32(b"foo"), "MZXW6");
        assert_eq!(to_base32(b"foob"), "MZXW6YQ");
        assert_eq!(to_base32(b"fooba"), "MZXW6YTB");
        assert_eq!(to_base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(from_base32::<5>("mzxw6ytb").unwrap(), *b"fooba");
    }

    #[test]
    fn base32_rejects_nonzero_trailing_bits() {
        // "MZ" decodes "f" with 2 zero bits left over; "M3" leaves non-zero bits.
        assert_eq!(from_base32::<1>("MY").unwrap(), *b"f");
        assert!(from_base32::<1>("M3").is_err());
        assert!(from_base32::<1>("M1").is_err());
    }
}
