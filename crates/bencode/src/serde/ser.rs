//! The serde `Serializer`: canonical bencode straight into one buffer.
//!
//! Leaves are written in place. A map or struct writes its entries as they come, remembering
//! where each entry and its key sit in the buffer; if the keys did not arrive in ascending
//! order (a struct whose fields are not declared alphabetically, a `HashMap`), the entries are
//! re-ordered once when the map ends. A `None` in a struct field or map value writes nothing and
//! its key is taken back out, so optional fields are simply absent.

use std::ops::Range;

use ::serde::ser::{self, Serialize};

use super::SerdeError;
use super::key::KeySer;
use crate::encode::{write_bytes, write_int};

type Result<T> = std::result::Result<T, SerdeError>;

/// What `serialize_none` does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum NoneMode {
    /// At the top level and in lists: an error, bencode has no null.
    Reject,
    /// In a struct field or map value: write nothing, the entry is dropped.
    Skip,
}

/// Serializer for one value.
pub(super) struct Ser<'o> {
    out: &'o mut Vec<u8>,
    none: NoneMode,
}

impl<'o> Ser<'o> {
    pub(super) fn new(out: &'o mut Vec<u8>, none: NoneMode) -> Self {
        Ser { out, none }
    }
}

fn int<T: TryInto<i64> + Into<i128> + Copy>(out: &mut Vec<u8>, v: T) -> Result<()> {
    let i = v
        .try_into()
        .map_err(|_| SerdeError::IntegerOutOfRange(v.into()))?;
    write_int(out, i);
    Ok(())
}

impl<'o> ser::Serializer for Ser<'o> {
    type Ok = ();
    type Error = SerdeError;
    type SerializeSeq = SeqSer<'o>;
    type SerializeTuple = SeqSer<'o>;
    type SerializeTupleStruct = SeqSer<'o>;
    type SerializeTupleVariant = SeqSer<'o>;
    type SerializeMap = MapSer<'o>;
    type SerializeStruct = MapSer<'o>;
    type SerializeStructVariant = MapSer<'o>;

