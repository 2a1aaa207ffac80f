//! Property tests: parsing never panics on truncated or mutated torrents, magnet links round-trip,
//! and layouts tile the torrent exactly.

use proptest::prelude::*;
use swarmgate_core::{InfoHash, InfoHashV1, InfoHashV2, PieceIndex};
use swarmgate_metainfo::{Magnet, Torrent, TorrentBuilder};

use crate::support::{fixture_folder, pseudo_random};

fn sample_torrent() -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let folder = fixture_folder(tmp.path());
    TorrentBuilder::new(&folder)
        .hybrid(true)
        .piece_length(32768)
        .tracker("http://t/announce")
        .build()
        .unwrap()
        .bytes
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let bytes = sample_torrent();
    assert!(Torrent::from_bytes(&bytes).is_ok());
    for end in 0..bytes.len() {
        assert!(
            Torrent::from_bytes(&bytes[..end]).is_err(),
            "prefix of {end} bytes loaded"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_torrents_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = sample_torrent_cached().to_vec();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(t) = Torrent::from_bytes(&bytes) {
            // Whatever loads is internally consistent.
            let covered: u64 = (0..t.piece_count()).map(|p| t.layout().piece_spans(PieceIndex(p)).map(|s| s.length).sum::<u64>()).sum();
            prop_assert_eq!(covered, t.total_length());
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Torrent::from_bytes(&bytes);
        let _ = Magnet::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn magnets_round_trip(v1 in any::<[u8; 20]>(), v2 in any::<[u8; 32]>(), which in 0..3u8,
                          name in proptest::option::of("\\PC{0,20}"),
                          trackers in prop::collection::vec("(http|udp)://[a-z0-9.]{1,10}(:[0-9]{1,5})?/[a-z&=?%+ ]{0,10}", 0..3),
                          selected in prop::collection::btree_set(0u32..50, 0..6)) {
        let info_hash = match which {
            0 => InfoHash::V1(InfoHashV1(v1)),
            1 => InfoHash::V2(InfoHashV2(v2)),
            _ => InfoHash::Hybrid(InfoHashV1(v1), InfoHashV2(v2)),
        };
        let mut unique = Vec::new();
        for t in trackers { if !unique.contains(&t) { unique.push(t) } }
        let magnet = Magnet { info_hash, display_name: name, trackers: unique, web_seeds: vec![], exact_sources: vec![], peers: vec![], selected_files: selected.into_iter().collect() };
        prop_assert_eq!(Magnet::parse(&magnet.to_string()).unwrap(), magnet);
    }

}

proptest! {
    // Each case hashes a file on every core; a few dozen cover the piece-length/size grid.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn built_single_files_round_trip(len in 1usize..200_000, shift in 14u32..18) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("data");
        std::fs::write(&path, pseudo_random(len as u64, len)).unwrap();
        let created = TorrentBuilder::new(&path).piece_length(1 << shift).build().unwrap();
        let parsed = Torrent::from_bytes(&created.bytes).unwrap();
        prop_assert_eq!(parsed.info_hash(), created.torrent.info_hash());
        prop_assert_eq!(parsed.total_length(), len as u64);
        prop_assert_eq!(u64::from(parsed.piece_count()), (len as u64).div_ceil(1 << shift));
    }
}

fn sample_torrent_cached() -> &'static [u8] {
    static SAMPLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(sample_torrent)
}
