//! [`TorrentFile`]: a `.torrent` written around raw `info` bytes (BEP 3), with its trackers
//! (BEP 12), web seeds (BEP 19), the descriptive fields and a hybrid torrent's piece layers
//! (BEP 52).
//!
//! The `info` bytes are spliced in verbatim, never re-encoded, so whatever wrote them (this
//! crate, another tool, a gateway's database) the info-hash is theirs. A lone tracker is written
//! as `announce` alone, as mktorrent and libtorrent do; [`TorrentFile::always_announce_list`]
//! adds the one-tier `announce-list` that some clients want before they try other tiers.

use std::collections::BTreeMap;

use swarmgate_bencode::{EncodeError, Encoder};

use crate::error::WriteError;

/// The parts of a `.torrent` around its `info` dictionary.
///
/// ```
/// use swarmgate_metainfo::{InfoDictionary, Torrent, TorrentFile};
///
/// let info = InfoDictionary::single_file("a.bin", 5, 16_384, &[[9; 20]])?.to_bytes();
/// let file = TorrentFile::new()
///     .tracker("http://tracker.example/announce")
///     .tracker("udp://tracker.example:6969/announce")
///     .comment(Some("two tiers".into()));
/// let torrent = Torrent::from_bytes(&file.write(&info)?)?;
/// assert_eq!(torrent.trackers().len(), 2);
/// assert_eq!(torrent.comment(), Some("two tiers"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TorrentFile {
    tiers: Vec<Vec<String>>,
    always_announce_list: bool,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
    piece_layers: BTreeMap<[u8; 32], Vec<u8>>,
    web_seeds: Vec<String>,
}

impl TorrentFile {
    /// No tracker, no web seed, no descriptive field, no piece layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tracker in a tier of its own (BEP 12). The first tracker is also `announce`.
    pub fn tracker(mut self, url: impl Into<String>) -> Self {
        self.tiers.push(vec![url.into()]);
        self
    }

    /// Adds a tier of trackers that clients try in any order before the next tier (BEP 12).
    pub fn tier(mut self, urls: Vec<String>) -> Self {
        self.tiers.push(urls);
        self
    }

    /// Writes `announce-list` even for a single tracker, which is otherwise `announce` alone.
    pub fn always_announce_list(mut self, always: bool) -> Self {
        self.always_announce_list = always;
        self
    }

