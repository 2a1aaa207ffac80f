//! The two events that announce a stored file (NIP-35 kind 2003, NIP-94 kind 1063), and what a
//! received one says.
//!
//! Kind 2003 carries the standard tags exactly as NIP-35 clients build a magnet from them:
//! `title`, `x` (the v1 info-hash), `file` (name, size), one `tracker` per tracker (HTTP, then
//! UDP) and `t` categories from the media type (`video/mp4` gives `video` and `mp4`). Our
//! additions, which NIP-35 does not define and which clients ignore, are named so they cannot be
//! mistaken for standard ones: `magnet` (the full magnet link, with the web seed), `webseed`
//! (the BEP 19 URL) and `sha256` (the file's address here and on Blossom). Kind 1063 is NIP-94
//! as written: `url`, `m`, `x` (sha256), `ox` (the same: we never transform a file), `size`,
//! `magnet`, `i` (the info-hash) and `fallback` (the web seed); its content is the file name.
//!
//! Reading is the other way round and lenient only where NIP-35 is: a kind 2003 needs a
//! well-formed `x`, a kind 1063 needs `x`, `i` and `size`; anything else is ignored, never
//! half-read.

use std::borrow::Cow;

use nostr::{Event, EventBuilder, Keys, Kind, Tag, TagKind, Timestamp};
use swarmgate_catalog::{Entry, Links};
use swarmgate_core::{InfoHash, InfoHashV1, Sha256};
use swarmgate_metainfo::Magnet;

/// NIP-35: a torrent.
pub(crate) const TORRENT: Kind = Kind::Torrent;
/// NIP-94: file metadata.
pub(crate) const FILE_METADATA: Kind = Kind::FileMetadata;

/// The URL announced in the kind 1063 event's `url` tag: the Blossom URL
/// (`<base>/<sha256>.<ext>`, as BUD-08 descriptors give it) when the gateway runs Blossom,
/// else the download API's.
pub(crate) fn file_url(entry: &Entry, links: &Links) -> String {
    match links.blossom_base() {
        Some(base) => swarmgate_blossom::blob_url(base, entry.sha256(), &entry.file.mime),
        None => links.download(entry.sha256()),
    }
}

/// The kind 2003 and kind 1063 events announcing `entry`, signed with `keys`, dated `now`.
pub(crate) fn announcements(
    entry: &Entry,
    links: &Links,
    keys: &Keys,
    now: Timestamp,
) -> Result<[Event; 2], nostr::event::builder::Error> {
    let sha256 = entry.sha256();
    let name = &entry.file.name;
    let size = entry.size().to_string();
    let info_hash = hex(&entry.info_hash.0);
    let magnet = links.magnet(sha256, entry.info_hash, name);
    let webseed = links.webseed(sha256);

    let mut torrent = vec![
        tag("title", [name.as_str()]),
        tag("x", [info_hash.as_str()]),
        tag("file", [name.as_str(), size.as_str()]),
    ];
    torrent.extend(
        links
            .trackers()
            .iter()
            .map(|t| tag("tracker", [t.as_str()])),
    );
    torrent.extend(
        media_categories(&entry.file.mime)
            .iter()
            .map(|t| tag("t", [t.as_str()])),
    );
    torrent.push(tag("magnet", [magnet.as_str()]));
    torrent.push(tag("webseed", [webseed.as_str()]));
    torrent.push(tag("sha256", [sha256.to_hex().as_str()]));
    let description = format!(
        "{name}\n{} bytes, {}\nShared by a Swarmgate gateway: BitTorrent (magnet, trackers, web \
         seed) and HTTP.",
        entry.size(),
        entry.file.mime
    );
    let torrent = EventBuilder::new(TORRENT, description)
        .tags(torrent)
        .custom_created_at(now)
        .sign_with_keys(keys)?;

    let sha256 = sha256.to_hex();
    let file = vec![
        tag("url", [file_url(entry, links).as_str()]),
        tag("m", [entry.file.mime.as_str()]),
        tag("x", [sha256.as_str()]),
        tag("ox", [sha256.as_str()]),
        tag("size", [size.as_str()]),
        tag("magnet", [magnet.as_str()]),
        tag("i", [info_hash.as_str()]),
        tag("fallback", [webseed.as_str()]),
    ];
    let file = EventBuilder::new(FILE_METADATA, name.as_str())
        .tags(file)
        .custom_created_at(now)
        .sign_with_keys(keys)?;
    Ok([torrent, file])
}

/// `t` categories from a media type: its type and its subtype without `x-`/`vnd.` prefixes or
/// a `+suffix` (`video/mp4`: `video`, `mp4`; `image/svg+xml`: `image`, `svg`); nothing for
/// the subtype of `application/octet-stream`, which says nothing.
pub(crate) fn media_categories(mime: &str) -> Vec<String> {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return Vec::new();
    };
    let mut categories = Vec::new();
    if !kind.is_empty() {
        categories.push(kind.to_owned());
    }
    let subtype = subtype.split('+').next().unwrap_or("");
    let subtype = subtype
        .strip_prefix("x-")
        .or_else(|| subtype.strip_prefix("vnd."))
        .unwrap_or(subtype);
    if !subtype.is_empty() && subtype != "octet-stream" && subtype != kind {
        categories.push(subtype.to_owned());
    }
    categories
}

