//! Properties of the pure core: piece plans cover each piece exactly, in order, without
//! overlap, pad files left out; Range answers stay within the file; URLs round-trip through
//! the server's path decoding; nothing panics on arbitrary bytes.

use proptest::prelude::*;
use swarmgate_core::PieceIndex;
use swarmgate_metainfo::Torrent;
use swarmgate_webseed::{
    RangeRequest, content_range, decode_path, file_url, find_file, parse_content_range,
    parse_range, plan_piece,
};

/// A v1 multi-file torrent with these (length, pad) files, written by hand.
fn torrent(files: &[(u64, bool)], piece_length: u64) -> Option<Torrent> {
    let total: u64 = files.iter().map(|f| f.0).sum();
    if total == 0 {
        return None;
    }
    let pieces = vec![0u8; 20 * total.div_ceil(piece_length) as usize];
    let mut e = swarmgate_bencode::Encoder::new();
    e.begin_dict()
        .key(b"info")
        .begin_dict()
        .key(b"files")
        .begin_list();
    for (i, (length, pad)) in files.iter().enumerate() {
        e.begin_dict();
        if *pad {
            e.key(b"attr").str("p");
        }
        e.key(b"length")
            .int(*length as i64)
            .key(b"path")
            .begin_list();
        if *pad {
            e.str(".pad").str(&length.to_string());
        } else {
            e.str(&format!("f{i}"));
        }
        e.end().end();
    }
    e.end().key(b"name").str("t");
    e.key(b"piece length").int(piece_length as i64);
    e.key(b"pieces").bytes(&pieces).end().end();
    Torrent::from_bytes(&e.finish().ok()?).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plans_cover_each_piece_exactly_in_order(
        files in prop::collection::vec((0u64..5_000, prop::bool::weighted(0.2)), 1..12),
        piece_length in 1u64..4_096,
    ) {
        let Some(t) = torrent(&files, piece_length) else { return Ok(()) };
        let mut covered = 0u64;
        for index in 0..t.piece_count() {
            let plan = plan_piece(t.layout(), PieceIndex(index)).unwrap();
            let start = u64::from(index) * piece_length;
            let mut position = 0u64;
            for request in &plan.requests {
                let entry = &t.files()[request.file];
                prop_assert!(!entry.is_pad() && request.length > 0);
                prop_assert!(request.file_range().end <= entry.length());
                prop_assert!(request.piece_offset >= position, "in order, no overlap");
                // The gap before it is pad bytes only.
                for gap in t.layout().spans(start + position..start + request.piece_offset) {
                    prop_assert!(t.files()[gap.file].is_pad());
                }
                prop_assert_eq!(entry.offset() + request.file_offset, start + request.piece_offset);
                position = request.piece_range().end;
            }
            for gap in t.layout().spans(start + position..start + u64::from(plan.length)) {
                prop_assert!(t.files()[gap.file].is_pad());
            }
            covered += u64::from(plan.length);
        }
        prop_assert_eq!(covered, t.total_length());
        prop_assert!(plan_piece(t.layout(), PieceIndex(t.piece_count())).is_none());
    }

    #[test]
    fn a_range_answer_stays_within_the_file(
        first in 0u64..2_000, last in 0u64..2_000, length in 0u64..1_500,
    ) {
        let header = format!("bytes={first}-{last}");
        match parse_range(header.as_bytes(), length) {
            RangeRequest::Whole => prop_assert!(last < first),
            RangeRequest::Unsatisfiable => prop_assert!(first <= last && first >= length),
            RangeRequest::Partial(range) => {
                prop_assert_eq!(range.start, first);
                prop_assert_eq!(range.end, (last + 1).min(length));
                prop_assert!(!range.is_empty());
                let text = content_range(&range, length);
                prop_assert_eq!(parse_content_range(text.as_bytes()), Some((range, Some(length))));
            }
        }
        let suffix = format!("bytes=-{last}");
        match parse_range(suffix.as_bytes(), length) {
            RangeRequest::Partial(range) => {
                prop_assert_eq!(range.end, length);
                prop_assert_eq!(range.end - range.start, last.min(length));
            }
            RangeRequest::Unsatisfiable => prop_assert_eq!(last, 0),
            RangeRequest::Whole => prop_assert!(length == 0 && last > 0),
        }
    }

    #[test]
    fn range_parsing_never_panics(header in prop::collection::vec(any::<u8>(), 0..64), length in any::<u64>()) {
        if let RangeRequest::Partial(range) = parse_range(&header, length) {
            prop_assert!(range.start < range.end && range.end <= length);
        }
        let _ = parse_content_range(&header);
        let _ = swarmgate_webseed::if_none_match(&header, "\"x\"");
    }

    #[test]
    fn file_urls_decode_back_to_their_file(
        names in prop::collection::vec("[^/\\\\\u{0}]{1,12}", 1..5),
    ) {
        let mut e = swarmgate_bencode::Encoder::new();
        e.begin_dict().key(b"info").begin_dict().key(b"files").begin_list();
        for name in &names {
            e.begin_dict().key(b"length").int(1).key(b"path").begin_list().str(name).end().end();
        }
        e.end().key(b"name").str("dir name").key(b"piece length").int(16384);
        e.key(b"pieces").bytes(&[0; 20]).end().end();
        let Ok(t) = Torrent::from_bytes(&e.finish().unwrap()) else { return Ok(()) };
        for index in 0..t.files().len() {
            let url = file_url("http://h/ws/", &t, index).unwrap();
            let path = &url["http://h/ws".len()..];
            let segments = decode_path(path).unwrap();
            prop_assert_eq!(find_file(&t, &segments), Some(index), "{}", url);
        }
    }

    #[test]
    fn path_decoding_never_panics(path in "/[ -~]{0,40}") {
        if let Ok(segments) = decode_path(&path) {
            for segment in segments {
                prop_assert!(!segment.is_empty() && segment != "." && segment != "..");
                prop_assert!(!segment.contains(['/', '\\', '\0']));
            }
        }
    }
}