    /// Adds a web seed (BEP 19 `url-list`).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.web_seeds.push(url.into());
        self
    }

    /// Sets or clears `comment`.
    pub fn comment(mut self, comment: Option<String>) -> Self {
        self.comment = comment;
        self
    }

    /// Sets or clears `created by`.
    pub fn created_by(mut self, created_by: Option<String>) -> Self {
        self.created_by = created_by;
        self
    }

    /// Sets or clears `creation date`, in seconds since the Unix epoch.
    pub fn creation_date(mut self, seconds: Option<i64>) -> Self {
        self.creation_date = seconds;
        self
    }

    /// Sets the `piece layers` of a hybrid or v2 torrent (BEP 52): for each file larger than
    /// a piece, its `pieces root` and the concatenated SHA-256 hashes of its pieces.
    pub fn piece_layers(mut self, layers: BTreeMap<[u8; 32], Vec<u8>>) -> Self {
        self.piece_layers = layers;
        self
    }

    /// The `.torrent` around `info`, an already-encoded `info` dictionary kept byte for byte.
    pub fn write(&self, info: &[u8]) -> Result<Vec<u8>, WriteError> {
        if info.first() != Some(&b'd') {
            return Err(WriteError::InfoNotADictionary);
        }
        if let Some(layer) = self
            .piece_layers
            .values()
            .find(|layer| layer.is_empty() || layer.len() % 32 != 0)
        {
            return Err(WriteError::PieceLayer {
                length: layer.len(),
            });
        }
        let layers: usize = self.piece_layers.values().map(|l| l.len() + 40).sum();
        let mut e = Encoder::with_capacity(info.len() + layers + 1024);
        e.begin_dict();
        let mut urls = self.tiers.iter().flatten();
        if let Some(first) = urls.next() {
            e.key(b"announce").str(first);
        }
        if urls.next().is_some() || (self.always_announce_list && !self.tiers.is_empty()) {
            e.key(b"announce-list").begin_list();
            for tier in &self.tiers {
                e.begin_list();
                for url in tier {
                    e.str(url);
                }
                e.end();
            }
            e.end();
        }
        if let Some(comment) = &self.comment {
            e.key(b"comment").str(comment);
        }
        if let Some(created_by) = &self.created_by {
            e.key(b"created by").str(created_by);
        }
        if let Some(date) = self.creation_date {
            e.key(b"creation date").int(date);
        }
        e.key(b"info").raw(info);
        if !self.piece_layers.is_empty() {
            e.key(b"piece layers").begin_dict();
            for (root, layer) in &self.piece_layers {
                e.key(root).bytes(layer);
            }
            e.end();
        }
        if !self.web_seeds.is_empty() {
            e.key(b"url-list").begin_list();
            for url in &self.web_seeds {
                e.str(url);
            }
            e.end();
        }
        e.end();
        match e.finish() {
            Ok(bytes) => Ok(bytes),
            Err(EncodeError::InvalidRaw(error)) => Err(WriteError::InvalidInfo(error)),
            Err(other) => unreachable!("the keys are fixed and in sorted order: {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &[u8] = b"d4:name1:ae";

    fn written(file: TorrentFile) -> String {
        file.write(INFO).unwrap().escape_ascii().to_string()
    }

    #[test]
    fn a_lone_tracker_is_announce_alone_unless_a_list_is_asked_for() {
        assert_eq!(written(TorrentFile::new()), "d4:infod4:name1:aee");
        let one = TorrentFile::new().tracker("u");
        assert_eq!(written(one.clone()), "d8:announce1:u4:infod4:name1:aee");
        assert_eq!(
            written(one.always_announce_list(true)),
            "d8:announce1:u13:announce-listll1:uee4:infod4:name1:aee"
        );
        // Two URLs, in one tier or in two: the list keeps the second from being lost.
        assert_eq!(
            written(TorrentFile::new().tier(vec!["u".into(), "v".into()])),
            "d8:announce1:u13:announce-listll1:u1:vee4:infod4:name1:aee"
        );
        assert_eq!(
            written(TorrentFile::new().tracker("u").tracker("v")),
            "d8:announce1:u13:announce-listll1:uel1:vee4:infod4:name1:aee"
        );
    }

    #[test]
    fn every_field_is_written_in_key_order_around_the_raw_info() {
        let unsorted = b"d4:name1:a2:abi1ee";
        let file = TorrentFile::new()
            .web_seed("w")
            .piece_layers(BTreeMap::from([
                ([2; 32], vec![9; 64]),
                ([1; 32], vec![8; 32]),
            ]))
            .creation_date(Some(-1))
            .created_by(Some("c".into()))
            .comment(Some("m".into()))
            .tracker("u");
        let bytes = file.write(unsorted).unwrap();
        let golden = [
            &b"d8:announce1:u7:comment1:m10:created by1:c13:creation datei-1e4:info"[..],
            unsorted,
            b"12:piece layersd32:",
            &[1; 32],
            b"32:",
            &[8; 32],
            b"32:",
            &[2; 32],
            b"64:",
            &[9; 64],
            b"e8:url-listl1:wee",
        ]
        .concat();
        assert_eq!(
            bytes.escape_ascii().to_string(),
            golden.escape_ascii().to_string()
        );
    }

    #[test]
    fn info_that_is_no_dictionary_and_odd_layers_are_refused() {
        let file = TorrentFile::new();
        assert_eq!(file.write(b""), Err(WriteError::InfoNotADictionary));
        assert_eq!(file.write(b"i1e"), Err(WriteError::InfoNotADictionary));
        assert!(matches!(
            file.write(b"d4:name"),
            Err(WriteError::InvalidInfo(_))
        ));
        assert!(matches!(
            file.write(b"de1:x"),
            Err(WriteError::InvalidInfo(_))
        ));
        for length in [0, 33] {
            let layers = BTreeMap::from([([1; 32], vec![0; length])]);
            let odd = file.clone().piece_layers(layers).write(INFO);
            assert_eq!(odd, Err(WriteError::PieceLayer { length }));
        }
    }
}
