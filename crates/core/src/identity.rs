//! Identities beyond BitTorrent's own: a file's SHA-256 (its address in the gateway and in
//! Blossom, BUD-01) and a Nostr public key (NIP-01: who owns a blob).
//!
//! Both are 32 bytes with a lower-case hex form, and they name things across every crate above:
//! the content store addresses files and chunks by [`Sha256`], the catalog and the Blossom server
//! record [`Pubkey`] owners, the HTTP API parses both from paths. So they live here, with checked
//! constructors (a 31-byte hash or a 63-character string is an error, never a value) and one hex
//! parser, rather than be parsed again by every caller.

use std::fmt;
use std::str::FromStr;

use crate::error::{LengthError, TextError};
use crate::text;

/// A SHA-256 digest: the address of a stored file (and of each of its chunks).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

/// A Nostr public key (32 bytes, BIP 340 x-only): who owns a blob on the Blossom side.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pubkey(pub [u8; 32]);

macro_rules! hex_identity {
    ($ty:ident, $what:literal) => {
        impl $ty {
            /// The 32 bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Takes exactly 32 bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, LengthError> {
                bytes.try_into().map(Self).map_err(|_| LengthError {
                    what: $what,
                    expected: 32,
                    actual: bytes.len(),
                })
            }

            /// Parses 64 hex characters, either case.
            pub fn from_hex(text: &str) -> Result<Self, TextError> {
                text::from_hex(text).map(Self)
            }

            /// Lower-case hex, 64 characters.
            pub fn to_hex(&self) -> String {
                text::to_hex(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = TextError;

            /// 64 hex characters, either case.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.to_hex())
            }
        }
    };
}

hex_identity!(Sha256, "sha256");
hex_identity!(Pubkey, "Nostr public key");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_bad_text_is_an_error() {
        let text = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        let hash: Sha256 = text.parse().unwrap();
        assert_eq!(hash.to_hex(), text.to_lowercase());
        assert_eq!(hash.to_string().parse::<Sha256>().unwrap(), hash);
        assert_eq!(format!("{hash:?}"), format!("Sha256({})", hash.to_hex()));
        assert!(matches!(
            text[..63].parse::<Sha256>(),
            Err(TextError::Length { actual: 63, .. })
        ));
        assert!(matches!(
            format!("{}g", &text[..63]).parse::<Pubkey>(),
            Err(TextError::Character { offset: 63, .. })
        ));
        assert!("é".repeat(32).parse::<Sha256>().is_err());
        let key = Pubkey::from_slice(&[7; 32]).unwrap();
        assert_eq!(key.as_bytes(), &[7; 32]);
        assert_eq!(Pubkey::from_hex(&key.to_hex()).unwrap(), key);
        let short = Sha256::from_slice(&[0; 31]).unwrap_err();
        assert_eq!((short.expected, short.actual), (32, 31));
    }
}
