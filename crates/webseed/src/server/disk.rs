//! BEP 19 web seeding from files on disk: [`DirectorySource`], what `swarm webseed` serves.
//!
//! Each torrent is registered with the folder its files sit in (the folder that holds the
//! single file, or the torrent's folder, since [`FileEntry::path`] starts with the torrent's
//! name). Every answer opens the file again (as nginx does without `open_file_cache`), so a
//! file replaced on disk is seen at the next request, and reads are positioned (`pread`), so
//! nothing is shared between answers.
//!
//! [`FileEntry::path`]: swarmgate_metainfo::FileEntry::path

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use swarmgate_core::InfoHash;
use swarmgate_metainfo::Torrent;

use super::{WebSeedFile, WebSeedSource};

/// Torrents served from folders on disk, each under a key (its name for
/// [`UrlLayout::ByName`](super::UrlLayout::ByName)).
///
/// ```
/// use std::sync::Arc;
/// use swarmgate_metainfo::TorrentBuilder;
/// use swarmgate_webseed::DirectorySource;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.bin"), b"web seed")?;
/// let created = TorrentBuilder::new(dir.path().join("a.bin")).build()?;
/// let torrent = Arc::new(created.torrent);
/// let source = DirectorySource::new().with(torrent.name(), Arc::clone(&torrent), dir.path());
/// assert_eq!(source.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct DirectorySource {
    by_key: HashMap<String, Arc<Torrent>>,
    roots: HashMap<InfoHash, PathBuf>,
}

impl DirectorySource {
    /// A source serving nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `torrent` under `key`, its files read from `root.join(file.path_buf())`.
    /// A second torrent under the same key replaces the first.
    pub fn with(mut self, key: &str, torrent: Arc<Torrent>, root: impl Into<PathBuf>) -> Self {
        self.roots.insert(torrent.info_hash(), root.into());
        self.by_key.insert(key.to_owned(), torrent);
        self
    }

    /// How many torrents are served.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no torrent is served.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    fn root(&self, torrent: &Torrent) -> Option<&Path> {
        self.roots.get(&torrent.info_hash()).map(PathBuf::as_path)
    }
}

impl WebSeedSource for DirectorySource {
    type File = DiskFile;

    fn torrent(&self, key: &str) -> Option<Arc<Torrent>> {
        self.by_key.get(key).cloned()
    }

    fn open(&self, torrent: &Torrent, index: usize) -> io::Result<Option<DiskFile>> {
        let (Some(root), Some(entry)) = (self.root(torrent), torrent.files().get(index)) else {
            return Ok(None);
        };
        let file = File::open(root.join(entry.path_buf()))?;
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Ok(None);
        }
        Ok(Some(DiskFile {
            file,
            length: metadata.len(),
        }))
    }
}

/// A file of a [`DirectorySource`], read with positioned reads.
#[derive(Debug)]
pub struct DiskFile {
    file: File,
    length: u64,
}

impl WebSeedFile for DiskFile {
    fn len(&self) -> u64 {
        self.length
    }

    fn read(&self, offset: u64, length: usize) -> io::Result<Bytes> {
        let mut buffer = vec![0; length];
        self.file.read_exact_at(&mut buffer, offset)?;
        Ok(Bytes::from(buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmgate_metainfo::TorrentBuilder;

    #[test]
    fn opens_files_of_known_torrents_only_and_reads_exact_ranges() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("t/sub")).unwrap();
        std::fs::write(dir.path().join("t/a"), b"0123456789").unwrap();
        std::fs::write(dir.path().join("t/sub/b"), b"abc").unwrap();
        let torrent = Arc::new(
            TorrentBuilder::new(dir.path().join("t"))
                .build()
                .unwrap()
                .torrent,
        );
        let source = DirectorySource::new().with("t", Arc::clone(&torrent), dir.path());
        assert_eq!((source.len(), source.is_empty()), (1, false));
        assert!(source.torrent("t").is_some() && source.torrent("u").is_none());

        let a = source.open(&torrent, 0).unwrap().unwrap();
        assert_eq!(a.len(), 10);
        assert_eq!(&a.read(3, 4).unwrap()[..], b"3456");
        assert_eq!(
            a.read(8, 4).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert!(source.open(&torrent, 2).unwrap().is_none(), "no such index");

        // A torrent it was not given: nothing to open.
        let other_dir = tempfile::tempdir().unwrap();
        std::fs::write(other_dir.path().join("x"), b"x").unwrap();
        let other = TorrentBuilder::new(other_dir.path().join("x"))
            .build()
            .unwrap()
            .torrent;
        assert!(source.open(&other, 0).unwrap().is_none());

        std::fs::remove_file(dir.path().join("t/sub/b")).unwrap();
        let missing = source.open(&torrent, 1).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
