//! Disk work off the async runtime: block writes, piece verification and upload reads.
//!
//! Two threads in a pipeline. The writer does every write, upload read and flush, in the order
//! the engine asked; one writer because several writers to the same file contend on the kernel's
//! inode lock (measured: 11 % of the download's CPU spinning in `rwsem_spin_on_owner` with two).
//! After writing a block it hands the same buffer to the hasher, which hashes each piece as its
//! blocks come, in order: when the verify job arrives (behind the piece's writes) the SHA-1 is
//! already done and nothing is read back (a piece whose blocks came out of order, as in endgame,
//! is hashed from disk instead). Copying into the page cache and hashing, the two big costs of a
//! download, so run on two cores at once. Jobs travel in batches, one
//! per turn of the engine loop, so a wake-up moves many blocks. The queue is short and bounded:
//! when the disk is slower than the network, the engine loop waits, stops reading sockets, and
//! TCP flow control slows the peers down. Memory stays bounded.

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

/// The disk threads and the queue into them.
pub(crate) struct Disk {
    queue: mpsc::Sender<Vec<DiskJob>>,
    threads: [std::thread::JoinHandle<()>; 2],
}

/// Batches queued before the engine waits.
const QUEUE: usize = 4;
/// Blocks written but not yet hashed, at most (4 MiB).
const HASH_QUEUE: usize = 256;

impl Disk {
    pub(crate) fn start(
        storage: Arc<TorrentStorage>,
        torrent: Arc<Torrent>,
        done: mpsc::UnboundedSender<DiskDone>,
    ) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let (to_hasher, hash_jobs) = std::sync::mpsc::sync_channel(HASH_QUEUE);
        let writer = Writer {
            storage: Arc::clone(&storage),
            to_hasher,
            done: done.clone(),
        };
        let hasher = Hasher {
            storage,
            torrent,
            pieces: HashMap::new(),
            done,
        };
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(work)
                .expect("spawning a disk thread")
        };
        let threads = [
            spawn("swarmgate-write", Box::new(move || writer.run(jobs))),
            spawn("swarmgate-hash", Box::new(move || hasher.run(hash_jobs))),
        ];
        Self { queue, threads }
    }

    /// Queues `jobs`, in order, waiting while the queue is full.
    pub(crate) async fn submit(&self, jobs: Vec<DiskJob>) {
        if !jobs.is_empty() {
            // A closed queue means the thread died; its error was already reported.
            let _ = self.queue.send(jobs).await;
        }
    }

    /// Finishes queued work and stops the threads.
    pub(crate) fn stop(self) {
        drop(self.queue);
        for thread in self.threads {
            // A thread that panicked has nothing more to give; the run reports what it has.
            let _ = thread.join();
        }
    }
}

/// Work for the hasher, in the order the writer finished it.
enum HashJob {
    Block {
        block: BlockRef,
        data: Bytes,
    },
    Verify {
        piece: PieceIndex,
        block_digests: bool,
    },
}

struct Writer {
    storage: Arc<TorrentStorage>,
    to_hasher: std::sync::mpsc::SyncSender<HashJob>,
    done: mpsc::UnboundedSender<DiskDone>,
}

impl Writer {
    fn run(self, mut batches: mpsc::Receiver<Vec<DiskJob>>) {
        while let Some(batch) = batches.blocking_recv() {
            for job in batch {
                if !self.run_job(job) {
                    return;
                }
            }
        }
    }

    /// Does one job; false when the results have nowhere to go any more.
    fn run_job(&self, job: DiskJob) -> bool {
        let outcome = match job {
            DiskJob::Write { block, data } => {
                match self.storage.write_block(block.piece, block.offset, &data) {
                    Ok(()) => return self.to_hasher.send(HashJob::Block { block, data }).is_ok(),
                    Err(error) => Err(error),
                }
            }
            DiskJob::Verify {
                piece,
                block_digests,
            } => {
                let job = HashJob::Verify {
                    piece,
                    block_digests,
                };
                return self.to_hasher.send(job).is_ok();
            }
            DiskJob::Read { key, block } => self.storage.read_block(block).map(|data| {
                Some(DiskDone::Read {
                    key,
                    block,
                    data: Bytes::from(data),
                })
            }),
            DiskJob::Flush => self.storage.flush().map(|()| None),
        };
        match outcome {
            Ok(Some(message)) => self.done.send(message).is_ok(),
            Ok(None) => true,
            Err(error) => self.done.send(DiskDone::Failed(error)).is_ok(),
        }
    }
}

/// A SHA-1 fed with a piece's blocks as long as they come in order.
struct InOrderHash {
    sha1: Sha1,
    next_offset: u32,
}

struct Hasher {
    storage: Arc<TorrentStorage>,
    torrent: Arc<Torrent>,
    pieces: HashMap<PieceIndex, Option<InOrderHash>>,
    done: mpsc::UnboundedSender<DiskDone>,
}

impl Hasher {
    fn run(mut self, jobs: std::sync::mpsc::Receiver<HashJob>) {
        while let Ok(job) = jobs.recv() {
            match job {
                HashJob::Block { block, data } => self.feed(block, &data),
                HashJob::Verify {
                    piece,
                    block_digests,
                } => {
                    let message = self
                        .verify(piece, block_digests)
                        .unwrap_or_else(DiskDone::Failed);
                    if self.done.send(message).is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn feed(&mut self, block: BlockRef, data: &[u8]) {
        let slot = self.pieces.entry(block.piece).or_insert_with(|| {
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
    }

    fn verify(&mut self, piece: PieceIndex, want_digests: bool) -> Result<DiskDone, StorageError> {
        let expected = self.torrent.piece_hash(piece);
        let size = self.piece_size(piece);
        let digest = match self.pieces.remove(&piece).flatten() {
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
