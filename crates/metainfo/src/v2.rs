//! The v2 `file tree` and `piece layers` (BEP 52), and the hybrid consistency rules.
//!
//! A v2 file tree is a nested dictionary whose leaves are `{"": {length, pieces root}}`. Its
//! order *is* the file order, so unsorted keys are an error here even though the bencode decoder
//! accepts them elsewhere. Piece layers are checked against each file's `pieces root`, so a
//! torrent that loads never carries a layer that would fail every piece.

use std::collections::HashMap;

use swarmgate_bencode::{Dict, Value};

use crate::error::MetainfoError;
use crate::layout::FileAttributes;
use crate::merkle::{self, Hash32};
use crate::v1::{RawFile, length_field, string_list};

/// Walks `file tree` into files in tree order. `max_depth` bounds the directory nesting.
pub(crate) fn file_tree<'a>(
    tree: Dict<'_, 'a>,
    max_depth: usize,
) -> Result<Vec<RawFile<'a>>, MetainfoError> {
    let mut files = Vec::new();
    let mut path = Vec::new();
    walk(tree, &mut path, &mut files, max_depth)?;
    if files.is_empty() {
        return Err(MetainfoError::NoFiles);
    }
    Ok(files)
}

fn walk<'a>(
    dir: Dict<'_, 'a>,
    path: &mut Vec<&'a [u8]>,
    files: &mut Vec<RawFile<'a>>,
    depth_left: usize,
) -> Result<(), MetainfoError> {
    let field = || "info.file tree".to_string();
    if depth_left == 0 {
        return Err(MetainfoError::invalid(field(), "nested too deeply"));
    }
    if !dir.is_sorted() {
        return Err(MetainfoError::invalid(
            field(),
            "keys are not in sorted order",
        ));
    }
    for (name, child) in dir.iter() {
        let child = child
            .as_dict()
            .ok_or_else(|| MetainfoError::invalid(field(), "an entry is not a dictionary"))?;
        if name.is_empty() {
            return Err(MetainfoError::invalid(
                field(),
                "empty file or directory name",
            ));
        }
        path.push(name);
        match child.get(b"") {
            Some(properties) if child.len() == 1 => files.push(leaf(properties, path.clone())?),
            Some(_) => return Err(MetainfoError::invalid(field(), "a file entry has siblings")),
            None => walk(child, path, files, depth_left - 1)?,
        }
        path.pop();
    }
    Ok(())
}

fn leaf<'a>(properties: Value<'_, 'a>, path: Vec<&'a [u8]>) -> Result<RawFile<'a>, MetainfoError> {
    let shown = String::from_utf8_lossy(&path.join(&b'/')).into_owned();
    let field = |name: &str| format!("info.file tree[{shown}].{name}");
    let dict = properties
        .as_dict()
        .ok_or_else(|| MetainfoError::invalid(field(""), "file properties are not a dictionary"))?;
    let length = length_field(dict.get(b"length"), || field("length"))?;
    let attributes = FileAttributes::of(dict);
    if attributes.pad {
        return Err(MetainfoError::invalid(
            field("attr"),
            "pad files are not allowed in a v2 file tree",
        ));
    }
    let mut symlink_target = None;
    if attributes.symlink {
        symlink_target = Some(
            string_list(dict.get(b"symlink path"), || field("symlink path"))?.ok_or_else(|| {
                MetainfoError::invalid(field("symlink path"), "missing for a symlink")
            })?,
        );
    }
    let pieces_root = match dict.get(b"pieces root") {
        _ if attributes.symlink || length == 0 => None,
        None => {
            return Err(MetainfoError::invalid(
                field("pieces root"),
                "missing for a non-empty file",
            ));
        }
        Some(root) => {
            let root: [u8; 32] =
                root.as_bytes()
                    .and_then(|r| r.try_into().ok())
                    .ok_or_else(|| {
                        MetainfoError::invalid(field("pieces root"), "not a 32-byte string")
                    })?;
            if root == [0; 32] {
                return Err(MetainfoError::invalid(field("pieces root"), "all zeros"));
            }
            Some(root)
        }
    };
    Ok(RawFile {
        path,
        length: if attributes.symlink { 0 } else { length },
        attributes,
        symlink_target,
        pieces_root,
    })
}

