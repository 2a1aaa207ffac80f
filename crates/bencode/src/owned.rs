//! [`OwnedValue`]: a plain owned bencode tree, for building documents and for tests.
//!
//! Dictionaries are `BTreeMap<Vec<u8>, _>`, so an `OwnedValue` is canonical by construction:
//! keys are unique and iterate in raw-byte order, which is exactly the order bencode requires.
//! That also means converting an unsorted document to an `OwnedValue` re-orders it; keep the
//! [`Value::raw`] bytes when the original form matters (an info-hash). Conversion and encoding
//! walk with an explicit stack rather than recursion, so a deep document does not overflow the
//! call stack there.

use std::collections::BTreeMap;

use crate::encode::{write_bytes, write_int};
use crate::value::{DictIter, Kind, ListIter, Value};

/// An owned bencode value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OwnedValue {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<OwnedValue>),
    /// A dictionary, keys in raw-byte order.
    Dict(BTreeMap<Vec<u8>, OwnedValue>),
}

impl OwnedValue {
    /// The canonical encoding of this value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical encoding of this value to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        enum Frame<'v> {
            List(std::slice::Iter<'v, OwnedValue>),
            Dict(std::collections::btree_map::Iter<'v, Vec<u8>, OwnedValue>),
        }
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut next = Some(self);
        loop {
            match next.take() {
                Some(OwnedValue::Int(v)) => write_int(out, *v),
                Some(OwnedValue::Bytes(b)) => write_bytes(out, b),
                Some(OwnedValue::List(l)) => {
                    out.push(b'l');
                    stack.push(Frame::List(l.iter()));
                }
                Some(OwnedValue::Dict(d)) => {
                    out.push(b'd');
                    stack.push(Frame::Dict(d.iter()));
                }
                None => {}
            }
            let child = match stack.last_mut() {
                None => return,
                Some(Frame::List(items)) => items.next(),
                Some(Frame::Dict(pairs)) => pairs.next().map(|(k, v)| {
                    write_bytes(out, k);
                    v
                }),
            };
            if child.is_none() {
                out.push(b'e');
                stack.pop();
            }
            next = child;
        }
    }

