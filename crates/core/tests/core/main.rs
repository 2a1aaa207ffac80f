//! Property tests for the core codecs (hex, base32, compact peers) and geometry invariants.

use std::net::SocketAddr;

use proptest::prelude::*;
use swarmgate_core::{
    BLOCK_SIZE, Geometry, InfoHashV1, PieceIndex, compact_peers_v4, compact_peers_v6,
    decode_compact_peer, encode_compact_peer, from_base32, from_hex, to_base32, to_hex,
};

proptest! {
    #[test]
    fn hex_round_trips(bytes in any::<[u8; 20]>()) {
        prop_assert_eq!(from_hex::<20>(&to_hex(&bytes)).unwrap(), bytes);
        prop_assert_eq!(from_hex::<20>(&to_hex(&bytes).to_uppercase()).unwrap(), bytes);
    }

    #[test]
    fn base32_round_trips(bytes in any::<[u8; 20]>()) {
        let text = to_base32(&bytes);
        prop_assert_eq!(text.len(), 32);
        prop_assert_eq!(from_base32::<20>(&text).unwrap(), bytes);
        prop_assert_eq!(from_base32::<20>(&text.to_lowercase()).unwrap(), bytes);
    }

    #[test]
    fn info_hash_text_never_panics(text in ".{0,80}") {
        let _ = text.parse::<InfoHashV1>();
    }

    #[test]
    fn compact_peers_round_trip(v4 in prop::collection::vec(any::<std::net::SocketAddrV4>(), 0..20),
                                v6 in prop::collection::vec(any::<(std::net::Ipv6Addr, u16)>(), 0..20)) {
        let mut packed = Vec::new();
        for a in &v4 { encode_compact_peer(SocketAddr::V4(*a), &mut packed); }
        let back: Vec<_> = compact_peers_v4(&packed).unwrap().collect();
        prop_assert_eq!(back, v4.iter().map(|a| SocketAddr::V4(*a)).collect::<Vec<_>>());

        let v6: Vec<SocketAddr> = v6.into_iter().map(|(ip, port)| SocketAddr::new(ip.into(), port)).collect();
        let mut packed = Vec::new();
        for a in &v6 { encode_compact_peer(*a, &mut packed); }
        prop_assert_eq!(compact_peers_v6(&packed).unwrap().collect::<Vec<_>>(), v6);
    }

    #[test]
    fn compact_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_compact_peer(&bytes);
        if let Ok(peers) = compact_peers_v4(&bytes) { prop_assert_eq!(peers.count(), bytes.len() / 6); }
        if let Ok(peers) = compact_peers_v6(&bytes) { prop_assert_eq!(peers.count(), bytes.len() / 18); }
    }

    #[test]
    fn pieces_and_blocks_tile_the_torrent(total in 0u64..50_000_000, shift in 14u32..24) {
        let piece_length = 1u64 << shift;
        let g = Geometry::new(total, piece_length).unwrap();
        let mut covered = 0u64;
        for p in 0..g.piece_count() {
            let piece = PieceIndex(p);
            prop_assert_eq!(g.piece_offset(piece), covered);
            let size = g.piece_size(piece).unwrap();
            prop_assert!(size > 0 && u64::from(size) <= piece_length);
            let mut in_piece = 0u32;
            for block in g.blocks(piece) {
                prop_assert_eq!(block.offset, in_piece);
                prop_assert!(block.length > 0 && block.length <= BLOCK_SIZE);
                prop_assert!(g.is_valid_block(block));
                in_piece += block.length;
            }
            prop_assert_eq!(in_piece, size);
            covered += u64::from(size);
        }
        prop_assert_eq!(covered, total);
        prop_assert_eq!(g.piece_size(PieceIndex(g.piece_count())), None);
    }
}
