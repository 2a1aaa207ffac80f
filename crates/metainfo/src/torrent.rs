//! [`Torrent`]: a parsed and validated `.torrent` (BEP 3, 12, 19, 27, 47, 52).
//!
//! Parsing is one pass over a borrowed bencode document; the result owns its data (strings,
//! hashes, the raw `info` bytes for BEP 9 metadata serving) so it outlives the input buffer. The
//! info-hashes are taken over the raw `info` span exactly as it stands in the file, never over a
//! re-encoding, so torrents with unsorted keys keep their real identity.

use std::collections::HashMap;

use sha1::{Digest, Sha1};
use sha2::Sha256;
use swarmgate_bencode::{Dict, Limits, decode_prefix, decode_with};
use swarmgate_core::{InfoHash, InfoHashV1, InfoHashV2, PieceIndex};

use crate::error::MetainfoError;
use crate::layout::{FileEntry, FileLayout};
use crate::path::{resolve_collisions, sanitize_component, sanitize_path};
use crate::{v1, v2};

/// Bounds that keep a hostile torrent from costing unbounded time or memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// The most pieces a torrent may have (libtorrent's default: 2,097,152).
    pub max_pieces: u64,
    /// The deepest directory nesting of a v2 file tree.
    pub max_file_tree_depth: usize,
    /// The bencode decoder's limits (nesting depth, token count).
    pub bencode: Limits,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_pieces: 0x20_0000,
            max_file_tree_depth: 48,
            bencode: Limits::default(),
        }
    }
}

/// Something the parser repaired or tolerated; the torrent loaded anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// A dictionary's keys were not in sorted order (non-canonical bencode) at this byte offset.
    UnsortedKeys {
        /// The offset of the first unsorted dictionary.
        offset: usize,
    },
    /// A file's path needed repair (`..`, separators, invalid UTF-8, over-long names).
    PathSanitized {
        /// The index of the file.
        file: usize,
    },
    /// A file was renamed because its path collided with another file or directory.
    DuplicatePath {
        /// The index of the file.
        file: usize,
    },
    /// The torrent's name needed repair, or was empty and replaced by the info-hash.
    NameSanitized,
    /// Bytes followed the torrent's top-level dictionary and were ignored.
    TrailingBytes {
        /// How many bytes were ignored.
        count: usize,
    },
}

/// A parsed, validated torrent.
#[derive(Clone, Debug)]
pub struct Torrent {
    pub(crate) info_hash: InfoHash,
    pub(crate) info_bytes: Vec<u8>,
    pub(crate) name: String,
    pub(crate) multi_file: bool,
    pub(crate) layout: FileLayout,
    pub(crate) piece_hashes: Option<Vec<u8>>,
    pub(crate) piece_layers: HashMap<[u8; 32], Vec<[u8; 32]>>,
    pub(crate) trackers: Vec<Vec<String>>,
    pub(crate) web_seeds: Vec<String>,
    pub(crate) dht_nodes: Vec<(String, u16)>,
    pub(crate) private: bool,
    pub(crate) comment: Option<String>,
    pub(crate) created_by: Option<String>,
    pub(crate) creation_date: Option<i64>,
    pub(crate) warnings: Vec<Warning>,
}

