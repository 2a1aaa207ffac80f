//! What interop tests need around the programs they run (no BEP): free loopback ports,
//! deterministic file contents, file digests, hex and percent-encoding, a handshake probe.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// A port free for both TCP and UDP on 127.0.0.1, right now (another process may take it
/// before it is used: callers that bind it retry with a new one).
///
/// # Panics
/// If 100 tries find none.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = tcp.local_addr().expect("a bound address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port")
}

/// `length` deterministic pseudo-random bytes in memory: the bytes [`write_random`] writes for
/// the same `length` and `seed`.
pub fn random_bytes(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(length + 8);
    while out.len() < length {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(length);
    out
}

/// Writes `length` deterministic pseudo-random bytes (xorshift64 from `seed`) to `path`,
/// creating its folder; the same seed gives the same bytes. Streamed: a file of any size
/// costs 1 MiB of memory.
///
/// # Panics
/// If the file cannot be written.
pub fn write_random(path: &Path, length: usize, seed: u64) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the folder");
    }
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut left = length;
    let mut block = Vec::with_capacity(1 << 20);
    while left > 0 {
        block.clear();
        while block.len() < (1 << 20).min(left) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            block.extend_from_slice(&state.to_le_bytes());
        }
        block.truncate((1 << 20).min(left));
        out.write_all(&block).expect("write the random file");
        left -= block.len();
    }
    out.flush().expect("write the random file");
}

/// The SHA-256 of the file at `path`, read in 1 MiB blocks.
///
/// # Panics
/// If the file cannot be read.
pub fn sha256(path: &Path) -> [u8; 32] {
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    sha256_reader(&mut file).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The SHA-256 of everything `reader` yields.
pub fn sha256_reader(reader: &mut impl Read) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
    }
}

/// Every regular file under `root`, relative, with its SHA-256, sorted.
///
/// # Panics
/// If a folder or file cannot be read.
pub fn tree_digest(root: &Path) -> Vec<(PathBuf, [u8; 32])> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).expect("under root").to_path_buf();
                out.push((relative, sha256(&path)));
            }
        }
    }
    out.sort();
    out
}

/// Bytes from hex text.
///
/// # Panics
/// On an odd length or a non-hex digit.
pub fn hex_decode(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex length: {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Lower-case hex of `bytes`.
pub fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every byte percent-encoded (what the query string of a raw hash or peer id needs).
pub fn url_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// Whether a BitTorrent peer on 127.0.0.1:`port` answers a handshake for `info_hash`.
pub fn answers_handshake(port: u16, info_hash: &[u8]) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut hello = b"\x13BitTorrent protocol".to_vec();
    hello.extend_from_slice(&[0; 8]);
    hello.extend_from_slice(info_hash);
    hello.extend_from_slice(b"-TE0001-readinessprb");
    let mut answer = [0u8; 68];
    stream.write_all(&hello).is_ok() && stream.read_exact(&mut answer).is_ok()
}

/// `text` as a JSON string literal (quotes, backslashes and control characters escaped).
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_files_depend_on_the_seed_only_and_hash_like_the_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            tmp.path().join("a"),
            tmp.path().join("sub/b"),
            tmp.path().join("c"),
        );
        write_random(&a, (1 << 20) + 13, 5);
        write_random(&b, (1 << 20) + 13, 5);
        write_random(&c, 20, 6);
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes.len(), (1 << 20) + 13);
        assert_eq!(bytes, std::fs::read(&b).unwrap());
        assert_ne!(bytes[..20], std::fs::read(&c).unwrap()[..]);
        let whole: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(sha256(&a), whole);
        let digest = tree_digest(tmp.path());
        let names: Vec<_> = digest.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(
            names,
            [
                PathBuf::from("a"),
                PathBuf::from("c"),
                PathBuf::from("sub/b")
            ]
        );
        assert_eq!(digest[0].1, digest[2].1);
    }

    #[test]
    fn hex_percent_and_json_encodings() {
        assert_eq!(hex_decode("00ff10"), [0, 255, 16]);
        assert_eq!(hex_encode(&[0, 255, 16]), "00ff10");
        assert_eq!(url_encode(b"a "), "%61%20");
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }

    #[test]
    fn a_free_port_binds_and_a_closed_port_answers_no_handshake() {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        drop(listener);
        assert!(!answers_handshake(port, &[0; 20]));
    }
}
