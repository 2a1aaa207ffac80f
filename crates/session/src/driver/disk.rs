//! Disk work off the async runtime: block writes, piece verification and upload reads.
//!
//! Jobs go to a fixed set of worker threads, sharded by piece index, so the writes of a piece and
//! its verification run in order on one thread without locks. Each worker hashes a piece as its
//! blocks are written, in order, straight from the received buffers: when the last block lands
//! the SHA-1 is already done, and nothing is read back from disk (a peer that sends a piece out
//! of order, as in endgame, falls back to hashing the piece from disk). The job queues are
//! bounded: when the disk is slower than the network, the engine loop waits, stops reading
//! sockets, and TCP flow control slows the peers down. Memory stays bounded.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use sha1::{Digest, Sha1};
use swarmgate_core::{BlockRef, PieceIndex};
use swarmgate_metainfo::Torrent;
use swarmgate_storage::{StorageError, TorrentStorage};
use tokio::sync::mpsc;

use crate::engine::PieceCheck;
use crate::picker::PeerKey;

/// Work for a disk thread.
#[derive(Debug)]
pub(crate) enum DiskJob {
    Write {
        block: BlockRef,
        data: Bytes,
    },
    Verify {
        piece: PieceIndex,
        block_digests: bool,
    },
    Read {
        key: PeerKey,
        block: BlockRef,
    },
    Flush,
}

/// What a disk thread reports back.
#[derive(Debug)]
pub(crate) enum DiskDone {
    Checked {
        piece: PieceIndex,
        check: PieceCheck,
    },
    Read {
        key: PeerKey,
        block: BlockRef,
        data: Bytes,
    },
    Failed(StorageError),
}

/// The disk threads and the queues into them.
pub(crate) struct Disk {
    queues: Vec<mpsc::Sender<DiskJob>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Jobs queued per thread before the engine waits.
const QUEUE: usize = 256;

impl Disk {
    pub(crate) fn start(
        storage: Arc<TorrentStorage>,
        torrent: Arc<Torrent>,
        threads: usize,
        done: mpsc::UnboundedSender<DiskDone>,
    ) -> Self {
        let mut queues = Vec::new();
        let mut handles = Vec::new();
        for index in 0..threads.max(1) {
            let (tx, rx) = mpsc::channel(QUEUE);
            queues.push(tx);
            let worker = Worker {
                storage: Arc::clone(&storage),
                torrent: Arc::clone(&torrent),
                hashers: HashMap::new(),
                done: done.clone(),
            };
            let handle = std::thread::Builder::new()
                .name(format!("swarmgate-disk-{index}"))
                .spawn(move || worker.run(rx))
                .expect("spawning a disk thread");
            handles.push(handle);
        }
        Self {
            queues,
            threads: handles,
        }
    }

    /// Queues a job on its piece's thread, waiting while that queue is full.
    pub(crate) async fn submit(&self, job: DiskJob) {
        let shard = match &job {
            DiskJob::Write { block, .. } | DiskJob::Read { block, .. } => block.piece.as_usize(),
            DiskJob::Verify { piece, .. } => piece.as_usize(),
            DiskJob::Flush => {
                for queue in &self.queues {
                    // A closed queue means its thread died; its error was already reported.
                    let _ = queue.send(DiskJob::Flush).await;
                }
                return;
            }
        };
        let queue = &self.queues[shard % self.queues.len()];
        let _ = queue.send(job).await;
    }

    /// Finishes queued work and stops the threads.
    pub(crate) fn stop(self) {
        drop(self.queues);
        for thread in self.threads {
            // A worker that panicked has nothing more to give; the download reports what it has.
            let _ = thread.join();
        }
    }
}

/// A SHA-1 fed with a piece's blocks as long as they come in order.
struct InOrderHash {
    sha1: Sha1,
    next_offset: u32,
}

struct Worker {
    storage: Arc<TorrentStorage>,
    torrent: Arc<Torrent>,
    hashers: HashMap<PieceIndex, Option<InOrderHash>>,
    done: mpsc::UnboundedSender<DiskDone>,
}

impl Worker {
    fn run(mut self, mut jobs: mpsc::Receiver<DiskJob>) {
        while let Some(job) = jobs.blocking_recv() {
            let outcome = match job {
                DiskJob::Write { block, data } => self.write(block, &data).map(|()| None),
                DiskJob::Verify {
                    piece,
                    block_digests,
                } => self.verify(piece, block_digests).map(Some),
                DiskJob::Read { key, block } => self.storage.read_block(block).map(|data| {
                    Some(DiskDone::Read {
                        key,
                        block,
                        data: Bytes::from(data),
                    })
                }),
                DiskJob::Flush => self.storage.flush().map(|()| None),
            };
            let message = match outcome {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(error) => DiskDone::Failed(error),
            };
            if self.done.send(message).is_err() {
                return;
            }
        }
    }

    fn write(&mut self, block: BlockRef, data: &[u8]) -> Result<(), StorageError> {
        self.storage.write_block(block.piece, block.offset, data)?;
        let slot = self.hashers.entry(block.piece).or_insert_with(|| {
            Some(InOrderHash {
                sha1: Sha1::new(),
                next_offset: 0,
            })
        });
        match slot {
            Some(hash) if hash.next_offset == block.offset => {
                hash.sha1.update(data);
                hash.next_offset += block.length;
            }
            _ => *slot = None,
        }
        Ok(())
    }

    fn verify(&mut self, piece: PieceIndex, want_digests: bool) -> Result<DiskDone, StorageError> {
        let expected = self.torrent.piece_hash(piece);
        let size = self.piece_size(piece);
        let digest = match self.hashers.remove(&piece).flatten() {
            Some(hash) if hash.next_offset == size => Some(<[u8; 20]>::from(hash.sha1.finalize())),
            _ => self.storage.hash_piece(piece)?,
        };
        let passed = digest.is_some() && digest == expected;
        let block_digests = if want_digests || !passed {
            Some(self.block_digests(piece)?)
        } else {
            None
        };
        Ok(DiskDone::Checked {
            piece,
            check: PieceCheck {
                passed,
                block_digests,
            },
        })
    }

    fn piece_size(&self, piece: PieceIndex) -> u32 {
        self.torrent
            .layout()
            .geometry()
            .piece_size(piece)
            .unwrap_or(0)
    }

    /// SHA-1 of each block of a piece as it stands on disk (a block unreadable is all zeros).
    fn block_digests(&self, piece: PieceIndex) -> Result<Vec<[u8; 20]>, StorageError> {
        let size = self.piece_size(piece);
        let mut digests = Vec::new();
        let mut offset = 0;
        while offset < size {
            let length = (size - offset).min(swarmgate_core::BLOCK_SIZE);
            let block = BlockRef {
                piece,
                offset,
                length,
            };
            let data = self
                .storage
                .read_block(block)
                .unwrap_or_else(|_| vec![0; length as usize]);
            digests.push(Sha1::digest(&data).into());
            offset += length;
        }
        Ok(digests)
    }
}
