//! Magnet links (BEP 9, BEP 53): parse and format.
//!
//! `magnet:?xt=urn:btih:<40 hex | 32 base32>&xt=urn:btmh:1220<64 hex>&dn=..&tr=..&ws=..&xs=..&x.pe=..&so=..`
//! A hybrid torrent carries both `xt`s. Values are percent-decoded, and `+` reads as a space as
//! libtorrent reads it. Unknown parameters are ignored, as every client does; a malformed value
//! of a parameter we use is an error naming it, not a silent drop, so that a typo in `x.pe`
//! cannot pass unnoticed.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use swarmgate_core::{InfoHash, InfoHashV1, InfoHashV2};

use crate::error::MagnetError;
use crate::torrent::Torrent;

/// A parsed magnet link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Magnet {
    /// The torrent's info-hash(es).
    pub info_hash: InfoHash,
    /// `dn`: a display name.
    pub display_name: Option<String>,
    /// `tr`: tracker URLs, in link order.
    pub trackers: Vec<String>,
    /// `ws`: web seed URLs (BEP 19).
    pub web_seeds: Vec<String>,
    /// `xs`: "exact sources", URLs of the .torrent file itself (WebTorrent and aria2 read them;
    /// a client may fetch the metadata from one instead of asking peers for it).
    pub exact_sources: Vec<String>,
    /// `x.pe`: peer addresses to contact directly.
    pub peers: Vec<SocketAddr>,
    /// `so`: the indexes of the files to download (BEP 53), ranges expanded, sorted; empty = all.
    pub selected_files: Vec<u32>,
}

impl Magnet {
    /// A magnet link for `torrent`: its hashes, name, first tracker of each tier and web seeds.
    pub fn from_torrent(torrent: &Torrent) -> Self {
        Self {
            info_hash: torrent.info_hash(),
            display_name: Some(torrent.name().to_string()),
            trackers: torrent.trackers().iter().flatten().cloned().collect(),
            web_seeds: torrent.web_seeds().to_vec(),
            exact_sources: Vec::new(),
            peers: Vec::new(),
            selected_files: Vec::new(),
        }
    }

    /// Parses a `magnet:?` URI.
    pub fn parse(uri: &str) -> Result<Self, MagnetError> {
        let query = uri
            .trim()
            .strip_prefix("magnet:?")
            .or_else(|| uri.trim().strip_prefix("MAGNET:?"))
            .ok_or(MagnetError::NotAMagnet)?;
        let (mut v1, mut v2) = (None, None);
        let mut magnet = Self {
            info_hash: InfoHash::V1(InfoHashV1([0; 20])),
            display_name: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            exact_sources: Vec::new(),
            peers: Vec::new(),
            selected_files: Vec::new(),
        };
        // What is already listed, so that each link is kept once in linear time (a link with
        // tens of thousands of `tr` would otherwise cost a quadratic number of comparisons),
        // and the last `so`, expanded once at the end (each one is checked as it comes).
        let mut seen = HashSet::new();
        let mut selection = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let invalid = |reason: &str| MagnetError::InvalidParameter {
                key: key.to_string(),
                reason: reason.to_string(),
            };
            let value =
                percent_decode(raw).ok_or_else(|| invalid("bad percent-encoding or not UTF-8"))?;
            // Keys may carry an index suffix (`xt.1`, `tr.2`) as some clients write them.
            let base = key
                .split_once('.')
                .filter(|(_, n)| n.bytes().all(|b| b.is_ascii_digit()))
                .map_or(key, |(b, _)| b);
            match base {
                "xt" => {
                    if let Some(hash) = value.strip_prefix("urn:btih:") {
                        v1 = Some(
                            InfoHashV1::from_hex_or_base32(hash)
                                .map_err(|e| invalid(&e.to_string()))?,
                        );
                    } else if let Some(hash) = value.strip_prefix("urn:btmh:") {
                        v2 = Some(
                            InfoHashV2::from_multihash_hex(hash)
                                .map_err(|e| invalid(&e.to_string()))?,
                        );
                    }
                }
                "dn" => magnet.display_name = Some(value),
                "tr" if !value.is_empty() => push_unique(&mut seen, &mut magnet.trackers, 0, value),
                "ws" if !value.is_empty() => {
                    push_unique(&mut seen, &mut magnet.web_seeds, 1, value)
                }
                "xs" if !value.is_empty() => {
                    push_unique(&mut seen, &mut magnet.exact_sources, 2, value)
                }
                "x.pe" => magnet.peers.push(
                    value
                        .parse()
                        .map_err(|_| invalid("not an IP:port address"))?,
                ),
                "so" => {
                    selection = Some(parse_selection(&value).ok_or_else(|| {
                        invalid(&format!(
                            "not a list of indexes and ranges of at most {MAX_SELECTED} files"
                        ))
                    })?)
                }
                _ => {}
            }
        }
        magnet.info_hash = InfoHash::from_parts(v1, v2).ok_or(MagnetError::NoInfoHash)?;
        magnet.selected_files = selection.map(expand_selection).unwrap_or_default();
        Ok(magnet)
    }
}

