use super::*;

const A: PeerKey = PeerKey(1);
const B: PeerKey = PeerKey(2);

/// 4 pieces of 2 blocks each (8 blocks), the last piece shorter (one block and a bit).
fn geometry() -> Geometry {
    Geometry::new(3 * 32_768 + 20_000, 32_768).unwrap()
}

fn picker() -> PiecePicker {
    PiecePicker::new(geometry(), Bitfield::new(4), 7)
}

fn field(pieces: &[u32]) -> Bitfield {
    let mut f = Bitfield::new(4);
    for &p in pieces {
        f.set(PieceIndex(p));
    }
    f
}

fn pick(p: &mut PiecePicker, peer: PeerKey, has: &Bitfield, n: usize) -> Vec<BlockRef> {
    let mut out = Vec::new();
    p.pick(peer, has, None, n, &mut out);
    out
}

#[test]
fn rarest_piece_is_started_first() {
    let mut p = picker();
    p.add_peer(&field(&[0, 1, 2, 3]));
    p.add_peer(&field(&[0, 1, 3]));
    p.add_peer(&field(&[0, 3]));
    // Availability: piece 0 = 3, 1 = 2, 2 = 1, 3 = 3.
    let got = pick(&mut p, A, &field(&[0, 1, 2, 3]), 2);
    assert!(got.iter().all(|b| b.piece == PieceIndex(2)), "{got:?}");
    let next = pick(&mut p, A, &field(&[0, 1, 2, 3]), 2);
    assert!(next.iter().all(|b| b.piece == PieceIndex(1)), "{next:?}");
}

#[test]
fn started_pieces_are_finished_before_new_ones() {
    let mut p = picker();
    let all = field(&[0, 1, 2, 3]);
    p.add_peer(&all);
    let first = pick(&mut p, A, &all, 1);
    let second = pick(&mut p, B, &all, 1);
    assert_eq!(first[0].piece, second[0].piece, "B should join A's piece");
    assert_ne!(first[0], second[0]);
    assert_eq!(p.pieces_in_progress(), 1);
}

#[test]
fn only_pieces_the_peer_has_or_allows_are_picked() {
    let mut p = picker();
    p.add_peer(&field(&[1]));
    assert!(pick(&mut p, A, &field(&[]), 4).is_empty());
    let mut out = Vec::new();
    p.pick(A, &field(&[0, 1]), Some(&[PieceIndex(0)]), 4, &mut out);
    assert!(out.iter().all(|b| b.piece == PieceIndex(0)));
}

#[test]
fn completion_verification_and_failure_reopen_the_piece() {
    let mut p = picker();
    let all = field(&[0, 1, 2, 3]);
    p.add_peer(&all);
    let blocks = pick(&mut p, A, &field(&[3]), 8);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1].length, 20_000 - 16_384);
    assert!(matches!(
        p.received(A, blocks[0]),
        BlockOutcome::Accepted {
            piece_complete: false,
            ..
        }
    ));
    assert_eq!(p.received(A, blocks[0]), BlockOutcome::Duplicate);
    assert!(matches!(
        p.received(B, blocks[1]),
        BlockOutcome::Accepted {
            piece_complete: true,
            ..
        }
    ));
    assert_eq!(p.senders(PieceIndex(3)), [A, B]);
    p.checked(PieceIndex(3), false);
    assert!(!p.have().get(PieceIndex(3)));
    let again = pick(&mut p, B, &field(&[3]), 8);
    assert_eq!(again, blocks, "a failed piece is fetched again");
    for b in again {
        p.received(B, b);
    }
    p.checked(PieceIndex(3), true);
    assert!(p.have().get(PieceIndex(3)));
    assert_eq!(p.received(B, blocks[0]), BlockOutcome::Duplicate);
}

#[test]
fn released_requests_go_to_other_peers() {
    let mut p = picker();
    let all = field(&[0, 1, 2, 3]);
    p.add_peer(&all);
    let a = pick(&mut p, A, &all, 8);
    assert_eq!(a.len(), 8, "every block of the torrent");
    p.release(A, a[0]);
    assert_eq!(pick(&mut p, B, &all, 1), [a[0]]);
    p.release_peer(A);
    let b = pick(&mut p, B, &all, 10);
    assert_eq!(b.len(), 7, "the other seven blocks come back");
    assert!(p.in_endgame(), "every block is requested now");
}

#[test]
fn endgame_requests_a_block_twice_and_names_the_peer_to_cancel() {
    let mut p = picker();
    let all = field(&[0, 1, 2, 3]);
    p.add_peer(&all);
    p.add_peer(&all);
    let a = pick(&mut p, A, &all, 8);
    assert!(!p.in_endgame());
    let b = pick(&mut p, B, &all, 8);
    assert!(p.in_endgame());
    assert_eq!(b.len(), 8, "B duplicates every block A holds");
    assert!(
        pick(&mut p, B, &all, 8).is_empty(),
        "never twice to the same peer"
    );
    match p.received(B, a[0]) {
        BlockOutcome::Accepted { others, .. } => assert_eq!(others, [A]),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.received(A, a[0]), BlockOutcome::Duplicate);
}

#[test]
fn seeds_count_once_and_moving_to_seed_keeps_counts_right() {
    let mut p = picker();
    p.add_peer(&field(&[0, 1, 2, 3]));
    let mut partial = field(&[0, 1, 2]);
    p.add_peer(&partial);
    assert_eq!(p.availability(PieceIndex(0)), 2);
    assert_eq!(p.availability(PieceIndex(3)), 1);
    partial.set(PieceIndex(3));
    p.peer_has(PieceIndex(3), &partial);
    for piece in 0..4 {
        assert_eq!(p.availability(PieceIndex(piece)), 2, "piece {piece}");
    }
    p.remove_peer(&partial);
    assert_eq!(p.availability(PieceIndex(2)), 1);
}

#[test]
fn a_finished_torrent_picks_nothing() {
    let mut p = PiecePicker::new(geometry(), Bitfield::full(4), 1);
    p.add_peer(&Bitfield::full(4));
    assert!(p.is_complete());
    assert!(pick(&mut p, A, &Bitfield::full(4), 10).is_empty());
    assert!(!p.in_endgame());
    assert!(!p.wants_from(&Bitfield::full(4)));
}
