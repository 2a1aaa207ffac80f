//! The torrent writer: whatever parts it accepts, the dictionary it writes parses back to the
//! same name, files, pad files, piece hashes and roots, and its hashes are the info-hashes.

use proptest::prelude::*;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use swarmgate_core::PieceIndex;
use swarmgate_metainfo::{InfoDictionary, InfoFile, ParseLimits, Torrent, TorrentFile};

/// Distinct paths of one or two components (`f<i>` or `d<i % 2>/f<i>`) with their lengths, in
/// path order; or, for a single-file torrent, the first length under the torrent's `name`.
fn paths(files: &[(bool, u64)], single: Option<&str>) -> Vec<(Vec<String>, u64)> {
    if let Some(name) = single {
        return vec![(vec![name.to_string()], files[0].1)];
    }
    let mut out: Vec<(Vec<String>, u64)> = files
        .iter()
        .enumerate()
        .map(|(i, &(nested, length))| match nested {
            true => (vec![format!("d{}", i % 2), format!("f{i}")], length),
            false => (vec![format!("f{i}")], length),
        })
        .collect();
    out.sort();
    out
}

/// What a case wrote: the `info` bytes, the file list and the piece hashes it was written from.
type Written<'f> = (Vec<u8>, Vec<InfoFile<'f>>, Vec<[u8; 20]>);

/// Writes `files` (a single file named `name` when `single`), with one distinct made-up SHA-1
/// per piece and, when given, the hybrid `roots`; `None` when the files hold no data.
fn write<'f>(
    name: &str,
    files: &'f [(Vec<String>, u64)],
    single: bool,
    piece_length: u64,
    align: bool,
    private: bool,
    roots: Option<&[[u8; 32]]>,
) -> Option<Written<'f>> {
    let layout = InfoFile::laid_out(files.iter().map(|(p, l)| (&p[..], *l)), piece_length, align);
    let total: u64 = layout.iter().map(InfoFile::length).sum();
    if total == 0 {
        return None;
    }
    let pieces: Vec<[u8; 20]> = (0..total.div_ceil(piece_length))
        .map(|i| Sha1::digest(i.to_le_bytes()).into())
        .collect();
    let info = match single {
        true => InfoDictionary::single_file(name, total, piece_length, &pieces),
        false => InfoDictionary::multi_file(name, &layout, piece_length, &pieces),
    };
    let info = match roots {
        Some(roots) => info.and_then(|info| info.hybrid(roots)),
        None => info,
    };
    let bytes = info.unwrap().private(private).to_bytes();
    Some((bytes, layout, pieces))
}

/// Checks what every written torrent must hold: the parser reads back `name`, the `layout`'s
/// files and pads in order (below `name` for a multi-file torrent), the piece hashes and the
/// raw bytes, with no warning, and the v1 info-hash is the SHA-1 of the bytes.
fn read_back(
    (info, layout, pieces): &Written<'_>,
    name: &str,
    single: bool,
) -> Result<Torrent, TestCaseError> {
    let torrent = Torrent::from_info_bytes(info, &ParseLimits::default()).unwrap();
    prop_assert_eq!(torrent.name(), name);
    prop_assert_eq!(torrent.is_multi_file(), !single);
    prop_assert!(torrent.warnings().is_empty(), "{:?}", torrent.warnings());
    prop_assert_eq!(torrent.info_bytes(), &info[..]);
    let v1: [u8; 20] = Sha1::digest(info).into();
    prop_assert_eq!(torrent.info_hash().v1().map(|h| h.0), Some(v1));
    prop_assert_eq!(torrent.files().len(), layout.len());
    for (entry, file) in torrent.files().iter().zip(layout) {
        prop_assert_eq!(entry.length(), file.length());
        match file {
            InfoFile::Pad { .. } => prop_assert!(entry.is_pad()),
            InfoFile::Data { path, .. } if single => prop_assert_eq!(entry.path(), &path[..]),
            InfoFile::Data { path, .. } => prop_assert_eq!(&entry.path()[1..], &path[..]),
        }
    }
    for (index, hash) in pieces.iter().enumerate() {
        prop_assert_eq!(torrent.piece_hash(PieceIndex(index as u32)), Some(*hash));
    }
    Ok(torrent)
}

/// A torrent name, 1 to 5 files (each nested or not, of fewer than `max` bytes), and whether
/// to write the first one alone as a single-file torrent.
fn cases(max: u64) -> impl Strategy<Value = (String, Vec<(bool, u64)>, bool)> {
    let files = prop::collection::vec((any::<bool>(), 0..max), 1..6);
    ("[a-z]{1,8}", files, any::<bool>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_v1_dictionaries_read_back(
        (name, files, single) in cases(150_000),
        piece_length in 1u64..70_000,
        align in any::<bool>(),
        private in any::<bool>(),
    ) {
        let files = paths(&files, single.then_some(&name));
        let written = write(&name, &files, single, piece_length, align, private, None);
        prop_assume!(written.is_some());
        let torrent = read_back(&written.unwrap(), &name, single)?;
        prop_assert_eq!(torrent.is_private(), private);
        prop_assert_eq!(torrent.info_hash().v2(), None);
    }

    #[test]
    fn written_hybrid_dictionaries_read_back((name, files, single) in cases(300_000), shift in 14u32..18) {
        let files = paths(&files, single.then_some(&name));
        let roots: Vec<[u8; 32]> = files
            .iter()
            .filter(|(_, length)| *length > 0)
            .map(|(path, _)| Sha256::digest(path.join("/")).into())
            .collect();
        let written = write(&name, &files, single, 1 << shift, true, false, Some(&roots));
        prop_assume!(written.is_some());
        let written = written.unwrap();
        let torrent = read_back(&written, &name, single)?;
        let v2: [u8; 32] = Sha256::digest(&written.0).into();
        prop_assert_eq!(torrent.info_hash().v2().map(|h| h.0), Some(v2));
        let read_roots: Vec<[u8; 32]> = torrent.files().iter().filter_map(|f| f.pieces_root().copied()).collect();
        prop_assert_eq!(read_roots, roots);

        // Around it, a `.torrent` with no piece layer still loads (layers can come from peers).
        let bytes = TorrentFile::new().tracker("http://t/announce").write(&written.0).unwrap();
        let whole = Torrent::from_bytes(&bytes).unwrap();
        prop_assert_eq!(whole.info_hash(), torrent.info_hash());
        prop_assert_eq!(whole.trackers(), [vec!["http://t/announce".to_string()]]);
    }
}
