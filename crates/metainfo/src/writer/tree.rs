//! The BEP 52 `file tree` of a hybrid torrent, derived from its v1 file list.
//!
//! A hybrid torrent's two views must describe the same files in the same order, and a v2 tree's
//! order is its sorted key order; so the v1 list must already be in path order, and the tree is
//! written from it directly: folders are opened and closed as consecutive paths move, no tree is
//! built in memory. `check` makes sure that this gives a tree parsers accept.

use swarmgate_bencode::Encoder;

use crate::error::WriteError;

/// A file of the v2 tree: its index in the v1 list, its path, where it starts, its length.
#[derive(Debug)]
pub(super) struct TreeFile<'a> {
    pub(super) index: usize,
    pub(super) path: Vec<&'a str>,
    pub(super) offset: u64,
    pub(super) length: u64,
}

/// Checks that `files` can stand in both views with `roots`: as many roots as non-empty files,
/// none all zeros, files in path order with no file where a folder is, each non-empty file on a
/// piece boundary, and a power-of-two piece length of at least 16 KiB.
pub(super) fn check(
    files: &[TreeFile<'_>],
    piece_length: u64,
    roots: &[[u8; 32]],
) -> Result<(), WriteError> {
    if !piece_length.is_power_of_two() || piece_length < 16 * 1024 {
        return Err(WriteError::PieceLength(piece_length));
    }
    let expected = files.iter().filter(|f| f.length > 0).count();
    if roots.len() != expected {
        return Err(WriteError::PiecesRoots {
            expected,
            actual: roots.len(),
        });
    }
    let refuse = |index, reason| Err(WriteError::Hybrid { index, reason });
    let mut roots = roots.iter();
    let mut previous: Option<&TreeFile<'_>> = None;
    for file in files {
        if file.path.is_empty() || file.path.iter().any(|c| c.is_empty()) {
            return Err(WriteError::EmptyPath { index: file.index });
        }
        match previous {
            Some(p) if p.path >= file.path => {
                return refuse(file.index, "not after the previous file in path order");
            }
            Some(p) if file.path.starts_with(&p.path) => {
                return refuse(p.index, "its path is also a folder");
            }
            _ => previous = Some(file),
        }
        if file.length == 0 {
            continue;
        }
        if file.offset % piece_length != 0 {
            return refuse(file.index, "does not start on a piece boundary");
        }
        if roots.next() == Some(&[0; 32]) {
            return refuse(file.index, "its pieces root is all zeros");
        }
    }
    Ok(())
}

/// The BEP 52 `file tree` of `files` (in path order, checked), each leaf `{"": {length,
/// pieces root}}`: folders are opened and closed as the paths move, so no tree is built.
pub(super) fn write(e: &mut Encoder, files: &[TreeFile<'_>], roots: &[[u8; 32]]) {
    let mut roots = roots.iter();
    let mut open: &[&str] = &[];
    e.begin_dict();
    for file in files {
        let (name, folders) = file.path.split_last().expect("paths are checked non-empty");
        let common = open.iter().zip(folders).take_while(|(a, b)| a == b).count();
        for _ in common..open.len() {
            e.end();
        }
        for folder in &folders[common..] {
            e.key(folder.as_bytes()).begin_dict();
        }
        e.key(name.as_bytes()).begin_dict().key(b"").begin_dict();
        e.key(b"length").int(file.length as i64);
        if file.length > 0 {
            let root = roots.next().expect("one root per non-empty file, checked");
            e.key(b"pieces root").bytes(root);
        }
        e.end().end();
        open = folders;
    }
    for _ in 0..open.len() {
        e.end();
    }
    e.end();
}

#[cfg(test)]
mod tests {
    use crate::error::WriteError;
    use crate::writer::{InfoDictionary, InfoFile, components};

    /// The smallest piece length a hybrid torrent may have.
    const P: u64 = 16_384;

    /// The files, the piece length, the roots, and the verdict of `hybrid`.
    type Case<'a> = (
        &'a [InfoFile<'a>],
        u64,
        &'a [[u8; 32]],
        Result<(), WriteError>,
    );

    #[test]
    fn a_hybrid_file_tree_nests_folders_in_path_order() {
        let (x, z, b) = (components("a/x"), components("a/y/z"), components("b"));
        let files = InfoFile::laid_out([(&x[..], 1), (&z[..], 0), (&b[..], 2)], P, true);
        let pieces = [[1u8; 20], [2; 20]];
        let roots = [[3u8; 32], [4; 32]];
        let info = InfoDictionary::multi_file("n", &files, P, &pieces)
            .and_then(|info| info.hybrid(&roots))
            .unwrap()
            .to_bytes();
        let tree = [
            &b"d9:file treed1:ad1:xd0:d6:lengthi1e11:pieces root32:"[..],
            &[3; 32],
            b"ee1:yd1:zd0:d6:lengthi0eeeee1:bd0:d6:lengthi2e11:pieces root32:",
            &[4; 32],
            b"eee5:files",
        ]
        .concat();
        assert!(info.starts_with(&tree), "{}", info.escape_ascii());
        let tail = b"e12:meta versioni2e4:name1:n12:piece lengthi16384e6:pieces40:";
        assert!(info.windows(tail.len()).any(|w| w == tail));
    }

    #[test]
    fn hybrid_parts_that_do_not_fit_are_refused() {
        let (a, b, ab) = (components("a"), components("b"), components("a/b"));
        let data = |path, length| InfoFile::Data { path, length };
        let pad = InfoFile::Pad { length: P - 1 };
        let (two, zero) = ([[1u8; 32], [2; 32]], [[1u8; 32], [0; 32]]);
        let rule = |index, reason| Err(WriteError::Hybrid { index, reason });
        let order = "not after the previous file in path order";
        let cases: [Case<'_>; 8] = [
            (&[data(&a, 1), pad, data(&b, 1)], P, &two, Ok(())),
            (
                &[data(&a, 1), data(&b, 1)],
                1_000,
                &two,
                Err(WriteError::PieceLength(1_000)),
            ),
            (
                &[data(&a, 1), data(&b, 1)],
                P,
                &two[..1],
                Err(WriteError::PiecesRoots {
                    expected: 2,
                    actual: 1,
                }),
            ),
            (
                &[data(&a, 1), data(&b, 1)],
                P,
                &two,
                rule(1, "does not start on a piece boundary"),
            ),
            (&[data(&b, 1), pad, data(&a, 1)], P, &two, rule(2, order)),
            (&[data(&a, 1), pad, data(&a, 1)], P, &two, rule(2, order)),
            (
                &[data(&a, 1), pad, data(&ab, 1)],
                P,
                &two,
                rule(0, "its path is also a folder"),
            ),
            (
                &[data(&a, 1), pad, data(&b, 1)],
                P,
                &zero,
                rule(2, "its pieces root is all zeros"),
            ),
        ];
        for (index, (files, piece_length, roots, verdict)) in cases.into_iter().enumerate() {
            let total: u64 = files.iter().map(InfoFile::length).sum();
            let pieces = vec![[0u8; 20]; total.div_ceil(piece_length) as usize];
            let info = InfoDictionary::multi_file("n", files, piece_length, &pieces).unwrap();
            assert_eq!(info.hybrid(roots).map(|_| ()), verdict, "case {index}");
        }
        let nameless = InfoDictionary::single_file("", 1, P, &[[0; 20]]).unwrap();
        let refused = nameless.hybrid(&two[..1]).map(|_| ());
        assert_eq!(refused, Err(WriteError::EmptyPath { index: 0 }));
    }
}
