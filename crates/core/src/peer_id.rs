//! Peer ids (BEP 20): 20 bytes, Azureus style `-XXVVVV-` followed by random bytes.
//!
//! Ours start with `-SG0001-`. Any 20 bytes are a valid id; telling clients apart from them
//! (announce intervals per client family, logs) is the `client_id` module's job.

use std::fmt;

use crate::client_id::{ClientId, identify_client};
use crate::error::LengthError;

/// Swarmgate's Azureus-style prefix: client code `SG`, version 0.0.0.1.
pub const SWARMGATE_PREFIX: &[u8; 8] = b"-SG0001-";

/// A 20-byte peer id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 20]);

impl PeerId {
    /// A Swarmgate id: our prefix, then 12 caller-supplied random bytes mapped onto printable
    /// characters (some trackers and clients log or mangle non-printable ids).
    pub fn swarmgate(random: [u8; 12]) -> Self {
        const ALPHABET: &[u8; 64] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(SWARMGATE_PREFIX);
        for (slot, r) in id[8..].iter_mut().zip(random) {
            *slot = ALPHABET[usize::from(r & 63)];
        }
        Self(id)
    }

    /// Takes exactly 20 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, LengthError> {
        bytes.try_into().map(Self).map_err(|_| LengthError {
            what: "peer id",
            expected: 20,
            actual: bytes.len(),
        })
    }

    /// The 20 bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The client that made this id, when it follows a known BEP 20 convention (see
    /// [`identify_client`]).
    pub fn client(&self) -> Option<ClientId> {
        identify_client(self)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

impl fmt::Display for PeerId {
    /// Printable bytes as they are, others as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarmgate_ids_carry_the_prefix_and_are_printable() {
        let id = PeerId::swarmgate([0xff; 12]);
        assert_eq!(&id.0[..8], SWARMGATE_PREFIX);
        assert!(id.0.iter().all(u8::is_ascii_graphic));
        let client = id.client().unwrap();
        assert_eq!((client.family, client.version), ("Swarmgate", [0, 0, 0, 1]));
    }

    #[test]
    fn display_escapes_binary() {
        let mut raw = [b'a'; 20];
        raw[0] = 0;
        assert!(PeerId(raw).to_string().starts_with("\\x00a"));
    }
}
