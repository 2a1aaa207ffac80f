//! Serde support (feature `serde`): canonical [`to_bytes`], zero-copy [`from_bytes`].
//!
//! Deserialization runs over the token tape rather than re-parsing: [`from_bytes`] first
//! [`decode`](crate::decode)s, so it inherits every rule of the decoder (limits, duplicate keys
//! rejected, unsorted keys accepted, no recursion while parsing), and the serde walk that follows
//! recurses only as deep as the document, which the depth limit bounds. Skipping an unknown field
//! is free: a subtree is one jump on the tape. Strings are handed to visitors as borrowed from the
//! input, so `&'de str` and `&'de [u8]` fields cost no copy.
//!
//! Serialization writes into one buffer. Map and struct entries are written as they come and,
//! only when they did not come in key order, re-ordered once at the end of the map, so the output
//! is canonical whatever the field order of the Rust type.

mod de;
mod key;
mod owned;
mod ser;

use std::fmt;

use crate::decode::{Limits, decode_with};
use crate::error::{DecodeError, KeyRepr};

/// Errors of [`to_bytes`] and [`from_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerdeError {
    /// The input is not valid bencode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A message from a `Serialize` or `Deserialize` implementation (wrong type, missing field,
    /// unknown variant...), with the offset of the value it was about when known.
    #[error("{message}{}", Offset(*.offset))]
    Custom {
        /// What went wrong.
        message: String,
        /// Byte offset in the input of the value being deserialized, if any.
        offset: Option<usize>,
    },
    /// The value has no bencode form: `bool`, floats, `()`, unit structs, or `None` anywhere but a
    /// struct field or map value (where it means "leave the key out").
    #[error("bencode cannot represent {0}")]
    Unsupported(&'static str),
    /// An integer outside the range of `i64`, the only integers bencode readers agree on.
    #[error("integer {0} does not fit in an i64")]
    IntegerOutOfRange(i128),
    /// A map key that does not serialize as a string or bytes.
    #[error("dictionary key must be a string or bytes, not {0}")]
    KeyNotString(&'static str),
    /// Two entries of one map serialized to the same key.
    #[error("duplicate dictionary key {}", KeyRepr(.0))]
    DuplicateKey(Vec<u8>),
}

struct Offset(Option<usize>);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(offset) => write!(f, " (value at byte {offset})"),
            None => Ok(()),
        }
    }
}

impl SerdeError {
    fn custom(msg: impl fmt::Display) -> Self {
        SerdeError::Custom {
            message: msg.to_string(),
            offset: None,
        }
    }

    /// Attaches `at` to a message that has no offset yet (the innermost value wins).
    fn locate(self, at: usize) -> Self {
        match self {
            SerdeError::Custom {
                message,
                offset: None,
            } => SerdeError::Custom {
                message,
                offset: Some(at),
            },
            other => other,
        }
    }
}

impl ::serde::ser::Error for SerdeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerdeError::custom(msg)
    }
}

impl ::serde::de::Error for SerdeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerdeError::custom(msg)
    }
}

/// Serializes `value` as canonical bencode: map and struct keys sorted by raw bytes, `None`
/// struct fields and map values left out.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct File<'a> { path: Vec<&'a str>, length: i64, md5sum: Option<&'a str> }
/// let f = File { path: vec!["a", "b.txt"], length: 3, md5sum: None };
/// assert_eq!(swarmgate_bencode::to_bytes(&f)?, b"d6:lengthi3e4:pathl1:a5:b.txtee");
/// # Ok::<(), swarmgate_bencode::SerdeError>(())
/// ```
pub fn to_bytes<T: ::serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, SerdeError> {
    let mut out = Vec::new();
    value.serialize(ser::Ser::new(&mut out, ser::NoneMode::Reject))?;
    Ok(out)
}

/// Deserializes a `T` from exactly one bencode value covering `input`, with the default
/// [`Limits`]. Strings borrow from `input` where `T` allows it.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Info<'a> {
///     name: &'a str,
///     #[serde(rename = "piece length")]
///     piece_length: u32,
///     private: Option<i64>,
/// }
/// let info: Info<'_> = swarmgate_bencode::from_bytes(b"d4:name1:x12:piece lengthi16384ee")?;
/// assert_eq!((info.name, info.piece_length, info.private), ("x", 16384, None));
/// # Ok::<(), swarmgate_bencode::SerdeError>(())
/// ```
pub fn from_bytes<'de, T: ::serde::Deserialize<'de>>(input: &'de [u8]) -> Result<T, SerdeError> {
    from_bytes_with(input, &Limits::new())
}

/// [`from_bytes`] within explicit [`Limits`].
///
/// Decoding itself never recurses, but serde's visitors do, once per level of nesting, so keep
/// `max_depth` to what the call stack can take (the default, 128, is far from any limit).
pub fn from_bytes_with<'de, T: ::serde::Deserialize<'de>>(
    input: &'de [u8],
    limits: &Limits,
) -> Result<T, SerdeError> {
    let doc = decode_with(input, limits)?;
    T::deserialize(de::Des::new(doc.root()))
}
