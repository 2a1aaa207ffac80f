//! BEP 3 / BEP 47 torrent data on disk: blocks to positioned file reads and writes, and back.
//!
//! The torrent's pieces are cut from its files laid end to end; [`FileLayout::spans`] says which
//! file bytes make up a block, and each span becomes one positioned `read_at` / `write_at`, so
//! no seek state is shared and several threads can use one [`TorrentStorage`] at once.
//!
//! Choices, and why:
//! - Files are created on their first write, not at open, so a torrent of which the user wants
//!   one file does not litter the disk with the others. A new file is at once extended to its
//!   full length with `set_len` (a sparse file where the file system allows, as libtorrent's
//!   default "sparse" mode does): a file is then never shorter than the torrent says unless
//!   someone truncated it, and [`TorrentStorage::check_existing`] can tell "not written yet"
//!   (holes read as zeros and fail the hash) from "truncated" (bytes absent, piece skipped).
//! - Zero-length files are created at open: no write will ever create them.
//! - BEP 47 pad files are never created: their bytes read as zeros and writes to them are
//!   dropped (the piece hash still covers them, so a peer's non-zero pad bytes fail the piece).
//! - BEP 47 symlink entries (`attr` `l`) are not created: they hold no bytes, and a symlink made
//!   from a torrent could point anywhere on the disk. Their targets are in the torrent for a
//!   caller that wants to create them after checking.
//! - Up to `max_open_files` handles stay open (see the handles module). An open handle keeps
//!   reaching a file deleted or replaced after it was opened (POSIX semantics), so
//!   [`TorrentStorage::check_existing`] closes them all first and sees the disk as it stands.
//! - Paths come sanitised from the metainfo crate (no `..`, no absolute component), so every
//!   file lies under `root`.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use sha1::{Digest, Sha1};
use swarmgate_core::{BlockRef, PieceIndex};
use swarmgate_metainfo::{FileLayout, Torrent};

use crate::error::StorageError;
use crate::handles::{Access, Handles};

/// The hashing read size: big enough for few system calls, small enough to stay in L2 cache.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Settings for [`TorrentStorage::open_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOptions {
    /// The most file handles kept open at once (least recently used closed first; at least 1).
    pub max_open_files: usize,
}

impl Default for StorageOptions {
    /// 64 open files.
    fn default() -> Self {
        Self { max_open_files: 64 }
    }
}

/// The files of one torrent under a download folder, read and written block by block.
///
/// `Send + Sync`, every method takes `&self`: share it in an `Arc` between blocking threads.
pub struct TorrentStorage {
    pub(crate) layout: FileLayout,
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) hashes: Option<Vec<[u8; 20]>>,
    pub(crate) handles: Handles,
    root: PathBuf,
    dirty: Mutex<BTreeSet<usize>>,
}

impl std::fmt::Debug for TorrentStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentStorage")
            .field("root", &self.root)
            .field("files", &self.paths.len())
            .field("pieces", &self.layout.geometry().piece_count())
            .finish_non_exhaustive()
    }
}

impl TorrentStorage {
    /// Opens `torrent`'s files under `root` with the default [`StorageOptions`].
    ///
    /// A single-file torrent lives at `root/<name>`, a multi-file one under `root/<name>/`.
    /// Only zero-length files are created now (with their folders); the others on first write.
    pub fn open(root: &Path, torrent: &Torrent) -> Result<Self, StorageError> {
        Self::open_with(root, torrent, &StorageOptions::default())
    }

    /// Opens `torrent`'s files under `root` with `options`.
    pub fn open_with(
        root: &Path,
        torrent: &Torrent,
        options: &StorageOptions,
    ) -> Result<Self, StorageError> {
        let layout = torrent.layout().clone();
        let paths: Vec<PathBuf> = layout
            .files()
            .iter()
            .map(|f| root.join(f.path_buf()))
            .collect();
        let hashes = (0..torrent.piece_count())
            .map(|i| torrent.piece_hash(PieceIndex(i)))
            .collect::<Option<Vec<_>>>();
        for (entry, path) in layout.files().iter().zip(&paths) {
            let attributes = entry.attributes();
            if entry.length() == 0 && !attributes.pad && !attributes.symlink {
                create(path, 0).map_err(|e| StorageError::io(path, e))?;
            }
        }
        Ok(Self {
            layout,
            paths,
            hashes,
            root: root.to_path_buf(),
            handles: Handles::new(options.max_open_files),
            dirty: Mutex::new(BTreeSet::new()),
        })
    }