impl FromStr for Magnet {
    type Err = MagnetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Magnet {
    /// The canonical form: v1 `xt` first, then v2, `dn`, `tr`, `ws`, `xs`, `x.pe`, `so`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("magnet:?")?;
        let mut first = true;
        let mut param = |f: &mut fmt::Formatter<'_>, key: &str, value: &str, escape: bool| {
            let sep = if first { "" } else { "&" };
            first = false;
            if escape {
                write!(f, "{sep}{key}={}", percent_encode(value))
            } else {
                write!(f, "{sep}{key}={value}")
            }
        };
        if let Some(v1) = self.info_hash.v1() {
            param(f, "xt", &format!("urn:btih:{v1}"), false)?;
        }
        if let Some(v2) = self.info_hash.v2() {
            param(
                f,
                "xt",
                &format!("urn:btmh:{}", v2.to_multihash_hex()),
                false,
            )?;
        }
        if let Some(name) = &self.display_name {
            param(f, "dn", name, true)?;
        }
        for tracker in &self.trackers {
            param(f, "tr", tracker, true)?;
        }
        for seed in &self.web_seeds {
            param(f, "ws", seed, true)?;
        }
        for source in &self.exact_sources {
            param(f, "xs", source, true)?;
        }
        for peer in &self.peers {
            param(f, "x.pe", &peer.to_string(), true)?;
        }
        if !self.selected_files.is_empty() {
            param(f, "so", &format_selection(&self.selected_files), false)?;
        }
        Ok(())
    }
}

/// Appends `value` to `list` (`kind` tells the lists apart in `seen`) unless it is there.
fn push_unique(seen: &mut HashSet<(u8, String)>, list: &mut Vec<String>, kind: u8, value: String) {
    if seen.insert((kind, value.clone())) {
        list.push(value);
    }
}

/// The most file indexes a `so` parameter may expand to (a hostile `so=0-4294967295` would
/// otherwise allocate gigabytes).
const MAX_SELECTED: u64 = 1 << 20;

/// The ranges of a `so` value, checked (each `first <= last`, at most [`MAX_SELECTED`]
/// indexes in all) but not expanded.
fn parse_selection(text: &str) -> Option<Vec<(u32, u32)>> {
    let mut ranges = Vec::new();
    let mut count = 0u64;
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        count += u64::from(last.checked_sub(first)?) + 1;
        if count > MAX_SELECTED {
            return None;
        }
        ranges.push((first, last));
    }
    Some(ranges)
}

