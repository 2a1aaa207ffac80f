//! Bencode decoding: swarmgate-bencode against bendy and serde_bencode.
//!
//! Inputs: libtorrent's `large.torrent` from ../shared/corpus when it is there (a single file
//! with a 100 KB `pieces` string), and a generated multi-file torrent with 20,000 files.
//!
//! * "decode tree": bytes to a generic value. Ours builds the token tape (`decode`); bendy
//!   builds `bendy::value::Value` (driven through its `Decoder`, because `Value::from_bencode`
//!   sets a depth limit of zero and refuses any list); serde_bencode builds
//!   `serde_bencode::value::Value`.
//! * "decode typed": bytes to a `Torrent` struct through serde. serde_bencode cannot borrow, so it
//!   gets a struct of owned fields; ours is measured with both the owned and a borrowed struct.
//!
//! Run: `cargo bench -p swarmgate-benches --bench bencode -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use swarmgate_bencode::Encoder;

const FILES: usize = 20_000;
const PIECES: usize = 5_000;

/// A canonical multi-file torrent: 20,000 files in 100 directories, 5,000 pieces.
fn generated_torrent() -> Vec<u8> {
    let mut pieces = vec![0u8; PIECES * 20];
    let mut x: u32 = 0x9e37_79b9;
    for b in pieces.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let mut e = Encoder::with_capacity(FILES * 48 + pieces.len() + 256);
    e.begin_dict()
        .key(b"announce")
        .str("http://127.0.0.1:9877/announce")
        .key(b"created by")
        .str("swarmgate bench")
        .key(b"creation date")
        .int(1_700_000_000)
        .key(b"info")
        .begin_dict()
        .key(b"files")
        .begin_list();
    for i in 0..FILES {
        e.begin_dict()
            .key(b"length")
            .int(1_000_000 + i as i64 * 7919)
            .key(b"path")
            .begin_list()
            .str(&format!("dir{:02}", i % 100))
            .str(&format!("file_{i}.bin"))
            .end()
            .end();
    }
    e.end()
        .key(b"name")
        .str("generated")
        .key(b"piece length")
        .int(262_144)
        .key(b"pieces")
        .bytes(&pieces)
        .end()
        .end();
    e.finish().expect("the generator writes canonical bencode")
}

#[derive(Deserialize)]
struct Torrent<'a> {
    #[serde(borrow)]
    announce: Option<&'a str>,
    #[serde(rename = "creation date")]
    creation_date: Option<i64>,
    #[serde(borrow)]
    info: Info<'a>,
}

#[derive(Deserialize)]
struct Info<'a> {
    name: &'a str,
    #[serde(rename = "piece length")]
    piece_length: u64,
    #[serde(with = "serde_bytes")]
    pieces: &'a [u8],
    length: Option<u64>,
    #[serde(borrow)]
    files: Option<Vec<File<'a>>>,
}

#[derive(Deserialize)]
struct File<'a> {
    length: u64,
    #[serde(borrow)]
    path: Vec<&'a str>,
}

#[derive(Deserialize)]
struct OwnedTorrent {
    announce: Option<String>,
    #[serde(rename = "creation date")]
    creation_date: Option<i64>,
    info: OwnedInfo,
}

#[derive(Deserialize)]
struct OwnedInfo {
    name: String,
    #[serde(rename = "piece length")]
    piece_length: u64,
    #[serde(with = "serde_bytes")]
    pieces: Vec<u8>,
    length: Option<u64>,
    files: Option<Vec<OwnedFile>>,
}

#[derive(Deserialize)]
struct OwnedFile {
    length: u64,
    path: Vec<String>,
}

/// Something every decoded form yields, so the optimiser cannot drop the work.
fn summary(t: &Torrent<'_>) -> usize {
    t.announce.map_or(0, str::len)
        + t.creation_date.unwrap_or(0) as usize
        + t.info.name.len()
        + t.info.piece_length as usize
        + t.info.pieces.len()
        + t.info.length.unwrap_or(0) as usize
        + t.info.files.as_ref().map_or(0, |f| {
            f.iter().map(|f| f.length as usize + f.path.len()).sum()
        })
}

fn owned_summary(t: &OwnedTorrent) -> usize {
    t.announce.as_ref().map_or(0, String::len)
        + t.creation_date.unwrap_or(0) as usize
        + t.info.name.len()
        + t.info.piece_length as usize
        + t.info.pieces.len()
        + t.info.length.unwrap_or(0) as usize
        + t.info.files.as_ref().map_or(0, |f| {
            f.iter().map(|f| f.length as usize + f.path.len()).sum()
        })
}

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut inputs = Vec::new();
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/libtorrent/large.torrent");
    match std::fs::read(&corpus) {
        Ok(bytes) => inputs.push(("large.torrent", bytes)),
        Err(e) => eprintln!("note: skipping large.torrent ({}: {e})", corpus.display()),
    }
    inputs.push(("generated-20000-files", generated_torrent()));
    inputs
}

fn decode_tree(c: &mut Criterion) {
    for (name, input) in inputs() {
        let mut group = c.benchmark_group(format!("decode tree/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("swarmgate-bencode", |b| {
            b.iter(|| {
                let doc = swarmgate_bencode::decode(black_box(&input)).unwrap();
                doc.token_count()
            })
        });
        group.bench_function("bendy", |b| {
            b.iter(|| {
                use bendy::decoding::{Decoder, FromBencode};
                let mut decoder = Decoder::new(black_box(&input)).with_max_depth(128);
                let object = decoder.next_object().unwrap().unwrap();
                bendy::value::Value::decode_bencode_object(object).unwrap()
            })
        });
        group.bench_function("serde_bencode", |b| {
            b.iter(|| {
                serde_bencode::from_bytes::<serde_bencode::value::Value>(black_box(&input)).unwrap()
            })
        });
        group.finish();
    }
}

fn decode_typed(c: &mut Criterion) {
    for (name, input) in inputs() {
        let mut group = c.benchmark_group(format!("decode typed/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("swarmgate-bencode borrowed", |b| {
            b.iter(|| {
                summary(&swarmgate_bencode::from_bytes::<Torrent<'_>>(black_box(&input)).unwrap())
            })
        });
        group.bench_function("swarmgate-bencode owned", |b| {
            b.iter(|| {
                owned_summary(
                    &swarmgate_bencode::from_bytes::<OwnedTorrent>(black_box(&input)).unwrap(),
                )
            })
        });
        group.bench_function("serde_bencode owned", |b| {
            b.iter(|| {
                owned_summary(
                    &serde_bencode::from_bytes::<OwnedTorrent>(black_box(&input)).unwrap(),
                )
            })
        });
        group.finish();
    }
}

criterion_group!(benches, decode_tree, decode_typed);
criterion_main!(benches);
