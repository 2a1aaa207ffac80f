//! Fuzzes `Magnet::parse`: never panics, and a parsed link formats to one that parses equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmgate_metainfo::Magnet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(magnet) = Magnet::parse(text) {
        let formatted = magnet.to_string();
        let again = Magnet::parse(&formatted).expect("our own output parses");
        assert_eq!(again, magnet, "{formatted}");
    }
});
