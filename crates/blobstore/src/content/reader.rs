//! A `Read + Seek` view of a stored file (BEP 19 web-seed and HTTP download bodies), whichever
//! its layout: reads go through [`ContentStore::read_exact_at`], so chunk boundaries are crossed
//! without the caller knowing and no more than the caller's buffer is ever in memory.

use std::io::{self, Read, Seek, SeekFrom};

use crate::content::{ContentStore, StoredFile};

/// Streams a stored file, from any position.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom};
/// use swarmgate_blobstore::{ContentOptions, ContentReader, ContentStore, IngestOptions, MemoryContentStore};
///
/// let store = MemoryContentStore::new(ContentOptions::default());
/// let ingested = store.ingest(&mut &b"hello, world"[..], &IngestOptions::default())?;
/// let file = store.stat(&ingested.sha256)?.expect("stored");
/// let mut reader = ContentReader::new(&store, file);
/// reader.seek(SeekFrom::Start(7))?;
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?;
/// assert_eq!(text, "world");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ContentReader<'a, S: ContentStore + ?Sized = dyn ContentStore> {
    store: &'a S,
    file: StoredFile,
    position: u64,
    end: u64,
}

impl<'a, S: ContentStore + ?Sized> ContentReader<'a, S> {
    /// A reader of the whole of `file`, at its start.
    pub fn new(store: &'a S, file: StoredFile) -> Self {
        let end = file.size();
        Self {
            store,
            file,
            position: 0,
            end,
        }
    }

    /// A reader of `length` bytes of `file` from `offset` (an HTTP range), positioned at
    /// `offset`; reads end at `offset + length`. [`crate::ContentError::RangeNotSatisfiable`]
    /// when the range passes the end of the file.
    pub fn range(
        store: &'a S,
        file: StoredFile,
        offset: u64,
        length: u64,
    ) -> Result<Self, crate::ContentError> {
        file.check_range(offset, length)?;
        Ok(Self {
            store,
            file,
            position: offset,
            end: offset + length,
        })
    }

    /// The file being read.
    pub fn file(&self) -> &StoredFile {
        &self.file
    }

    /// The bytes left before the end of the reader's range.
    pub fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.position)
    }
}

impl<S: ContentStore + ?Sized> Read for ContentReader<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let take = self.remaining().min(buf.len() as u64) as usize;
        if take == 0 {
            return Ok(0);
        }
        self.store
            .read_exact_at(&self.file, self.position, &mut buf[..take])
            .map_err(io::Error::other)?;
        self.position += take as u64;
        Ok(take)
    }
}

impl<S: ContentStore + ?Sized> Seek for ContentReader<'_, S> {
    /// Seeks within the file (`End` is the end of the file, not of a range); positions past the
    /// end are allowed and read nothing, as for a `File`.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.file.size().checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{ContentOptions, IngestOptions, MemoryContentStore};

    #[test]
    fn ranges_and_seeks() {
        let store = MemoryContentStore::new(ContentOptions::default());
        let data: Vec<u8> = (0..100u8).collect();
        let ingested = store
            .ingest(&mut &data[..], &IngestOptions::default())
            .unwrap();
        let file = store.stat(&ingested.sha256).unwrap().unwrap();
        let mut range = ContentReader::range(&store, file.clone(), 10, 5).unwrap();
        let mut out = Vec::new();
        range.read_to_end(&mut out).unwrap();
        assert_eq!(out, &data[10..15]);
        assert!(ContentReader::range(&store, file.clone(), 99, 2).is_err());
        let mut reader = ContentReader::new(&store, file);
        assert_eq!(reader.seek(SeekFrom::End(-3)).unwrap(), 97);
        out.clear();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, &data[97..]);
        assert_eq!(reader.seek(SeekFrom::Current(10)).unwrap(), 110);
        assert_eq!(reader.read(&mut [0; 4]).unwrap(), 0);
        assert!(reader.seek(SeekFrom::Current(-111)).is_err());
    }
}
