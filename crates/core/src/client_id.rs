//! BEP 20 client identification: which program sent an announce, read from its peer id.
//!
//! A peer id is any 20 bytes, but most clients start theirs with a conventional prefix. Four
//! conventions are read here, in this order:
//!
//! - custom prefixes: aria2's `A2-1-37-0-` (dash-separated decimal numbers) and Tixati's
//!   `TIX0324-`;
//! - Azureus style `-XXvvvv-`: a two-character code from a sorted table (binary search), then
//!   four version characters. Most clients write one component per character, digits then
//!   `A` = 10 as libtorrent does (rqbit goes on with `a` = 36 and `.` = 62, the Shadow
//!   alphabet). BitTorrent Inc.'s clients (µTorrent, BitTorrent), Transmission and Deluge write
//!   three components and then a release character, a letter for a build kind (µTorrent's `W`,
//!   Transmission's `Z` for a development build, Deluge's `s` for stable) that reads as 0; their
//!   letters count case-insensitively (`-BT7b0W-` is BitTorrent 7.11.0);
//! - Shadow style `S58B-----`: one letter, up to four characters of the Shadow alphabet
//!   (`0-9A-Za-z.`), padded with dashes through byte 5;
//! - Mainline style `M7-10-3-`: one letter, three dash-terminated decimal numbers, padded with
//!   dashes through byte 7.
//!
//! Anything else is `None`. A peer id is chosen by the peer, so the answer is a claim, good for
//! statistics and per-family policy, never for trust. Identification allocates nothing: it runs
//! on every announce.
//!
//! Families are the names users know. Rasterbar's libtorrent (`-LT`) is "libtorrent"; rakshasa's
//! libtorrent (`-lt`) is used by rTorrent alone and is "rTorrent". µTorrent's editions (`UT`,
//! `UM` Mac, `UE` embedded, `UW` Web) are one family, as are WebTorrent and WebTorrent Desktop,
//! mainline `M` and `-BT` (BitTorrent), and Xunlei's `XL` and `SD`. `-SG` is Swarmgate (older
//! lists give it to an obscure GS Torrent); `-AR` (Ares or Arctic Torrent) and `-SP` (BitSpirit or
//! StellarPlayer) are ambiguous and left out.
//!
//! ```
//! use swarmgate_core::{PeerId, client_family, identify_client};
//!
//! let client = identify_client(&PeerId(*b"-qB4520-Z2ehs8JmGQa1")).expect("qBittorrent");
//! assert_eq!((client.family, client.version), ("qBittorrent", [4, 5, 2, 0]));
//! assert_eq!(client_family("QBITTORRENT"), Some(client.family));
//! assert_eq!(identify_client(&PeerId([0; 20])), None);
//! ```

use std::fmt;

use crate::PeerId;

/// A BitTorrent client recognised from its peer id (BEP 20).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientId {
    /// The client's family name, as users know it ("qBittorrent", "Transmission",
    /// "libtorrent", "µTorrent", ...); always one that [`client_family`] resolves.
    pub family: &'static str,
    /// Up to four version components as written in the id (`-qB4520-` is `[4, 5, 2, 0]`,
    /// `-TR3000-` is `[3, 0, 0, 0]`, `A2-1-37-0-` is `[1, 37, 0, 0]`); missing ones and release
    /// letters are 0.
    pub version: [u8; 4],
}

impl fmt::Display for ClientId {
    /// `qBittorrent 4.5.2.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.version;
        write!(f, "{} {a}.{b}.{c}.{d}", self.family)
    }
}

/// Other names a configuration may use for a family: the ASCII and Greek spellings of µTorrent
/// (the family is spelled with U+00B5 MICRO SIGN), old and library names.
const ALIASES: [(&str, &str); 8] = [
    ("uTorrent", "µTorrent"),
    ("\u{3bc}Torrent", "µTorrent"),
    ("Azureus", "Vuze"),
    ("Mainline", "BitTorrent"),
    ("Thunder", "Xunlei"),
    ("libtorrent (rasterbar)", "libtorrent"),
    ("libtorrent (rakshasa)", "rTorrent"),
    ("anacrolix", "anacrolix/torrent"),
];

