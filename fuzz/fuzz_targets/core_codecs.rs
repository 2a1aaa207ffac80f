//! Fuzzes the core crate's codecs: hex, base32 and multihash info-hash forms and compact peer
//! lists. Never panics; whatever decodes re-encodes to an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmgate_core::{
    InfoHashV1, InfoHashV2, compact_peers_v4, compact_peers_v6, decode_compact_peer,
    encode_compact_peer,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(hash) = text.parse::<InfoHashV1>() {
            assert_eq!(hash.to_hex().parse::<InfoHashV1>().unwrap(), hash);
            assert_eq!(hash.to_base32().parse::<InfoHashV1>().unwrap(), hash);
        }
        if let Ok(hash) = InfoHashV2::from_multihash_hex(text) {
            assert_eq!(
                InfoHashV2::from_multihash_hex(&hash.to_multihash_hex()).unwrap(),
                hash
            );
        }
    }
    for list in [compact_peers_v4(data), compact_peers_v6(data)]
        .into_iter()
        .flatten()
    {
        let mut packed = Vec::new();
        for peer in list {
            encode_compact_peer(peer, &mut packed);
        }
        assert_eq!(packed, data);
    }
    if let Ok(peer) = decode_compact_peer(data) {
        let mut packed = Vec::new();
        encode_compact_peer(peer, &mut packed);
        assert_eq!(packed, data);
    }
});
