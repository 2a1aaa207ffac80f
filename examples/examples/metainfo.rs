//! Create a hybrid torrent for a file or folder, parse it back, and print its magnet link and
//! which files the first piece touches.
//!
//! `cargo run -p examples --example metainfo -- PATH`

use swarmgate_core::PieceIndex;
use swarmgate_metainfo::{Magnet, Torrent, TorrentBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: metainfo PATH")?;
    let created = TorrentBuilder::new(&path)
        .hybrid(true)
        .tracker("http://127.0.0.1:9877/announce")
        .build()?;
    let torrent = Torrent::from_bytes(&created.bytes)?;
    println!(
        "{} : {} bytes in {} pieces",
        torrent.name(),
        torrent.data_length(),
        torrent.piece_count()
    );
    println!("{}", Magnet::from_torrent(&torrent));
    for span in torrent.layout().piece_spans(PieceIndex(0)) {
        let file = &torrent.files()[span.file];
        println!(
            "piece 0 <- {} bytes of {} at {}",
            span.length,
            file.display_path(),
            span.file_offset
        );
    }
    Ok(())
}
