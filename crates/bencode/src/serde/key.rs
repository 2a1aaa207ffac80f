//! The serializer for dictionary keys: bencode keys are byte strings, so only strings, bytes,
//! chars, unit variants and newtypes of those are accepted; it reports where the key's payload
//! landed in the output so the map serializer can compare and sort keys without copying them.

use std::ops::Range;

use ::serde::ser::{self, Impossible, Serialize};

use super::SerdeError;
use crate::encode::write_bytes;

type Result<T> = std::result::Result<T, SerdeError>;

/// Serializes a map key: strings, bytes and chars (and newtypes of them) only. Returns where the
/// key's payload landed in the buffer.
pub(super) struct KeySer<'o> {
    pub(super) out: &'o mut Vec<u8>,
}

impl KeySer<'_> {
    fn write(self, b: &[u8]) -> Result<Range<usize>> {
        write_bytes(self.out, b);
        Ok(self.out.len() - b.len()..self.out.len())
    }
}

macro_rules! reject_key {
    ($($method:ident($($arg:ty),*) $what:literal;)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<Range<usize>> {
            Err(SerdeError::KeyNotString($what))
        }
    )*};
}

impl<'o> ser::Serializer for KeySer<'o> {
    type Ok = Range<usize>;
    type Error = SerdeError;
    type SerializeSeq = Impossible<Range<usize>, SerdeError>;
    type SerializeTuple = Impossible<Range<usize>, SerdeError>;
    type SerializeTupleStruct = Impossible<Range<usize>, SerdeError>;
    type SerializeTupleVariant = Impossible<Range<usize>, SerdeError>;
    type SerializeMap = Impossible<Range<usize>, SerdeError>;
    type SerializeStruct = Impossible<Range<usize>, SerdeError>;
    type SerializeStructVariant = Impossible<Range<usize>, SerdeError>;

    reject_key! {
        serialize_bool(bool) "a bool";
        serialize_i8(i8) "an integer";
        serialize_i16(i16) "an integer";
        serialize_i32(i32) "an integer";
        serialize_i64(i64) "an integer";
        serialize_u8(u8) "an integer";
        serialize_u16(u16) "an integer";
        serialize_u32(u32) "an integer";
        serialize_u64(u64) "an integer";
        serialize_f32(f32) "a float";
        serialize_f64(f64) "a float";
        serialize_none() "None";
        serialize_unit() "()";
        serialize_unit_struct(&'static str) "a unit struct";
    }

    fn serialize_char(self, v: char) -> Result<Range<usize>> {
        self.write(v.encode_utf8(&mut [0; 4]).as_bytes())
    }
    fn serialize_str(self, v: &str) -> Result<Range<usize>> {
        self.write(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Range<usize>> {
        self.write(v)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Range<usize>> {
        Err(SerdeError::KeyNotString("an Option"))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Range<usize>> {
        self.write(variant.as_bytes())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Range<usize>> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Range<usize>> {
        Err(SerdeError::KeyNotString("an enum variant with data"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(SerdeError::KeyNotString("a sequence"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(SerdeError::KeyNotString("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(SerdeError::KeyNotString("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(SerdeError::KeyNotString("an enum variant with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(SerdeError::KeyNotString("a map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(SerdeError::KeyNotString("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(SerdeError::KeyNotString("an enum variant with data"))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}
