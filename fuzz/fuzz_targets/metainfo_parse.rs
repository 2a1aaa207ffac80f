//! Fuzzes `Torrent::from_bytes`: never panics, and whatever loads is internally consistent
//! (layout tiles the torrent, paths are safe, the magnet link round-trips).
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmgate_metainfo::{Magnet, ParseLimits, Torrent};

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits {
        max_pieces: 1 << 16,
        ..ParseLimits::default()
    };
    let Ok(torrent) = Torrent::from_bytes_with(data, &limits) else {
        return;
    };
    let layout = torrent.layout();
    let mut covered = 0u64;
    for piece in 0..torrent.piece_count() {
        covered += layout
            .piece_spans(swarmgate_core::PieceIndex(piece))
            .map(|s| s.length)
            .sum::<u64>();
    }
    assert_eq!(covered, torrent.total_length());
    for file in torrent.files() {
        for part in file.path() {
            assert!(
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && !part.contains(['/', '\\', '\0'])
            );
        }
    }
    let magnet = Magnet::from_torrent(&torrent);
    assert_eq!(
        Magnet::parse(&magnet.to_string())
            .expect("our magnets parse")
            .info_hash,
        torrent.info_hash()
    );
    // The raw info bytes parse on their own to the same torrent identity (BEP 9 metadata path).
    let again =
        Torrent::from_info_bytes(torrent.info_bytes(), &limits).expect("info bytes reparse");
    assert_eq!(again.info_hash(), torrent.info_hash());
});
