//! `Debug` for the cursors: a readable bencode tree, not the tape's internals.
//!
//! Strings print as quoted UTF-8 when they are valid UTF-8 and as hex otherwise (a `pieces`
//! string is binary), and long strings are truncated so printing a torrent stays readable.
//! Printing goes through [`std::fmt::Formatter::debug_list`] and `debug_map`, so `{:#?}` indents,
//! and stops descending past [`MAX_DEPTH`] levels so that a hostile document cannot overflow the
//! stack through recursion in `fmt`.

use std::fmt;

use crate::value::{Dict, Kind, List, Value};

/// Strings longer than this many bytes are truncated.
const MAX_SHOWN: usize = 64;
/// Containers nested deeper than this print as `[…]` / `{…}`.
const MAX_DEPTH: usize = 32;

struct Shown<'d, 'a> {
    value: Value<'d, 'a>,
    depth: usize,
}

struct ShownBytes<'a>(&'a [u8]);

impl fmt::Debug for ShownBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                let mut cut = s.len().min(MAX_SHOWN);
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                write!(f, "{:?}", &s[..cut])?;
            }
            Err(_) => {
                f.write_str("0x")?;
                for b in &bytes[..bytes.len().min(MAX_SHOWN)] {
                    write!(f, "{b:02x}")?;
                }
            }
        }
        if bytes.len() > MAX_SHOWN {
            write!(f, "… ({} bytes)", bytes.len())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Shown<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.value;
        let depth = self.depth + 1;
        match v.kind() {
            Kind::Int => write!(f, "{}", v.as_int().unwrap_or_default()),
            Kind::Bytes => ShownBytes(v.as_bytes().unwrap_or_default()).fmt(f),
            Kind::List if depth > MAX_DEPTH => f.write_str("[…]"),
            Kind::Dict if depth > MAX_DEPTH => f.write_str("{…}"),
            Kind::List => {
                let items = v.as_list().into_iter().flat_map(|l| l.iter());
                f.debug_list()
                    .entries(items.map(|value| Shown { value, depth }))
                    .finish()
            }
            Kind::Dict => {
                let pairs = v.as_dict().into_iter().flat_map(|d| d.iter());
                f.debug_map()
                    .entries(pairs.map(|(k, value)| (ShownBytes(k), Shown { value, depth })))
                    .finish()
            }
        }
    }
}

impl fmt::Debug for Value<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Shown {
            value: *self,
            depth: 0,
        }
        .fmt(f)
    }
}

impl fmt::Debug for List<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_value().fmt(f)
    }
}

impl fmt::Debug for Dict<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_value().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use crate::decode;

    #[test]
    fn renders_a_tree() {
        let doc = decode(b"d1:ai-1e1:bl2:hi2:\x00\xffee").unwrap();
        assert_eq!(
            format!("{:?}", doc.root()),
            r#"{"a": -1, "b": ["hi", 0x00ff]}"#
        );
        let pretty = format!("{:#?}", doc.root().as_dict().unwrap());
        assert!(pretty.contains("\n    \"a\": -1,\n"), "{pretty}");
    }

    #[test]
    fn truncates_long_strings() {
        let mut src = b"100:".to_vec();
        src.extend(std::iter::repeat_n(b'x', 100));
        let doc = decode(&src).unwrap();
        let shown = format!("{:?}", doc.root());
        assert_eq!(shown, format!("\"{}\"… (100 bytes)", "x".repeat(64)));
    }

    #[test]
    fn deep_nesting_is_cut_off() {
        let depth = 100;
        let src = [vec![b'l'; depth], vec![b'e'; depth]].concat();
        let doc = decode(&src).unwrap();
        let shown = format!("{:?}", doc.root());
        assert!(shown.contains("[…]"));
        assert!(shown.len() < 3 * depth);
    }
}