/// How the four version characters of an Azureus-style id read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// One component per character of the Shadow alphabet: `0`-`9`, `A`-`Z` = 10-35,
    /// `a`-`z` = 36-61, `.` = 62.
    Shadow,
    /// Three components, letters case-insensitive from 10, then a release character: a digit
    /// is the fourth component, a letter (a build kind) reads as 0.
    Release,
}

/// Azureus-style codes, sorted by code bytes for binary search.
const AZUREUS: [([u8; 2], &str, Scheme); 41] = [
    (*b"7T", "aTorrent", Scheme::Shadow),
    (*b"AG", "Ares", Scheme::Shadow),
    (*b"AZ", "Vuze", Scheme::Shadow),
    (*b"A~", "Ares", Scheme::Shadow),
    (*b"BC", "BitComet", Scheme::Shadow),
    (*b"BI", "BiglyBT", Scheme::Shadow),
    (*b"BL", "BitLord", Scheme::Shadow),
    (*b"BT", "BitTorrent", Scheme::Release),
    (*b"DE", "Deluge", Scheme::Release),
    (*b"FL", "Folx", Scheme::Shadow),
    (*b"FW", "FrostWire", Scheme::Shadow),
    (*b"GT", "anacrolix/torrent", Scheme::Shadow),
    (*b"HL", "Halite", Scheme::Shadow),
    (*b"JS", "JSTorrent", Scheme::Shadow),
    (*b"KG", "KGet", Scheme::Shadow),
    (*b"KT", "KTorrent", Scheme::Shadow),
    (*b"LT", "libtorrent", Scheme::Shadow),
    (*b"MG", "MediaGet", Scheme::Shadow),
    (*b"MO", "MonoTorrent", Scheme::Shadow),
    (*b"PI", "PicoTorrent", Scheme::Shadow),
    (*b"QD", "QQDownload", Scheme::Shadow),
    (*b"RN", "Rain", Scheme::Shadow),
    (*b"SD", "Xunlei", Scheme::Shadow),
    (*b"SG", "Swarmgate", Scheme::Shadow),
    (*b"SZ", "Shareaza", Scheme::Shadow),
    (*b"S~", "Shareaza", Scheme::Shadow),
    (*b"TL", "Tribler", Scheme::Shadow),
    (*b"TR", "Transmission", Scheme::Release),
    (*b"UE", "µTorrent", Scheme::Release),
    (*b"UM", "µTorrent", Scheme::Release),
    (*b"UT", "µTorrent", Scheme::Release),
    (*b"UW", "µTorrent", Scheme::Release),
    (*b"VG", "Vagaa", Scheme::Shadow),
    (*b"WD", "WebTorrent", Scheme::Shadow),
    (*b"WW", "WebTorrent", Scheme::Shadow),
    (*b"XF", "Xfplay", Scheme::Shadow),
    (*b"XL", "Xunlei", Scheme::Shadow),
    (*b"ZO", "Zona", Scheme::Shadow),
    (*b"lt", "rTorrent", Scheme::Shadow),
    (*b"qB", "qBittorrent", Scheme::Shadow),
    (*b"rQ", "rqbit", Scheme::Shadow),
];

/// Shadow-style letters.
const SHADOW: [(u8, &str); 7] = [
    (b'A', "ABC"),
    (b'O', "Osprey Permaseed"),
    (b'Q', "BTQueue"),
    (b'R', "Tribler"),
    (b'S', "Shadow"),
    (b'T', "BitTornado"),
    (b'U', "UPnP NAT Bit Torrent"),
];

/// Mainline-style letters.
const MAINLINE: [(u8, &str); 2] = [(b'M', "BitTorrent"), (b'Q', "Queen Bee")];

/// The families of the custom prefixes ([`custom`]).
const CUSTOM: [&str; 2] = ["aria2", "Tixati"];

