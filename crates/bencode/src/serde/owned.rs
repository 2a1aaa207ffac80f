//! `Serialize` and `Deserialize` for [`OwnedValue`]: the "any bencode" type for serde.
//!
//! A field typed `OwnedValue` keeps whatever bencode it finds (an unknown extension dictionary,
//! say). Keys and strings go through `serialize_bytes` / `visit_bytes` because bencode strings
//! are bytes; text from other formats (`visit_str`) is accepted as its UTF-8 bytes.

use std::collections::BTreeMap;
use std::fmt;

use ::serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use ::serde::ser::{Serialize, SerializeMap, Serializer};

use crate::owned::OwnedValue;

impl Serialize for OwnedValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OwnedValue::Int(v) => serializer.serialize_i64(*v),
            OwnedValue::Bytes(b) => serializer.serialize_bytes(b),
            OwnedValue::List(l) => serializer.collect_seq(l),
            OwnedValue::Dict(d) => {
                let mut map = serializer.serialize_map(Some(d.len()))?;
                for (k, v) in d {
                    map.serialize_entry(&Bytes(k), v)?;
                }
                map.end()
            }
        }
    }
}

/// A key serialized as bytes.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// A key deserialized from bytes or a string.
struct Key(Vec<u8>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string key")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key, E> {
                Ok(Key(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Key, E> {
                Ok(Key(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.as_bytes().to_vec()))
            }
        }
        deserializer.deserialize_bytes(KeyVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = OwnedValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bencode value")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<OwnedValue, E> {
        i64::try_from(v)
            .map(OwnedValue::Int)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<OwnedValue, E> {
        Ok(OwnedValue::Bytes(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<OwnedValue, E> {
        Ok(OwnedValue::from(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OwnedValue, A::Error> {
        // Capped: a size hint is a claim, not an allocation budget.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(OwnedValue::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OwnedValue, A::Error> {
        let mut dict = BTreeMap::new();
        while let Some((Key(k), v)) = map.next_entry()? {
            if dict.insert(k, v).is_some() {
                return Err(de::Error::custom("duplicate dictionary key"));
            }
        }
        Ok(OwnedValue::Dict(dict))
    }
}

impl<'de> Deserialize<'de> for OwnedValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use crate::{OwnedValue, decode, from_bytes, to_bytes};

    #[test]
    fn owned_value_round_trips_through_serde() {
        let src = b"d1:ai-3e1:bl0:3:\xff\x00\x01dee2:zzi9223372036854775807ee";
        let v: OwnedValue = from_bytes(src).unwrap();
        assert_eq!(v, decode(src).unwrap().root().to_owned_value());
        assert_eq!(to_bytes(&v).unwrap(), src);
    }
}