/// The indexes of checked ranges, sorted, each once.
fn expand_selection(ranges: Vec<(u32, u32)>) -> Vec<u32> {
    let mut out: Vec<u32> = ranges
        .into_iter()
        .flat_map(|(first, last)| first..=last)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn format_selection(indexes: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indexes.len() {
        let start = indexes[i];
        let mut end = start;
        while i + 1 < indexes.len() && indexes[i + 1] == end + 1 {
            i += 1;
            end += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Percent-decodes `text` (`+` is a space); `None` on a bad escape or non-UTF-8 result.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but RFC 3986 unreserved characters and the URL punctuation that
/// is safe inside a query value (`:`, `/`, `@`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter() {
        let uri = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=Big+Buck%20Bunny\
                   &tr=udp%3A%2F%2Ftracker.example%3A80&tr.1=http://t2/announce&ws=http://seed/file\
                   &xs=http%3A%2F%2Fseed%2Ff.torrent&x.pe=127.0.0.1:6881&x.pe=[::1]:51413&so=0,2,4-6&foo=bar";
        let m = Magnet::parse(uri).unwrap();
        assert_eq!(
            m.info_hash.v1().unwrap().to_hex(),
            "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
        );
        assert_eq!(m.display_name.as_deref(), Some("Big Buck Bunny"));
        assert_eq!(
            m.trackers,
            ["udp://tracker.example:80", "http://t2/announce"]
        );
        assert_eq!(m.web_seeds, ["http://seed/file"]);
        assert_eq!(m.exact_sources, ["http://seed/f.torrent"]);
        assert_eq!(m.peers.len(), 2);
        assert_eq!(m.selected_files, [0, 2, 4, 5, 6]);
    }

    #[test]
    fn base32_and_hybrid() {
        let v1 = InfoHashV1([0x5a; 20]);
        let v2 = InfoHashV2([0x11; 32]);
        let uri = format!(
            "magnet:?xt=urn:btih:{}&xt=urn:btmh:{}",
            v1.to_base32(),
            v2.to_multihash_hex()
        );
        assert_eq!(
            Magnet::parse(&uri).unwrap().info_hash,
            InfoHash::Hybrid(v1, v2)
        );
    }

    #[test]
    fn format_round_trips() {
        let m = Magnet {
            info_hash: InfoHash::Hybrid(InfoHashV1([1; 20]), InfoHashV2([2; 32])),
            display_name: Some("a & b/ü".into()),
            trackers: vec!["http://t/announce?x=1&y=2".into()],
            web_seeds: vec!["http://w/f".into()],
            exact_sources: vec!["http://w/f.torrent?a=1&b=2".into()],
            peers: vec!["10.0.0.1:1".parse().unwrap()],
            selected_files: vec![0, 1, 2, 7],
        };
        let text = m.to_string();
        assert!(text.contains("&so=0-2,7"), "{text}");
        assert_eq!(Magnet::parse(&text).unwrap(), m);
    }

    #[test]
    fn rejects_bad_links() {
        assert_eq!(Magnet::parse("http://x"), Err(MagnetError::NotAMagnet));
        assert_eq!(Magnet::parse("magnet:?dn=x"), Err(MagnetError::NoInfoHash));
        assert!(Magnet::parse("magnet:?xt=urn:btih:abc").is_err());
        assert!(
            Magnet::parse("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=nope")
                .is_err()
        );
        assert!(
            Magnet::parse(
                "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=0-4294967295"
            )
            .is_err()
        );
        assert!(
            Magnet::parse("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%zz")
                .is_err()
        );
    }

    /// Found by the fuzz campaign: every `so` was expanded as it came, so a link repeating a
    /// large selection cost its expansion once per repeat. Now each is checked in linear time
    /// and only the last expanded; many trackers are deduplicated in linear time too.
    #[test]
    fn repeated_parameters_cost_linear_time() {
        let hash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
        let mut link = format!("magnet:?xt=urn:btih:{hash}");
        for _ in 0..2_000 {
            link.push_str("&so=0-1048575");
        }
        for n in 0..20_000 {
            link.push_str(&format!("&tr=http%3A%2F%2Ft{n}%2Fa&tr=http%3A%2F%2Ft0%2Fa"));
        }
        // Quadratic work would be billions of steps here (minutes); linear is a blink.
        let magnet = Magnet::parse(&link).unwrap();
        assert_eq!(magnet.selected_files.len(), 1 << 20);
        assert_eq!(magnet.trackers.len(), 20_000);
        let over = format!("magnet:?xt=urn:btih:{hash}&so=0-1048575,1048576");
        assert!(
            Magnet::parse(&over).is_err(),
            "past MAX_SELECTED in one value"
        );
    }
}