    /// The download folder the torrent's files live under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The torrent's file layout and piece geometry.
    pub fn layout(&self) -> &FileLayout {
        &self.layout
    }

    /// Where file `index` of [`FileLayout::files`] lives on disk (pad files included, though
    /// they are never created); `None` for an unknown index.
    pub fn file_path(&self, index: usize) -> Option<&Path> {
        self.paths.get(index).map(PathBuf::as_path)
    }

    /// The number of file handles held open now (at most `max_open_files`).
    pub fn open_file_count(&self) -> usize {
        self.handles.open_count()
    }

    /// Writes `data` at `offset` within `piece`, split across the files it spans; pad spans are
    /// skipped. Missing folders and files are created. A block that does not fit inside the
    /// piece is [`StorageError::OutOfRange`] and writes nothing.
    pub fn write_block(
        &self,
        piece: PieceIndex,
        offset: u32,
        data: &[u8],
    ) -> Result<(), StorageError> {
        let start = self.range_start(piece, offset, data.len() as u64)?;
        for span in self.layout.spans(start..start + data.len() as u64) {
            if self.layout.files()[span.file].is_pad() {
                continue;
            }
            let from = (span.torrent_offset - start) as usize;
            let bytes = &data[from..from + span.length as usize];
            let path = &self.paths[span.file];
            self.mark_dirty(span.file);
            self.handle(span.file, Access::Write)
                .and_then(|file| file.write_all_at(bytes, span.file_offset))
                .map_err(|e| StorageError::io(path, e))?;
        }
        Ok(())
    }

    /// Reads `block` (for seeding). The bytes must be on disk: a missing or short file is
    /// [`StorageError::Missing`].
    pub fn read_block(&self, block: BlockRef) -> Result<Vec<u8>, StorageError> {
        self.range_start(block.piece, block.offset, u64::from(block.length))?;
        let mut buffer = vec![0; block.length as usize];
        self.read_into(block.piece, block.offset, &mut buffer)?;
        Ok(buffer)
    }

    /// Fills `buf` with the bytes at `offset` within `piece`; pad spans read as zeros. A missing
    /// or short file is [`StorageError::Missing`].
    pub fn read_into(
        &self,
        piece: PieceIndex,
        offset: u32,
        buf: &mut [u8],
    ) -> Result<(), StorageError> {
        let start = self.range_start(piece, offset, buf.len() as u64)?;
        match self.read_range(start, buf)? {
            Ok(()) => Ok(()),
            Err(file) => Err(StorageError::Missing {
                path: self.paths[file].clone(),
                piece,
            }),
        }
    }

    /// The SHA-1 of `piece` as it stands on disk, read through a small buffer; `None` when a
    /// file it needs is missing or short.
    pub fn hash_piece(&self, piece: PieceIndex) -> Result<Option<[u8; 20]>, StorageError> {
        let size = self.piece_size(piece)?;
        let mut buffer = vec![0; CHUNK.min(size as usize)];
        let start = self.layout.geometry().piece_offset(piece);
        let mut sha1 = Sha1::new();
        let mut position = start;
        let end = start + u64::from(size);
        while position < end {
            let length = (end - position).min(buffer.len() as u64) as usize;
            let chunk = &mut buffer[..length];
            if self.read_range(position, chunk)?.is_err() {
                return Ok(None);
            }
            sha1.update(&*chunk);
            position += length as u64;
        }
        Ok(Some(sha1.finalize().into()))
    }

    /// Whether `piece` on disk matches the torrent's v1 piece hash (false when its bytes are not
    /// all on disk). A v2-only torrent has no such hash: [`StorageError::NoPieceHash`].
    pub fn verify_piece(&self, piece: PieceIndex) -> Result<bool, StorageError> {
        let expected = self.expected_hash(piece)?;
        Ok(self.hash_piece(piece)? == Some(expected))
    }

