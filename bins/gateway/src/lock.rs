//! One gateway per data folder: an exclusive `flock` on `<data-dir>/gateway.lock`, held for the
//! process's life.
//!
//! Two gateways on one folder would each sweep the other's uploads as orphans at start and race
//! on the same temporary files. The lock is advisory and dies with the process (a SIGKILL frees
//! it, so a restart never finds a stale lock to clear), which a pid file cannot promise. The
//! holder's pid is written into the file so that the refusal can name it. `std::fs::File::lock`
//! would do the same from Rust 1.89; the workspace builds on 1.85, so rustix's safe `flock`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, bail};

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock of `data_dir` (created if missing), or says which process holds it.
    pub(crate) fn acquire(data_dir: &Path) -> anyhow::Result<DataDirLock> {
        let path = data_dir.join("gateway.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        if !try_lock(&file)? {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another process".to_owned()
            } else {
                format!("process {holder}")
            };
            bail!(
                "the data folder {} is in use by {who} (a gateway holds {}): stop it, or give \
                 this one another --data-dir",
                data_dir.display(),
                path.display()
            );
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> anyhow::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(error) => Err(std::io::Error::from(error)).context("locking the data folder"),
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> anyhow::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        assert!(dir.path().join("gateway.lock").is_file());
        let refused = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(refused.contains("is in use by process"), "{refused}");
        assert!(
            refused.contains(&std::process::id().to_string()),
            "{refused}"
        );
        drop(first);
        let again = DataDirLock::acquire(dir.path()).unwrap();
        drop(again);
    }
}
