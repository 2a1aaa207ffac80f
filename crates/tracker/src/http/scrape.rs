//! HTTP scrape (BEP 48): the scrape URL derived from an announce URL, and the `files`
//! dictionary that answers it.
//!
//! The derivation is BEP 48's, literally: find the last `/` in the whole URL; if the text after
//! it starts with `announce`, replace those eight letters with `scrape`; otherwise the tracker
//! does not support scrape. "The whole URL" matters: `/announce?x=2/4` has its last `/` in the
//! query, so it has no scrape URL.

use swarmgate_bencode::Encoder;
use swarmgate_core::InfoHashV1;

use super::response::{count, with_root};
use crate::announce::ScrapeStats;
use crate::error::{ParseError, TrackerError};

/// The scrape URL for an announce URL, or `None` when BEP 48 says the tracker has none.
///
/// ```
/// use swarmgate_tracker::scrape_url;
/// assert_eq!(scrape_url("http://example.com/x/announce.php").as_deref(),
///            Some("http://example.com/x/scrape.php"));
/// assert_eq!(scrape_url("http://example.com/a"), None);
/// ```
pub fn scrape_url(announce: &str) -> Option<String> {
    let slash = announce.rfind('/')?;
    let tail = &announce[slash + 1..];
    let rest = tail.strip_prefix("announce")?;
    Some(format!("{}scrape{rest}", &announce[..=slash]))
}

/// Reads a scrape response body: `files`, keyed by the raw 20-byte info-hash, each with
/// `complete`, `downloaded` and `incomplete` (a missing or malformed count reads as 0).
///
/// The pairs come in the body's order. `failure reason` is [`TrackerError::Failure`].
pub fn decode_scrape_response(body: &[u8]) -> Result<Vec<(InfoHashV1, ScrapeStats)>, TrackerError> {
    with_root(body, |root| {
        let files = root
            .get(b"files")
            .ok_or(ParseError::Missing { field: "files" })?
            .as_dict()
            .ok_or(ParseError::BadField {
                field: "files",
                expected: "a dictionary",
            })?;
        let mut out = Vec::with_capacity(files.len());
        for (key, stats) in files {
            let hash = InfoHashV1::from_slice(key).map_err(|e| ParseError::Length {
                what: "scrape `files` key",
                expected: 20,
                actual: e.actual,
            })?;
            let stats = stats.as_dict().ok_or(ParseError::BadField {
                field: "files",
                expected: "a dictionary of dictionaries",
            })?;
            out.push((
                hash,
                ScrapeStats {
                    complete: count(stats.get(b"complete")).unwrap_or(0),
                    downloaded: count(stats.get(b"downloaded")).unwrap_or(0),
                    incomplete: count(stats.get(b"incomplete")).unwrap_or(0),
                },
            ));
        }
        Ok(out)
    })
}

/// Writes a scrape response body (canonical: torrents sorted by info-hash, a repeated hash
/// written once).
pub fn encode_scrape_response(files: &[(InfoHashV1, ScrapeStats)]) -> Vec<u8> {
    let mut sorted: Vec<&(InfoHashV1, ScrapeStats)> = files.iter().collect();
    sorted.sort_by_key(|(hash, _)| hash.0);
    sorted.dedup_by_key(|(hash, _)| hash.0);
    let mut e = Encoder::with_capacity(16 + sorted.len() * 80);
    e.begin_dict().key(b"files").begin_dict();
    for (hash, stats) in sorted {
        e.key(hash.as_bytes())
            .begin_dict()
            .key(b"complete")
            .int(i64::from(stats.complete))
            .key(b"downloaded")
            .int(i64::from(stats.downloaded))
            .key(b"incomplete")
            .int(i64::from(stats.incomplete))
            .end();
    }
    e.end().end();
    // Keys sorted and deduplicated above: nothing for the encoder to refuse.
    e.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_hashes_are_written_once() {
        let a = (InfoHashV1([1; 20]), ScrapeStats::default());
        let body = encode_scrape_response(&[a, a]);
        assert_eq!(decode_scrape_response(&body).unwrap(), [a]);
    }

    #[test]
    fn malformed_files_are_invalid() {
        let err = decode_scrape_response(b"d5:filesd3:abcdeee").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tracker response: scrape `files` key: expected 20 bytes, got 3"
        );
        let err = decode_scrape_response(b"de").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tracker response: missing field `files`"
        );
    }
}
