//! A lenient base64 decoder for authorization tokens: both alphabets (standard `+/` and URL-safe
//! `-_`), padding optional.
//!
//! Clients send both forms (spec 2.15), and a strict decoder per form would mean trying two
//! decoders and a dependency for twenty lines. Mixed alphabets in one token are accepted too:
//! they cannot decode to anything but the bytes the two forms share.

/// Decodes `text`, or `None` when it is not base64 in either alphabet (a bad character, padding
/// anywhere but the end, a length no encoding produces).
pub(crate) fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for byte in body.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode_lenient;

    #[test]
    fn both_alphabets_with_or_without_padding() {
        assert_eq!(decode_lenient("").unwrap(), b"");
        assert_eq!(decode_lenient("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(decode_lenient("Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode_lenient("Zm9vYmE=").unwrap(), b"fooba");
        assert_eq!(decode_lenient("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(decode_lenient("+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(decode_lenient("-_-_").unwrap(), [0xfb, 0xff, 0xbf]);
        for bad in ["Zm9vY", "Zm9v===", "Zm=9v", "Zm9v!A==", "Zm 9v"] {
            assert_eq!(decode_lenient(bad), None, "{bad}");
        }
    }
}