/// Parses and checks `piece layers` against the files' roots. Files whose layer is absent are
/// allowed (the layer can be fetched from peers later); an entry for no file is an error.
pub(crate) fn piece_layers(
    layers: Option<Value<'_, '_>>,
    files: &[RawFile<'_>],
    piece_length: u64,
) -> Result<HashMap<Hash32, Vec<Hash32>>, MetainfoError> {
    let mut out = HashMap::new();
    let Some(layers) = layers else { return Ok(out) };
    let layers = layers.as_dict().ok_or_else(|| MetainfoError::PieceLayer {
        reason: "`piece layers` is not a dictionary".into(),
    })?;
    let lengths: HashMap<Hash32, u64> = files
        .iter()
        .filter_map(|f| Some((f.pieces_root?, f.length)))
        .collect();
    for (root, layer) in layers.iter() {
        let err = |reason: String| MetainfoError::PieceLayer { reason };
        let root: Hash32 = root
            .try_into()
            .map_err(|_| err(format!("a key is {} bytes, not a 32-byte root", root.len())))?;
        let length = *lengths
            .get(&root)
            .ok_or_else(|| err("an entry names no file's pieces root".into()))?;
        let bytes = layer
            .as_bytes()
            .ok_or_else(|| err("a layer is not a string".into()))?;
        if bytes.len() % 32 != 0 {
            return Err(err(format!(
                "a layer of {} bytes is not a whole number of hashes",
                bytes.len()
            )));
        }
        let expected = if length <= piece_length {
            0
        } else {
            length.div_ceil(piece_length)
        };
        if bytes.len() as u64 / 32 != expected {
            return Err(err(format!(
                "a layer has {} hashes, its file needs {expected}",
                bytes.len() / 32
            )));
        }
        let hashes: Vec<Hash32> = bytes
            .chunks_exact(32)
            .map(|h| h.try_into().expect("32-byte chunk"))
            .collect();
        if merkle::root_from_layer(&hashes, length, piece_length) != root {
            return Err(err("a layer does not hash to its file's pieces root".into()));
        }
        out.insert(root, hashes);
    }
    Ok(out)
}

/// Checks that the v1 files of a hybrid torrent describe the v2 file tree: the same files, in the
/// same order, each non-empty one starting on a piece boundary (pad files in between). The v1
/// files take their v2 `pieces root`s.
pub(crate) fn check_hybrid(
    v1: &mut [RawFile<'_>],
    v2: &[RawFile<'_>],
    piece_length: u64,
) -> Result<(), MetainfoError> {
    let err = |reason: String| MetainfoError::InconsistentFiles { reason };
    let mut v2_files = v2.iter();
    let mut offset = 0u64;
    for file in v1.iter_mut() {
        if file.attributes.pad {
            offset += file.length;
            continue;
        }
        let shown = String::from_utf8_lossy(&file.path.join(&b'/')).into_owned();
        let other = v2_files
            .next()
            .ok_or_else(|| err(format!("v1 file `{shown}` is not in the v2 file tree")))?;
        if other.path != file.path || other.length != file.length {
            return Err(err(format!(
                "v1 file `{shown}` differs from the v2 file tree's entry"
            )));
        }
        if file.length > 0 && offset % piece_length != 0 {
            return Err(err(format!(
                "v1 file `{shown}` does not start on a piece boundary"
            )));
        }
        file.pieces_root = other.pieces_root;
        offset += file.length;
    }
    if let Some(extra) = v2_files.next() {
        let shown = String::from_utf8_lossy(&extra.path.join(&b'/')).into_owned();
        return Err(err(format!(
            "v2 file `{shown}` is missing from the v1 file list"
        )));
    }
    Ok(())
}

/// The v1-style file list of a v2-only torrent: pad files inserted so that every non-empty
/// file starts on a piece boundary, as BEP 52 lays them out.
pub(crate) fn with_pad_files<'a>(files: Vec<RawFile<'a>>, piece_length: u64) -> Vec<RawFile<'a>> {
    let mut out = Vec::with_capacity(files.len() * 2);
    let mut offset = 0u64;
    let count = files.len();
    for (index, file) in files.into_iter().enumerate() {
        offset += file.length;
        let is_last = index + 1 == count;
        let gap = (piece_length - offset % piece_length) % piece_length;
        let needs_pad = file.length > 0 && !is_last && gap > 0;
        out.push(file);
        if needs_pad {
            out.push(RawFile {
                path: vec![b".pad".as_slice()],
                length: gap,
                attributes: FileAttributes {
                    pad: true,
                    ..FileAttributes::default()
                },
                symlink_target: None,
                pieces_root: None,
            });
            offset += gap;
        }
    }
    out
}
