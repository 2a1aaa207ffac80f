//! BEP 19 web seed URLs: the URL a client requests for each file, and a request path back to a
//! file of the torrent.
//!
//! The rules (BEP 19, as libtorrent and aria2 apply them): for a single-file torrent the
//! `url-list` entry is the file's URL, unless it ends with `/`, when the torrent's name is
//! appended. For a multi-file torrent the client requests `url + name + "/" + path`, each
//! component percent-encoded; a URL that does not end with `/` gets one (libtorrent and aria2
//! both repair such torrents that way).
//!
//! Going back, a request path is decoded segment by segment and refused (every refusal is a
//! 404 for the server) when a segment is empty (`//`, a trailing `/`), `.` or `..`, holds a NUL,
//! a `/` or `\` once decoded (an encoded slash), is not UTF-8, or has a broken `%` escape. What
//! remains must equal the path of one file of the torrent exactly; pad files match nothing.

use swarmgate_metainfo::Torrent;

/// Why a request path names no file of a torrent. The server answers each with 404.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path does not start with `/`")]
    NotAbsolute,
    /// A `%` is not followed by two hex digits.
    #[error("segment {segment}: a `%` is not followed by two hex digits")]
    BadEscape {
        /// The index of the offending segment.
        segment: usize,
    },
    /// A segment is empty, `.` or `..`, or holds a NUL, `/` or `\` once decoded.
    #[error("segment {segment}: empty, a dot segment, or a NUL or slash inside")]
    Forbidden {
        /// The index of the offending segment.
        segment: usize,
    },
    /// A segment is not UTF-8 once decoded (torrent paths are).
    #[error("segment {segment}: not UTF-8")]
    NotUtf8 {
        /// The index of the offending segment.
        segment: usize,
    },
}

/// Appends `component` to `out`, percent-encoding every byte but RFC 3986's unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`).
pub fn encode_component(component: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in component.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
}

/// The URL a BEP 19 client requests for file `file` of `torrent` from the web seed `base` (an
/// entry of `url-list`). `None` for a pad file (never requested: it is zeros) or an index past
/// the end.
pub fn file_url(base: &str, torrent: &Torrent, file: usize) -> Option<String> {
    let entry = torrent.files().get(file).filter(|f| !f.is_pad())?;
    let mut url = String::with_capacity(base.len() + 64);
    url.push_str(base);
    if torrent.is_multi_file() {
        if !url.ends_with('/') {
            url.push('/');
        }
        for (i, component) in entry.path().iter().enumerate() {
            if i > 0 {
                url.push('/');
            }
            encode_component(component, &mut url);
        }
    } else if url.ends_with('/') {
        encode_component(torrent.name(), &mut url);
    }
    Some(url)
}

/// Decodes a request path as it stands in the request line (`/a/b%20c`, no query) into its
/// segments, refusing the tricks listed in the module docs. `/` alone gives no segment.
pub fn decode_path(path: &str) -> Result<Vec<String>, PathError> {
    let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/')
        .enumerate()
        .map(|(segment, raw)| decode_segment(raw, segment))
        .collect()
}

fn decode_segment(raw: &str, segment: usize) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let high = bytes.get(i + 1).and_then(|b| hex_value(*b));
            let low = bytes.get(i + 2).and_then(|b| hex_value(*b));
            let (Some(high), Some(low)) = (high, low) else {
                return Err(PathError::BadEscape { segment });
            };
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    if out.is_empty()
        || out == b"."
        || out == b".."
        || out.iter().any(|b| matches!(b, 0 | b'/' | b'\\'))
    {
        return Err(PathError::Forbidden { segment });
    }
    String::from_utf8(out).map_err(|_| PathError::NotUtf8 { segment })
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The index of the file of `torrent` whose path (torrent name first, as
/// [`FileEntry::path`](swarmgate_metainfo::FileEntry::path) has it) equals `segments` exactly.
/// A single-file torrent also answers to no segment at all: its web seed URL may be the file's
/// own URL (`url-list` not ending with `/`). Pad files match nothing.
pub fn find_file(torrent: &Torrent, segments: &[String]) -> Option<usize> {
    if segments.is_empty() {
        return (!torrent.is_multi_file() && !torrent.files().is_empty()).then_some(0);
    }
    torrent
        .files()
        .iter()
        .position(|f| !f.is_pad() && f.path() == segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved() {
        let mut out = String::new();
        encode_component("a b/c%d~é", &mut out);
        assert_eq!(out, "a%20b%2Fc%25d~%C3%A9");
    }

    #[test]
    fn decodes_and_refuses_tricks() {
        assert_eq!(decode_path("/"), Ok(vec![]));
        assert_eq!(
            decode_path("/al%20bum/disc%201/x.flac"),
            Ok(vec!["al bum".into(), "disc 1".into(), "x.flac".into()])
        );
        assert_eq!(decode_path("a"), Err(PathError::NotAbsolute));
        for (path, segment) in [
            ("/a/../b", 1),
            ("/a/%2e%2E/b", 1),
            ("/.", 0),
            ("//etc/passwd", 0),
            ("/a/", 1),
            ("/a%2Fb", 0),
            ("/a%5cb", 0),
            ("/a%00b", 0),
        ] {
            assert_eq!(
                decode_path(path),
                Err(PathError::Forbidden { segment }),
                "{path}"
            );
        }
        assert_eq!(
            decode_path("/a%2"),
            Err(PathError::BadEscape { segment: 0 })
        );
        assert_eq!(
            decode_path("/%zz"),
            Err(PathError::BadEscape { segment: 0 })
        );
        assert_eq!(decode_path("/%ff"), Err(PathError::NotUtf8 { segment: 0 }));
    }

    #[test]
    fn decode_never_panics_on_any_prefix() {
        let text = "/a%2/b%c3%a9/%/..//%00x";
        for end in 0..=text.len() {
            if let Some(prefix) = text.get(..end) {
                let _ = decode_path(prefix);
            }
        }
    }
}
