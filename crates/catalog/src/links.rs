//! What the gateway hands out for a stored file (BEP 3 .torrent, BEP 9 magnet, BEP 19 web seed
//! URL): built from the stored info dictionary and the current public URL.
//!
//! The info dictionary (name, length, piece length, SHA-1 pieces) is fixed at upload and stored;
//! its hash is the file's identity in the swarm. Everything around it (the announce URLs, the
//! web seed) is written when a .torrent or magnet is asked for, so a gateway that moves to a new
//! public URL hands out working links for every file it already had, with the same info-hash.

use std::net::SocketAddr;

use swarmgate_core::{InfoHash, InfoHashV1, Sha256};
use swarmgate_metainfo::{InfoDictionary, Magnet, TorrentFile, WriteError};

/// A file name a BitTorrent client can write anywhere: no directory part, no control
/// characters, no `.`/`..`, at most 200 bytes (cut on a character boundary); `fallback` when
/// nothing is left.
pub fn sanitize_name(raw: &str, fallback: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = base
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    let trimmed = name.trim();
    if trimmed != name {
        name = trimmed.to_owned();
    }
    if name.len() > 200 {
        let mut cut = 200;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    if name.is_empty() || name == "." || name == ".." {
        return fallback.to_owned();
    }
    name
}

/// The bencoded info dictionary of a single-file v1 torrent (an error when the parts do not
/// describe one: no bytes, or a piece hash count that does not fit the length).
pub(crate) fn info_dictionary(
    name: &str,
    length: u64,
    piece_length: u32,
    pieces: &[[u8; 20]],
) -> Result<Vec<u8>, WriteError> {
    Ok(InfoDictionary::single_file(name, length, u64::from(piece_length), pieces)?.to_bytes())
}

/// The gateway's URLs, from its public base URL.
#[derive(Clone, Debug)]
pub struct Links {
    base: String,
    udp_tracker: Option<String>,
    blossom: Option<String>,
}

impl Links {
    /// Links under `public_url` (no trailing slash); `udp_tracker` is the UDP tracker's address
    /// as clients should reach it, announced as a second tier.
    pub fn new(public_url: &str, udp_tracker: Option<SocketAddr>) -> Links {
        let base = public_url.trim_end_matches('/').to_owned();
        let udp_tracker = udp_tracker.map(|addr| {
            let host = host_of(&base).unwrap_or_else(|| addr.ip().to_string());
            format!("udp://{host}:{}/announce", addr.port())
        });
        Links {
            base,
            udp_tracker,
            blossom: None,
        }
    }

    /// The same links with a Blossom server at `base` (no trailing slash): every stored file is
    /// also a blob there.
    pub fn with_blossom(mut self, base: &str) -> Links {
        self.blossom = Some(base.trim_end_matches('/').to_owned());
        self
    }

    /// The Blossom server's base URL, if the files are served there too.
    pub fn blossom_base(&self) -> Option<&str> {
        self.blossom.as_deref()
    }

    /// The public base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP tracker's announce URL.
    pub fn announce(&self) -> String {
        format!("{}/announce", self.base)
    }

    /// The tracker tiers: HTTP first, then UDP.
    pub fn trackers(&self) -> Vec<String> {
        let mut trackers = vec![self.announce()];
        trackers.extend(self.udp_tracker.clone());
        trackers
    }

    /// The web seed URL of a file (a single-file torrent's `url-list` entry: the file itself).
    pub fn webseed(&self, sha256: &Sha256) -> String {
        format!("{}/webseed/{}", self.base, sha256.to_hex())
    }

    /// The download URL.
    pub fn download(&self, sha256: &Sha256) -> String {
        format!("{}/api/download/{}", self.base, sha256.to_hex())
    }

    /// The .torrent URL.
    pub fn torrent(&self, sha256: &Sha256) -> String {
        format!("{}/api/torrent/{}.torrent", self.base, sha256.to_hex())
    }

    /// A .torrent around the stored `info` dictionary: announce and announce-list (one tier per
    /// tracker), `url-list` with the web seed, `created by`, `creation date`.
    pub fn torrent_file(&self, sha256: &Sha256, info: &[u8], created: u64) -> Vec<u8> {
        self.trackers()
            .into_iter()
            .fold(TorrentFile::new(), TorrentFile::tracker)
            .always_announce_list(true)
            .created_by(Some(
                concat!("swarmgate/", env!("CARGO_PKG_VERSION")).into(),
            ))
            .creation_date(Some(i64::try_from(created).unwrap_or(0)))
            .web_seed(self.webseed(sha256))
            .write(info)
            .expect("a valid stored info dictionary")
    }

    /// The magnet link: info-hash, name, trackers, web seed (`ws`) and the .torrent's URL
    /// (`xs`), so a client can take the metadata over HTTP instead of from peers.
    pub fn magnet(&self, sha256: &Sha256, info_hash: InfoHashV1, name: &str) -> String {
        Magnet {
            info_hash: InfoHash::V1(info_hash),
            display_name: Some(name.to_owned()),
            trackers: self.trackers(),
            web_seeds: vec![self.webseed(sha256)],
            exact_sources: vec![self.torrent(sha256)],
            peers: Vec::new(),
            selected_files: Vec::new(),
        }
        .to_string()
    }
}

/// The host of `http://host[:port]/...`, brackets kept for IPv6.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if authority.starts_with('[') {
        &authority[..=authority.find(']')?]
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmgate_metainfo::Torrent;

    #[test]
    fn names_lose_directories_controls_and_dots() {
        assert_eq!(sanitize_name("../../etc/passwd", "x"), "passwd");
        assert_eq!(sanitize_name("C:\\Users\\me\\a b.txt", "x"), "a b.txt");
        assert_eq!(sanitize_name("a\nb\u{7}.bin", "x"), "a_b_.bin");
        assert_eq!(sanitize_name("..", "fallback"), "fallback");
        assert_eq!(sanitize_name("dir/", "fallback"), "fallback");
        assert_eq!(sanitize_name("  ", "fallback"), "fallback");
        let long = "é".repeat(150);
        let cut = sanitize_name(&long, "x");
        assert!(cut.len() <= 200 && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_torrent_file_parses_back_with_our_trackers_web_seed_and_info_hash() {
        let sha = Sha256([0xab; 32]);
        let info = info_dictionary(
            "video.mp4",
            5_000_000,
            1 << 21,
            &[[1; 20], [2; 20], [3; 20]],
        )
        .unwrap();
        assert!(info_dictionary("x", 5_000_000, 1 << 21, &[[1; 20]]).is_err());
        let links = Links::new(
            "http://127.0.0.1:9877/",
            Some("0.0.0.0:9877".parse().unwrap()),
        );
        let bytes = links.torrent_file(&sha, &info, 1_700_000_000);
        let torrent = Torrent::from_bytes(&bytes).unwrap();
        assert_eq!(torrent.name(), "video.mp4");
        assert_eq!(torrent.total_length(), 5_000_000);
        assert_eq!(torrent.piece_length(), 1 << 21);
        assert_eq!(torrent.info_bytes(), &info[..]);
        assert_eq!(
            torrent.trackers(),
            [
                vec!["http://127.0.0.1:9877/announce".to_owned()],
                vec!["udp://127.0.0.1:9877/announce".to_owned()],
            ]
        );
        assert_eq!(
            torrent.web_seeds(),
            [format!("http://127.0.0.1:9877/webseed/{}", sha.to_hex())]
        );
        let magnet =
            Magnet::parse(&links.magnet(&sha, torrent.info_hash().v1().unwrap(), "video.mp4"))
                .unwrap();
        assert_eq!(magnet.info_hash, torrent.info_hash());
        assert_eq!(magnet.trackers.len(), 2);
        assert_eq!(magnet.display_name.as_deref(), Some("video.mp4"));
    }

    #[test]
    fn hosts_are_taken_from_the_public_url() {
        assert_eq!(
            host_of("https://files.example:8443/x").as_deref(),
            Some("files.example")
        );
        assert_eq!(host_of("http://[::1]:9877").as_deref(), Some("[::1]"));
        assert_eq!(host_of("http://u@h").as_deref(), Some("h"));
    }
}
