//! The ways out of the catalog: whatever serves stored files (the tracker's allow-list, the
//! seeder, next the DHT and Nostr announcements) observes "published" and "removed" instead of
//! being called at each place a file comes or goes.
//!
//! An observer is registered once, at start ([`Catalog::observe`](crate::Catalog::observe)),
//! and is told of every file already stored at that moment, then of every later change, in
//! order, each exactly once. The calls happen on the thread that published or deleted (a
//! blocking thread, under the catalog's commit lock), so an observer must not block: it records
//! the change or hands it to its own task. The shape follows swarmgate-tracker's
//! `AnnounceObserver`.

use std::sync::Arc;

use crate::Entry;

/// Told of every file that starts or stops being served.
pub trait CatalogObserver: Send + Sync + 'static {
    /// `entry` is now stored and served: a new publish, or a file already stored when the
    /// observer was registered.
    fn published(&self, entry: &Arc<Entry>);

    /// `entry` is no longer served (deleted). Called before its content is removed, so no new
    /// read of it starts after this returns.
    fn removed(&self, entry: &Arc<Entry>);
}
