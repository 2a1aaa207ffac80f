//! The v1 `info` dictionary (BEP 3, 47): single- and multi-file layouts and their piece hashes.
//!
//! Files are read in order into [`RawFile`]s that keep the raw path bytes: sanitising happens
//! once, later, for v1 and v2 alike, and the hybrid consistency check compares raw paths.

use swarmgate_bencode::{Dict, Value};

use crate::error::MetainfoError;
use crate::layout::FileAttributes;

/// A file as the torrent describes it, before path sanitising.
#[derive(Clone, Debug)]
pub(crate) struct RawFile<'a> {
    /// Raw components, relative to the torrent folder (or `[name]` for a single-file torrent).
    pub(crate) path: Vec<&'a [u8]>,
    pub(crate) length: u64,
    pub(crate) attributes: FileAttributes,
    pub(crate) symlink_target: Option<Vec<&'a [u8]>>,
    pub(crate) pieces_root: Option<[u8; 32]>,
}

/// A non-negative integer field (file lengths).
pub(crate) fn length_field(
    value: Option<Value<'_, '_>>,
    field: impl FnOnce() -> String,
) -> Result<u64, MetainfoError> {
    match value.map(|v| v.as_int()) {
        Some(Some(n)) => u64::try_from(n)
            .map_err(|_| MetainfoError::invalid(field(), format!("negative length {n}"))),
        Some(None) => Err(MetainfoError::invalid(field(), "not an integer")),
        None => Err(MetainfoError::invalid(field(), "missing")),
    }
}

/// A list of byte strings (paths, symlink targets). `None` when absent or not a list.
pub(crate) fn string_list<'a>(
    value: Option<Value<'_, 'a>>,
    field: impl Fn() -> String,
) -> Result<Option<Vec<&'a [u8]>>, MetainfoError> {
    let Some(list) = value.and_then(|v| v.as_list()) else {
        return Ok(None);
    };
    list.iter()
        .map(|item| {
            item.as_bytes()
                .ok_or_else(|| MetainfoError::invalid(field(), "an element is not a string"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Prefers the `.utf-8` variant of a key when present (BEP 3 extension used by many clients).
pub(crate) fn utf8_variant<'d, 'a>(dict: Dict<'d, 'a>, key: &str) -> Option<Value<'d, 'a>> {
    let utf8_key = format!("{key}.utf-8");
    dict.get(utf8_key.as_bytes())
        .or_else(|| dict.get(key.as_bytes()))
}

/// The v1 files of `info`: a `files` list (multi-file) or a `length` (single file named `name`).
/// Returns the files and whether the torrent is multi-file.
pub(crate) fn files<'a>(
    info: Dict<'_, 'a>,
    name: &'a [u8],
) -> Result<(Vec<RawFile<'a>>, bool), MetainfoError> {
    if let Some(files) = info.get(b"files") {
        let list = files
            .as_list()
            .ok_or_else(|| MetainfoError::invalid("info.files", "not a list"))?;
        let mut out = Vec::with_capacity(list.len());
        for (index, entry) in list.iter().enumerate() {
            out.push(file_entry(entry, index)?);
        }
        if out.is_empty() {
            return Err(MetainfoError::NoFiles);
        }
        return Ok((out, true));
    }
    let length = length_field(info.get(b"length"), || "info.length".into())?;
    let attributes = FileAttributes::of(info);
    Ok((
        vec![RawFile {
            path: vec![name],
            length,
            attributes: FileAttributes {
                symlink: false,
                ..attributes
            },
            symlink_target: None,
            pieces_root: None,
        }],
        false,
    ))
}

fn file_entry<'a>(entry: Value<'_, 'a>, index: usize) -> Result<RawFile<'a>, MetainfoError> {
    let field = |name: &str| format!("info.files[{index}].{name}");
    let dict = entry.as_dict().ok_or_else(|| {
        MetainfoError::invalid(format!("info.files[{index}]"), "not a dictionary")
    })?;
    let mut attributes = FileAttributes::of(dict);
    // A symlink's length is meaningless (it occupies no bytes), so it may be absent.
    let length = match dict.get(b"length") {
        None if attributes.symlink => 0,
        value => length_field(value, || field("length"))?,
    };
    // A pad file's path is never used, so it may be absent.
    let path = match string_list(utf8_variant(dict, "path"), || field("path"))? {
        Some(path) if !path.is_empty() => path,
        _ if attributes.pad => vec![b".pad".as_slice()],
        Some(_) => return Err(MetainfoError::invalid(field("path"), "empty path")),
        None => {
            return Err(MetainfoError::invalid(
                field("path"),
                "missing or not a list",
            ));
        }
    };
    // BitComet's pad files predate BEP 47's `attr`: libtorrent recognises them by name.
    if path
        .last()
        .is_some_and(|name| name.starts_with(b"_____padding_file_"))
    {
        attributes.pad = true;
    }
    let mut symlink_target = None;
    if attributes.symlink {
        // A symlink without a target is treated as a plain file, as libtorrent does.
        symlink_target = string_list(dict.get(b"symlink path"), || field("symlink path"))?;
        attributes.symlink = symlink_target.is_some();
    }
    let pieces_root = dict
        .get(b"pieces root")
        .and_then(|r| r.as_bytes())
        .and_then(|r| r.try_into().ok());
    Ok(RawFile {
        path,
        // Symlinks occupy no bytes of the torrent, whatever length they claim.
        length: if attributes.symlink { 0 } else { length },
        attributes,
        symlink_target,
        pieces_root,
    })
}
