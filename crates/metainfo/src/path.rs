//! Path sanitising: no torrent can make a client write outside its download folder.
//!
//! Torrents name files with lists of raw byte strings, and hostile or sloppy ones use `..`, `/`,
//! `\`, NUL, absolute paths and invalid UTF-8. Like libtorrent (and unlike a parser that rejects),
//! we *repair* such paths rather than refuse the torrent, because the data is still valid and the
//! info-hash does not change: empty, `.` and `..` components are dropped, separators and control
//! characters inside a component become `_`, invalid UTF-8 becomes `_`, and over-long components
//! are cut at 240 bytes. After repair every path is a plain relative sequence of normal components,
//! so `download_dir.join(path)` stays inside `download_dir` by construction. Each repair is
//! reported as a [`Warning`](crate::Warning) so a user can see what changed.
//!
//! Two files may not share a path, and a file may not sit where another file needs a directory;
//! such collisions are resolved the way libtorrent does, by renaming `name.ext` to `name.1.ext`.

use std::collections::HashSet;

/// The longest component we keep, in bytes (libtorrent's limit; below every common NAME_MAX).
const MAX_COMPONENT_BYTES: usize = 240;

/// Sanitises one path component. `None` means the component must be dropped (empty, `.`, `..`).
/// The flag says whether anything was changed.
pub(crate) fn sanitize_component(raw: &[u8]) -> (Option<String>, bool) {
    if raw.is_empty() || raw == b"." || raw == b".." {
        return (None, true);
    }
    let mut changed = false;
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let keep = !(c == '/' || c == '\\' || c.is_control() || c == char::REPLACEMENT_CHARACTER);
        changed |= !keep;
        out.push(if keep { c } else { '_' });
    }
    if out.len() > MAX_COMPONENT_BYTES {
        let mut cut = MAX_COMPONENT_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        changed = true;
    }
    if out == "." || out == ".." {
        return (None, true);
    }
    (Some(out), changed)
}

/// Sanitises a list of raw components; the flag says whether anything was changed.
pub(crate) fn sanitize_path<'a>(raw: impl IntoIterator<Item = &'a [u8]>) -> (Vec<String>, bool) {
    let mut changed = false;
    let mut out = Vec::new();
    for component in raw {
        let (clean, c) = sanitize_component(component);
        changed |= c;
        out.extend(clean);
    }
    (out, changed)
}

/// Renames files so that no two share a path and no file stands where another needs a
/// directory. `paths[i]` is `None` for entries that take no place on disk (pad files).
/// Returns the indexes of renamed files.
pub(crate) fn resolve_collisions(paths: &mut [Option<Vec<String>>]) -> Vec<usize> {
    let mut directories: HashSet<Vec<String>> = HashSet::new();
    for path in paths.iter().flatten() {
        for end in 1..path.len() {
            directories.insert(path[..end].to_vec());
        }
    }
    let mut files: HashSet<Vec<String>> = HashSet::new();
    let mut renamed = Vec::new();
    for (index, slot) in paths.iter_mut().enumerate() {
        let Some(path) = slot else { continue };
        if !files.contains(path) && !directories.contains(path) {
            files.insert(path.clone());
            continue;
        }
        let last = path.len() - 1;
        let original = path[last].clone();
        let (stem, extension) = match original.rfind('.') {
            Some(dot) if dot > 0 => original.split_at(dot),
            _ => (original.as_str(), ""),
        };
        // The counter always terminates: at most `files.len() + directories.len()` candidates
        // can be taken.
        for counter in 1.. {
            path[last] = format!("{stem}.{counter}{extension}");
            if !files.contains(path) && !directories.contains(path) {
                break;
            }
        }
        files.insert(path.clone());
        renamed.push(index);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(raw: &[&[u8]]) -> Vec<String> {
        sanitize_path(raw.iter().copied()).0
    }

    #[test]
    fn traversal_and_separators_are_neutralised() {
        assert_eq!(clean(&[b"..", b"..", b"etc", b"passwd"]), ["etc", "passwd"]);
        assert_eq!(clean(&[b"/etc/passwd"]), ["_etc_passwd"]);
        assert_eq!(clean(&[b"a\\..\\b"]), ["a_.._b"]);
        assert_eq!(clean(&[b"", b".", b"x\0y"]), ["x_y"]);
        assert_eq!(clean(&[b"bad\xffutf8"]), ["bad_utf8"]);
        assert_eq!(clean(&[b"ok.txt"]), ["ok.txt"]);
        assert!(!sanitize_path([b"ok".as_slice()]).1);
        assert!(sanitize_path([b"..".as_slice(), b"ok"]).1);
    }

    #[test]
    fn long_components_are_cut_on_a_char_boundary() {
        let long = "é".repeat(200); // 400 bytes
        let (out, changed) = sanitize_component(long.as_bytes());
        let out = out.unwrap();
        assert!(changed && out.len() <= MAX_COMPONENT_BYTES && out.chars().all(|c| c == 'é'));
    }

    #[test]
    fn duplicates_and_file_directory_clashes_are_renamed() {
        let p = |s: &[&str]| Some(s.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        let mut paths = vec![
            p(&["foo", "bar.txt"]),
            p(&["foo", "bar.txt"]),
            None,
            p(&["foo", "bar.txt"]),
            p(&["foo"]),
            p(&["README"]),
            p(&["README"]),
        ];
        let renamed = resolve_collisions(&mut paths);
        assert_eq!(renamed, [1, 3, 4, 6]);
        assert_eq!(paths[1], p(&["foo", "bar.1.txt"]));
        assert_eq!(paths[3], p(&["foo", "bar.2.txt"]));
        assert_eq!(paths[4], p(&["foo.1"]));
        assert_eq!(paths[6], p(&["README.1"]));
    }
}
