//! The serde `Deserializer`: a walk over an already-decoded tape.
//!
//! Every value is a [`Value`] cursor, so `deserialize_any` is a match on the token kind, strings
//! are `visit_borrowed_*` (zero-copy), and `deserialize_ignored_any` skips a subtree in O(1).
//! Errors raised by visitors get the byte offset of the value they concern.

use ::serde::de::{self, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};

use super::SerdeError;
use crate::value::{DictIter, Kind, ListIter, Value};

/// Deserializer for one value of a document.
#[derive(Clone, Copy)]
pub(super) struct Des<'d, 'de> {
    value: Value<'d, 'de>,
}

type Result<T> = std::result::Result<T, SerdeError>;

impl<'d, 'de> Des<'d, 'de> {
    pub(super) fn new(value: Value<'d, 'de>) -> Self {
        Des { value }
    }

    fn locate<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| e.locate(self.value.span().start))
    }

    #[inline]
    fn unexpected(&self) -> Unexpected<'de> {
        match self.value.kind() {
            Kind::Int => Unexpected::Signed(self.value.as_int().unwrap_or_default()),
            Kind::Bytes => Unexpected::Bytes(self.value.as_bytes().unwrap_or_default()),
            Kind::List => Unexpected::Seq,
            Kind::Dict => Unexpected::Map,
        }
    }

    fn any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let v = self.value;
        let r = match v.kind() {
            Kind::Int => visitor.visit_i64(v.as_int().unwrap_or_default()),
            Kind::Bytes => visitor.visit_borrowed_bytes(v.as_bytes().unwrap_or_default()),
            Kind::List => match v.as_list() {
                Some(list) => visitor.visit_seq(Seq {
                    iter: list.iter(),
                    left: list.len(),
                }),
                None => Err(de::Error::invalid_type(Unexpected::Other("?"), &visitor)),
            },
            Kind::Dict => match v.as_dict() {
                Some(dict) => visitor.visit_map(Map {
                    iter: dict.iter(),
                    value: None,
                    left: dict.len(),
                }),
                None => Err(de::Error::invalid_type(Unexpected::Other("?"), &visitor)),
            },
        };
        self.locate(r)
    }

    /// Strings as `&'de str` when they are UTF-8; anything else through `any`.
    fn text<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value.as_bytes() {
            Some(bytes) => {
                let r = match std::str::from_utf8(bytes) {
                    Ok(s) => visitor.visit_borrowed_str(s),
                    Err(_) => Err(de::Error::invalid_value(Unexpected::Bytes(bytes), &visitor)),
                };
                self.locate(r)
            }
            None => self.any(visitor),
        }
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.any(visitor)
        }
    )*};
}

impl<'d, 'de> de::Deserializer<'de> for Des<'d, 'de> {
    type Error = SerdeError;

    forward_to_any! {
        deserialize_any deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_bytes deserialize_byte_buf
        deserialize_unit deserialize_seq deserialize_map
    }

    /// Bencode has no booleans; `i0e` and `i1e` are read as `false` and `true`.
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value.as_int() {
            Some(0) => self.locate(visitor.visit_bool(false)),
            Some(1) => self.locate(visitor.visit_bool(true)),
            _ => self.locate(Err(de::Error::invalid_type(self.unexpected(), &visitor))),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.text(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.text(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.text(visitor)
    }

    /// Field and variant names are matched as bytes: serde's derived visitors accept them, and
    /// it spares a UTF-8 check per key.
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.any(visitor)
    }

    /// A value that is present is `Some`; an absent struct field is `None` (serde's default).
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.locate(visitor.visit_some(self))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.locate(visitor.visit_newtype_struct(self))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.any(visitor)
    }

    /// Externally tagged, as serde writes it: a unit variant is its name as a string, any other
    /// variant a one-entry dictionary `{name: content}`.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let r = match (self.value.as_str(), self.value.as_dict()) {
            (Some(name), _) => visitor.visit_enum(name.into_deserializer()),
            (None, Some(dict)) if dict.len() == 1 => {
                let mut iter = dict.iter();
                match iter.next_entry() {
                    Some((key, content)) => visitor.visit_enum(Enum { key, content }),
                    None => Err(de::Error::invalid_length(0, &"one variant")),
                }
            }
            (None, Some(dict)) => Err(de::Error::invalid_length(
                dict.len(),
                &"a dictionary of one entry",
            )),
            (None, None) => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        };
        self.locate(r)
    }

    /// Skipping is free on a tape: the subtree is already delimited.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

