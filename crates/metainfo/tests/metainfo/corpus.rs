//! libtorrent's own test torrents (../shared/corpus/libtorrent): every file libtorrent rejects we
//! reject with an error naming the problem; every file it loads, we load.

use swarmgate_metainfo::{MetainfoError, Torrent};

use crate::support::{corpus_dir, manifest};

#[test]
#[ignore = "needs ../shared/corpus"]
fn verdicts_match_libtorrent() {
    let rows = manifest();
    assert!(rows.len() >= 100, "the manifest lists {} files", rows.len());
    let mut failures = Vec::new();
    for (file, verdict) in &rows {
        let bytes = std::fs::read(corpus_dir().join(file)).unwrap();
        let result = Torrent::from_bytes(&bytes);
        match (verdict.as_str(), &result) {
            ("loads", Err(e)) => {
                failures.push(format!("{file}: libtorrent loads it, we refuse: {e}"))
            }
            ("rejects", Ok(_)) => {
                failures.push(format!("{file}: libtorrent rejects it, we load it"))
            }
            ("rejects" | "rejects-in-tests", Err(e)) => {
                // The message must say what was wrong: a field, a count or a bencode position.
                let message = e.to_string();
                assert!(message.len() > 12, "{file}: vague error {message:?}");
            }
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The rule behind each rejection, so that a parser change that rejects for the wrong reason fails.
#[test]
#[ignore = "needs ../shared/corpus"]
fn rejections_name_the_rule() {
    let expect: &[(&str, &str)] = &[
        ("bad_name.torrent", "duplicate dictionary key"),
        ("invalid_info.torrent", "info"),
        ("invalid_piece_len.torrent", "piece length"),
        ("invalid_pieces.torrent", "pieces"),
        ("invalid_file_size.torrent", "length"),
        ("negative_file_size.torrent", "negative length"),
        ("negative_size.torrent", "negative length"),
        ("negative_piece_len.torrent", "piece length"),
        ("missing_piece_len.torrent", "piece length"),
        ("no_files.torrent", "no files"),
        ("string.torrent", "not a dictionary"),
        ("many_pieces.torrent", "pieces, more than the limit"),
        ("unaligned_pieces.torrent", "20 per piece"),
        ("zero.torrent", "total length 0"),
        ("zero2.torrent", "total length 0"),
        ("invalid_path_list.torrent", "not a string"),
        ("invalid_symlink.torrent", "info.files[1].path"),
        ("v2_bad_file_alignment.torrent", "20 per piece"),
        ("v2_mismatching_metadata.torrent", "inconsistent hybrid"),
        ("v2_deep_recursion.torrent", "deeper than the limit"),
        ("v2_empty_filename.torrent", "empty file or directory name"),
        ("v2_invalid_file.torrent", "not a dictionary"),
        ("v2_invalid_pad_file.torrent", "pad files are not allowed"),
        ("v2_invalid_piece_layer.torrent", "not a string"),
        ("v2_invalid_piece_layer_root.torrent", "does not hash to"),
        ("v2_invalid_piece_layer_size.torrent", "piece layer"),
        (
            "v2_non_multiple_piece_layer.torrent",
            "whole number of hashes",
        ),
        (
            "v2_piece_layer_invalid_file_hash.torrent",
            "not a 32-byte root",
        ),
        ("v2_unknown_piece_layer_entry.torrent", "names no file"),
        (
            "v2_missing_file_root_invalid_symlink.torrent",
            "pieces root",
        ),
        ("v2_zero_root.torrent", "all zeros"),
        ("v2_zero_root_small.torrent", "all zeros"),
        ("v2_no_power2_piece.torrent", "power of two"),
        ("v2_piece_size.torrent", "piece length"),
        ("v2_large_file.torrent", "pieces, more than the limit"),
        ("v2_large_offset.torrent", "pieces, more than the limit"),
        ("v2_overlong_integer.torrent", "integer"),
        ("v2_unordered_files.torrent", "sorted"),
        ("duplicate_files2.torrent", ""),
    ];
    let mut failures = Vec::new();
    for (file, needle) in expect {
        let bytes = std::fs::read(corpus_dir().join(file)).unwrap();
        match Torrent::from_bytes(&bytes) {
            Ok(_) if needle.is_empty() => {} // accepted on purpose (see the note in the manifest)
            Ok(_) => failures.push(format!(
                "{file}: loaded, expected an error about {needle:?}"
            )),
            Err(e) if !e.to_string().contains(needle) => {
                failures.push(format!("{file}: {e} (expected {needle:?})"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Path repairs in the corpus: every loaded torrent's paths are plain relative components.
#[test]
#[ignore = "needs ../shared/corpus"]
fn every_loaded_path_stays_inside_the_download_folder() {
    for (file, _) in manifest() {
        let Ok(torrent) = Torrent::from_bytes(&std::fs::read(corpus_dir().join(&file)).unwrap())
        else {
            continue;
        };
        for entry in torrent.files() {
            assert!(!entry.path().is_empty(), "{file}: empty path");
            for component in entry.path() {
                assert!(
                    !component.is_empty()
                        && component != "."
                        && component != ".."
                        && !component.contains(['/', '\\', '\0']),
                    "{file}: unsafe component {component:?}"
                );
            }
            assert!(entry.path_buf().is_relative());
        }
    }
    // The traversal fixtures really were repaired, and said so.
    for file in [
        "parent_path.torrent",
        "hidden_parent_path.torrent",
        "absolute_filename.torrent",
        "slash_path.torrent",
    ] {
        let torrent =
            Torrent::from_bytes(&std::fs::read(corpus_dir().join(file)).unwrap()).unwrap();
        assert!(
            !torrent.warnings().is_empty(),
            "{file}: repaired without a warning"
        );
    }
}

#[test]
#[ignore = "needs ../shared/corpus"]
fn unsorted_keys_load_and_are_reported() {
    let torrent =
        Torrent::from_bytes(&std::fs::read(corpus_dir().join("unordered.torrent")).unwrap())
            .unwrap();
    assert!(matches!(
        torrent.warnings().first(),
        Some(swarmgate_metainfo::Warning::UnsortedKeys { .. })
    ));
    let err = Torrent::from_bytes(b"d4:infod4:name1:xee").unwrap_err();
    assert!(matches!(
        err,
        MetainfoError::MissingField {
            field: "info.piece length"
        }
    ));
}
