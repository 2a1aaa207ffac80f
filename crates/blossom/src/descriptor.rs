//! BUD-02 blob descriptors, BUD-08 NIP-94 tags, and the request paths that name blobs
//! (`/<sha256>[.ext]`, BUD-01; `/list/<pubkey>?...`, BUD-12).
//!
//! A descriptor's `url` must carry a file extension (BUD-02) and clients take the blob's hash
//! from the last 64 hex characters of it (BUD-03), so the extension comes from the media type
//! through a small fixed table ([`extension_for`]) with `bin` for everything else: a guessed
//! extension is harmless because GET answers the stored type whatever the extension says.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use swarmgate_core::{Pubkey, Sha256};

use crate::store::Blob;

/// The longest extension accepted in a blob path.
pub const MAX_EXTENSION_LEN: usize = 16;

/// A BUD-02 blob descriptor: the JSON answer of `PUT /upload`, `PUT /mirror` and `GET /list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlobDescriptor {
    /// A public URL of the blob, `<base>/<sha256>.<ext>`.
    pub url: String,
    /// The blob's sha256, lower-case hex.
    #[serde(with = "hex_sha256")]
    pub sha256: Sha256,
    /// Its length in bytes.
    pub size: u64,
    /// Its media type.
    #[serde(rename = "type")]
    pub mime: String,
    /// When it was first stored, unix seconds.
    pub uploaded: u64,
    /// BUD-08: its NIP-94 tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nip94: Option<Vec<Vec<String>>>,
    /// Extra fields (`magnet`, `infohash`, `torrent`, ...), flattened into the object.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl BlobDescriptor {
    /// The descriptor of a stored blob served under `public_base` (e.g.
    /// `https://blossom.example`, no trailing slash needed), without `nip94`.
    pub fn from_blob(blob: &Blob, public_base: &str) -> Self {
        BlobDescriptor {
            url: blob_url(public_base, &blob.sha256, &blob.mime),
            sha256: blob.sha256,
            size: blob.size,
            mime: blob.mime.clone(),
            uploaded: blob.uploaded,
            nip94: None,
            extra: blob.extra.clone(),
        }
    }

    /// The same with BUD-08 `nip94` tags: those [`nip94_tags`] builds, then the blob's own.
    pub fn with_nip94(mut self, extra_tags: &[Vec<String>]) -> Self {
        let mut tags = nip94_tags(&self);
        tags.extend(extra_tags.iter().cloned());
        self.nip94 = Some(tags);
        self
    }
}

/// The BUD-08 / NIP-94 tags of a descriptor: `url`, `m`, `x`, `size`, and `magnet` and `i`
/// (the info-hash) when its extra fields carry `magnet` and `infohash` strings.
pub fn nip94_tags(descriptor: &BlobDescriptor) -> Vec<Vec<String>> {
    let pair = |name: &str, value: String| vec![name.to_owned(), value];
    let mut tags = vec![
        pair("url", descriptor.url.clone()),
        pair("m", descriptor.mime.clone()),
        pair("x", descriptor.sha256.to_hex()),
        pair("size", descriptor.size.to_string()),
    ];
    for (field, tag) in [("magnet", "magnet"), ("infohash", "i")] {
        if let Some(Value::String(value)) = descriptor.extra.get(field) {
            tags.push(pair(tag, value.clone()));
        }
    }
    tags
}

/// `<base>/<sha256>.<ext>`, the extension from the media type.
pub fn blob_url(public_base: &str, sha256: &Sha256, mime: &str) -> String {
    format!(
        "{}/{}.{}",
        public_base.trim_end_matches('/'),
        sha256.to_hex(),
        extension_for(mime)
    )
}

/// The file extension of a media type (parameters ignored), `bin` when not in the table.
pub fn extension_for(mime: &str) -> &'static str {
    let essence = mime.split(';').next().unwrap_or("").trim();
    const TABLE: &[(&str, &str)] = &[
        ("application/pdf", "pdf"),
        ("image/png", "png"),
        ("image/jpeg", "jpg"),
        ("image/gif", "gif"),
        ("image/webp", "webp"),
        ("image/svg+xml", "svg"),
        ("video/mp4", "mp4"),
        ("video/webm", "webm"),
        ("audio/mpeg", "mp3"),
        ("audio/ogg", "ogg"),
        ("text/plain", "txt"),
        ("text/html", "html"),
        ("text/markdown", "md"),
        ("text/css", "css"),
        ("application/json", "json"),
        ("application/zip", "zip"),
        ("application/gzip", "gz"),
        ("application/x-tar", "tar"),
        ("application/x-bittorrent", "torrent"),
    ];
    TABLE
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(essence))
        .map_or("bin", |(_, ext)| ext)
}

