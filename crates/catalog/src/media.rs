//! The media type of an upload (RFC 6838 `type/subtype`), as the download API, the web seed and
//! Blossom (BUD-01's `type`) send it in `Content-Type`.
//!
//! Detected, in this order, from: the file's first bytes (magic numbers, via `infer`: what the
//! bytes are beats what anyone says they are), the type the uploader declared when it says more
//! than "some bytes", the file name's extension (via `mime_guess`), and else
//! `application/octet-stream`. The first bytes are taken from the upload as it streams past
//! ([`Sniffer`]), so detection costs no second read and no buffering beyond 8 KiB.

use std::io::{self, Read};

/// The type of content nobody could name.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// How many leading bytes the detection looks at (enough for every `infer` matcher we use).
const SNIFF_LEN: usize = 8 * 1024;

/// A reader that keeps a copy of the first [`SNIFF_LEN`] bytes read through it.
pub(crate) struct Sniffer<'a> {
    inner: &'a mut dyn Read,
    head: Vec<u8>,
}

impl<'a> Sniffer<'a> {
    pub(crate) fn new(inner: &'a mut dyn Read) -> Self {
        Self {
            inner,
            head: Vec::new(),
        }
    }

    /// The first bytes read so far.
    pub(crate) fn head(&self) -> &[u8] {
        &self.head
    }
}

impl Read for Sniffer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = SNIFF_LEN - self.head.len();
        if room > 0 {
            self.head.extend_from_slice(&buf[..n.min(room)]);
        }
        Ok(n)
    }
}

/// The media type of a file that starts with `head`, is named `name`, and was declared as
/// `declared` by its uploader; see the module docs for the order.
pub fn detect_media_type(head: &[u8], name: &str, declared: Option<&str>) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if let Some(declared) = declared.and_then(specific) {
        return declared;
    }
    if let Some(guess) = mime_guess::from_path(name).first_raw() {
        return guess.to_owned();
    }
    OCTET_STREAM.to_owned()
}

/// `declared` when it is a well-formed, specific type (lower-cased, parameters dropped): not
/// `application/octet-stream`, and not the `application/x-www-form-urlencoded` that curl's
/// `--data-binary` puts on every body.
fn specific(declared: &str) -> Option<String> {
    let essence = declared.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    if !token(kind) || !token(subtype) {
        return None;
    }
    match essence.as_str() {
        OCTET_STREAM | "application/x-www-form-urlencoded" | "multipart/form-data" => None,
        _ => Some(essence),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_beat_declarations_which_beat_names() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(
            detect_media_type(png, "photo.jpg", Some("text/plain")),
            "image/png"
        );
        let mp4 = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom";
        assert_eq!(detect_media_type(mp4, "clip", None), "video/mp4");
        assert_eq!(
            detect_media_type(b"hello", "notes.txt", Some("Text/Markdown; charset=utf-8")),
            "text/markdown"
        );
        assert_eq!(
            detect_media_type(b"hello", "notes.txt", Some(OCTET_STREAM)),
            "text/plain"
        );
        assert_eq!(
            detect_media_type(
                b"{}",
                "data.json",
                Some("application/x-www-form-urlencoded")
            ),
            "application/json"
        );
        assert_eq!(detect_media_type(&[7; 64], "blob.bin", None), OCTET_STREAM);
        assert_eq!(detect_media_type(&[7; 64], "x", Some("  ")), OCTET_STREAM);
        assert_eq!(detect_media_type(&[7; 64], "x", None), OCTET_STREAM);
        assert_eq!(
            detect_media_type(&[7; 64], "noext", Some("nonsense")),
            OCTET_STREAM
        );
        assert_eq!(
            detect_media_type(&[7; 64], "x", Some("text/plain\r\nX-Evil: 1")),
            OCTET_STREAM
        );
    }

    #[test]
    fn the_sniffer_keeps_the_head_and_passes_everything_on() {
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let mut source = &data[..];
        let mut sniffer = Sniffer::new(&mut source);
        let mut out = Vec::new();
        sniffer.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(sniffer.head(), &data[..SNIFF_LEN]);
    }
}
