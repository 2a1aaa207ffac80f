//! The temporary files of an ingest (sha256-addressed blobs, BEP 3 piece-sized chunks), written
//! past the page cache with `O_DIRECT` on Linux.
//!
//! Why: a buffered write copies every byte into the page cache and the kernel writes it back
//! later, about 2.9 s of system CPU per GiB on the reference VM, as much as a third hash pass; on
//! two cores that copy is what keeps an ingest (two SHA-256 passes, one per core) well under the
//! SHA-256 rate. With `O_DIRECT` the disk reads the bytes from our buffers (0.09 s per GiB).
//!
//! What `O_DIRECT` asks, and how it is met:
//! - memory address, file offset and length multiples of the device's logical block size; 4096
//!   ([`ALIGN`]) covers every usual one. The reader's buffers are [`AlignedBuf`]s and every full
//!   buffer is a multiple of 4096 long, so full buffers go from the shared buffer to the disk
//!   without a copy, at aligned offsets;
//! - the tail of a file (or bytes handed in at an odd address, or after an odd length) is
//!   copied into a small aligned staging buffer; the last write is padded with zeros to a
//!   multiple of 4096 and the file is cut back to its true length (`set_len`) in
//!   `TempFile::finish`, before the caller's `fdatasync` (`O_DIRECT` does not make the size
//!   durable, so the sync stays);
//! - a file system that refuses `O_DIRECT` (the open or a write fails with `EINVAL`) gets
//!   buffered writes: the bytes of the refused write go through the page cache at the same
//!   offset, and the caller stops asking for `O_DIRECT` for the rest of the upload. Other
//!   platforms always write buffered.
//!
//! Every file also keeps a normal descriptor: the `fdatasync`, the `set_len` and the read-back
//! of a streamed blob that becomes chunks go through it. Data written with `O_DIRECT` is on the
//! device when the write returns and the kernel drops the page-cache range it covers, so a later
//! buffered read (this one, or any reader of the stored file) sees it.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::content::ContentError;

/// The alignment of `O_DIRECT` buffers, offsets and lengths.
pub(crate) const ALIGN: usize = 4096;

/// The staging buffer of a file's unaligned bytes.
const STAGE: usize = 64 << 10;

/// A zeroed heap buffer of a given length whose first byte sits at a 4096-aligned address.
///
/// It allocates [`ALIGN`] bytes more and uses the aligned window; moving it (or the `Vec`) does
/// not move the heap bytes, so the window stays aligned.
pub(crate) struct AlignedBuf {
    bytes: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// `len` zero bytes, aligned.
    pub(crate) fn zeroed(len: usize) -> Self {
        let bytes = vec![0u8; len + ALIGN];
        // Exact address arithmetic rather than `align_offset`, which may give up.
        let start = (ALIGN - bytes.as_ptr() as usize % ALIGN) % ALIGN;
        Self { bytes, start, len }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[self.start..self.start + self.len]
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + self.len]
    }
}

fn is_aligned(data: &[u8]) -> bool {
    data.as_ptr() as usize % ALIGN == 0
}

/// Whether an error is the file system refusing `O_DIRECT` (or an alignment it cannot take).
fn refusal(error: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        error.raw_os_error() == Some(libc::EINVAL)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = error;
        false
    }
}

/// A second, `O_DIRECT` descriptor of `path` for writing.
#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

/// No `O_DIRECT` here: the caller writes buffered.
#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> io::Result<File> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// A new temporary file, written from the start in order.
pub(crate) struct TempFile {
    /// The normal descriptor (read and write): buffered writes, `set_len`, `fdatasync`, reads.
    file: File,
    /// The `O_DIRECT` descriptor, while writing that way.
    direct: Option<File>,
    path: PathBuf,
    /// Bytes handed in; the last `staged` of them wait in `stage`.
    len: u64,
    staged: usize,
    stage: Option<AlignedBuf>,
    /// The file system refused `O_DIRECT` for this file.
    refused: bool,
}

