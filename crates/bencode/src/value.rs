//! Cursors over a decoded document: [`Document`], [`Value`], [`List`] and [`Dict`].
//!
//! A cursor is a reference to the tape, a token index and the input slice, so it is `Copy` and
//! navigation is index arithmetic: a child list is walked by following each token's `next`
//! index, never by re-parsing. Strings and raw spans borrow from the input (`'a`), not from the
//! document (`'d`), so they outlive the cursor that found them. Lookups by key are linear, as in
//! libtorrent: torrents have a handful of keys per dictionary, and a scan over a contiguous tape
//! beats building an index.

use std::ops::Range;

use crate::scalar::parse_int;
use crate::tape::{self, Token};

/// A decoded bencode document: owns the token tape and borrows the input.
///
/// Made by [`decode`](crate::decode), [`decode_with`](crate::decode_with) or
/// [`decode_prefix`](crate::decode_prefix); read it through [`Document::root`].
pub struct Document<'a> {
    input: &'a [u8],
    tape: Vec<Token>,
    unsorted_at: Option<usize>,
}

impl<'a> Document<'a> {
    #[inline]
    pub(crate) fn new(input: &'a [u8], tape: Vec<Token>, unsorted_at: Option<usize>) -> Self {
        Document {
            input,
            tape,
            unsorted_at,
        }
    }

    /// The top-level value.
    #[inline]
    pub fn root(&self) -> Value<'_, 'a> {
        Value {
            tape: &self.tape,
            index: 0,
            input: self.input,
        }
    }

    /// The bytes this document was decoded from (for [`decode_prefix`](crate::decode_prefix),
    /// the whole buffer given, of which the document may cover only the front).
    #[inline]
    pub fn input(&self) -> &'a [u8] {
        self.input
    }

    /// Byte offset of the first dictionary (by position) whose keys are not in strictly
    /// ascending raw-byte order, or `None` when every dictionary is canonical.
    #[inline]
    pub fn unsorted_at(&self) -> Option<usize> {
        self.unsorted_at
    }

    /// Number of values in the document (integers, strings, lists and dictionaries).
    #[inline]
    pub fn token_count(&self) -> usize {
        self.tape.len()
    }
}

impl std::fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.root().fmt(f)
    }
}

/// The type of a bencode value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An integer, `i42e`.
    Int,
    /// A byte string, `4:spam`.
    Bytes,
    /// A list, `l...e`.
    List,
    /// A dictionary, `d...e`.
    Dict,
}

/// A cursor on one value of a [`Document`]: cheap to copy, borrowing the document (`'d`) and the
/// input (`'a`).
#[derive(Clone, Copy)]
pub struct Value<'d, 'a> {
    tape: &'d [Token],
    index: usize,
    input: &'a [u8],
}

impl<'d, 'a> Value<'d, 'a> {
    #[inline]
    fn token(&self) -> &'d Token {
        &self.tape[self.index]
    }

    /// The type of this value.
    #[inline]
    pub fn kind(&self) -> Kind {
        match self.token().kind() {
            tape::INT => Kind::Int,
            tape::BYTES => Kind::Bytes,
            tape::LIST => Kind::List,
            _ => Kind::Dict,
        }
    }

    /// The integer, if this is one.
    #[inline]
    pub fn as_int(&self) -> Option<i64> {
        let t = self.token();
        (t.kind() == tape::INT).then(|| parse_int(&self.input[t.payload()..t.end as usize - 1]))
    }

    /// The string's bytes, if this is a byte string.
    #[inline]
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        let t = self.token();
        (t.kind() == tape::BYTES).then(|| &self.input[t.payload()..t.end as usize])
    }

    /// The string, if this is a byte string holding valid UTF-8.
    #[inline]
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list, if this is one.
    #[inline]
    pub fn as_list(&self) -> Option<List<'d, 'a>> {
        (self.token().kind() == tape::LIST).then_some(List { value: *self })
    }

    /// The dictionary, if this is one.
    #[inline]
    pub fn as_dict(&self) -> Option<Dict<'d, 'a>> {
        (self.token().kind() == tape::DICT).then_some(Dict { value: *self })
    }

    /// The exact encoded bytes of this value as they stand in the input: hash these for an
    /// info-hash, never a re-encoding.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        &self.input[self.span()]
    }

    /// Offsets of [`Value::raw`] in the input.
    #[inline]
    pub fn span(&self) -> Range<usize> {
        let t = self.token();
        t.start as usize..t.end as usize
    }

    /// Tape index of the value after this one's subtree.
    #[inline]
    fn next_index(&self) -> usize {
        self.token().next as usize
    }

    #[inline]
    fn at(&self, index: usize) -> Value<'d, 'a> {
        Value {
            tape: self.tape,
            index,
            input: self.input,
        }
    }

    /// Children of a container, as a cursor range over the tape.
    #[inline]
    fn children(&self) -> (usize, usize) {
        (self.index + 1, self.next_index())
    }

    /// Child count stored on a container token (saturated counts are recounted).
    #[inline]
    fn stored_count(&self, step: usize) -> usize {
        let aux = self.token().aux();
        if aux < tape::AUX_MAX {
            return aux as usize;
        }
        let (mut i, end) = self.children();
        let mut n = 0;
        while i < end {
            for _ in 0..step {
                i = self.at(i).next_index();
            }
            n += 1;
        }
        n
    }
}