/// The family of a one-letter code in `table`.
fn letter(table: &[(u8, &'static str)], code: u8) -> Option<&'static str> {
    table.iter().find(|row| row.0 == code).map(|row| row.1)
}

/// Every family [`identify_client`] can answer, some more than once.
fn families() -> impl Iterator<Item = &'static str> {
    let letters = SHADOW.iter().chain(&MAINLINE).map(|row| row.1);
    AZUREUS.iter().map(|row| row.1).chain(letters).chain(CUSTOM)
}

/// The client that made `peer_id`, when it follows a convention this module knows (see the
/// module docs); `None` otherwise. Never panics and allocates nothing.
pub fn identify_client(peer_id: &PeerId) -> Option<ClientId> {
    let id = peer_id.as_bytes();
    custom(id)
        .or_else(|| azureus(id))
        .or_else(|| shadow(id))
        .or_else(|| mainline(id))
}

/// Looks up a family by name, case-insensitively (for configuration: "qbittorrent" ->
/// `Some("qBittorrent")`); also takes "uTorrent" for µTorrent, "Azureus" for Vuze, "Mainline"
/// for BitTorrent, "Thunder" for Xunlei, and "libtorrent (rasterbar)" / "libtorrent (rakshasa)".
/// Case folding is ASCII only.
pub fn client_family(name: &str) -> Option<&'static str> {
    families()
        .find(|family| family.eq_ignore_ascii_case(name))
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
                .map(|&(_, family)| family)
        })
}

/// aria2's `A2-1-37-0-` and Tixati's `TIX0324-`.
fn custom(id: &[u8; 20]) -> Option<ClientId> {
    if id.starts_with(b"A2-") {
        let (version, _) = dashed_numbers(id, 3)?;
        return Some(ClientId {
            family: CUSTOM[0],
            version,
        });
    }
    if id.starts_with(b"TIX") && id[7] == b'-' {
        let mut version = [0; 4];
        for (slot, &c) in version.iter_mut().zip(&id[3..7]) {
            *slot = decimal_digit(c)?;
        }
        return Some(ClientId {
            family: CUSTOM[1],
            version,
        });
    }
    None
}

/// `-XXvvvv-` with a code from [`AZUREUS`].
fn azureus(id: &[u8; 20]) -> Option<ClientId> {
    if id[0] != b'-' || id[7] != b'-' {
        return None;
    }
    let code = [id[1], id[2]];
    let row = AZUREUS
        .binary_search_by(|(candidate, ..)| candidate.cmp(&code))
        .ok()?;
    let (_, family, scheme) = AZUREUS[row];
    let mut version = [0; 4];
    match scheme {
        Scheme::Shadow => {
            for (slot, &c) in version.iter_mut().zip(&id[3..7]) {
                *slot = shadow_digit(c)?;
            }
        }
        Scheme::Release => {
            for (slot, &c) in version.iter_mut().zip(&id[3..6]) {
                *slot = base36_digit(c)?;
            }
            version[3] = match id[6] {
                c @ b'0'..=b'9' => c - b'0',
                c if c.is_ascii_alphabetic() => 0,
                _ => return None,
            };
        }
    }
    Some(ClientId { family, version })
}

/// A letter from the Shadow table, up to four version characters, dashes through byte 5.
fn shadow(id: &[u8; 20]) -> Option<ClientId> {
    let family = letter(&SHADOW, id[0])?;
    let digits = id[1..6].iter().position(|&c| c == b'-')?;
    if id[1 + digits..6].iter().any(|&c| c != b'-') {
        return None;
    }
    let mut version = [0; 4];
    for (slot, &c) in version.iter_mut().zip(&id[1..1 + digits]) {
        *slot = shadow_digit(c)?;
    }
    Some(ClientId { family, version })
}

/// A letter from the Mainline table, three dash-terminated numbers, dashes through byte 7.
fn mainline(id: &[u8; 20]) -> Option<ClientId> {
    let family = letter(&MAINLINE, id[0])?;
    let (version, end) = dashed_numbers(id, 1)?;
    if id
        .get(end..8)
        .is_some_and(|pad| pad.iter().any(|&c| c != b'-'))
    {
        return None;
    }
    Some(ClientId { family, version })
}

/// Three decimal numbers of one to three digits (at most 255), each followed by `-`, from
/// `id[start..]`: the version and the index after the last dash.
fn dashed_numbers(id: &[u8; 20], start: usize) -> Option<([u8; 4], usize)> {
    let mut version = [0; 4];
    let mut at = start;
    for slot in version.iter_mut().take(3) {
        let digits = id
            .get(at..)?
            .iter()
            .take(4)
            .position(|c| !c.is_ascii_digit())?;
        if digits == 0 || id[at + digits] != b'-' {
            return None;
        }
        let value = id[at..at + digits]
            .iter()
            .fold(0u16, |n, &c| n * 10 + u16::from(c - b'0'));
        *slot = u8::try_from(value).ok()?;
        at += digits + 1;
    }
    Some((version, at))
}

