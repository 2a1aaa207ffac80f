//! Shared helpers: where the corpus and the libtorrent oracle live, fixture folders, and running
//! third-party programs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/corpus/libtorrent`, beside the checkout.
pub(crate) fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/libtorrent")
}

/// The manifest rows: (file name, verdict).
pub(crate) fn manifest() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv"))
        .expect("../shared/corpus/libtorrent/MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            (
                cols.next().unwrap().to_string(),
                cols.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// libtorrent's view of one torrent, from `libtorrent_tool.py info`.
#[derive(Debug, Clone)]
pub(crate) struct LtInfo {
    pub(crate) ok: bool,
    pub(crate) error: Option<String>,
    pub(crate) v1: Option<String>,
    pub(crate) v2: Option<String>,
    pub(crate) num_pieces: Option<u64>,
    pub(crate) content_size: Option<u64>,
}

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/metainfo/support/libtorrent_tool.py")
}

/// Asks python3-libtorrent about each of `files`.
pub(crate) fn libtorrent_info(files: &[PathBuf]) -> Vec<LtInfo> {
    let output = Command::new("/usr/bin/python3")
        .arg(tool())
        .arg("info")
        .args(files)
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        output.status.success(),
        "libtorrent_tool.py info failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            LtInfo {
                ok: v["ok"].as_bool().unwrap(),
                error: v["error"].as_str().map(str::to_string),
                v1: v["v1"].as_str().map(str::to_string),
                v2: v["v2"].as_str().map(str::to_string),
                num_pieces: v["num_pieces"].as_u64(),
                content_size: v["content_size"].as_u64(),
            }
        })
        .collect()
}

/// Makes a torrent of `path` with python3-libtorrent; `extra` are flags such as `--v1-only`.
pub(crate) fn libtorrent_create(path: &Path, out: &Path, extra: &[&str]) {
    let status = Command::new("/usr/bin/python3")
        .arg(tool())
        .arg("create")
        .arg(path)
        .arg(out)
        .args(extra)
        .status()
        .expect("run /usr/bin/python3");
    assert!(status.success(), "libtorrent_tool.py create failed");
}

/// Deterministic pseudo-random bytes (xorshift), so fixtures need no RNG crate.
pub(crate) fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A folder with nested files of awkward sizes, empty files included.
pub(crate) fn fixture_folder(root: &Path) -> PathBuf {
    let dir = root.join("fixture");
    let files: &[(&str, usize)] = &[
        ("a.bin", 100_000),
        ("empty.txt", 0),
        ("sub/b.bin", 16_384),
        ("sub/deeper/c.bin", 1),
        ("sub/deeper/d.bin", 300_001),
        ("z.bin", 65_537),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, pseudo_random(i as u64 + 1, *len)).unwrap();
    }
    dir
}