/// A list in a [`Document`].
#[derive(Clone, Copy)]
pub struct List<'d, 'a> {
    value: Value<'d, 'a>,
}

impl<'d, 'a> List<'d, 'a> {
    /// Number of elements (stored on the token: O(1)).
    #[inline]
    pub fn len(&self) -> usize {
        self.value.stored_count(1)
    }

    /// True when the list has no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.value.index + 1 == self.value.next_index()
    }

    /// The element at `index` (O(index): elements are skipped by subtree).
    #[inline]
    pub fn get(&self, index: usize) -> Option<Value<'d, 'a>> {
        self.iter().nth(index)
    }

    /// The elements in order.
    #[inline]
    pub fn iter(&self) -> ListIter<'d, 'a> {
        let (next, end) = self.value.children();
        ListIter {
            value: self.value,
            next,
            end,
        }
    }

    /// The exact encoded bytes of the list.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.value.raw()
    }

    /// Offsets of [`List::raw`] in the input.
    #[inline]
    pub fn span(&self) -> Range<usize> {
        self.value.span()
    }

    /// This list as a [`Value`].
    #[inline]
    pub fn as_value(&self) -> Value<'d, 'a> {
        self.value
    }
}

impl<'d, 'a> IntoIterator for List<'d, 'a> {
    type Item = Value<'d, 'a>;
    type IntoIter = ListIter<'d, 'a>;
    #[inline]
    fn into_iter(self) -> ListIter<'d, 'a> {
        self.iter()
    }
}

/// Iterator over the elements of a [`List`].
#[derive(Clone)]
pub struct ListIter<'d, 'a> {
    value: Value<'d, 'a>,
    next: usize,
    end: usize,
}

impl<'d, 'a> Iterator for ListIter<'d, 'a> {
    type Item = Value<'d, 'a>;

    #[inline]
    fn next(&mut self) -> Option<Value<'d, 'a>> {
        if self.next >= self.end {
            return None;
        }
        let v = self.value.at(self.next);
        self.next = v.next_index();
        Some(v)
    }
}

impl std::iter::FusedIterator for ListIter<'_, '_> {}

/// A dictionary in a [`Document`]. Keys are raw byte strings; their order is the input's.
#[derive(Clone, Copy)]
pub struct Dict<'d, 'a> {
    value: Value<'d, 'a>,
}

impl<'d, 'a> Dict<'d, 'a> {
    /// Number of key/value pairs (stored on the token: O(1)).
    #[inline]
    pub fn len(&self) -> usize {
        self.value.stored_count(2)
    }

    /// True when the dictionary has no pairs.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.value.index + 1 == self.value.next_index()
    }

    /// The value under `key` (a linear scan; stops early once past `key` in a sorted dictionary).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<Value<'d, 'a>> {
        let sorted = self.is_sorted();
        for (k, v) in self.iter() {
            match k.cmp(key) {
                std::cmp::Ordering::Equal => return Some(v),
                std::cmp::Ordering::Greater if sorted => return None,
                _ => {}
            }
        }
        None
    }

    /// The pairs in input order.
    #[inline]
    pub fn iter(&self) -> DictIter<'d, 'a> {
        let (next, end) = self.value.children();
        DictIter {
            value: self.value,
            next,
            end,
        }
    }

    /// True when the keys are in strictly ascending raw-byte order, as canonical bencode requires.
    #[inline]
    pub fn is_sorted(&self) -> bool {
        self.value.token().meta & tape::UNSORTED == 0
    }

    /// The exact encoded bytes of the dictionary: hash these for an info-hash.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.value.raw()
    }

    /// Offsets of [`Dict::raw`] in the input.
    #[inline]
    pub fn span(&self) -> Range<usize> {
        self.value.span()
    }

    /// This dictionary as a [`Value`].
    #[inline]
    pub fn as_value(&self) -> Value<'d, 'a> {
        self.value
    }
}

