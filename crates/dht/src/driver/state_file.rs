//! The saved routing table on disk: read at start, written at intervals and at shutdown, each
//! write to a temporary file renamed over the old one, so a crash mid-write keeps the last good
//! table. A missing or unreadable file is a first start, never a failure to start.

use std::io;
use std::path::{Path, PathBuf};

use crate::persist::SavedTable;

/// Reads the table saved at `path`; `None` (and a warning) if there is none or it is damaged.
pub(crate) fn load(path: &Path) -> Option<SavedTable> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return None,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read the saved DHT table; starting afresh");
            return None;
        }
    };
    match SavedTable::decode(&bytes) {
        Ok(table) => Some(table),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "the saved DHT table is damaged; starting afresh");
            None
        }
    }
}

/// Writes `table` to `path` atomically (temporary file, fsync, rename).
pub(crate) fn save(path: &Path, table: &SavedTable) -> io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = temporary_path(path);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&table.encode())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}