struct Seq<'d, 'de> {
    iter: ListIter<'d, 'de>,
    left: usize,
}

impl<'d, 'de> de::SeqAccess<'de> for Seq<'d, 'de> {
    type Error = SerdeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.iter.next() {
            Some(value) => {
                self.left = self.left.saturating_sub(1);
                seed.deserialize(Des { value }).map(Some)
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Map<'d, 'de> {
    iter: DictIter<'d, 'de>,
    value: Option<Value<'d, 'de>>,
    left: usize,
}

impl<'d, 'de> de::MapAccess<'de> for Map<'d, 'de> {
    type Error = SerdeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.iter.next_entry() {
            Some((key, value)) => {
                self.value = Some(value);
                self.left = self.left.saturating_sub(1);
                seed.deserialize(Des { value: key }).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        match self.value.take() {
            Some(value) => seed.deserialize(Des { value }),
            None => Err(SerdeError::custom("map value requested before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Enum<'d, 'de> {
    key: Value<'d, 'de>,
    content: Value<'d, 'de>,
}

impl<'d, 'de> de::EnumAccess<'de> for Enum<'d, 'de> {
    type Error = SerdeError;
    type Variant = Des<'d, 'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Des<'d, 'de>)> {
        let variant = seed.deserialize(Des { value: self.key })?;
        Ok((
            variant,
            Des {
                value: self.content,
            },
        ))
    }
}

impl<'d, 'de> de::VariantAccess<'de> for Des<'d, 'de> {
    type Error = SerdeError;

    fn unit_variant(self) -> Result<()> {
        self.locate(Err(de::Error::invalid_type(
            self.unexpected(),
            &"a unit variant",
        )))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use crate::{OwnedValue, SerdeError, from_bytes};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Peer<'a> {
        ip: &'a str,
        port: u16,
        #[serde(default)]
        seed: bool,
    }

    #[test]
    fn structs_skip_unknown_subtrees() {
        let src = b"d2:ip9:127.0.0.14:junkld1:xlleeee4:porti6881e4:seedi1ee";
        let p: Peer<'_> = from_bytes(src).unwrap();
        assert_eq!(
            p,
            Peer {
                ip: "127.0.0.1",
                port: 6881,
                seed: true
            }
        );
    }

    #[test]
    fn wrong_types_are_errors_with_offsets() {
        let e = from_bytes::<Peer<'_>>(b"d2:ipi1e4:porti1ee").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid type: integer `1`, expected a borrowed string (value at byte 5)"
        );
        let e = from_bytes::<Peer<'_>>(b"d2:ip1:x4:porti70000ee").unwrap_err();
        assert!(
            matches!(
                e,
                SerdeError::Custom {
                    offset: Some(14),
                    ..
                }
            ),
            "{e}"
        );
        let e = from_bytes::<&str>(b"1:\xff").unwrap_err();
        assert!(
            e.to_string().starts_with("invalid value: byte array"),
            "{e}"
        );
        assert!(from_bytes::<f64>(b"1:x").is_err());
    }

    #[test]
    fn any_maps_bencode_onto_serde_kinds() {
        assert_eq!(from_bytes::<i64>(b"i-5e").unwrap(), -5);
        assert_eq!(from_bytes::<&[u8]>(b"2:\x00\x01").unwrap(), &[0, 1]);
        assert_eq!(from_bytes::<Vec<u8>>(b"li1ei2ee").unwrap(), [1, 2]);
        assert_eq!(from_bytes::<(i64, &str)>(b"li1e1:xe").unwrap(), (1, "x"));
        assert_eq!(from_bytes::<Option<i64>>(b"i1e").unwrap(), Some(1));
        assert_eq!(from_bytes::<char>(b"2:\xc3\xa9").unwrap(), 'é');
        let v: OwnedValue = from_bytes(b"d1:ali1eee").unwrap();
        assert_eq!(v.encode(), b"d1:ali1eee");
    }
}