/// Why a blob path or a list query is malformed (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path segment is not 64 hex characters, optionally followed by `.ext`.
    #[error("not a sha256: expected 64 hex characters, optionally followed by .ext")]
    BadHash,
    /// The extension is empty, too long, or not alphanumeric parts joined by dots.
    #[error("bad file extension: expected 1 to {MAX_EXTENSION_LEN} letters, digits and inner dots")]
    BadExtension,
    /// The pubkey is not 64 hex characters.
    #[error("not a pubkey: expected 64 hex characters")]
    BadPubkey,
    /// A query parameter is malformed.
    #[error("bad query parameter {0}")]
    BadQuery(&'static str),
}

/// Parses the segment of `GET /<sha256>[.ext]` (without the leading `/`): the hash and the
/// extension, if any.
pub fn parse_blob_segment(segment: &str) -> Result<(Sha256, Option<&str>), PathError> {
    let (hash, extension) = match segment.split_once('.') {
        Some((hash, extension)) => (hash, Some(extension)),
        None => (segment, None),
    };
    let sha256 = Sha256::from_hex(hash).map_err(|_| PathError::BadHash)?;
    if let Some(extension) = extension {
        let valid = (1..=MAX_EXTENSION_LEN).contains(&extension.len())
            && extension
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !valid {
            return Err(PathError::BadExtension);
        }
    }
    Ok((sha256, extension))
}

/// The query of `GET /list/<pubkey>` (BUD-12).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only blobs uploaded at or after this time (deprecated for paging).
    pub since: Option<u64>,
    /// Only blobs uploaded at or before this time (deprecated for paging).
    pub until: Option<u64>,
    /// The sha256 of the last blob of the previous page: the page starts after it.
    pub cursor: Option<Sha256>,
    /// At most this many blobs (the router bounds it).
    pub limit: Option<usize>,
}

/// Parses the pubkey segment and the query string (without `?`) of `GET /list/<pubkey>`.
/// Unknown parameters are ignored; a parameter given twice keeps the last.
pub fn parse_list_request(pubkey: &str, query: &str) -> Result<(Pubkey, ListQuery), PathError> {
    let pubkey = Pubkey::from_hex(pubkey).map_err(|_| PathError::BadPubkey)?;
    let mut list = ListQuery::default();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "since" => list.since = Some(value.parse().map_err(|_| PathError::BadQuery("since"))?),
            "until" => list.until = Some(value.parse().map_err(|_| PathError::BadQuery("until"))?),
            "limit" => list.limit = Some(value.parse().map_err(|_| PathError::BadQuery("limit"))?),
            "cursor" if value.is_empty() => list.cursor = None,
            "cursor" => {
                list.cursor =
                    Some(Sha256::from_hex(value).map_err(|_| PathError::BadQuery("cursor"))?);
            }
            _ => {}
        }
    }
    Ok((pubkey, list))
}

/// One page of a newest-first list under `query`, at most `limit` blobs.
pub fn list_page<'a>(blobs: &'a [Blob], query: &ListQuery, limit: usize) -> Vec<&'a Blob> {
    let start = match query.cursor {
        Some(cursor) => match blobs.iter().position(|b| b.sha256 == cursor) {
            Some(at) => at + 1,
            None => blobs.len(),
        },
        None => 0,
    };
    blobs[start..]
        .iter()
        .filter(|b| query.since.is_none_or(|since| b.uploaded >= since))
        .filter(|b| query.until.is_none_or(|until| b.uploaded <= until))
        .take(limit)
        .collect()
}

