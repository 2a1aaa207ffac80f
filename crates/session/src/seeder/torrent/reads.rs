//! A seeded torrent's block reads (BEP 3 `piece` messages): from memory when the piece is
//! cached, else one blocking-pool read per piece (the piece's other blocks wait for it), with
//! the next piece read ahead.
//!
//! A thread hand-off per 16 KiB block cost more than the sending itself (the benchmark saw
//! 65,536 blocking tasks and ~200,000 context switches per GiB), so a block whose piece the
//! source holds in memory is answered on the task, and only a piece's first missing block goes
//! to the blocking pool.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use swarmgate_core::{BLOCK_SIZE, BlockRef, PieceIndex};

use super::{Counters, ReadDone, Serving, Task};
use crate::picker::PeerKey;

impl Serving {
    /// Reads `block` for `key`: from memory when the source has it at hand, else after the
    /// read of its piece already under way, else on the blocking pool.
    pub(super) fn start_read(&mut self, key: PeerKey, block: BlockRef) {
        if let Some(data) = self.source.read_cached(block) {
            let _ = self.reads.send(ReadDone {
                key: Some(key),
                block,
                result: Ok(data),
            });
            return;
        }
        if let Some(waiting) = self.loading.get_mut(&block.piece) {
            waiting.push((key, block));
            return;
        }
        self.loading.insert(block.piece, Vec::new());
        self.read_blocking(Some(key), block);
        self.read_ahead(PieceIndex(block.piece.0 + 1));
    }

    /// Starts loading `piece` before anyone asks for it, when a read of the piece before it
    /// missed: peers fetch mostly in order within their picks, and a file just uploaded is on
    /// the disk, not in the page cache (the store writes with O_DIRECT), so the next piece's
    /// disk read overlaps the sending of this one instead of following it.
    fn read_ahead(&mut self, piece: PieceIndex) {
        let Some(length) = self.geometry.piece_size(piece) else {
            return;
        };
        let first = BlockRef {
            piece,
            offset: 0,
            length: length.min(BLOCK_SIZE),
        };
        if self.loading.contains_key(&piece) || self.source.read_cached(first).is_some() {
            return;
        }
        self.loading.insert(piece, Vec::new());
        self.read_blocking(None, first);
    }

    fn read_blocking(&mut self, key: Option<PeerKey>, block: BlockRef) {
        let source = Arc::clone(&self.source);
        let reads = self.reads.clone();
        self.io.spawn_blocking(move || {
            let result = source.read_block(block);
            let _ = reads.send(ReadDone { key, block, result });
        });
    }

    /// After a blocking read of a piece: the blocks that waited for it, from memory now, or
    /// each on the blocking pool when the piece did not stay (its read failed, or a source
    /// that keeps nothing).
    pub(super) fn release_waiting(&mut self, piece: PieceIndex) {
        let Some(waiting) = self.loading.remove(&piece) else {
            return;
        };
        for (key, block) in waiting {
            match self.source.read_cached(block) {
                Some(data) => {
                    let _ = self.reads.send(ReadDone {
                        key: Some(key),
                        block,
                        result: Ok(data),
                    });
                }
                None => self.read_blocking(Some(key), block),
            }
        }
    }
}

impl Task {
    /// Serves a block that was read, or drops the peer when the read failed: nothing unverified
    /// or of the wrong length is ever sent.
    pub(super) fn read_done(&mut self, done: ReadDone) {
        let ReadDone { key, block, result } = done;
        self.serving.release_waiting(block.piece);
        // A read ahead's failure is found again by the reads that follow it, one per block.
        let Some(key) = key else { return };
        let now = Instant::now();
        let error = match result {
            Ok(data) if data.len() == block.length as usize => {
                if !self.serving.peers.contains_key(&key) {
                    return;
                }
                let before = self.engine.uploaded();
                self.engine.handle_block_read(now, key, block, data);
                let sent = self.engine.uploaded().saturating_sub(before);
                if sent > 0 {
                    let counters = &self.shared.counters;
                    Counters::add(&counters.blocks_served, 1);
                    Counters::add(&counters.uploaded, sent);
                }
                return;
            }
            Ok(data) => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} bytes for a block of {}", data.len(), block.length),
            ),
            Err(error) => error,
        };
        Counters::add(&self.shared.counters.read_errors, 1);
        tracing::warn!(
            info_hash = ?self.info_hash,
            piece = block.piece.0,
            offset = block.offset,
            %error,
            "a block could not be read: not sent, the peer is dropped"
        );
        self.drop_peer(now, key);
    }
}