fn decimal_digit(c: u8) -> Option<u8> {
    c.is_ascii_digit().then(|| c - b'0')
}

/// `0`-`9`, `A`-`Z` = 10-35, `a`-`z` = 36-61, `.` = 62 (`-`, 63, is padding here).
fn shadow_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        b'a'..=b'z' => Some(c - b'a' + 36),
        b'.' => Some(62),
        _ => None,
    }
}

/// `0`-`9`, then letters of either case from 10.
fn base36_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        b'a'..=b'z' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::SWARMGATE_PREFIX;
    use proptest::prelude::*;

    use super::*;

    /// `prefix` followed by a random-looking printable tail, as clients send.
    fn id(prefix: &[u8]) -> PeerId {
        let mut raw = *b"x7Qm2ZpL9aK0wR4tE8yU";
        raw[..prefix.len()].copy_from_slice(prefix);
        PeerId(raw)
    }

    fn seen(prefix: &[u8]) -> Option<(&'static str, [u8; 4])> {
        identify_client(&id(prefix)).map(|c| (c.family, c.version))
    }

    #[test]
    fn real_azureus_style_ids() {
        for (prefix, family, version) in [
            (b"-qB4520-", "qBittorrent", [4, 5, 2, 0]),
            (b"-qB5010-", "qBittorrent", [5, 0, 1, 0]),
            (b"-TR3000-", "Transmission", [3, 0, 0, 0]),
            (b"-TR4050-", "Transmission", [4, 0, 5, 0]),
            (b"-TR0072-", "Transmission", [0, 0, 7, 2]),
            (b"-TR300Z-", "Transmission", [3, 0, 0, 0]),
            (b"-LT2090-", "libtorrent", [2, 0, 9, 0]),
            (b"-LT12F0-", "libtorrent", [1, 2, 15, 0]),
            (b"-lt0D80-", "rTorrent", [0, 13, 8, 0]),
            (b"-UT355W-", "µTorrent", [3, 5, 5, 0]),
            (b"-UT3550-", "µTorrent", [3, 5, 5, 0]),
            (b"-UM1511-", "µTorrent", [1, 5, 1, 1]),
            (b"-UW110Q-", "µTorrent", [1, 1, 0, 0]),
            (b"-BT7b0W-", "BitTorrent", [7, 11, 0, 0]),
            (b"-DE211s-", "Deluge", [2, 1, 1, 0]),
            (b"-DE13D0-", "Deluge", [1, 3, 13, 0]),
            (b"-rQ8000-", "rqbit", [8, 0, 0, 0]),
            (b"-rQAFa.-", "rqbit", [10, 15, 36, 62]),
            (b"-WW0208-", "WebTorrent", [0, 2, 0, 8]),
            (b"-WD0007-", "WebTorrent", [0, 0, 0, 7]),
            (b"-AZ5770-", "Vuze", [5, 7, 7, 0]),
            (b"-BI3620-", "BiglyBT", [3, 6, 2, 0]),
            (b"-BC0206-", "BitComet", [0, 2, 0, 6]),
            (b"-XL0019-", "Xunlei", [0, 0, 1, 9]),
            (b"-SD0100-", "Xunlei", [0, 1, 0, 0]),
            (b"-KT22B1-", "KTorrent", [2, 2, 11, 1]),
            (b"-GT0003-", "anacrolix/torrent", [0, 0, 0, 3]),
            (b"-AG2053-", "Ares", [2, 0, 5, 3]),
            (b"-SG0100-", "Swarmgate", [0, 1, 0, 0]),
        ] {
            assert_eq!(seen(prefix), Some((family, version)), "{prefix:?}");
        }
    }

    #[test]
    fn our_own_ids() {
        let ours = identify_client(&PeerId::swarmgate([0xa5; 12])).expect("ours");
        assert_eq!(ours.family, "Swarmgate");
        let digits: [u8; 4] = std::array::from_fn(|i| SWARMGATE_PREFIX[3 + i] - b'0');
        assert_eq!(ours.version, digits);
    }

    #[test]
    fn aria2_and_tixati() {
        assert_eq!(seen(b"A2-1-37-0-"), Some(("aria2", [1, 37, 0, 0])));
        assert_eq!(seen(b"A2-1-9-10-"), Some(("aria2", [1, 9, 10, 0])));
        assert_eq!(seen(b"TIX0324-"), Some(("Tixati", [0, 3, 2, 4])));
        assert_eq!(seen(b"A2-1-256-0-"), None, "a component above 255");
        assert_eq!(seen(b"A2-1-1000-0-"), None, "four digits");
        assert_eq!(seen(b"A2-1-37-x"), None, "no closing dash");
        assert_eq!(seen(b"A2--37-0-"), None, "an empty component");
        assert_eq!(seen(b"TIX03a4-"), None);
        let mut tail = [b'7'; 20];
        tail[..3].copy_from_slice(b"A2-");
        assert_eq!(
            identify_client(&PeerId(tail)),
            None,
            "digits run off the end"
        );
    }

    #[test]
    fn shadow_style() {
        assert_eq!(seen(b"S58B-----"), Some(("Shadow", [5, 8, 11, 0])));
        assert_eq!(seen(b"T03I--008"), Some(("BitTornado", [0, 3, 18, 0])));
        assert_eq!(seen(b"T03C-----"), Some(("BitTornado", [0, 3, 12, 0])));
        assert_eq!(seen(b"R37---003"), Some(("Tribler", [3, 7, 0, 0])));
        assert_eq!(seen(b"A310--001"), Some(("ABC", [3, 1, 0, 0])));
        assert_eq!(seen(b"A--------"), Some(("ABC", [0, 0, 0, 0])));
        assert_eq!(seen(b"Sa.z-----"), Some(("Shadow", [36, 62, 61, 0])));
        assert_eq!(
            seen(b"S5-8-----"),
            None,
            "a version character after the padding"
        );
        assert_eq!(seen(b"S12345---"), None, "five characters leave no padding");
        assert_eq!(seen(b"S5/8-----"), None, "not in the alphabet");
        assert_eq!(seen(b"X58B-----"), None, "not a Shadow-style letter");
    }

    #[test]
    fn mainline_style() {
        assert_eq!(seen(b"M4-4-0--"), Some(("BitTorrent", [4, 4, 0, 0])));
        assert_eq!(seen(b"M7-10-3-"), Some(("BitTorrent", [7, 10, 3, 0])));
        assert_eq!(seen(b"M5-0-7--"), Some(("BitTorrent", [5, 0, 7, 0])));
        assert_eq!(
            seen(b"M100-20-255-"),
            Some(("BitTorrent", [100, 20, 255, 0]))
        );
        assert_eq!(seen(b"Q1-0-0--"), Some(("Queen Bee", [1, 0, 0, 0])));
        assert_eq!(seen(b"M1-2-3-x"), None, "padding broken");
        assert_eq!(seen(b"M1234-2-3--"), None, "four digits");
        assert_eq!(seen(b"M1-2--"), None, "two numbers");
        assert_eq!(seen(b"Z4-4-0--"), None, "not a Mainline letter");
    }

    #[test]
    fn unknown_and_malformed() {
        for prefix in [
            &b"-ZZ1000-"[..],
            b"-xx1230-",
            b"-qb4520-",
            b"-QB4520-",
            b"-AR1670-",
            b"-qB45/0-",
            b"-qB4520x",
            b"-qB452-",
            b"-UT35!W-",
            b"-UT355!-",
            b"-TR30.0-",
            b"exbc\x00\x38LORD",
            b"random-peer-id",
            b"\xff\x1d\xff\xff\xff8I\xff",
        ] {
            assert_eq!(seen(prefix), None, "{prefix:?}");
        }
        assert_eq!(identify_client(&PeerId([0; 20])), None);
        assert_eq!(identify_client(&PeerId([0xff; 20])), None);
        assert_eq!(identify_client(&PeerId([b'-'; 20])), None);
    }

    #[test]
    fn display_names_family_and_version() {
        let client = identify_client(&id(b"-qB4520-")).expect("qBittorrent");
        assert_eq!(client.to_string(), "qBittorrent 4.5.2.0");
    }

    #[test]
    fn tables_are_sorted_and_families_distinct() {
        assert!(
            AZUREUS.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );
        let mut distinct: Vec<&str> = Vec::new();
        for family in families() {
            assert_eq!(client_family(family), Some(family));
            assert!(
                !ALIASES
                    .iter()
                    .any(|(alias, _)| alias.eq_ignore_ascii_case(family))
            );
            if !distinct.contains(&family) {
                assert!(!distinct.iter().any(|d| d.eq_ignore_ascii_case(family)));
                distinct.push(family);
            }
        }
        // A misspelt repeat ("uTorrent" in one row) would make a 44th family.
        assert_eq!(distinct.len(), 43, "{distinct:?}");
        assert!(ALIASES.iter().all(|(_, family)| distinct.contains(family)));
        for (code, family, _) in AZUREUS {
            let mut raw = *b"-XX0000-abcdefghijkl";
            raw[1..3].copy_from_slice(&code);
            assert_eq!(
                identify_client(&PeerId(raw)).map(|c| c.family),
                Some(family)
            );
        }
    }

    #[test]
    fn family_lookup_for_configuration() {
        assert_eq!(client_family("qbittorrent"), Some("qBittorrent"));
        assert_eq!(client_family("QBITTORRENT"), Some("qBittorrent"));
        assert_eq!(client_family("transmission"), Some("Transmission"));
        assert_eq!(client_family("utorrent"), Some("µTorrent"));
        assert_eq!(client_family("µtorrent"), Some("µTorrent"));
        assert_eq!(client_family("μTorrent"), Some("µTorrent"));
        assert_eq!(client_family("LIBTORRENT"), Some("libtorrent"));
        assert_eq!(client_family("libtorrent (Rasterbar)"), Some("libtorrent"));
        assert_eq!(client_family("rtorrent"), Some("rTorrent"));
        assert_eq!(client_family("libtorrent (rakshasa)"), Some("rTorrent"));
        assert_eq!(client_family("azureus"), Some("Vuze"));
        assert_eq!(client_family("mainline"), Some("BitTorrent"));
        assert_eq!(client_family("ARIA2"), Some("aria2"));
        assert_eq!(client_family("swarmgate"), Some("Swarmgate"));
        assert_eq!(client_family(""), None);
        assert_eq!(client_family("qbittorrent "), None);
        assert_eq!(client_family("no such client"), None);
    }

    fn shadow_char() -> impl Strategy<Value = u8> {
        prop::sample::select(
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.".to_vec(),
        )
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_families_resolve(raw in any::<[u8; 20]>()) {
            if let Some(client) = identify_client(&PeerId(raw)) {
                prop_assert_eq!(client_family(client.family), Some(client.family));
            }
        }

        #[test]
        fn azureus_codes_read_every_version(
            row in 0..AZUREUS.len(),
            chars in prop::array::uniform4(shadow_char()),
            tail in any::<[u8; 12]>(),
        ) {
            let (code, family, scheme) = AZUREUS[row];
            let mut raw = [0u8; 20];
            raw[0] = b'-';
            raw[1..3].copy_from_slice(&code);
            raw[3..7].copy_from_slice(&chars);
            raw[7] = b'-';
            raw[8..].copy_from_slice(&tail);
            let client = identify_client(&PeerId(raw));
            let readable = scheme == Scheme::Shadow || !chars.contains(&b'.');
            prop_assert_eq!(client.map(|c| c.family), readable.then_some(family));
            if let (Some(client), Scheme::Shadow) = (client, scheme) {
                prop_assert_eq!(client.version, chars.map(|c| shadow_digit(c).unwrap_or(99)));
            }
        }

        #[test]
        fn dashed_versions_round_trip(version in any::<[u8; 3]>(), tail in any::<[u8; 20]>()) {
            let [a, b, c] = version;
            for prefix in ["A2-", "M"] {
                let mut text = format!("{prefix}{a}-{b}-{c}-").into_bytes();
                text.resize(text.len().max(8), b'-');
                let mut raw = tail;
                raw[..text.len()].copy_from_slice(&text);
                let client = identify_client(&PeerId(raw));
                prop_assert_eq!(client.map(|c| c.version), Some([a, b, c, 0]));
            }
        }
    }
}
