//! Info-hashes (BEP 3 v1 SHA-1, BEP 52 v2 SHA-256, and the hybrid pair).
//!
//! A torrent is named by the hash of its bencoded `info` dictionary: SHA-1 for v1, SHA-256 for v2,
//! both for a hybrid torrent. The types here only hold and print hashes; computing one belongs to
//! whoever owns the raw `info` bytes (the metainfo crate), because the hash must be taken over the
//! bytes exactly as they stand in the file.

use std::fmt;
use std::str::FromStr;

use crate::error::{LengthError, TextError};
use crate::text;

/// A v1 info-hash: the SHA-1 of the bencoded `info` dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHashV1(pub [u8; 20]);

/// A v2 info-hash: the SHA-256 of the bencoded `info` dictionary (BEP 52).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHashV2(pub [u8; 32]);

impl InfoHashV1 {
    /// The 20 bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Takes exactly 20 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, LengthError> {
        bytes.try_into().map(Self).map_err(|_| LengthError {
            what: "v1 info-hash",
            expected: 20,
            actual: bytes.len(),
        })
    }

    /// Lower-case hex, 40 characters.
    pub fn to_hex(&self) -> String {
        text::to_hex(&self.0)
    }

    /// Upper-case base32, 32 characters (the older magnet-link form).
    pub fn to_base32(&self) -> String {
        text::to_base32(&self.0)
    }

    /// Parses 40 hex or 32 base32 characters, as `xt=urn:btih:` allows (BEP 9).
    pub fn from_hex_or_base32(text: &str) -> Result<Self, TextError> {
        match text.len() {
            32 => text::from_base32(text).map(Self),
            _ => text::from_hex(text).map(Self),
        }
    }
}

impl InfoHashV2 {
    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Takes exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, LengthError> {
        bytes.try_into().map(Self).map_err(|_| LengthError {
            what: "v2 info-hash",
            expected: 32,
            actual: bytes.len(),
        })
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        text::to_hex(&self.0)
    }

    /// The first 20 bytes: how a v2 torrent is named in handshakes, trackers and the DHT.
    pub fn truncated(&self) -> InfoHashV1 {
        let mut out = [0u8; 20];
        out.copy_from_slice(&self.0[..20]);
        InfoHashV1(out)
    }

    /// The multihash form used by `xt=urn:btmh:` (BEP 9): `1220` followed by the hex digest.
    pub fn to_multihash_hex(&self) -> String {
        format!("1220{}", self.to_hex())
    }

    /// Parses the `urn:btmh:` multihash: `0x12` (sha2-256), `0x20` (32 bytes), then the digest.
    pub fn from_multihash_hex(text: &str) -> Result<Self, TextError> {
        let digest = text.strip_prefix("1220").ok_or(TextError::Character {
            encoding: "multihash",
            offset: 0,
        })?;
        text::from_hex(digest).map(Self)
    }
}

macro_rules! display_as_hex {
    ($ty:ty, $name:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", $name, self.to_hex())
            }
        }
    };
}

display_as_hex!(InfoHashV1, "InfoHashV1");
display_as_hex!(InfoHashV2, "InfoHashV2");

impl FromStr for InfoHashV1 {
    type Err = TextError;

    /// 40 hex characters or 32 base32 characters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex_or_base32(s)
    }
}

impl FromStr for InfoHashV2 {
    type Err = TextError;

    /// 64 hex characters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        text::from_hex(s).map(Self)
    }
}

/// What names a torrent: a v1 hash, a v2 hash, or both for a hybrid torrent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum InfoHash {
    /// A v1-only torrent.
    V1(InfoHashV1),
    /// A v2-only torrent.
    V2(InfoHashV2),
    /// A hybrid torrent: one `info` dictionary carrying both the v1 and the v2 layout.
    Hybrid(InfoHashV1, InfoHashV2),
}

impl InfoHash {
    /// The v1 hash, when the torrent has a v1 view.
    pub fn v1(&self) -> Option<InfoHashV1> {
        match *self {
            Self::V1(v1) | Self::Hybrid(v1, _) => Some(v1),
            Self::V2(_) => None,
        }
    }

    /// The v2 hash, when the torrent has a v2 view.
    pub fn v2(&self) -> Option<InfoHashV2> {
        match *self {
            Self::V2(v2) | Self::Hybrid(_, v2) => Some(v2),
            Self::V1(_) => None,
        }
    }

    /// The 20 bytes that name the torrent on the wire (handshake, tracker, DHT): the v1 hash
    /// when there is one, else the truncated v2 hash.
    pub fn wire(&self) -> InfoHashV1 {
        match *self {
            Self::V1(v1) | Self::Hybrid(v1, _) => v1,
            Self::V2(v2) => v2.truncated(),
        }
    }

    /// Builds the value from whichever hashes exist; `None` when neither does.
    pub fn from_parts(v1: Option<InfoHashV1>, v2: Option<InfoHashV2>) -> Option<Self> {
        match (v1, v2) {
            (Some(v1), Some(v2)) => Some(Self::Hybrid(v1, v2)),
            (Some(v1), None) => Some(Self::V1(v1)),
            (None, Some(v2)) => Some(Self::V2(v2)),
            (None, None) => None,
        }
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V1(v1) => write!(f, "{v1}"),
            Self::V2(v2) => write!(f, "{v2}"),
            Self::Hybrid(v1, v2) => write!(f, "{v1} + {v2}"),
        }
    }
}

impl From<InfoHashV1> for InfoHash {
    fn from(v1: InfoHashV1) -> Self {
        Self::V1(v1)
    }
}

impl From<InfoHashV2> for InfoHash {
    fn from(v2: InfoHashV2) -> Self {
        Self::V2(v2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_parses_hex_and_base32_to_the_same_hash() {
        let hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
        let from_hex: InfoHashV1 = hex.parse().unwrap();
        let b32 = from_hex.to_base32();
        assert_eq!(b32.len(), 32);
        assert_eq!(b32.parse::<InfoHashV1>().unwrap(), from_hex);
        assert_eq!(from_hex.to_string(), hex);
    }

    #[test]
    fn v2_multihash_and_truncation() {
        let v2 = InfoHashV2([0xab; 32]);
        let mh = v2.to_multihash_hex();
        assert!(mh.starts_with("1220"));
        assert_eq!(InfoHashV2::from_multihash_hex(&mh).unwrap(), v2);
        assert!(InfoHashV2::from_multihash_hex(&mh[4..]).is_err());
        assert_eq!(v2.truncated().0, [0xab; 20]);
    }

    #[test]
    fn wire_hash_prefers_v1() {
        let v1 = InfoHashV1([1; 20]);
        let v2 = InfoHashV2([2; 32]);
        assert_eq!(InfoHash::Hybrid(v1, v2).wire(), v1);
        assert_eq!(InfoHash::V2(v2).wire(), InfoHashV1([2; 20]));
        assert_eq!(InfoHash::from_parts(None, None), None);
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(InfoHashV1::from_slice(&[0; 19]).is_err());
        assert!(InfoHashV2::from_slice(&[0; 32]).is_ok());
    }
}
