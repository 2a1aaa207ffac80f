//! What the file-writing subcommands share: writing an output file so that a crash never leaves
//! half of it. (Stopping on SIGINT or SIGTERM is swarmgate-service's `wait_for_signal`, shared
//! with the gateway.)

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes to a temporary sibling, syncs and renames it into place: a crash leaves no half file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = path.with_extension(format!("torrent.tmp{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("{}", path.display()))
}