/// What a kind 2003 event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TorrentPart {
    /// `x`.
    pub info_hash: InfoHashV1,
    /// `title`.
    pub title: Option<String>,
    /// The sum of the `file` sizes, when every one has a size.
    pub size: Option<u64>,
    /// `tracker`s.
    pub trackers: Vec<String>,
    /// Our `magnet` extension.
    pub magnet: Option<String>,
    /// Our `webseed` extension.
    pub webseed: Option<String>,
    /// Our `sha256` extension.
    pub sha256: Option<Sha256>,
}

/// What a kind 1063 event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilePart {
    /// `x`.
    pub sha256: Sha256,
    /// `i`.
    pub info_hash: InfoHashV1,
    /// `size`.
    pub size: u64,
    /// `url`.
    pub url: Option<String>,
    /// `m`.
    pub mime: Option<String>,
    /// `magnet`.
    pub magnet: Option<String>,
    /// `fallback`.
    pub fallback: Option<String>,
    /// The content: the file name.
    pub name: Option<String>,
}

/// A received announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Announced {
    /// Kind 2003.
    Torrent(TorrentPart),
    /// Kind 1063 with an info-hash.
    File(FilePart),
}

/// Why a received event was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Ignored {
    /// Not kind 2003 or 1063.
    #[error("kind {0} is not an announcement")]
    Kind(u16),
    /// A required tag is missing or malformed.
    #[error("the `{0}` tag is missing or malformed")]
    Tag(&'static str),
}

/// Reads an announcement (the signature is checked before, by the caller).
pub(crate) fn parse(event: &Event) -> Result<Announced, Ignored> {
    let first = |name: &str| -> Option<&str> {
        event.tags.iter().find_map(|tag| match tag.as_slice() {
            [kind, value, ..] if kind == name => Some(value.as_str()),
            _ => None,
        })
    };
    let owned = |name: &str| first(name).map(str::to_owned);
    match event.kind {
        kind if kind == TORRENT => {
            let info_hash = first("x").and_then(info_hash_of).ok_or(Ignored::Tag("x"))?;
            let sizes: Vec<Option<u64>> = event
                .tags
                .iter()
                .filter_map(|tag| match tag.as_slice() {
                    [kind, _path, rest @ ..] if kind == "file" => {
                        Some(rest.first().and_then(|size| size.parse().ok()))
                    }
                    _ => None,
                })
                .collect();
            let size = match sizes.is_empty() {
                true => None,
                false => sizes.into_iter().sum(),
            };
            let trackers = event
                .tags
                .iter()
                .filter_map(|tag| match tag.as_slice() {
                    [kind, url, ..] if kind == "tracker" => Some(url.clone()),
                    _ => None,
                })
                .collect();
            Ok(Announced::Torrent(TorrentPart {
                info_hash,
                title: owned("title"),
                size,
                trackers,
                magnet: owned("magnet"),
                webseed: owned("webseed"),
                sha256: first("sha256").and_then(|s| Sha256::from_hex(s).ok()),
            }))
        }
        kind if kind == FILE_METADATA => Ok(Announced::File(FilePart {
            sha256: first("x")
                .and_then(|s| Sha256::from_hex(s).ok())
                .ok_or(Ignored::Tag("x"))?,
            info_hash: first("i").and_then(info_hash_of).ok_or(Ignored::Tag("i"))?,
            size: first("size")
                .and_then(|s| s.parse().ok())
                .ok_or(Ignored::Tag("size"))?,
            url: owned("url"),
            mime: owned("m"),
            magnet: owned("magnet"),
            fallback: owned("fallback"),
            name: (!event.content.trim().is_empty()).then(|| event.content.trim().to_owned()),
        })),
        other => Err(Ignored::Kind(other.as_u16())),
    }
}

/// A magnet link from what a NIP-35 event carries (info-hash, title, trackers, web seed).
pub(crate) fn magnet_of(
    info_hash: InfoHashV1,
    title: Option<&str>,
    trackers: &[String],
    webseed: Option<&str>,
) -> String {
    Magnet {
        info_hash: InfoHash::V1(info_hash),
        display_name: title.map(str::to_owned),
        trackers: trackers.to_vec(),
        web_seeds: webseed.map(str::to_owned).into_iter().collect(),
        exact_sources: Vec::new(),
        peers: Vec::new(),
        selected_files: Vec::new(),
    }
    .to_string()
}

/// 40 hex characters (either case) as a v1 info-hash.
fn info_hash_of(text: &str) -> Option<InfoHashV1> {
    let text = text.trim();
    if text.len() != 40 {
        return None;
    }
    let mut bytes = [0u8; 20];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(InfoHashV1(bytes))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tag named `name` with `values`.
fn tag<'a>(name: &str, values: impl IntoIterator<Item = &'a str>) -> Tag {
    Tag::custom(TagKind::Custom(Cow::Owned(name.to_owned())), values)
}

#[cfg(test)]
#[path = "events_tests.rs"]
pub(super) mod tests;
