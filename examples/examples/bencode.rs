//! Decode a .torrent with swarmgate-bencode and print the exact span of its `info` dictionary.
//!
//! `cargo run -p examples --example bencode -- FILE.torrent`

use swarmgate_bencode::{Kind, Value, decode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: bencode FILE.torrent")?;
    let bytes = std::fs::read(&path)?;
    let document = decode(&bytes)?;
    let root = document.root();
    print_tree(root, 0);
    if let Some(info) = root.as_dict().and_then(|d| d.get(b"info")) {
        let span = info.span();
        println!(
            "info dictionary: bytes {}..{} of {} ({} bytes)",
            span.start,
            span.end,
            bytes.len(),
            span.len()
        );
    }
    if let Some(offset) = document.unsorted_at() {
        println!(
            "note: keys out of order at byte {offset} (accepted; the info-hash uses the raw bytes)"
        );
    }
    Ok(())
}

fn print_tree(value: Value<'_, '_>, depth: usize) {
    let pad = "  ".repeat(depth);
    match value.kind() {
        Kind::Int => println!("{pad}{}", value.as_int().unwrap_or_default()),
        Kind::Bytes => match value.as_str() {
            Some(text) if text.len() <= 60 => println!("{pad}{text:?}"),
            _ => println!("{pad}<{} bytes>", value.raw().len()),
        },
        Kind::List => {
            let list = value.as_list().expect("a list");
            println!("{pad}list of {}", list.len());
            for item in list.iter().take(5) {
                print_tree(item, depth + 1);
            }
        }
        Kind::Dict => {
            for (key, child) in value.as_dict().expect("a dict").iter() {
                println!("{pad}{}:", String::from_utf8_lossy(key));
                print_tree(child, depth + 1);
            }
        }
    }
}