impl<'d, 'a> IntoIterator for Dict<'d, 'a> {
    type Item = (&'a [u8], Value<'d, 'a>);
    type IntoIter = DictIter<'d, 'a>;
    #[inline]
    fn into_iter(self) -> DictIter<'d, 'a> {
        self.iter()
    }
}

/// Iterator over the pairs of a [`Dict`], in input order.
#[derive(Clone)]
pub struct DictIter<'d, 'a> {
    value: Value<'d, 'a>,
    next: usize,
    end: usize,
}

impl<'d, 'a> DictIter<'d, 'a> {
    /// The next pair with the key as a cursor too (serde deserializes keys as values).
    #[inline]
    pub(crate) fn next_entry(&mut self) -> Option<(Value<'d, 'a>, Value<'d, 'a>)> {
        if self.next >= self.end {
            return None;
        }
        let key = self.value.at(self.next);
        let value = self.value.at(self.next + 1);
        self.next = value.next_index();
        Some((key, value))
    }
}

impl<'d, 'a> Iterator for DictIter<'d, 'a> {
    type Item = (&'a [u8], Value<'d, 'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (key, value) = self.next_entry()?;
        // Keys are always string tokens: the decoder rejects anything else.
        let t = key.token();
        Some((&key.input[t.payload()..t.end as usize], value))
    }
}

impl std::iter::FusedIterator for DictIter<'_, '_> {}

#[cfg(test)]
mod tests {
    use crate::{Kind, decode};

    #[test]
    fn navigation_and_spans() {
        let src = b"d4:listli1e4:spamd1:xi-3eee3:zzz0:e";
        let doc = decode(src).unwrap();
        assert_eq!(doc.token_count(), 10);
        let root = doc.root().as_dict().unwrap();
        assert_eq!(root.len(), 2);
        let list = root.get(b"list").unwrap().as_list().unwrap();
        assert_eq!(list.len(), 3);
        let kinds: Vec<Kind> = list.iter().map(|v| v.kind()).collect();
        assert_eq!(kinds, [Kind::Int, Kind::Bytes, Kind::Dict]);
        let inner = list.get(2).unwrap();
        assert_eq!(inner.raw(), b"d1:xi-3ee");
        assert_eq!(&src[inner.span()], inner.raw());
        assert_eq!(
            inner.as_dict().unwrap().get(b"x").unwrap().as_int(),
            Some(-3)
        );
        assert!(list.get(3).is_none());
        assert_eq!(root.get(b"zzz").unwrap().as_bytes(), Some(&b""[..]));
        assert!(root.get(b"aaa").is_none());
        assert!(root.get(b"zzzz").is_none());
        assert_eq!(
            root.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            [&b"list"[..], b"zzz"]
        );
    }

    #[test]
    fn accessors_return_none_for_other_kinds() {
        let doc = decode(b"li1e2:\xff\xffe").unwrap();
        let l = doc.root().as_list().unwrap();
        let int = l.get(0).unwrap();
        let bad_utf8 = l.get(1).unwrap();
        assert!(int.as_bytes().is_none() && int.as_list().is_none() && int.as_dict().is_none());
        assert!(bad_utf8.as_int().is_none());
        assert_eq!(bad_utf8.as_bytes(), Some(&[0xff, 0xff][..]));
        assert!(bad_utf8.as_str().is_none());
        assert!(doc.root().as_dict().is_none());
    }

    #[test]
    fn unsorted_lookup_scans_everything() {
        let doc = decode(b"d1:ci3e1:ai1e1:bi2ee").unwrap();
        let d = doc.root().as_dict().unwrap();
        assert!(!d.is_sorted());
        assert_eq!(d.get(b"b").and_then(|v| v.as_int()), Some(2));
        assert_eq!(d.get(b"a").and_then(|v| v.as_int()), Some(1));
    }

    #[test]
    fn empty_containers() {
        let doc = decode(b"ldee").unwrap();
        let l = doc.root().as_list().unwrap();
        assert!(!l.is_empty());
        let d = l.get(0).unwrap().as_dict().unwrap();
        assert_eq!((d.is_empty(), d.len(), d.is_sorted()), (true, 0, true));
    }
}