    /// The type of this value.
    pub fn kind(&self) -> Kind {
        match self {
            OwnedValue::Int(_) => Kind::Int,
            OwnedValue::Bytes(_) => Kind::Bytes,
            OwnedValue::List(_) => Kind::List,
            OwnedValue::Dict(_) => Kind::Dict,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            OwnedValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            OwnedValue::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The string, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The elements, if this is a list.
    pub fn as_list(&self) -> Option<&[OwnedValue]> {
        match self {
            OwnedValue::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map, if this is a dictionary.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, OwnedValue>> {
        match self {
            OwnedValue::Dict(d) => Some(d),
            _ => None,
        }
    }
}

impl<'d, 'a> Value<'d, 'a> {
    /// Copies this value into an [`OwnedValue`] (dictionaries come out sorted).
    pub fn to_owned_value(&self) -> OwnedValue {
        enum Partial<'d, 'a> {
            List(Vec<OwnedValue>, ListIter<'d, 'a>),
            Dict(BTreeMap<Vec<u8>, OwnedValue>, DictIter<'d, 'a>, &'a [u8]),
        }
        let mut stack: Vec<Partial<'d, 'a>> = Vec::new();
        let mut current = *self;
        loop {
            let mut done = match current.kind() {
                Kind::Int => Some(OwnedValue::Int(current.as_int().unwrap_or_default())),
                Kind::Bytes => Some(OwnedValue::Bytes(
                    current.as_bytes().unwrap_or_default().to_vec(),
                )),
                Kind::List => {
                    let list = current.as_list().expect("kind is list");
                    stack.push(Partial::List(Vec::with_capacity(list.len()), list.iter()));
                    None
                }
                Kind::Dict => {
                    let dict = current.as_dict().expect("kind is dict");
                    stack.push(Partial::Dict(BTreeMap::new(), dict.iter(), b""));
                    None
                }
            };
            // Hand finished values to their parents until a parent has another child to visit.
            loop {
                let Some(top) = stack.last_mut() else {
                    return done.expect("the root is finished when the stack is empty");
                };
                let child = match top {
                    Partial::List(items, iter) => {
                        items.extend(done.take());
                        iter.next()
                    }
                    Partial::Dict(map, iter, key) => {
                        if let Some(v) = done.take() {
                            map.insert(key.to_vec(), v);
                        }
                        iter.next().map(|(k, v)| {
                            *key = k;
                            v
                        })
                    }
                };
                if let Some(child) = child {
                    current = child;
                    break;
                }
                done = match stack.pop() {
                    Some(Partial::List(items, _)) => Some(OwnedValue::List(items)),
                    Some(Partial::Dict(map, _, _)) => Some(OwnedValue::Dict(map)),
                    None => None,
                };
            }
        }
    }
}

impl From<i64> for OwnedValue {
    fn from(v: i64) -> Self {
        OwnedValue::Int(v)
    }
}

impl From<&str> for OwnedValue {
    fn from(s: &str) -> Self {
        OwnedValue::Bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for OwnedValue {
    fn from(s: String) -> Self {
        OwnedValue::Bytes(s.into_bytes())
    }
}

impl From<&[u8]> for OwnedValue {
    fn from(b: &[u8]) -> Self {
        OwnedValue::Bytes(b.to_vec())
    }
}

impl From<Vec<u8>> for OwnedValue {
    fn from(b: Vec<u8>) -> Self {
        OwnedValue::Bytes(b)
    }
}

impl From<Vec<OwnedValue>> for OwnedValue {
    fn from(l: Vec<OwnedValue>) -> Self {
        OwnedValue::List(l)
    }
}

impl From<BTreeMap<Vec<u8>, OwnedValue>> for OwnedValue {
    fn from(d: BTreeMap<Vec<u8>, OwnedValue>) -> Self {
        OwnedValue::Dict(d)
    }
}

impl From<Value<'_, '_>> for OwnedValue {
    fn from(v: Value<'_, '_>) -> Self {
        v.to_owned_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    fn dict(pairs: &[(&str, OwnedValue)]) -> OwnedValue {
        OwnedValue::Dict(
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn encodes_canonically() {
        let v = dict(&[
            ("z", OwnedValue::from(1)),
            (
                "a",
                OwnedValue::List(vec![
                    "x".into(),
                    OwnedValue::from(-5),
                    OwnedValue::List(vec![]),
                ]),
            ),
            ("m", dict(&[])),
        ]);
        assert_eq!(v.encode(), b"d1:al1:xi-5elee1:mde1:zi1ee");
        assert_eq!(OwnedValue::from(&b""[..]).encode(), b"0:");
    }

    #[test]
    fn to_owned_sorts_and_round_trips() {
        let doc = decode(b"d1:bli1eli2eee1:ad1:xi3eee").unwrap();
        let owned = doc.root().to_owned_value();
        assert_eq!(owned.encode(), b"d1:ad1:xi3ee1:bli1eli2eeee");
        assert_eq!(owned.as_dict().unwrap().len(), 2);
        assert_eq!(
            decode(b"i7e").unwrap().root().to_owned_value(),
            OwnedValue::Int(7)
        );
        assert_eq!(OwnedValue::from(String::from("hi")).as_str(), Some("hi"));
    }

    #[test]
    fn deep_values_do_not_recurse() {
        let depth = 50_000;
        let src = [vec![b'l'; depth], vec![b'e'; depth]].concat();
        let limits = crate::Limits::new().max_depth(depth);
        let doc = crate::decode_with(&src, &limits).unwrap();
        let owned = doc.root().to_owned_value();
        let mut out = Vec::new();
        owned.encode_into(&mut out);
        assert_eq!(out, src);
        // Dropping a deep tree recurses in the compiler's drop glue: unwind it by hand.
        let mut v = owned;
        while let OwnedValue::List(mut l) = v {
            v = l.pop().unwrap_or(OwnedValue::Int(0));
        }
    }
}
