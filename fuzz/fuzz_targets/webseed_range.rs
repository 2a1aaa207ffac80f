//! Fuzzes the web seed's header and path parsing: `parse_range` never panics and a partial
//! answer lies within the file; `parse_content_range` and `decode_path` never panic, and a
//! `Content-Range` we format parses back to the same range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmgate_webseed::{
    RangeRequest, content_range, decode_path, parse_content_range, parse_range,
};

fuzz_target!(|data: &[u8]| {
    let (length, header) = match data.split_first_chunk::<8>() {
        Some((length, rest)) => (u64::from_le_bytes(*length), rest),
        None => (0, data),
    };
    if let RangeRequest::Partial(range) = parse_range(header, length) {
        assert!(
            range.start < range.end && range.end <= length,
            "{range:?} of {length}"
        );
        let text = content_range(&range, length);
        assert_eq!(
            parse_content_range(text.as_bytes()),
            Some((range, Some(length)))
        );
    }
    let _ = parse_content_range(header);
    if let Ok(path) = std::str::from_utf8(header) {
        if let Ok(segments) = decode_path(path) {
            for segment in segments {
                assert!(!segment.is_empty() && segment != "." && segment != "..");
                assert!(!segment.contains(['/', '\\', '\0']));
            }
        }
    }
});
