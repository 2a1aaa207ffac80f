//! "Download" a folder into another one block by block in a scrambled order, verify every piece,
//! then damage a file and show what the resume check finds.
//!
//! `cargo run -p examples --example storage -- [PATH]` (default: a small folder it makes itself)

use std::path::PathBuf;

use swarmgate_core::PieceIndex;
use swarmgate_metainfo::TorrentBuilder;
use swarmgate_storage::{StorageOptions, TorrentStorage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work =
        std::env::temp_dir().join(format!("swarmgate-storage-example-{}", std::process::id()));
    let source = match std::env::args().nth(1) {
        Some(path) => PathBuf::from(path),
        None => {
            let folder = work.join("source/album");
            std::fs::create_dir_all(folder.join("disc 2"))?;
            for (name, length) in [
                ("01.flac", 300_000usize),
                ("cover.jpg", 7_777),
                ("disc 2/01.flac", 123_456),
            ] {
                let bytes: Vec<u8> = (0..length).map(|i| (i * 7 % 251) as u8).collect();
                std::fs::write(folder.join(name), bytes)?;
            }
            folder
        }
    };
    // A hybrid torrent: BEP 47 pad files align every file to a piece boundary.
    let torrent = TorrentBuilder::new(&source)
        .hybrid(true)
        .piece_length(32 * 1024)
        .build()?
        .torrent;
    let pads = torrent.files().iter().filter(|f| f.is_pad()).count();
    println!(
        "{}: {} files ({pads} pad files), {} pieces",
        torrent.name(),
        torrent.files().len(),
        torrent.piece_count()
    );

    let downloads = work.join("downloads");
    let storage =
        TorrentStorage::open_with(&downloads, &torrent, &StorageOptions { max_open_files: 4 })?;
    let geometry = torrent.layout().geometry();
    // Every block, in a scrambled (but reproducible) order, as a swarm would deliver them.
    let mut blocks: Vec<_> = (0..geometry.piece_count())
        .flat_map(|p| geometry.blocks(PieceIndex(p)).collect::<Vec<_>>())
        .collect();
    let len = blocks.len();
    for i in 0..len {
        blocks.swap(i, (i * 7919 + 13) % len);
    }
    // The bytes come from the source, read through a second storage rooted at its parent.
    let parent = source.parent().ok_or("the source has no parent folder")?;
    let seed = TorrentStorage::open(parent, &torrent)?;
    for block in &blocks {
        storage.write_block(block.piece, block.offset, &seed.read_block(*block)?)?;
    }
    storage.flush()?;
    let verified = (0..geometry.piece_count())
        .filter(|&p| storage.verify_piece(PieceIndex(p)).unwrap_or(false))
        .count();
    println!(
        "wrote {} blocks into {}; {verified} pieces verify",
        blocks.len(),
        downloads.display()
    );

    // Truncate the first real file to half its length: its later pieces are gone.
    if let Some((index, entry)) = torrent
        .files()
        .iter()
        .enumerate()
        .find(|(_, f)| !f.is_pad() && f.length() > 1)
    {
        let path = storage.file_path(index).ok_or("no such file")?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(entry.length() / 2)?;
        println!(
            "truncated {} to {} bytes",
            entry.display_path(),
            entry.length() / 2
        );
    }
    let have = storage.check_existing(2, &mut |done, total| {
        if done == total {
            println!("checked {total} bytes");
        }
    })?;
    println!(
        "resume check: {} of {} pieces on disk; missing {:?}",
        have.count(),
        have.len(),
        have.zeros().map(|p| p.0).collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(&work).ok();
    Ok(())
}