    fn serialize_bool(self, _: bool) -> Result<()> {
        Err(SerdeError::Unsupported("a bool"))
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_i128(self, v: i128) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        int(self.out, v)
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        let i = i64::try_from(v)
            .map_err(|_| SerdeError::IntegerOutOfRange(i128::try_from(v).unwrap_or(i128::MAX)))?;
        write_int(self.out, i);
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result<()> {
        Err(SerdeError::Unsupported("a floating-point number"))
    }
    fn serialize_f64(self, _: f64) -> Result<()> {
        Err(SerdeError::Unsupported("a floating-point number"))
    }
    fn serialize_char(self, v: char) -> Result<()> {
        write_bytes(self.out, v.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        write_bytes(self.out, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        write_bytes(self.out, v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        match self.none {
            NoneMode::Skip => Ok(()),
            NoneMode::Reject => Err(SerdeError::Unsupported(
                "None outside a struct field or map value",
            )),
        }
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        Err(SerdeError::Unsupported("()"))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Err(SerdeError::Unsupported("a unit struct"))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.out.push(b'd');
        write_bytes(self.out, variant.as_bytes());
        value.serialize(Ser::new(self.out, NoneMode::Reject))?;
        self.out.push(b'e');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqSer<'o>> {
        self.out.push(b'l');
        Ok(SeqSer {
            out: self.out,
            closers: 1,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer<'o>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer<'o>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<SeqSer<'o>> {
        self.out.push(b'd');
        write_bytes(self.out, variant.as_bytes());
        self.out.push(b'l');
        Ok(SeqSer {
            out: self.out,
            closers: 2,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer<'o>> {
        Ok(MapSer::open(self.out, 1))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapSer<'o>> {
        Ok(MapSer::open(self.out, 1))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapSer<'o>> {
        self.out.push(b'd');
        write_bytes(self.out, variant.as_bytes());
        Ok(MapSer::open(self.out, 2))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// A list (or a tuple variant's list inside its one-entry dictionary).
pub(super) struct SeqSer<'o> {
    out: &'o mut Vec<u8>,
    /// How many `e` to write at the end.
    closers: usize,
}

impl SeqSer<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(Ser::new(self.out, NoneMode::Reject))
    }
    fn close(self) -> Result<()> {
        self.out.extend(std::iter::repeat_n(b'e', self.closers));
        Ok(())
    }
}

macro_rules! seq_impl {
    ($($trait:ident $method:ident),*) => {$(
        impl ser::$trait for SeqSer<'_> {
            type Ok = ();
            type Error = SerdeError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }
            fn end(self) -> Result<()> {
                self.close()
            }
        }
    )*};
}

seq_impl!(SerializeSeq serialize_element, SerializeTuple serialize_element,
    SerializeTupleStruct serialize_field, SerializeTupleVariant serialize_field);

/// One written entry of a map: where it is and where its key's payload is.
struct Entry {
    span: Range<usize>,
    key: Range<usize>,
}

/// A dictionary being written; re-ordered at the end if its keys came out of order.
pub(super) struct MapSer<'o> {
    out: &'o mut Vec<u8>,
    body: usize,
    entries: Vec<Entry>,
    sorted: bool,
    /// The key written by `serialize_key`, waiting for its value: (entry start, key payload).
    pending: Option<(usize, Range<usize>)>,
    closers: usize,
}

impl<'o> MapSer<'o> {
    fn open(out: &'o mut Vec<u8>, closers: usize) -> Self {
        out.push(b'd');
        let body = out.len();
        MapSer {
            out,
            body,
            entries: Vec::new(),
            sorted: true,
            pending: None,
            closers,
        }
    }

    fn key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result<()> {
        let start = self.out.len();
        let payload = key.serialize(KeySer { out: self.out })?;
        self.pending = Some((start, payload));
        Ok(())
    }

    fn value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<()> {
        let (start, key) = self
            .pending
            .take()
            .ok_or_else(|| SerdeError::custom("map value serialized before its key"))?;
        let before = self.out.len();
        value.serialize(Ser::new(self.out, NoneMode::Skip))?;
        if self.out.len() == before {
            // None: every bencode value is at least two bytes, so nothing written means skip.
            self.out.truncate(start);
            return Ok(());
        }
        if let Some(last) = self.entries.last() {
            let (prev, this) = (&self.out[last.key.clone()], &self.out[key.clone()]);
            if prev == this {
                return Err(SerdeError::DuplicateKey(this.to_vec()));
            }
            self.sorted &= prev < this;
        }
        self.entries.push(Entry {
            span: start..self.out.len(),
            key,
        });
        Ok(())
    }

    fn close(mut self) -> Result<()> {
        if !self.sorted {
            let out = &*self.out;
            self.entries
                .sort_unstable_by(|a, b| out[a.key.clone()].cmp(&out[b.key.clone()]));
            for pair in self.entries.windows(2) {
                if out[pair[0].key.clone()] == out[pair[1].key.clone()] {
                    return Err(SerdeError::DuplicateKey(out[pair[0].key.clone()].to_vec()));
                }
            }
            let body = self.out.split_off(self.body);
            for entry in &self.entries {
                let span = entry.span.start - self.body..entry.span.end - self.body;
                self.out.extend_from_slice(&body[span]);
            }
        }
        self.out.extend(std::iter::repeat_n(b'e', self.closers));
        Ok(())
    }
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = ();
    type Error = SerdeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.value(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

impl ser::SerializeStruct for MapSer<'_> {
    type Ok = ();
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

impl ser::SerializeStructVariant for MapSer<'_> {
    type Ok = ();
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::{SerdeError, to_bytes};

    /// A map serialized in the order given, as a `HashMap` might.
    struct InOrder<'a, V>(&'a [(&'a str, V)]);

    impl<V: serde::Serialize> serde::Serialize for InOrder<'_, V> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    #[test]
    fn maps_come_out_sorted_whatever_the_input_order() {
        assert_eq!(
            to_bytes(&InOrder(&[("a", 1), ("b", 2)])).unwrap(),
            b"d1:ai1e1:bi2ee"
        );
        assert_eq!(
            to_bytes(&InOrder(&[("b", 2), ("a", 1)])).unwrap(),
            b"d1:ai1e1:bi2ee"
        );
        assert_eq!(
            to_bytes(&InOrder(&[("c", 3), ("a", 1), ("b", 2)])).unwrap(),
            b"d1:ai1e1:bi2e1:ci3ee"
        );
        assert_eq!(
            to_bytes(&InOrder(&[("b", 2), ("a", 1), ("b", 3)])),
            Err(SerdeError::DuplicateKey(b"b".to_vec()))
        );
        assert_eq!(
            to_bytes(&InOrder(&[("b", None), ("a", Some(1))])).unwrap(),
            b"d1:ai1ee"
        );
    }

    #[test]
    fn nested_maps_reorder_their_whole_entries() {
        let mut inner = BTreeMap::new();
        inner.insert("y", vec![1, 2]);
        let outer = [("z", inner.clone()), ("a", inner)];
        assert_eq!(
            to_bytes(&InOrder(&outer)).unwrap(),
            b"d1:ad1:yli1ei2eee1:zd1:yli1ei2eeee"
        );
    }

    #[test]
    fn integers_and_chars() {
        assert_eq!(to_bytes(&-7i8).unwrap(), b"i-7e");
        assert_eq!(to_bytes(&u32::MAX).unwrap(), b"i4294967295e");
        assert_eq!(
            to_bytes(&(1u128 << 64)),
            Err(SerdeError::IntegerOutOfRange(1 << 64))
        );
        assert_eq!(to_bytes(&'é').unwrap(), "2:é".as_bytes());
        assert_eq!(to_bytes(&(1, "x")).unwrap(), b"li1e1:xe");
    }
}
