//! Integration tests of swarmgate-blobstore: both content stores and every metadata backend
//! through their conformance suites, what only the file system and SQLite have (layout on disk,
//! migrations, damage), and SIGKILL in the middle of ingests and commits.

mod content;
mod content_crash;
mod meta;
mod meta_crash;
mod meta_model;