/// Serde of a [`Sha256`] as lower-case hex.
mod hex_sha256 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use swarmgate_core::Sha256;

    pub(super) fn serialize<S: Serializer>(hash: &Sha256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hash.to_hex())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sha256, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Sha256::from_hex(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> Blob {
        let mut extra = Map::new();
        extra.insert("magnet".into(), "magnet:?xt=urn:btih:ab".into());
        extra.insert("infohash".into(), "ab".repeat(20).into());
        Blob {
            sha256: Sha256([0xab; 32]),
            size: 12,
            mime: "application/pdf".into(),
            uploaded: 1_700_000_000,
            owners: vec![],
            extra,
            nip94: vec![],
        }
    }

    #[test]
    fn descriptors_carry_an_extension_and_round_trip() {
        let descriptor = BlobDescriptor::from_blob(&blob(), "https://cdn.example/")
            .with_nip94(&[vec!["fallback".into(), "https://ws.example/x".into()]]);
        assert_eq!(
            descriptor.url,
            format!("https://cdn.example/{}.pdf", "ab".repeat(32))
        );
        let json = serde_json::to_value(&descriptor).unwrap();
        assert_eq!(json["type"], "application/pdf");
        assert_eq!(json["magnet"], "magnet:?xt=urn:btih:ab");
        let tags = json["nip94"].as_array().unwrap();
        let names: Vec<_> = tags.iter().map(|t| t[0].as_str().unwrap()).collect();
        assert_eq!(names, ["url", "m", "x", "size", "magnet", "i", "fallback"]);
        let back: BlobDescriptor = serde_json::from_value(json).unwrap();
        assert_eq!(back, descriptor);
    }

    #[test]
    fn extensions_come_from_the_media_type() {
        assert_eq!(extension_for("image/JPEG; q=1"), "jpg");
        assert_eq!(extension_for("application/x-bittorrent"), "torrent");
        assert_eq!(extension_for("application/x-unknown"), "bin");
        assert_eq!(extension_for(""), "bin");
    }

    #[test]
    fn blob_segments_are_a_hash_and_maybe_an_extension() {
        let hex = "ab".repeat(32);
        assert_eq!(
            parse_blob_segment(&hex).unwrap(),
            (Sha256([0xab; 32]), None)
        );
        let with = format!("{hex}.pdf");
        assert_eq!(parse_blob_segment(&with).unwrap().1, Some("pdf"));
        let double = format!("{hex}.tar.gz");
        assert_eq!(parse_blob_segment(&double).unwrap().1, Some("tar.gz"));
        assert_eq!(parse_blob_segment(&hex[1..]), Err(PathError::BadHash));
        for bad in [".", ".a..b", ".a.", ".é", ".abcdefghijklmnopq"] {
            assert_eq!(
                parse_blob_segment(&format!("{hex}{bad}")),
                Err(PathError::BadExtension),
                "{bad}"
            );
        }
    }

    #[test]
    fn list_queries_parse_and_page_after_the_cursor() {
        let key = "cd".repeat(32);
        let (pubkey, query) = parse_list_request(
            &key,
            &format!("limit=2&since=5&cursor={}&x", "01".repeat(32)),
        )
        .unwrap();
        assert_eq!(pubkey, Pubkey([0xcd; 32]));
        assert_eq!((query.limit, query.since), (Some(2), Some(5)));
        assert_eq!(query.cursor, Some(Sha256([1; 32])));
        assert_eq!(
            parse_list_request(&key, "limit=-1"),
            Err(PathError::BadQuery("limit"))
        );
        assert_eq!(parse_list_request("cd", ""), Err(PathError::BadPubkey));

        let blobs: Vec<Blob> = (0..5u8)
            .map(|i| Blob {
                sha256: Sha256([i; 32]),
                uploaded: 100 - u64::from(i),
                ..blob()
            })
            .collect();
        let first = list_page(&blobs, &ListQuery::default(), 2);
        assert_eq!(first.len(), 2);
        let next = ListQuery {
            cursor: Some(first[1].sha256),
            ..ListQuery::default()
        };
        let second: Vec<_> = list_page(&blobs, &next, 2)
            .iter()
            .map(|b| b.sha256.0[0])
            .collect();
        assert_eq!(second, [2, 3]);
        let until = ListQuery {
            until: Some(97),
            ..ListQuery::default()
        };
        assert_eq!(list_page(&blobs, &until, 10).len(), 2);
    }
}