    /// Syncs (`sync_data`) every file written since the last flush, so pieces recorded as done
    /// for resume survive a crash. A file that fails stays due for the next flush, unless it is
    /// gone from disk (deleted since): then there is nothing left to sync, and the error says so
    /// once.
    pub fn flush(&self) -> Result<(), StorageError> {
        let due = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(PoisonError::into_inner));
        let mut remaining = due.iter().copied();
        while let Some(index) = remaining.next() {
            let path = &self.paths[index];
            let result = self
                .handle(index, Access::Read)
                .and_then(|file| file.sync_data());
            if let Err(error) = result {
                let mut dirty = self.dirty.lock().unwrap_or_else(PoisonError::into_inner);
                if !is_absent(&error) {
                    dirty.insert(index);
                }
                dirty.extend(remaining);
                return Err(StorageError::io(path, error));
            }
        }
        Ok(())
    }

    /// The torrent's v1 hash of `piece`.
    pub(crate) fn expected_hash(&self, piece: PieceIndex) -> Result<[u8; 20], StorageError> {
        self.piece_size(piece)?;
        self.hashes
            .as_ref()
            .and_then(|h| h.get(piece.as_usize()).copied())
            .ok_or(StorageError::NoPieceHash { piece })
    }

    fn piece_size(&self, piece: PieceIndex) -> Result<u32, StorageError> {
        self.layout
            .geometry()
            .piece_size(piece)
            .ok_or(StorageError::OutOfRange {
                piece,
                offset: 0,
                length: 0,
            })
    }

    /// The torrent offset of `length` bytes at `offset` in `piece`, if they lie inside it.
    fn range_start(
        &self,
        piece: PieceIndex,
        offset: u32,
        length: u64,
    ) -> Result<u64, StorageError> {
        let geometry = self.layout.geometry();
        match geometry.piece_size(piece) {
            Some(size) if u64::from(offset) + length <= u64::from(size) => {
                Ok(geometry.piece_offset(piece) + u64::from(offset))
            }
            _ => Err(StorageError::OutOfRange {
                piece,
                offset,
                length,
            }),
        }
    }

    /// Reads torrent bytes from `start` into `buf` (pads as zeros). `Ok(Err(file))` names the
    /// first file that is missing or too short; other I/O failures are errors.
    fn read_range(&self, start: u64, buf: &mut [u8]) -> Result<Result<(), usize>, StorageError> {
        for span in self.layout.spans(start..start + buf.len() as u64) {
            let from = (span.torrent_offset - start) as usize;
            let into = &mut buf[from..from + span.length as usize];
            if self.layout.files()[span.file].is_pad() {
                into.fill(0);
                continue;
            }
            let path = &self.paths[span.file];
            let read = self
                .handle(span.file, Access::Read)
                .and_then(|file| file.read_exact_at(into, span.file_offset));
            match read {
                Ok(()) => {}
                Err(e) if is_absent(&e) => return Ok(Err(span.file)),
                Err(e) => return Err(StorageError::io(path, e)),
            }
        }
        Ok(Ok(()))
    }

    /// The cached handle of file `index`, opened (and for writing, created) on a miss.
    fn handle(&self, index: usize, access: Access) -> io::Result<Arc<File>> {
        let path = &self.paths[index];
        let length = self.layout.files()[index].length();
        self.handles.get(index, access, |access| match access {
            Access::Read => File::open(path),
            Access::Write => create(path, length),
        })
    }

    fn mark_dirty(&self, index: usize) {
        self.dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(index);
    }
}

/// Whether an open or read error means "the bytes are not there" (missing file, short file,
/// a folder in its place) rather than "the disk is broken".
pub(crate) fn is_absent(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::UnexpectedEof
    )
}

/// Opens `path` for reading and writing, creating it and its folders when missing, and extends
/// it to `length` bytes (sparse) if it is shorter.
fn create(path: &Path, length: u64) -> io::Result<File> {
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    };
    let file = match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            open()?
        }
        other => other?,
    };
    let meta = file.metadata()?;
    // Never resize what is not a regular file (a device the user pointed the path at).
    if meta.is_file() && meta.len() < length {
        file.set_len(length)?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_makes_folders_and_extends_but_never_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/c.bin");
        create(&path, 1_000_000).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1_000_000);
        std::fs::write(&path, [9u8; 10]).unwrap();
        create(&path, 5).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), [9u8; 10]);
        create(&path, 20).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 20);
        assert_eq!(&bytes[10..], &[0u8; 10]);
    }

    #[test]
    fn absent_means_missing_short_or_a_folder_in_the_way() {
        for kind in [
            io::ErrorKind::NotFound,
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::IsADirectory,
            io::ErrorKind::NotADirectory,
        ] {
            assert!(is_absent(&io::Error::from(kind)), "{kind:?}");
        }
        for kind in [io::ErrorKind::PermissionDenied, io::ErrorKind::StorageFull] {
            assert!(!is_absent(&io::Error::from(kind)), "{kind:?}");
        }
    }
}
