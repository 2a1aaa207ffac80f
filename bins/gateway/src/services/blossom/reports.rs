//! The BUD-09 reports the Blossom service keeps: `blossom-reports.jsonl` in the data folder,
//! one signed event a line, appended and synced before a report is acknowledged, read back at
//! start.
//!
//! Anyone may report (BUD-09 asks for no token), so the book is bounded: at most
//! [`MAX_REPORTS`]; past them a new report is refused with 507 (the admin reads and clears the
//! file) rather than grow memory and disk with every self-signed event. A report already kept
//! (same event id) is acknowledged again without a second line.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use swarmgate_blossom::{Report, StoreError, parse_report};

/// The reports file in the data folder.
pub(crate) const REPORTS_FILE: &str = "blossom-reports.jsonl";

/// Reports kept, at most.
pub(crate) const MAX_REPORTS: usize = 10_000;

/// The reports kept, and the file they are appended to.
pub(crate) struct Reports {
    path: PathBuf,
    kept: Vec<Report>,
    ids: HashSet<String>,
    max: usize,
}

impl Reports {
    /// The reports kept in `data_dir` (a line that does not verify any more is logged and
    /// skipped), at most `max` of them from now on.
    pub(crate) fn open(data_dir: &Path, max: usize) -> io::Result<Reports> {
        let path = data_dir.join(REPORTS_FILE);
        let mut reports = Reports {
            path,
            kept: Vec::new(),
            ids: HashSet::new(),
            max,
        };
        match File::open(&reports.path) {
            Ok(file) => {
                for line in BufReader::new(file).lines() {
                    let line = line?;
                    match parse_report(line.as_bytes()) {
                        Ok(report) if reports.ids.insert(report.event_id.clone()) => {
                            reports.kept.push(report);
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "skipping a stored Blossom report"),
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        Ok(reports)
    }

    /// Keeps `report`, synced, unless it is kept already; `Full` past the bound.
    pub(crate) fn add(&mut self, report: &Report) -> Result<(), StoreError> {
        if self.ids.contains(&report.event_id) {
            return Ok(());
        }
        if self.kept.len() >= self.max {
            tracing::warn!(
                kept = self.kept.len(),
                "a Blossom report refused: the report book is full"
            );
            return Err(StoreError::Full);
        }
        let line = format!("{}\n", report.event_json.replace('\n', " "));
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| {
                file.write_all(line.as_bytes())?;
                file.sync_data()
            })
            .map_err(|error| match error.kind() {
                io::ErrorKind::StorageFull => StoreError::Full,
                _ => StoreError::Io(format!("keeping the report: {error}")),
            })?;
        self.ids.insert(report.event_id.clone());
        self.kept.push(report.clone());
        Ok(())
    }

    /// Every report kept, oldest first.
    pub(crate) fn all(&self) -> &[Report] {
        &self.kept
    }
}

#[cfg(test)]
mod tests {
    use nostr::{EventBuilder, JsonUtil, Keys, Kind, Tag};

    use super::*;

    fn report(keys: &Keys, text: &str) -> Report {
        let x = Tag::parse(["x", &"ab".repeat(32), "malware"]).unwrap();
        let event = EventBuilder::new(Kind::Custom(1984), text)
            .tags([x])
            .sign_with_keys(keys)
            .unwrap();
        parse_report(event.as_json().as_bytes()).unwrap()
    }

    #[test]
    fn reports_are_kept_once_read_back_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::generate();
        let mut reports = Reports::open(dir.path(), 3).unwrap();
        let first = report(&keys, "first");
        for text in ["first", "second", "third"] {
            reports.add(&report(&keys, text)).unwrap();
        }
        // The same event again is acknowledged, not kept twice; a new one is refused.
        reports.add(&first).ok();
        assert!(matches!(
            reports.add(&report(&keys, "fourth")),
            Err(StoreError::Full)
        ));
        assert_eq!(reports.all().len(), 3);

        let again = Reports::open(dir.path(), 3).unwrap();
        let texts: Vec<&str> = again.all().iter().map(|r| r.content.as_str()).collect();
        assert_eq!(texts, ["first", "second", "third"]);
        let lines = std::fs::read_to_string(dir.path().join(REPORTS_FILE)).unwrap();
        assert_eq!(lines.lines().count(), 3);
    }
}
