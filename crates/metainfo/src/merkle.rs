//! BEP 52 merkle trees: SHA-256 over 16 KiB leaves, padded to a power of two.
//!
//! A v2 file's `pieces root` is the root of a binary tree whose leaves are the SHA-256 of each
//! 16 KiB block; missing leaves past the end of the file are 32 zero bytes, so a padding subtree's
//! hash depends only on its height. `piece layers` holds the tree's nodes at the level where each
//! node covers one piece. The parser uses [`root_from_layer`] to check a layer against its root;
//! the builder uses [`layer_and_root`] to make both from the leaves.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub(crate) type Hash32 = [u8; 32];

/// The v2 leaf (block) size.
pub(crate) const LEAF_SIZE: u64 = 16 * 1024;

fn parent(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The hash of a subtree of `2^height` zero leaves.
pub(crate) fn pad_hash(height: u32) -> Hash32 {
    (0..height).fold([0u8; 32], |h, _| parent(&h, &h))
}

/// Reduces `nodes` to the root of a tree of `width` nodes (a power of two >= nodes.len()) at
/// this level, whose missing nodes are `pad` subtrees of height `pad_height`.
fn reduce(mut nodes: Vec<Hash32>, width: usize, pad_height: u32) -> Hash32 {
    debug_assert!(width.is_power_of_two() && width >= nodes.len());
    let mut pad = pad_hash(pad_height);
    let mut width = width;
    if nodes.is_empty() {
        nodes.push(pad);
    }
    while width > 1 {
        if nodes.len() % 2 == 1 {
            nodes.push(pad);
        }
        let next: Vec<Hash32> = nodes
            .chunks_exact(2)
            .map(|p| parent(&p[0], &p[1]))
            .collect();
        nodes = next;
        pad = parent(&pad, &pad);
        width /= 2;
    }
    nodes[0]
}

/// The number of leaves in the tree of a file of `length` bytes: a power of two.
fn leaf_width(length: u64) -> u64 {
    length.div_ceil(LEAF_SIZE).max(1).next_power_of_two()
}

/// The root implied by a piece layer of a file of `length` bytes with `piece_length`-byte
/// pieces (a power of two >= 16 KiB).
pub(crate) fn root_from_layer(layer: &[Hash32], length: u64, piece_length: u64) -> Hash32 {
    let leaves_per_piece = piece_length / LEAF_SIZE;
    let width = (leaf_width(length) / leaves_per_piece).max(1) as usize;
    reduce(layer.to_vec(), width, leaves_per_piece.trailing_zeros())
}

/// Builds the piece layer and the root of a file from its leaf hashes. The layer is empty when
/// the file fits in one piece (BEP 52 omits such layers).
pub(crate) fn layer_and_root(
    leaves: &[Hash32],
    length: u64,
    piece_length: u64,
) -> (Vec<Hash32>, Hash32) {
    let leaves_per_piece = (piece_length / LEAF_SIZE) as usize;
    if length <= piece_length {
        let width = leaf_width(length) as usize;
        return (Vec::new(), reduce(leaves.to_vec(), width, 0));
    }
    let layer: Vec<Hash32> = leaves
        .chunks(leaves_per_piece)
        .map(|chunk| reduce(chunk.to_vec(), leaves_per_piece, 0))
        .collect();
    let root = root_from_layer(&layer, length, piece_length);
    (layer, root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8) -> Hash32 {
        Sha256::digest([i]).into()
    }

    #[test]
    fn single_leaf_file_root_is_the_leaf() {
        assert_eq!(
            layer_and_root(&[leaf(1)], 100, 65536),
            (Vec::new(), leaf(1))
        );
    }

    #[test]
    fn layer_route_and_leaf_route_agree() {
        // 5 pieces of 2 leaves each, last piece with one leaf: 9 leaves, width 16.
        let leaves: Vec<Hash32> = (0..9).map(leaf).collect();
        let length = 8 * LEAF_SIZE + 10;
        let (layer, root) = layer_and_root(&leaves, length, 2 * LEAF_SIZE);
        assert_eq!(layer.len(), 5);
        assert_eq!(root, reduce(leaves, 16, 0));
        assert_eq!(layer[4], parent(&leaf(8), &[0; 32]));
    }

    #[test]
    fn pad_hashes_grow_by_height() {
        assert_eq!(pad_hash(0), [0; 32]);
        assert_eq!(pad_hash(1), parent(&[0; 32], &[0; 32]));
    }
}
