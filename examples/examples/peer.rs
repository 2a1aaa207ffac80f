//! Two peer sessions wired to each other in memory: a seeder that knows a torrent, and a
//! leecher that has only its info-hash (a magnet link). The leecher fetches the info dictionary
//! over BEP 9 `ut_metadata` (verified against the info-hash), then a second session downloads
//! piece 0 block by block. No sockets and no clock: bytes are shuttled by hand and `now` is
//! passed in, which is how the sans-IO `PeerSession` is meant to be tested and driven.
//!
//! `cargo run -p examples --example peer`

use std::time::Instant;

use bytes::Bytes;
use swarmgate_core::{Bitfield, Geometry, InfoHashV1, PeerId, PieceIndex};
use swarmgate_metainfo::{ParseLimits, Torrent, TorrentBuilder};
use swarmgate_peer::{
    MetadataFetcher, MetadataMessage, PeerEvent, PeerSession, Role, SessionConfig, UT_METADATA,
};

/// Moves bytes both ways until both sessions are quiet; returns the leecher's events.
/// The seeder answers block requests from `content`.
fn pump(
    leech: &mut PeerSession,
    seed: &mut PeerSession,
    now: Instant,
    content: &Bytes,
) -> Vec<PeerEvent> {
    let mut events = Vec::new();
    for _ in 0..100 {
        let mut moved = false;
        if let Some(bytes) = leech.poll_transmit() {
            seed.handle_bytes(now, &bytes).expect("seed accepts");
            moved = true;
        }
        if let Some(bytes) = seed.poll_transmit() {
            leech.handle_bytes(now, &bytes).expect("leech accepts");
            moved = true;
        }
        while let Some(event) = seed.poll_event() {
            if let PeerEvent::Request(block) = event {
                let start = (block.piece.0 as usize) * PIECE + block.offset as usize;
                seed.send_block(block, content.slice(start..start + block.length as usize));
            }
        }
        events.extend(std::iter::from_fn(|| leech.poll_event()));
        if !moved {
            break;
        }
    }
    events
}

const PIECE: usize = 32_768;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A 100 KB file and its torrent.
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let dir = std::env::temp_dir().join(format!("swarmgate-peer-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("hello.bin");
    std::fs::write(&file, &content)?;
    let created = TorrentBuilder::new(&file)
        .piece_length(PIECE as u64)
        .build()?;
    std::fs::remove_dir_all(&dir)?;
    let torrent = Torrent::from_bytes(&created.bytes)?;
    let info_hash: InfoHashV1 = torrent.info_hash().wire();
    let content = Bytes::from(content);
    let now = Instant::now();

    // 1. The seeder serves the metadata to a leecher that knows only the info-hash.
    let mut seed_config = SessionConfig::new(info_hash, PeerId::swarmgate([2; 12]));
    seed_config.metadata = Some(Bytes::copy_from_slice(torrent.info_bytes()));
    let mut seed = PeerSession::new(seed_config.clone(), Role::Responder, now);
    let leech_config = SessionConfig::new(info_hash, PeerId::swarmgate([1; 12]));
    let mut leech = PeerSession::new(leech_config.clone(), Role::Initiator, now);
    pump(&mut leech, &mut seed, now, &content);
    let size = leech
        .remote_extended()
        .and_then(|e| e.metadata_size)
        .ok_or("the seeder offers no metadata")?;
    let mut fetcher = MetadataFetcher::new(info_hash, size, 1 << 20)?;
    while let Some(piece) = fetcher.next_request() {
        leech.send_extended(UT_METADATA, &MetadataMessage::Request { piece }.encode());
    }
    let mut info = None;
    for event in pump(&mut leech, &mut seed, now, &content) {
        if let PeerEvent::Metadata(MetadataMessage::Data {
            piece,
            total_size,
            data,
        }) = event
        {
            info = fetcher.handle_data(piece, total_size, data)?.or(info);
        }
    }
    let info = info.ok_or("metadata incomplete")?;
    let fetched = Torrent::from_info_bytes(&info, &ParseLimits::default())?;
    println!(
        "fetched {} bytes of metadata for {info_hash}: {:?}, {} pieces",
        info.len(),
        fetched.name(),
        fetched.piece_count()
    );

    // 2. With the geometry known, a new pair of sessions moves piece 0.
    let geometry = Geometry::new(fetched.total_length(), u64::from(fetched.piece_length()))?;
    let mut seed = PeerSession::new(
        SessionConfig {
            geometry: Some(geometry),
            ..seed_config
        },
        Role::Responder,
        now,
    );
    let mut leech = PeerSession::new(
        SessionConfig {
            geometry: Some(geometry),
            ..leech_config
        },
        Role::Initiator,
        now,
    );
    pump(&mut leech, &mut seed, now, &content);
    seed.send_bitfield(&Bitfield::full(geometry.piece_count()));
    seed.set_choking(false);
    leech.send_bitfield(&Bitfield::new(geometry.piece_count()));
    leech.set_interested(true);
    pump(&mut leech, &mut seed, now, &content);
    for block in geometry.blocks(PieceIndex(0)) {
        leech.request(now, block)?;
    }
    let mut piece = vec![0u8; geometry.piece_size(PieceIndex(0)).unwrap_or(0) as usize];
    for event in pump(&mut leech, &mut seed, now, &content) {
        if let PeerEvent::Block { block, data } = event {
            let at = block.offset as usize;
            piece[at..at + data.len()].copy_from_slice(&data);
            println!(
                "block {} +{} ({} bytes)",
                block.piece,
                block.offset,
                data.len()
            );
        }
    }
    assert_eq!(&piece[..], &content[..PIECE]);
    println!(
        "piece 0 complete: downloaded {} bytes, seeder uploaded {}",
        leech.downloaded_payload(),
        seed.uploaded_payload()
    );
    Ok(())
}
