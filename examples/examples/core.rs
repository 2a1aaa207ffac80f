//! The core vocabulary: info-hash forms, a Swarmgate peer id, compact peers and piece geometry.
//!
//! `cargo run -p examples --example core`

use swarmgate_core::{
    Geometry, InfoHashV1, PeerId, PieceIndex, compact_peers_v4, encode_compact_peer,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hash: InfoHashV1 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a".parse()?;
    println!("hex {hash}  base32 {}", hash.to_base32());

    let id = PeerId::swarmgate(*b"random bytes");
    if let Some(client) = id.client() {
        println!("peer id {id} from {client}");
    }

    let mut packed = Vec::new();
    encode_compact_peer("127.0.0.1:6881".parse()?, &mut packed);
    encode_compact_peer("10.0.0.2:51413".parse()?, &mut packed);
    println!(
        "compact peers {:?}",
        compact_peers_v4(&packed)?.collect::<Vec<_>>()
    );

    let geometry = Geometry::new(5_000_000, 1 << 20)?;
    let last = PieceIndex(geometry.piece_count() - 1);
    println!(
        "{} pieces; the last is {} bytes in {} blocks",
        geometry.piece_count(),
        geometry.piece_size(last).unwrap_or(0),
        geometry.blocks_in_piece(last)
    );
    Ok(())
}