impl Torrent {
    /// Parses a `.torrent` with the default [`ParseLimits`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MetainfoError> {
        Self::from_bytes_with(bytes, &ParseLimits::default())
    }

    /// Parses a `.torrent` within `limits`.
    pub fn from_bytes_with(bytes: &[u8], limits: &ParseLimits) -> Result<Self, MetainfoError> {
        // Like libtorrent, read one value and tolerate bytes after it (some tools append a newline).
        let (document, consumed) = match decode_prefix(bytes, &limits.bencode)? {
            Some(decoded) => decoded,
            None => {
                return Err(decode_with(bytes, &limits.bencode)
                    .err()
                    .map_or(MetainfoError::NotADictionary, MetainfoError::from));
            }
        };
        let root = document
            .root()
            .as_dict()
            .ok_or(MetainfoError::NotADictionary)?;
        let info = root
            .get(b"info")
            .and_then(|i| i.as_dict())
            .ok_or(MetainfoError::MissingField { field: "info" })?;
        let mut torrent = Self::from_info_dict(info, root.get(b"piece layers"), limits)?;
        if let Some(offset) = document.unsorted_at() {
            torrent.warnings.insert(0, Warning::UnsortedKeys { offset });
        }
        if consumed < bytes.len() {
            torrent.warnings.push(Warning::TrailingBytes {
                count: bytes.len() - consumed,
            });
        }
        torrent.read_top_level(root);
        Ok(torrent)
    }

    /// Parses a bare `info` dictionary, as fetched from peers with BEP 9 for a magnet link.
    pub fn from_info_bytes(info: &[u8], limits: &ParseLimits) -> Result<Self, MetainfoError> {
        let document = decode_with(info, &limits.bencode)?;
        let dict = document
            .root()
            .as_dict()
            .ok_or(MetainfoError::NotADictionary)?;
        Self::from_info_dict(dict, None, limits)
    }

    fn from_info_dict(
        info: Dict<'_, '_>,
        layers: Option<swarmgate_bencode::Value<'_, '_>>,
        limits: &ParseLimits,
    ) -> Result<Self, MetainfoError> {
        let raw_name = v1::utf8_variant(info, "name")
            .and_then(|n| n.as_bytes())
            .ok_or(MetainfoError::MissingField { field: "info.name" })?;
        let piece_length = info
            .get(b"piece length")
            .and_then(|p| p.as_int())
            .filter(|&p| p > 0 && p <= i64::from(u32::MAX))
            .ok_or(MetainfoError::MissingField {
                field: "info.piece length",
            })? as u64;
        let is_v2 = info.get(b"meta version").and_then(|v| v.as_int()) == Some(2);
        let has_v1 = info.get(b"pieces").is_some();
        if is_v2 && (!piece_length.is_power_of_two() || piece_length < 16 * 1024) {
            return Err(MetainfoError::invalid(
                "info.piece length",
                "v2 needs a power of two of at least 16 KiB",
            ));
        }
        if !is_v2 && !has_v1 {
            return Err(MetainfoError::MissingField {
                field: "info.pieces",
            });
        }

        let v2_files = if is_v2 {
            let tree = info.get(b"file tree").and_then(|t| t.as_dict()).ok_or(
                MetainfoError::MissingField {
                    field: "info.file tree",
                },
            )?;
            let files = v2::file_tree(tree, limits.max_file_tree_depth)?;
            let pieces: u64 = files.iter().map(|f| f.length.div_ceil(piece_length)).sum();
            check_piece_count(pieces, limits)?;
            Some(files)
        } else {
            None
        };

        let (raw_files, multi_file, piece_hashes) = if has_v1 {
            let (files, multi_file) = v1::files(info, raw_name)?;
            let total = files
                .iter()
                .try_fold(0u64, |sum, f| sum.checked_add(f.length));
            let total = total
                .ok_or_else(|| MetainfoError::invalid("info.files", "total length overflows"))?;
            let piece_count = total.div_ceil(piece_length);
            check_piece_count(piece_count, limits)?;
            let pieces = info.get(b"pieces").and_then(|p| p.as_bytes()).ok_or(
                MetainfoError::MissingField {
                    field: "info.pieces",
                },
            )?;
            if pieces.len() as u64 != piece_count * 20 {
                return Err(MetainfoError::PieceHashes {
                    expected: piece_count * 20,
                    actual: pieces.len(),
                });
            }
            let mut files = files;
            if let Some(v2_files) = &v2_files {
                v2::check_hybrid(&mut files, v2_files, piece_length)?;
            }
            (files, multi_file, Some(pieces.to_vec()))
        } else {
            let files = v2_files.clone().unwrap_or_default();
            let multi_file =
                !(files.len() == 1 && files[0].path.len() == 1 && files[0].path[0] == raw_name);
            (v2::with_pad_files(files, piece_length), multi_file, None)
        };

        let total_length: u64 = raw_files.iter().map(|f| f.length).sum();
        if total_length == 0 {
            return Err(MetainfoError::invalid(
                "info",
                "the torrent holds no data (total length 0)",
            ));
        }
        let piece_layers = match &v2_files {
            Some(files) => v2::piece_layers(layers, files, piece_length)?,
            None => HashMap::new(),
        };

        let raw_info = info.raw();
        let v1_hash = has_v1.then(|| InfoHashV1(Sha1::digest(raw_info).into()));
        let v2_hash = is_v2.then(|| InfoHashV2(Sha256::digest(raw_info).into()));
        let info_hash = InfoHash::from_parts(v1_hash, v2_hash).expect("v1 or v2 checked above");

        let mut warnings = Vec::new();
        let (name, name_changed) = sanitize_component(raw_name);
        let name = name.unwrap_or_else(|| info_hash.wire().to_hex());
        if name_changed {
            warnings.push(Warning::NameSanitized);
        }
        let mut paths: Vec<Option<Vec<String>>> = Vec::with_capacity(raw_files.len());
        for (index, file) in raw_files.iter().enumerate() {
            if file.attributes.pad {
                paths.push(None);
                continue;
            }
            let relative = if multi_file { &file.path[..] } else { &[][..] };
            let (mut clean, changed) = sanitize_path(relative.iter().copied());
            if changed {
                warnings.push(Warning::PathSanitized { file: index });
            }
            if multi_file && clean.is_empty() {
                clean.push("_".into());
            }
            clean.insert(0, name.clone());
            paths.push(Some(clean));
        }
        for file in resolve_collisions(&mut paths) {
            warnings.push(Warning::DuplicatePath { file });
        }

        let entries = raw_files
            .iter()
            .zip(paths)
            .map(|(file, path)| FileEntry {
                path: path.unwrap_or_else(|| pad_path(&name, file.length)),
                length: file.length,
                offset: 0,
                attributes: file.attributes,
                symlink_target: file
                    .symlink_target
                    .as_ref()
                    .map(|t| sanitize_path(t.iter().copied()).0),
                pieces_root: file.pieces_root,
            })
            .collect();
        let layout = FileLayout::new(entries, piece_length)
            .map_err(|e| MetainfoError::invalid("info.piece length", e.to_string()))?;

        Ok(Self {
            info_hash,
            info_bytes: raw_info.to_vec(),
            name,
            multi_file,
            layout,
            piece_hashes,
            piece_layers,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            dht_nodes: Vec::new(),
            private: info.get(b"private").and_then(|p| p.as_int()) == Some(1),
            comment: None,
            created_by: None,
            creation_date: None,
            warnings,
        })
    }

    /// The info-hash(es): v1, v2, or both for a hybrid torrent.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The raw bencoded `info` dictionary, byte for byte as in the file (BEP 9 metadata).
    pub fn info_bytes(&self) -> &[u8] {
        &self.info_bytes
    }

    /// The sanitised name: the file name of a single-file torrent, else the folder name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the torrent is laid out as a folder (a `files` list or a v2 tree of several files).
    pub fn is_multi_file(&self) -> bool {
        self.multi_file
    }

    /// The files placed in the torrent's byte space, with the piece geometry.
    pub fn layout(&self) -> &FileLayout {
        &self.layout
    }

    /// The files, pad files included.
    pub fn files(&self) -> &[FileEntry] {
        self.layout.files()
    }

    /// The total length in bytes, pad files included.
    pub fn total_length(&self) -> u64 {
        self.layout.total_length()
    }

    /// The bytes of real data (pad files excluded).
    pub fn data_length(&self) -> u64 {
        self.files()
            .iter()
            .filter(|f| !f.is_pad())
            .map(|f| f.length)
            .sum()
    }

    /// The piece length.
    pub fn piece_length(&self) -> u32 {
        self.layout.geometry().piece_length()
    }

    /// The number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.layout.geometry().piece_count()
    }

    /// The v1 SHA-1 of piece `index`; `None` for a v2-only torrent or past the end.
    pub fn piece_hash(&self, index: PieceIndex) -> Option<[u8; 20]> {
        let start = index.as_usize().checked_mul(20)?;
        let bytes = self.piece_hashes.as_ref()?.get(start..start + 20)?;
        bytes.try_into().ok()
    }

    /// The v2 piece layer of the file whose `pieces root` is `root`, when the torrent carries it.
    pub fn piece_layer(&self, root: &[u8; 32]) -> Option<&[[u8; 32]]> {
        self.piece_layers.get(root).map(Vec::as_slice)
    }

    /// Tracker tiers (BEP 12): `announce-list` when present, else `[[announce]]`.
    pub fn trackers(&self) -> &[Vec<String>] {
        &self.trackers
    }

    /// Web seed URLs (BEP 19 `url-list`), in file order, duplicates removed.
    pub fn web_seeds(&self) -> &[String] {
        &self.web_seeds
    }

    /// DHT bootstrap nodes from the `nodes` key (BEP 5).
    pub fn dht_nodes(&self) -> &[(String, u16)] {
        &self.dht_nodes
    }

    /// Whether the torrent is private (BEP 27): trackers only, no DHT or PEX.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The free-text `comment`.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The `created by` string.
    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// The `creation date`, seconds since the Unix epoch.
    pub fn creation_date(&self) -> Option<i64> {
        self.creation_date
    }

    /// What the parser repaired or tolerated.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    fn read_top_level(&mut self, root: Dict<'_, '_>) {
        let text = |key: &str| {
            v1::utf8_variant(root, key)
                .and_then(|v| v.as_bytes())
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
        };
        self.comment = text("comment").filter(|c| !c.is_empty());
        self.created_by = text("created by").filter(|c| !c.is_empty());
        self.creation_date = root.get(b"creation date").and_then(|d| d.as_int());
        let mut tiers: Vec<Vec<String>> = Vec::new();
        if let Some(list) = root.get(b"announce-list").and_then(|l| l.as_list()) {
            for tier in list.iter().filter_map(|t| t.as_list()) {
                let urls: Vec<String> = tier
                    .iter()
                    .filter_map(|u| clean_url(u.as_bytes()?))
                    .collect();
                tiers.push(urls);
            }
        }
        dedup_urls(&mut tiers);
        if tiers.is_empty() {
            tiers.extend(
                text("announce")
                    .and_then(|u| clean_url(u.as_bytes()))
                    .map(|u| vec![u]),
            );
        }
        self.trackers = tiers;
        let mut seeds = match root.get(b"url-list") {
            Some(v) if v.as_bytes().is_some() => {
                v.as_bytes().and_then(clean_url).into_iter().collect()
            }
            Some(v) => v
                .as_list()
                .map(|l| l.iter().filter_map(|u| clean_url(u.as_bytes()?)).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        seeds.retain(|s: &String| seen.insert(s.clone()));
        self.web_seeds = seeds;
        if let Some(nodes) = root.get(b"nodes").and_then(|n| n.as_list()) {
            self.dht_nodes = nodes
                .iter()
                .filter_map(|n| {
                    let pair = n.as_list()?;
                    let host = String::from_utf8(pair.get(0)?.as_bytes()?.to_vec()).ok()?;
                    let port = u16::try_from(pair.get(1)?.as_int()?).ok()?;
                    Some((host, port))
                })
                .collect();
        }
    }
}

fn check_piece_count(count: u64, limits: &ParseLimits) -> Result<(), MetainfoError> {
    if count > limits.max_pieces {
        return Err(MetainfoError::TooManyPieces {
            count,
            limit: limits.max_pieces,
        });
    }
    Ok(())
}

fn pad_path(name: &str, length: u64) -> Vec<String> {
    vec![name.to_string(), ".pad".into(), length.to_string()]
}

/// A URL as a string: trimmed of surrounding white space, `None` when empty or not UTF-8.
fn clean_url(raw: &[u8]) -> Option<String> {
    let url = std::str::from_utf8(raw).ok()?.trim();
    (!url.is_empty()).then(|| url.to_string())
}

/// Removes URLs repeated across tiers (keeping the first) and tiers left empty.
fn dedup_urls(tiers: &mut Vec<Vec<String>>) {
    let mut seen = std::collections::HashSet::new();
    for tier in tiers.iter_mut() {
        tier.retain(|u| seen.insert(u.clone()));
    }
    tiers.retain(|t| !t.is_empty());
}