impl TempFile {
    /// Creates `path` (it must not exist), with an `O_DIRECT` descriptor when `direct` is asked
    /// for and the file system takes it.
    pub(crate) fn create(path: PathBuf, direct: bool) -> Result<Self, ContentError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(ContentError::at(&path))?;
        let mut refused = false;
        let direct = if direct {
            match open_direct(&path) {
                Ok(direct) => Some(direct),
                Err(error) if refusal(&error) => {
                    refused = true;
                    None
                }
                Err(error) if error.kind() == io::ErrorKind::Unsupported => None,
                Err(error) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(ContentError::io(&path, error));
                }
            }
        } else {
            None
        };
        Ok(Self {
            file,
            direct,
            path,
            len: 0,
            staged: 0,
            stage: None,
            refused,
        })
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is being written with `O_DIRECT`.
    pub(crate) fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Whether the file system refused `O_DIRECT` for this file (ask no more this upload).
    pub(crate) fn refused(&self) -> bool {
        self.refused
    }

    /// The normal descriptor (for the periodic syncs of buffered writes).
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Appends `data`.
    pub(crate) fn write(&mut self, mut data: &[u8]) -> Result<(), ContentError> {
        if self.direct.is_some() && self.staged == 0 && is_aligned(data) {
            // The fast path: the aligned whole of it straight from the caller's buffer.
            let whole = data.len() / ALIGN * ALIGN;
            if whole > 0 {
                self.write_at(&data[..whole], self.len)?;
                self.len += whole as u64;
                data = &data[whole..];
            }
        }
        if data.is_empty() {
            return Ok(());
        }
        if self.direct.is_none() {
            self.file
                .write_all_at(data, self.len)
                .map_err(ContentError::at(&self.path))?;
            self.len += data.len() as u64;
            return Ok(());
        }
        let mut stage = self
            .stage
            .take()
            .unwrap_or_else(|| AlignedBuf::zeroed(STAGE));
        let result = (|| {
            while !data.is_empty() {
                let take = (STAGE - self.staged).min(data.len());
                stage[self.staged..self.staged + take].copy_from_slice(&data[..take]);
                self.staged += take;
                self.len += take as u64;
                data = &data[take..];
                if self.staged == STAGE {
                    self.write_at(&stage, self.len - STAGE as u64)?;
                    self.staged = 0;
                }
            }
            Ok(())
        })();
        self.stage = Some(stage);
        result
    }

    /// Writes `data` at `at`: with `O_DIRECT` while the file system takes it, else buffered.
    fn write_at(&mut self, data: &[u8], at: u64) -> Result<(), ContentError> {
        if let Some(direct) = &self.direct {
            match direct.write_all_at(data, at) {
                Ok(()) => return Ok(()),
                Err(error) if refusal(&error) => {
                    self.direct = None;
                    self.refused = true;
                }
                Err(error) => return Err(ContentError::io(&self.path, error)),
            }
        }
        self.file
            .write_all_at(data, at)
            .map_err(ContentError::at(&self.path))
    }

    /// Writes the staged tail (padded to [`ALIGN`], then the file cut to its true length): the
    /// file holds exactly the bytes handed in. Nothing may be written after.
    pub(crate) fn finish(&mut self) -> Result<(), ContentError> {
        if self.staged > 0 {
            let mut stage = self
                .stage
                .take()
                .unwrap_or_else(|| AlignedBuf::zeroed(STAGE));
            let padded = self.staged.next_multiple_of(ALIGN);
            stage[self.staged..padded].fill(0);
            let at = self.len - self.staged as u64;
            self.staged = 0;
            self.write_at(&stage[..padded], at)?;
            self.file
                .set_len(self.len)
                .map_err(ContentError::at(&self.path))?;
        }
        Ok(())
    }

    /// Closes the `O_DIRECT` descriptor; the normal one and the path remain, for the
    /// `fdatasync` and reads. Call [`TempFile::finish`] first.
    pub(crate) fn into_file(self) -> (File, PathBuf) {
        (self.file, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the kernel has `O_DIRECT` set on the descriptor (its `/proc` flags, in octal).
    #[cfg(target_os = "linux")]
    fn kernel_direct(file: &File) -> bool {
        use std::os::fd::AsRawFd;
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd()));
        let flags = info.ok().and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("flags:"))?.to_owned();
            i64::from_str_radix(line.trim_start_matches("flags:").trim(), 8).ok()
        });
        flags.is_some_and(|flags| flags & i64::from(libc::O_DIRECT) != 0)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8 + 1).collect()
    }

    #[test]
    fn aligned_buffers_start_at_4096_and_stay_there_when_moved() {
        for len in [0, 1, 4096, 1 << 20] {
            let buf = AlignedBuf::zeroed(len);
            assert_eq!(buf.len(), len);
            assert!(is_aligned(&buf));
            let moved = [buf];
            assert!(is_aligned(&moved[0]) && moved[0].iter().all(|&b| b == 0));
        }
    }

    /// Aligned full blocks, a tail, an odd address, writes that straddle the staging buffer,
    /// all in one file: every byte lands and the length is exact, with `O_DIRECT` (where the
    /// temp folder's file system takes it: ext4 and tmpfs on Linux 6.6+ do) and buffered.
    #[test]
    fn every_mix_of_writes_reads_back_exact_in_both_modes() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(3 * STAGE + 3 * ALIGN + 123);
        let mut aligned = AlignedBuf::zeroed(data.len());
        aligned.copy_from_slice(&data);
        for direct in [true, false] {
            let path = dir.path().join(format!("f-{direct}"));
            let mut file = TempFile::create(path.clone(), direct).unwrap();
            #[cfg(target_os = "linux")]
            if direct && !file.refused() {
                assert!(file.is_direct() && kernel_direct(file.direct.as_ref().unwrap()));
            }
            assert!(direct || !file.is_direct());
            let cuts = [
                0,
                2 * ALIGN,
                2 * ALIGN + 5,
                STAGE + 77,
                3 * STAGE,
                data.len(),
            ];
            for pair in cuts.windows(2) {
                // From the aligned copy, so the first cut takes the fast path; the rest is
                // staged.
                file.write(&aligned[pair[0]..pair[1]]).unwrap();
            }
            // An odd address at an aligned offset is staged too.
            file.write(&data[1..ALIGN + 1]).unwrap();
            file.finish().unwrap();
            let (_, written) = file.into_file();
            let back = std::fs::read(&written).unwrap();
            assert_eq!(back.len(), data.len() + ALIGN, "direct {direct}");
            assert!(back[..data.len()] == data[..] && back[data.len()..] == data[1..ALIGN + 1]);
        }
    }

    /// The fallback: a write the file system refuses with EINVAL (here, really: a misaligned
    /// `O_DIRECT` write, which ext4 refuses) goes through the page cache at the same offset, and
    /// the file is marked so the next ones are created buffered.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_refused_direct_write_falls_back_to_buffered_at_the_same_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refused");
        let mut file = TempFile::create(path.clone(), true).unwrap();
        if !file.is_direct() {
            eprintln!("the temp folder's file system refuses O_DIRECT at open: nothing to test");
            return;
        }
        let data = pattern(2 * ALIGN + 1);
        let mut first = AlignedBuf::zeroed(ALIGN);
        first.copy_from_slice(&data[..ALIGN]);
        file.write(&first).unwrap();
        assert!(
            file.is_direct() && file.staged == 0,
            "written with O_DIRECT"
        );
        // Bypass the staging to make the kernel refuse: an odd address, straight through.
        file.write_at(&data[1..ALIGN + 1], ALIGN as u64).unwrap();
        if file.is_direct() {
            // tmpfs takes any alignment (its "direct" I/O is its page cache): the bytes alone.
            eprintln!("this file system took a misaligned O_DIRECT write: no fallback to test");
        } else {
            assert!(file.refused(), "the refusal is remembered");
        }
        file.len = 2 * ALIGN as u64;
        file.write(&data[2 * ALIGN..]).unwrap();
        file.finish().unwrap();
        let (_, path) = file.into_file();
        let back = std::fs::read(path).unwrap();
        assert_eq!(back.len(), 2 * ALIGN + 1);
        assert!(back[..ALIGN] == data[..ALIGN]);
        assert!(back[ALIGN..2 * ALIGN] == data[1..ALIGN + 1]);
        assert_eq!(back[2 * ALIGN], data[2 * ALIGN]);
    }
}
