//! Base64 for authorization tokens: a lenient decoder of both alphabets (standard `+/` and
//! URL-safe `-_`), padding optional, and the encoder clients (and our tests) write tokens with.
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

/// How a client writes a token into the `Authorization` header (spec 2.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenEncoding {
    /// base64url without padding: current BUD-11 (blossom-client-sdk 5).
    UrlSafe,
    /// Standard base64 with padding: older clients and nostr-tools-made tokens.
    Standard,
}

/// `bytes` in base64 as `encoding` writes it.
pub(crate) fn encode(bytes: &[u8], encoding: TokenEncoding) -> String {
    const COMMON: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let (last_two, pad) = match encoding {
        TokenEncoding::UrlSafe => (*b"-_", false),
        TokenEncoding::Standard => (*b"+/", true),
    };
    let symbol = |value: u32| match value {
        62 => last_two[0],
        63 => last_two[1],
        _ => COMMON[value as usize],
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(symbol((n >> (18 - 6 * i)) & 63)));
        }
        if pad {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{TokenEncoding, decode_lenient, encode};

    #[test]
    fn both_encodings_decode_back() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(97) ^ 0xfb).collect();
            for encoding in [TokenEncoding::UrlSafe, TokenEncoding::Standard] {
                assert_eq!(decode_lenient(&encode(&bytes, encoding)).unwrap(), bytes);
            }
        }
        assert_eq!(encode(b"foob", TokenEncoding::Standard), "Zm9vYg==");
        assert_eq!(encode(b"foob", TokenEncoding::UrlSafe), "Zm9vYg");
        assert_eq!(encode(&[0xfb, 0xff, 0xbf], TokenEncoding::Standard), "+/+/");
        assert_eq!(encode(&[0xfb, 0xff, 0xbf], TokenEncoding::UrlSafe), "-_-_");
    }

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
